import CairnPrimitives

/// Where every object of a repository is: the packs (caps) and the ids each holds, plus the dedup map
/// content hash → file version. Stored as an immutable cap named by the refs slot; rebuildable from
/// history (Documentation/Snapshots.md).
///
/// ```
/// "CRNIDX01" | pack count u32 | per pack: cap (u16 length + bytes) | id count u32 | ids (32 each)
/// | dedup count u32 | per entry: content hash 32 | file-version id 32
/// ```
public struct RepoIndex: Sendable, Equatable {
    static let magic = Array("CRNIDX01".utf8)

    public private(set) var packs: [String] = []
    public private(set) var packIDs: [[ObjectID]] = []
    public private(set) var location: [ObjectID: Int] = [:]
    public private(set) var dedup: [ByteKey: ObjectID] = [:]

    public init() {}

    public mutating func addPack(cap: String, ids: [ObjectID]) {
        let n = packs.count
        packs.append(cap)
        packIDs.append(ids.sorted())
        for id in ids where location[id] == nil { location[id] = n }
    }

    public mutating func recordContent(_ hash: [UInt8], version: ObjectID) {
        if dedup[ByteKey(hash)] == nil { dedup[ByteKey(hash)] = version }
    }

    public var encoded: [UInt8] {
        var w = ByteWriter(capacity: 64 + location.count * 32 + dedup.count * 64)
        w.raw(Self.magic)
        w.u32(UInt32(packs.count))
        for (cap, ids) in zip(packs, packIDs) {
            w.u16(UInt16(cap.utf8.count)); w.raw(Array(cap.utf8))
            w.u32(UInt32(ids.count))
            for id in ids { w.raw(id.bytes) }
        }
        let entries = dedup.sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }
        w.u32(UInt32(entries.count))
        for (hash, id) in entries { w.raw(hash.bytes); w.raw(id.bytes) }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = ByteReader(bytes)
            guard try r.raw(8) == Self.magic else { throw ObjectError.malformed("not a repository index") }
            let packCount = Int(try r.u32())
            for _ in 0..<packCount {
                let cap = String(decoding: try r.raw(Int(try r.u16())), as: UTF8.self)
                let n = Int(try r.u32())
                guard n <= r.remaining / 32 else { throw ObjectError.malformed("index pack too large") }
                addPack(cap: cap, ids: try (0..<n).map { _ in try r.id() })
            }
            let d = Int(try r.u32())
            guard d <= r.remaining / 64 else { throw ObjectError.malformed("index dedup table too large") }
            for _ in 0..<d { let h = try r.raw(32); dedup[ByteKey(h)] = try r.id() }
            try r.expectEnd()
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("repository index: \(e.description)")
        }
    }
}
