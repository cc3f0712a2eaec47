import CairnFiles
import CairnFormats
import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// What one commit (or one consolidation) added to the repository index: its new packs, which pack
/// holds each new object, and content hash → the file version that rebuilds it. An immutable cap; the
/// refs name at most 16 (Documentation/Snapshots.md). Segments hold the only copies of the pack caps.
///
/// ```
/// "CRNISEG2" | pack count u32 | caps, bytes16 each
/// | object count u32 | per object (sorted by id): id 32 | pack u32 (a number in this segment's caps)
/// | content count u32 | per entry (sorted by hash): content hash 32 | version id 32 | chain depth u16
/// ```
/// Fixed-size sorted tables: a reader binary-searches the bytes as they are (mapped from the local
/// cache), so opening a repository costs nothing per object of its history.
public struct IndexSegment: Sendable, Equatable {
    static let magic = Array("CRNISEG2".utf8)
    static let objectSize = 36
    static let contentSize = 66

    public struct Pack: Sendable, Equatable {
        public var cap: String
        public var ids: [ObjectID]
        public init(cap: String, ids: [ObjectID]) { self.cap = cap; self.ids = ids }
    }

    public struct Content: Sendable, Equatable {
        public var hash: [UInt8]
        public var version: ObjectID
        /// The version's delta depth: when segments give one content several versions (two writers),
        /// readers take the shortest chain.
        public var depth: UInt16
        public init(hash: [UInt8], version: ObjectID, depth: UInt16) { self.hash = hash; self.version = version; self.depth = depth }
    }

    public var packs: [Pack] = []
    public var contents: [Content] = []

    public init() {}

    public var isEmpty: Bool { packs.isEmpty && contents.isEmpty }

    public var encoded: [UInt8] {
        var objects: [(ObjectID, UInt32)] = []
        var seen: Set<ObjectID> = []
        for (n, p) in packs.enumerated() { for id in p.ids where seen.insert(id).inserted { objects.append((id, UInt32(n))) } }
        objects.sort { $0.0 < $1.0 }
        var best: [ByteKey: Content] = [:]
        for c in contents where (best[ByteKey(c.hash)]?.depth ?? .max) > c.depth { best[ByteKey(c.hash)] = c }
        let table = best.values.sorted { $0.hash.lexicographicallyPrecedes($1.hash) }
        var w = ByteWriter(capacity: 20 + packs.count * 160 + objects.count * Self.objectSize + table.count * Self.contentSize)
        w.raw(Self.magic)
        w.u32(UInt32(packs.count))
        for p in packs { w.bytes16(Array(p.cap.utf8)) }
        w.u32(UInt32(objects.count))
        for (id, n) in objects { w.raw(id.bytes); w.u32(n) }
        w.u32(UInt32(table.count))
        for c in table { w.raw(c.hash); w.raw(c.version.bytes); w.u16(c.depth) }
        return w.bytes
    }

    /// Decodes a whole segment into values (for folding; readers use `SegmentView`), checking everything.
    public init(decoding bytes: [UInt8]) throws {
        let view = try SegmentView(MappedBytes(copying: bytes), checkingOrder: true)
        var ids = [[ObjectID]](repeating: [], count: view.caps.count)
        for i in 0..<view.objectCount {
            let (id, n) = view.object(at: i)
            ids[n].append(id)
        }
        packs = zip(view.caps, ids).map { Pack(cap: $0, ids: $1) }
        contents = (0..<view.contentCount).map { view.content(at: $0) }
    }
}

/// A segment's bytes read in place: its pack caps, and binary search over its sorted tables.
public struct SegmentView: Sendable {
    let storage: MappedBytes
    public let caps: [String]
    let objectsStart: Int
    public let objectCount: Int
    let contentsStart: Int
    public let contentCount: Int

