import CairnFormats
import CairnPrimitives

/// What one commit (or one consolidation) added to the repository index: its new packs with the ids
/// each holds, and content hash → the file version that rebuilds it. An immutable cap; the refs name at
/// most 16 (Documentation/Snapshots.md). Segments hold the only copies of the pack caps (their keys).
///
/// ```
/// "CRNISEG2" | pack count u32 | per pack: cap bytes16 | id count u32 | ids (32 each, sorted)
/// | content count u32 | per entry (sorted by hash): content hash 32 | version id 32 | chain depth u16
/// ```
public struct IndexSegment: Sendable, Equatable {
    static let magic = Array("CRNISEG2".utf8)

    public struct Pack: Sendable, Equatable {
        public var cap: String
        public var ids: [ObjectID]
    }

    public struct Content: Sendable, Equatable {
        public var hash: [UInt8]
        public var version: ObjectID
        /// The version's delta depth: when segments give one content several versions (two writers),
        /// readers take the shortest chain.
        public var depth: UInt16
    }

    public var packs: [Pack] = []
    public var contents: [Content] = []

    public init() {}

    public var isEmpty: Bool { packs.isEmpty && contents.isEmpty }

    public var encoded: [UInt8] {
        var w = ByteWriter(capacity: 16 + packs.reduce(0) { $0 + 160 + $1.ids.count * 32 } + contents.count * 66)
        w.raw(Self.magic)
        w.u32(UInt32(packs.count))
        for p in packs {
            w.bytes16(Array(p.cap.utf8))
            w.u32(UInt32(p.ids.count))
            for id in p.ids.sorted() { w.raw(id.bytes) }
        }
        w.u32(UInt32(contents.count))
        for c in contents.sorted(by: { $0.hash.lexicographicallyPrecedes($1.hash) }) {
            w.raw(c.hash); w.raw(c.version.bytes); w.u16(c.depth)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = ByteReader(bytes)
            guard try r.raw(8) == Self.magic else {
                if bytes.starts(with: Array("CRNIDX01".utf8)) {
                    throw ObjectError.malformed("a format-1 repository index: this repository was made by an older Cairn")
                }
                throw ObjectError.malformed("not an index segment")
            }
            let packCount = Int(try r.u32())
            guard packCount <= r.remaining / 6 else { throw ObjectError.malformed("index segment: too many packs") }
            for _ in 0..<packCount {
                let cap = String(decoding: try r.bytes16(), as: UTF8.self)
                let n = Int(try r.u32())
                guard n <= r.remaining / 32 else { throw ObjectError.malformed("index segment: pack too large") }
                packs.append(Pack(cap: cap, ids: try (0..<n).map { _ in try r.id() }))
            }
            let n = Int(try r.u32())
            guard n <= r.remaining / 66 else { throw ObjectError.malformed("index segment: content table too large") }
            contents.reserveCapacity(n)
            for _ in 0..<n { contents.append(Content(hash: try r.raw(32), version: try r.id(), depth: try r.u16())) }
            try r.expectEnd()
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("index segment: \(e.description)")
        }
    }
}

/// The repository index as one command sees it: every segment the refs name, merged, plus what this
/// command added (written as one new segment at the end of a commit).
public struct RepoIndex: Sendable {
    public private(set) var packs: [String] = []
    public private(set) var location: [ObjectID: Int] = [:]
    /// Content hash → (version, depth); the shortest chain wins.
    public private(set) var dedup: [ByteKey: (version: ObjectID, depth: UInt16)] = [:]
    private var packNumbers: [String: Int] = [:]
    /// What this command added: the segment a commit writes.
    public private(set) var added = IndexSegment()

    public init() {}

    public init(segments: [IndexSegment]) {
        for s in segments { merge(s) }
    }

    /// Folds a segment in (a pack seen before is not counted twice).
    public mutating func merge(_ segment: IndexSegment) {
        for p in segment.packs { insertPack(p.cap, p.ids) }
        for c in segment.contents { insertContent(c.hash, c.version, c.depth) }
    }

    public mutating func addPack(cap: String, ids: [ObjectID]) {
        if insertPack(cap, ids) { added.packs.append(IndexSegment.Pack(cap: cap, ids: ids.sorted())) }
    }

    public mutating func recordContent(_ hash: [UInt8], version: ObjectID, depth: UInt16) {
        if insertContent(hash, version, depth) { added.contents.append(IndexSegment.Content(hash: hash, version: version, depth: depth)) }
    }

    @discardableResult
    private mutating func insertPack(_ cap: String, _ ids: [ObjectID]) -> Bool {
        guard packNumbers[cap] == nil else { return false }
        let n = packs.count
        packs.append(cap)
        packNumbers[cap] = n
        for id in ids where location[id] == nil { location[id] = n }
        return true
    }

    @discardableResult
    private mutating func insertContent(_ hash: [UInt8], _ version: ObjectID, _ depth: UInt16) -> Bool {
        let key = ByteKey(hash)
        if let known = dedup[key], known.depth <= depth { return false }
        dedup[key] = (version, depth)
        return true
    }

    /// The version that rebuilds `hash`, if the index knows one whose object is in a known pack.
    public func version(forContent hash: [UInt8]) -> ObjectID? { dedup[ByteKey(hash)]?.version }
}

/// How the list of segments in the refs stays short: when a commit would leave more than
/// `maxSegments`, the newest segments are folded into one, a run that grows backwards while the next
/// older segment is no bigger than twice the run (so a big old base is rewritten rarely: each byte is
/// rewritten about log₂(history) times, as in a size-tiered merge).
public enum SegmentPolicy {
    public static let maxSegments = 16

    /// The index in `sizes` (oldest first) from which to fold to the end; nil when nothing needs folding.
    public static func foldStart(sizes: [UInt64]) -> Int? {
        guard sizes.count > maxSegments else { return nil }
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
