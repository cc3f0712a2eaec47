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

extension IndexSegment {
    /// Folds segments into one segment file in `folder` (the caller owns it): the caps of all (each once,
    /// in order), every object once (its pack renumbered; the first segment naming it wins), every
    /// content once with its shortest chain. A merge of the sorted tables as they lie in the mapped
    /// copies, letting go of the pages read as it goes, so folding a base of a million files costs no
    /// more memory than a small one.
    static func fold(_ views: [SegmentView], folder: String) throws -> (path: FSPath, size: UInt64) {
        var caps: [String] = []
        var numberOf: [String: UInt32] = [:]
        let renumber: [[UInt32]] = views.map { v in
            v.caps.map { cap in
                if let n = numberOf[cap] { return n }
                caps.append(cap)
                numberOf[cap] = UInt32(caps.count - 1)
                return UInt32(caps.count - 1)
            }
        }
        var w = try SegmentFileWriter(folder: folder, caps: caps)
        do {
            var merged = 0
            func advanced() {
                merged += 1
                if merged & 0xFFFF == 0 { for v in views { v.storage.dropResidentPages() } }
            }
            // Objects: smallest id first; equal ids, the earlier segment's.
            try w.beginTable()
            var at = [Int](repeating: 0, count: views.count)
            while true {
                var best: Int?
                for s in views.indices where at[s] < views[s].objectCount {
                    guard let b = best else { best = s; continue }
                    if views[s].compareObject(at[s], with: views[b], at[b]) < 0 { best = s }
                }
                guard let b = best else { break }
                let (id, n) = views[b].object(at: at[b])
                guard renumber[b].indices.contains(n) else { throw ObjectError.malformed("index segment: object in an unknown pack") }
                let pack = renumber[b][n]
                var entry = id.bytes
                entry += [UInt8(pack >> 24), UInt8(pack >> 16 & 0xFF), UInt8(pack >> 8 & 0xFF), UInt8(pack & 0xFF)]
                try entry.withUnsafeBytes { try w.entry($0) }
                at[b] += 1
                advanced()
            }
            try w.endTable()
            // Contents: smallest hash first; equal hashes, the shortest chain (the earlier segment's on a tie).
            try w.beginTable()
            at = [Int](repeating: 0, count: views.count)
            while true {
                var best: Int?
                for s in views.indices where at[s] < views[s].contentCount {
                    guard let b = best else { best = s; continue }
                    let c = views[s].compareContent(at[s], with: views[b], at[b])
                    if c < 0 || (c == 0 && views[s].contentDepth(at[s]) < views[b].contentDepth(at[b])) { best = s }
                }
                guard let b = best else { break }
                try views[b].withContentEntry(at[b]) { try w.entry($0) }
                // Every other entry of this hash has a chain at least as long: skipped by the writer.
                at[b] += 1
                advanced()
            }
            try w.endTable()
            let size = try w.finish()
            try w.file.close()
            for v in views { v.storage.dropResidentPages() }
            return (w.path, size)
        } catch {
            _ = try? FileSystem.unlink(w.path)
            throw error
        }
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

    func compareObject(_ i: Int, with other: SegmentView, _ j: Int) -> Int32 {
        memcmp(storage.buffer.baseAddress! + objectsStart + i * IndexSegment.objectSize,
               other.storage.buffer.baseAddress! + other.objectsStart + j * IndexSegment.objectSize, 32)
    }

    func compareContent(_ i: Int, with other: SegmentView, _ j: Int) -> Int32 {
        memcmp(storage.buffer.baseAddress! + contentsStart + i * IndexSegment.contentSize,
               other.storage.buffer.baseAddress! + other.contentsStart + j * IndexSegment.contentSize, 32)
    }

    func contentDepth(_ i: Int) -> UInt16 {
        let o = contentsStart + i * IndexSegment.contentSize
        return UInt16(storage.buffer[o + 64]) << 8 | UInt16(storage.buffer[o + 65])
    }

    func withContentEntry<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let o = contentsStart + i * IndexSegment.contentSize
        return try body(UnsafeRawBufferPointer(rebasing: storage.buffer[o..<(o + IndexSegment.contentSize)]))
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

/// What one command adds to the index, on disk as it grows (see `SpilledRecords`): object id → pack (a
/// number in `caps`), content hash → version, exactly the segment's table entries.
final class Additions: @unchecked Sendable {
    // Used by one owner at a time (the object store's actor).
    let objects: SpilledRecords
    let contents: SpilledRecords
    /// This command's packs (the segment's caps) and their numbers in `RepoIndex.packs`.
    var caps: [String] = []
    var numbers: [Int] = []
    let folder: String

    init(folder: String, bufferRecords: Int = 1 << 16) {
        self.folder = folder
        objects = SpilledRecords(recordSize: IndexSegment.objectSize, folder: folder, bufferRecords: bufferRecords)
        contents = SpilledRecords(recordSize: IndexSegment.contentSize, folder: folder, bufferRecords: bufferRecords)
    }

    var isEmpty: Bool { caps.isEmpty && objects.isEmpty && contents.isEmpty }
    /// Segment lookups so far (see `RepoIndex.counted`).
    var lookups = 0
}

/// The repository index as one command sees it: the segments the refs name, searched in place, plus
/// what this command added (written as one new segment at the end of a commit). Copies share the
/// additions: one index belongs to one object store.
public struct RepoIndex: Sendable {
    private var segments: [SegmentView] = []
    /// Each segment's pack numbers in `packs`.
    private var packNumbers: [[Int]] = []
    /// Every pack cap: the segments' (a cap named twice counted once), then this command's.
    public private(set) var packs: [String] = []
    private var numberOfPack: [String: Int] = [:]
    private let added: Additions

    /// The folder for temporary files when none is given: `$TMPDIR`, else /tmp.
    public static var temporaryFolder: String { ProcessEnvironment.current["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp" }

    /// `folder`: where this command's additions spill and its segment file is written.
    public init(folder: String = RepoIndex.temporaryFolder) {
        added = Additions(folder: folder)
    }

    /// Spilling a run every `bufferRecords` additions (tests of the spill).
    init(folder: String, bufferRecords: Int) {
        added = Additions(folder: folder, bufferRecords: bufferRecords)
    }

    public init(segments: [SegmentView], folder: String = RepoIndex.temporaryFolder) {
        added = Additions(folder: folder)
        for s in segments { append(s) }
    }

    /// An index of segments given as values (tests).
    public init(segments: [IndexSegment]) throws {
        added = Additions(folder: RepoIndex.temporaryFolder)
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

    /// Whether this command added anything (a commit then writes a segment).
    public var hasAdditions: Bool { !added.isEmpty }

    /// Adds a pack this command wrote; returns its number in `packs` (the one it had, if already known).
    /// Runs `body`, reporting a failure of this command's own files (the spilled additions) as a store
    /// error: a file-system error from storing a file would be taken for that file being unreadable.
    private func spilling<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as FileSystemError { throw StoreError.additions(e) }
    }

    @discardableResult
    public mutating func addPack(cap: String, ids: [ObjectID]) throws -> Int {
        if let known = numberOfPack[cap] { return known }
        let n = insertPack(cap)
        let local = UInt32(added.caps.count)
        added.caps.append(cap)
        added.numbers.append(n)
        let number: [UInt8] = [UInt8(local >> 24), UInt8(local >> 16 & 0xFF), UInt8(local >> 8 & 0xFF), UInt8(local & 0xFF)]
        try spilling {
            for id in ids.sorted() where try added.objects.find(id.bytes) == nil {
                try added.objects.add(id.bytes + number)
            }
        }
        return n
    }

    public mutating func recordContent(_ hash: [UInt8], version: ObjectID, depth: UInt16) throws {
        guard hash.count == 32 else { return }
        if let known = content(hash), known.depth <= depth { return }
        try spilling {
            let existing = try added.contents.find(hash)
            try added.contents.add(hash + version.bytes + [UInt8(depth >> 8), UInt8(depth & 0xFF)], replacing: existing?.number)
        }
    }

    /// Counts a lookup in the mapped segments; every 64 Ki lookups their touched pages are let go, so
    /// resident memory stays bounded however large the index (a binary search touches a page or two).
    private func counted() {
        added.lookups += 1
        if added.lookups & 0xFFFF == 0 { for s in segments { s.storage.dropResidentPages() } }
    }

    /// The pack (a number in `packs`) holding `id`.
    public func location(of id: ObjectID) -> Int? {
        counted()
        // A record of ours that cannot be read back is taken as absent: the object is stored again.
        if let (_, r) = (try? added.objects.find(id.bytes)) ?? nil {
            let local = Int(r[32]) << 24 | Int(r[33]) << 16 | Int(r[34]) << 8 | Int(r[35])
            if added.numbers.indices.contains(local) { return added.numbers[local] }
        }
        for (s, numbers) in zip(segments, packNumbers).reversed() {
            // A cached copy is not re-read whole (see SegmentView.init): a pack number it has wrong is
            // treated as absent rather than trusted.
            if let n = s.pack(of: id), numbers.indices.contains(n) { return numbers[n] }
        }
        return nil
    }

    /// The version with the shortest chain that rebuilds `hash`, among every segment and this command's.
    public func content(_ hash: [UInt8]) -> (version: ObjectID, depth: UInt16)? {
        guard hash.count == 32 else { return nil }
        counted()
        var best: (version: ObjectID, depth: UInt16)?
        if let (_, r) = (try? added.contents.find(hash)) ?? nil {
            best = (ObjectID(Array(r[32..<64]))!, UInt16(r[64]) << 8 | UInt16(r[65]))
        }
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
        var out: Set<ObjectID> = []
        try? added.objects.forEach { r in
            if let id = ObjectID(Array(r[0..<32])), id.hex.hasPrefix(hex) { out.insert(id) }
        }
        for s in segments { for id in s.objects(withPrefix: bytes) where id.hex.hasPrefix(hex) { out.insert(id) } }
        return Array(out)
    }

    /// Writes this command's additions as a segment file in the index's folder (the caller owns the
    /// file); nil when nothing was added. Streams: the tables are merged from the spilled runs.
    public func writeAddedSegment() throws -> (path: FSPath, size: UInt64)? {
        guard hasAdditions else { return nil }
        var w = try SegmentFileWriter(folder: added.folder, caps: added.caps)
        do {
            try w.beginTable()
            try added.objects.merged { try w.entry($0) }
            try w.endTable()
            // Equal hashes (a content given a shorter chain later): the smallest depth is written.
            try w.beginTable()
            var held: [UInt8]?
            try added.contents.merged { r in
                if let h = held, h.withUnsafeBytes({ memcmp($0.baseAddress!, r.baseAddress!, 32) }) == 0 {
                    if (UInt16(r[64]) << 8 | UInt16(r[65])) < (UInt16(h[64]) << 8 | UInt16(h[65])) { held = Array(r) }
                    return
                }
                if let h = held { try h.withUnsafeBytes { try w.entry($0) } }
                held = Array(r)
            }
            if let h = held { try h.withUnsafeBytes { try w.entry($0) } }
            try w.endTable()
            let size = try w.finish()
            try w.file.close()
            return (w.path, size)
        } catch {
            _ = try? FileSystem.unlink(w.path)
            throw error
        }
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