    /// Checks the layout and, when `checkingOrder` (a segment just read from the grid), that both tables
    /// are strictly sorted and name known packs. A copy in the local cache was checked before it was
    /// written: reading every entry again would touch every page of a large index on each command.
    public init(_ storage: MappedBytes, checkingOrder: Bool = true) throws {
        self.storage = storage
        let b = storage.buffer
        func u32(_ at: Int) throws -> Int {
            guard at + 4 <= b.count else { throw ObjectError.malformed("index segment: truncated") }
            return Int(b[at]) << 24 | Int(b[at + 1]) << 16 | Int(b[at + 2]) << 8 | Int(b[at + 3])
        }
        guard b.count >= 8, Array(b[0..<8]) == IndexSegment.magic else {
            if b.count >= 8 && Array(b[0..<8]) == Array("CRNIDX01".utf8) {
                throw ObjectError.malformed("a format-1 repository index: this repository was made by an older Cairn")
            }
            throw ObjectError.malformed("not an index segment")
        }
        var at = 8
        let packCount = try u32(at); at += 4
        guard packCount <= (b.count - at) / 2 else { throw ObjectError.malformed("index segment: too many packs") }
        var caps: [String] = []
        for _ in 0..<packCount {
            guard at + 2 <= b.count else { throw ObjectError.malformed("index segment: truncated") }
            let n = Int(b[at]) << 8 | Int(b[at + 1])
            guard at + 2 + n <= b.count else { throw ObjectError.malformed("index segment: truncated") }
            caps.append(String(decoding: b[(at + 2)..<(at + 2 + n)], as: UTF8.self))
            at += 2 + n
        }
        self.caps = caps
        objectCount = try u32(at); at += 4
        guard objectCount <= (b.count - at) / IndexSegment.objectSize else { throw ObjectError.malformed("index segment: object table too large") }
        objectsStart = at
        at += objectCount * IndexSegment.objectSize
        contentCount = try u32(at); at += 4
        guard contentCount * IndexSegment.contentSize == b.count - at else { throw ObjectError.malformed("index segment: content table does not fit") }
        contentsStart = at
        guard checkingOrder else { return }
        for i in 0..<objectCount {
            let o = objectsStart + i * IndexSegment.objectSize
            guard Self.u32(b, o + 32) < caps.count else { throw ObjectError.malformed("index segment: object in an unknown pack") }
            if i > 0 && Self.compare(b, o - IndexSegment.objectSize, b, o) >= 0 { throw ObjectError.malformed("index segment: objects out of order") }
        }
        for i in 1..<max(1, contentCount) {
            let o = contentsStart + i * IndexSegment.contentSize
            if Self.compare(b, o - IndexSegment.contentSize, b, o) >= 0 { throw ObjectError.malformed("index segment: contents out of order") }
        }
    }

    public var byteCount: Int { storage.buffer.count }
    public var bytes: [UInt8] { Array(storage.buffer) }

    public func object(at i: Int) -> (ObjectID, Int) {
        let o = objectsStart + i * IndexSegment.objectSize
        let b = storage.buffer
        return (ObjectID(unchecked: UnsafeRawBufferPointer(rebasing: b[o..<(o + 32)])), Self.u32(b, o + 32))
    }

    public func content(at i: Int) -> IndexSegment.Content {
        let o = contentsStart + i * IndexSegment.contentSize
        let b = storage.buffer
        return IndexSegment.Content(hash: Array(b[o..<(o + 32)]), version: ObjectID(unchecked: UnsafeRawBufferPointer(rebasing: b[(o + 32)..<(o + 64)])),
                                    depth: UInt16(b[o + 64]) << 8 | UInt16(b[o + 65]))
    }

    /// The number (in `caps`) of the pack holding `id`.
    public func pack(of id: ObjectID) -> Int? {
        guard let i = search(id.bytes, start: objectsStart, count: objectCount, stride: IndexSegment.objectSize) else { return nil }
        return Self.u32(storage.buffer, objectsStart + i * IndexSegment.objectSize + 32)
    }

    public func content(_ hash: [UInt8]) -> IndexSegment.Content? {
        guard hash.count == 32, let i = search(hash, start: contentsStart, count: contentCount, stride: IndexSegment.contentSize) else { return nil }
        return content(at: i)
    }

    /// Object ids starting with `prefix` (for abbreviated ids).
    public func objects(withPrefix prefix: [UInt8]) -> [ObjectID] {
        var lo = 0, hi = objectCount
        let b = storage.buffer
        while lo < hi {
            let mid = (lo + hi) / 2
            let o = objectsStart + mid * IndexSegment.objectSize
            if Array(b[o..<(o + prefix.count)]).lexicographicallyPrecedes(prefix) { lo = mid + 1 } else { hi = mid }
        }
        var out: [ObjectID] = []
        while lo < objectCount {
            let o = objectsStart + lo * IndexSegment.objectSize
            guard Array(b[o..<(o + prefix.count)]) == prefix else { break }
            out.append(ObjectID(Array(b[o..<(o + 32)]))!)
            lo += 1
        }
        return out
    }

    private func search(_ key: [UInt8], start: Int, count: Int, stride: Int) -> Int? {
        key.withUnsafeBytes { k in
            let b = storage.buffer
            var lo = 0, hi = count
            while lo < hi {
                let mid = (lo + hi) / 2
                let c = memcmp(b.baseAddress! + start + mid * stride, k.baseAddress!, 32)
                if c == 0 { return mid }
                if c < 0 { lo = mid + 1 } else { hi = mid }
            }
            return nil
        }
    }

    static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> Int {
        Int(b[at]) << 24 | Int(b[at + 1]) << 16 | Int(b[at + 2]) << 8 | Int(b[at + 3])
    }

    static func compare(_ a: UnsafeRawBufferPointer, _ i: Int, _ b: UnsafeRawBufferPointer, _ j: Int) -> Int32 {
        memcmp(a.baseAddress! + i, b.baseAddress! + j, 32)
    }
}

