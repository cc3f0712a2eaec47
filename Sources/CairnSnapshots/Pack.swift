import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// Many small objects in one immutable cap (Documentation/Snapshots.md): a table of contents sorted by id,
/// then the records. Each record is zlib-compressed when the probe says it pays, or (trees) a VCDIFF
/// delta on another object, so a tree that changed a little costs a little.
///
/// ```
/// "CRNPACK2" | count u32 | count × (id 32 | offset u64 | stored length u32 | raw length u32 | encoding u8)
/// records (offsets count from the start of the pack); encoding 0 raw, 1 zlib,
/// 2 delta: base id 32 | depth u16 | VCDIFF of the object against the base object
/// ```
public struct PackBuilder: Sendable {
    public static let targetSize = 4 << 20
    static let magic = Array("CRNPACK2".utf8)
    /// The largest object stored as a delta (a tree of about 600,000 entries); readers refuse larger claims.
    public static let maxDeltaTarget = 64 << 20
    static let entrySize = 32 + 8 + 4 + 4 + 1

    private var records: [(id: ObjectID, encoding: UInt8, raw: Int, stored: [UInt8])] = []
    private var seen: Set<ObjectID> = []
    public private(set) var byteCount = 0

    public init() {}

    public var isEmpty: Bool { records.isEmpty }
    public var count: Int { records.count }
    public var ids: [ObjectID] { records.map(\.id) }
    public func contains(_ id: ObjectID) -> Bool { seen.contains(id) }

    public mutating func add(_ id: ObjectID, _ bytes: [UInt8], compress: Bool = true) {
        guard seen.insert(id).inserted else { return }
        // Small records (file versions of small files, whose payload was compressed already if that paid)
        // at igzip's level 1, once; larger ones (trees) at zlib's 6, where the few percent are worth it.
        if compress, let z = Zlib.compressedIfWorth(bytes, level: bytes.count < 4096 ? 1 : 6) {
            records.append((id, 1, bytes.count, z))
            byteCount += z.count + Self.entrySize
            return
        }
        records.append((id, 0, bytes.count, bytes))
        byteCount += bytes.count + Self.entrySize
    }

    /// Adds `id` (raw length `rawLength`) as a VCDIFF `delta` on `base`, `depth` deltas from a full object.
    public mutating func addDelta(_ id: ObjectID, rawLength: Int, base: ObjectID, depth: UInt16, delta: [UInt8]) {
        guard seen.insert(id).inserted else { return }
        var w = ByteWriter(capacity: 34 + delta.count)
        w.raw(base.bytes); w.u16(depth); w.raw(delta)
        records.append((id, 2, rawLength, w.bytes))
        byteCount += w.bytes.count + Self.entrySize
    }

    public func build() -> [UInt8] {
        let sorted = records.sorted { $0.id < $1.id }
        var w = ByteWriter(capacity: byteCount + 16)
        w.raw(Self.magic)
        w.u32(UInt32(sorted.count))
        var offset = UInt64(Self.magic.count + 4 + sorted.count * Self.entrySize)
        for r in sorted {
            w.raw(r.id.bytes); w.u64(offset); w.u32(UInt32(r.stored.count)); w.u32(UInt32(r.raw)); w.u8(r.encoding)
            offset += UInt64(r.stored.count)
        }
        for r in sorted { w.raw(r.stored) }
        return w.bytes
    }
}

/// Reads objects out of a pack's bytes, checking each against its id. The entry table is searched in
/// place (it is sorted by id), so a cached pack costs its bytes and nothing per object.
public struct PackReader: Sendable {
    struct Entry: Sendable {
        let offset: Int; let stored: Int; let raw: Int; let encoding: UInt8
        /// Sizes a real record can have (zlib expands at most about 1032:1).
        var isSane: Bool {
            switch encoding {
            case 0: raw == stored
            case 1: raw <= stored &* 1100 &+ 1024
            case 2: stored >= 34 && raw <= PackBuilder.maxDeltaTarget
            default: false
            }
        }
    }
    let bytes: [UInt8]
    let count: Int
    static let tableStart = 12

    public init(_ bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        guard (try? r.raw(8)) == PackBuilder.magic, let count = try? Int(r.u32()),
              count <= (bytes.count - 12) / PackBuilder.entrySize else {
            throw ObjectError.malformed("not a Cairn pack")
        }
        self.bytes = bytes
        self.count = count
        for i in 0..<count {
            let e = entry(at: i)
            guard e.offset >= 0, e.offset <= bytes.count, e.offset + e.stored <= bytes.count, e.isSane else {
                throw ObjectError.malformed("pack entry out of range")
            }
            if i > 0 && compare(at: i - 1, bytes, Self.tableStart + i * PackBuilder.entrySize) >= 0 {
                throw ObjectError.malformed("pack entries out of order")
            }
        }
    }

