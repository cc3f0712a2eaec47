import CairnPrimitives

/// Many small objects in one immutable cap (Documentation/Snapshots.md): a sorted table of contents,
/// then the records. Each record is zlib-compressed when the probe says it pays.
///
/// ```
/// "CRNPACK1" | count u32 | count × (id 32 | offset u64 | stored length u32 | raw length u32 | encoding u8)
/// records (offsets count from the start of the pack)
/// ```
public struct PackBuilder: Sendable {
    public static let targetSize = 4 << 20
    static let magic = Array("CRNPACK1".utf8)
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
        if compress && Zlib.worthCompressing(bytes) {
            let z = Zlib.compress(bytes, level: 6)
            if z.count < bytes.count {
                records.append((id, 1, bytes.count, z))
                byteCount += z.count + Self.entrySize
                return
            }
        }
        records.append((id, 0, bytes.count, bytes))
        byteCount += bytes.count + Self.entrySize
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

/// Reads objects out of a pack's bytes, checking each against its id.
public struct PackReader: Sendable {
    struct Entry: Sendable { let offset: Int; let stored: Int; let raw: Int; let encoding: UInt8 }
    let bytes: [UInt8]
    let table: [ObjectID: Entry]

    public init(_ bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        guard (try? r.raw(8)) == PackBuilder.magic, let count = try? Int(r.u32()),
              count <= (bytes.count - 12) / PackBuilder.entrySize else {
            throw ObjectError.malformed("not a Cairn pack")
        }
        var table: [ObjectID: Entry] = [:]
        do {
            for _ in 0..<count {
                let id = try r.id()
                let offset = try r.u64(), stored = Int(try r.u32()), raw = Int(try r.u32()), encoding = try r.u8()
                guard offset <= UInt64(bytes.count), Int(offset) + stored <= bytes.count, encoding <= 1,
                      encoding == 1 ? raw <= stored &* 1100 &+ 1024 : raw == stored else {
                    throw ObjectError.malformed("pack entry out of range")
                }
                let e = Entry(offset: Int(offset), stored: stored, raw: raw, encoding: encoding)
                table[id] = e
            }
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("pack: \(e.description)")
        }
        self.bytes = bytes
        self.table = table
    }

    public var ids: [ObjectID] { Array(table.keys) }

    public func object(_ id: ObjectID) throws -> [UInt8]? {
        guard let e = table[id] else { return nil }
        let stored = Array(bytes[e.offset..<(e.offset + e.stored)])
        let raw = e.encoding == 1 ? try Zlib.decompress(stored, expectedSize: e.raw) : stored
        guard ObjectCoding.id(of: raw) == id else { throw ObjectError.malformed("object \(id.short) does not match its id") }
        return raw
    }
}