/// The repository index as one command sees it: the segments the refs name, searched in place, plus
/// what this command added (written as one new segment at the end of a commit).
public struct RepoIndex: Sendable {
    private var segments: [SegmentView] = []
    /// Each segment's pack numbers in `packs`.
    private var packNumbers: [[Int]] = []
    /// Every pack cap: the segments' (a cap named twice counted once), then this command's.
    public private(set) var packs: [String] = []
    private var numberOfPack: [String: Int] = [:]
    private var addedLocation: [ObjectID: Int] = [:]
    /// Content hash (as an id: 32 bytes inline) → version.
    private var addedContents: [ObjectID: (version: ObjectID, depth: UInt16)] = [:]
    /// What this command added: the segment a commit writes.
    public private(set) var added = IndexSegment()

    public init() {}

    public init(segments: [SegmentView]) {
        for s in segments { append(s) }
    }

    /// An index of segments given as values (tests).
    public init(segments: [IndexSegment]) throws {
        for s in segments { append(try SegmentView(MappedBytes(copying: s.encoded))) }
    }

    public mutating func append(_ segment: SegmentView) {
        segments.append(segment)
        packNumbers.append(segment.caps.map { insertPack($0) })
    }

    private mutating func insertPack(_ cap: String) -> Int {
        if let n = numberOfPack[cap] { return n }
        packs.append(cap)
        numberOfPack[cap] = packs.count - 1
        return packs.count - 1
    }

    /// Adds a pack this command wrote; returns its number in `packs` (the one it had, if already known).
    @discardableResult
    public mutating func addPack(cap: String, ids: [ObjectID]) -> Int {
        if let known = numberOfPack[cap] { return known }
        let n = insertPack(cap)
        for id in ids where addedLocation[id] == nil { addedLocation[id] = n }
        added.packs.append(IndexSegment.Pack(cap: cap, ids: ids.sorted()))
        return n
    }

    public mutating func recordContent(_ hash: [UInt8], version: ObjectID, depth: UInt16) {
        guard let key = ObjectID(hash) else { return }
        if let known = content(hash), known.depth <= depth { return }
        addedContents[key] = (version, depth)
        added.contents.append(IndexSegment.Content(hash: hash, version: version, depth: depth))
    }

    /// The pack (a number in `packs`) holding `id`.
    public func location(of id: ObjectID) -> Int? {
        if let n = addedLocation[id] { return n }
        for (s, numbers) in zip(segments, packNumbers).reversed() {
            // A cached copy is not re-read whole (see SegmentView.init): a pack number it has wrong is
            // treated as absent rather than trusted.
            if let n = s.pack(of: id), numbers.indices.contains(n) { return numbers[n] }
        }
        return nil
    }

    /// The version with the shortest chain that rebuilds `hash`, among every segment and this command's.
    public func content(_ hash: [UInt8]) -> (version: ObjectID, depth: UInt16)? {
        guard let key = ObjectID(hash) else { return nil }
        var best = addedContents[key]
        for s in segments {
            if let c = s.content(hash), c.depth < (best?.depth ?? .max) { best = (c.version, c.depth) }
        }
        return best
    }

    public func version(forContent hash: [UInt8]) -> ObjectID? { content(hash)?.version }

    /// Ids of objects whose hex form starts with `hex` (an abbreviated id).
    public func objects(withHexPrefix hex: String) -> [ObjectID] {
        let even = String(hex.prefix(hex.count & ~1))
        guard let bytes = hexDecode(even) else { return [] }
        var out = Set(addedLocation.keys.filter { $0.hex.hasPrefix(hex) })
        for s in segments { for id in s.objects(withPrefix: bytes) where id.hex.hasPrefix(hex) { out.insert(id) } }
        return Array(out)
    }
}

/// How the list of segments in the refs stays short: when a commit would leave more than
/// `maxSegments`, the newest segments are folded into one, a run that grows backwards while the next
/// older segment is no bigger than twice the run (so a big old base is rewritten rarely: each byte is
/// rewritten about log₂(history) times, as in a size-tiered merge).
public enum SegmentPolicy {
    public static let maxSegments = 16

    /// The index in `sizes` (oldest first) from which to fold to the end; nil when nothing needs folding.
    public static func foldStart(sizes claimed: [UInt64]) -> Int? {
        guard claimed.count > maxSegments else { return nil }
        let sizes = claimed.map { min($0, 1 << 48) }  // sizes come from caps in the refs: no overflow whatever they say
        var start = sizes.count - 2
        var run = sizes[start] + sizes[start + 1]
        while start > 0 {
            let tooMany = start + 1 > maxSegments  // the older ones kept, plus the folded one
            guard tooMany || sizes[start - 1] <= 2 * run else { break }
            start -= 1
            run += sizes[start]
        }
        return start
    }

    /// A segment's size in bytes, from its cap (0 if unparsable).
    public static func size(of cap: String) -> UInt64 {
        (try? Cap(parsing: cap))?.size ?? 0
    }
}