    private func u32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }

    private func entry(at i: Int) -> Entry {
        let o = Self.tableStart + i * PackBuilder.entrySize + 32
        var offset = 0
        for k in 0..<8 { offset = offset << 8 | Int(bytes[o + k]) }
        // An offset past Int.max reads as negative and is refused by the range check.
        return Entry(offset: offset, stored: u32(o + 8), raw: u32(o + 12), encoding: bytes[o + 16])
    }

    /// memcmp of entry `i`'s id with 32 bytes at `at` in `key`.
    private func compare(at i: Int, _ key: [UInt8], _ at: Int) -> Int32 {
        bytes.withUnsafeBytes { b in key.withUnsafeBytes { k in
            memcmp(b.baseAddress! + Self.tableStart + i * PackBuilder.entrySize, k.baseAddress! + at, 32)
        } }
    }

    private func find(_ id: ObjectID) -> Entry? {
        let key = id.bytes
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            let c = compare(at: mid, key, 0)
            if c == 0 { return entry(at: mid) }
            if c < 0 { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    public var ids: [ObjectID] {
        (0..<count).map { i in ObjectID(Array(bytes[(Self.tableStart + i * PackBuilder.entrySize)..<(Self.tableStart + i * PackBuilder.entrySize + 32)]))! }
    }

    /// A record as stored: the object's bytes (checked against the id), or a delta to apply to its base.
    public enum Record: Sendable {
        case full([UInt8])
        case delta(base: ObjectID, depth: UInt16, delta: [UInt8], rawLength: Int)
    }

    /// `checkID: false` leaves the id check to a caller that checks what it rebuilds from the object.
    public func record(_ id: ObjectID, checkID: Bool = true) throws -> Record? {
        guard let e = find(id) else { return nil }
        return try Self.decode(id, e, stored: Array(bytes[e.offset..<(e.offset + e.stored)]), checkID: checkID)
    }

    /// The entry of `id`, given the pack's first bytes up to the end of its table (a ranged read: the
    /// records are not needed), and the pack's total size; nil if the pack does not hold it.
    static func locate(_ id: ObjectID, head: [UInt8], packSize: UInt64) throws -> Entry? {
        var r = ByteReader(head)
        guard (try? r.raw(8)) == PackBuilder.magic, let count = try? Int(r.u32()),
              head.count == tableStart + count * PackBuilder.entrySize else {
            throw ObjectError.malformed("not a Cairn pack")
        }
        // The table as a pack of its own: the same binary search, without the checks of the records.
        let table = PackReader(unchecked: head, count: count)
        guard let e = table.find(id) else { return nil }
        guard e.offset >= head.count, UInt64(e.offset) + UInt64(e.stored) <= packSize, e.isSane else {
            throw ObjectError.malformed("pack entry out of range")
        }
        return e
    }

    /// How many entries a pack whose first 12 bytes are `head` has (the table's length, for a ranged read).
    static func entryCount(head: [UInt8], packSize: UInt64) throws -> Int {
        var r = ByteReader(head)
        guard (try? r.raw(8)) == PackBuilder.magic, let count = try? Int(r.u32()),
              UInt64(count) <= (packSize &- 12) / UInt64(PackBuilder.entrySize), packSize >= 12 else {
            throw ObjectError.malformed("not a Cairn pack")
        }
        return count
    }

    private init(unchecked bytes: [UInt8], count: Int) {
        self.bytes = bytes
        self.count = count
    }

    /// A record's stored bytes decoded: checked against the id unless it is a delta (checked once applied).
    static func decode(_ id: ObjectID, _ e: Entry, stored: [UInt8], checkID: Bool = true) throws -> Record {
        guard stored.count == e.stored else { throw ObjectError.malformed("pack record of the wrong size") }
        if e.encoding == 2 {
            var r = ByteReader(stored)
            return .delta(base: try r.id(), depth: try r.u16(), delta: Array(stored[34...]), rawLength: e.raw)
        }
        let raw = e.encoding == 1 ? try Zlib.decompress(stored, expectedSize: e.raw) : stored
        guard !checkID || ObjectCoding.id(of: raw) == id else { throw ObjectError.malformed("object \(id.short) does not match its id") }
        return .full(raw)
    }

    /// The object's bytes when stored whole (nil when absent or stored as a delta).
    public func object(_ id: ObjectID) throws -> [UInt8]? {
        if case .full(let bytes)? = try record(id) { return bytes }
        return nil
    }
}
