import CairnPrimitives

// The byte formats of a local server's pack and index files (Documentation/LocalGrid.md).
// All integers are big-endian. Every header and entry carries a CRC-32 (zlib's) of its other bytes.

enum PackFormat {
    static let version: UInt32 = 1
    /// Shares of at most this many bytes go into packs; larger ones get a file of their own.
    static let smallShareLimit: UInt64 = 1 << 20
    /// A writer rolls over to a new pack before a pack would grow past this size.
    static let packSizeLimit: UInt64 = 256 << 20

    /// Pack and index file header: 8-byte magic, u32 version, u32 CRC of the first 12 bytes.
    static let fileHeaderSize = 16
    static let packMagic: [UInt8] = Array("CAIRNPAK".utf8)
    static let indexMagic: [UInt8] = Array("CAIRNIDX".utf8)

    static func fileHeader(magic: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: fileHeaderSize)
        w.raw(magic)
        w.u32(version)
        w.u32(CRC32.checksum(w.bytes))
        return w.bytes
    }

    enum HeaderCheck: Equatable { case valid, empty, damaged(String) }

    static func checkFileHeader(_ bytes: [UInt8], magic: [UInt8]) -> HeaderCheck {
        if bytes.isEmpty { return .empty }
        guard bytes.count == fileHeaderSize else { return .damaged("header truncated to \(bytes.count) bytes") }
        guard Array(bytes[0..<8]) == magic else { return .damaged("not a Cairn \(magic == packMagic ? "pack" : "index") file (bad magic)") }
        guard CRC32.checksum(Array(bytes[0..<12])) == readU32(bytes, 12) else { return .damaged("header checksum mismatch") }
        let v = readU32(bytes, 8)
        guard v == version else { return .damaged("format version \(v) is not supported (this build reads version \(version))") }
        return .valid
    }

    // MARK: Pack records

    /// Record header: "CSHR", storage index (16), share number u32, data length u64, data CRC u32,
    /// header CRC u32 (over the previous 36 bytes); then the data.
    static let recordHeaderSize = 40
    static let recordMagic: [UInt8] = Array("CSHR".utf8)

    static func writeRecordHeader(into p: UnsafeMutableRawBufferPointer, key: ShareKey, length: UInt64, dataCRC: UInt32) {
        precondition(p.count >= recordHeaderSize)
        for i in 0..<4 { p[i] = recordMagic[i] }
        storeU64(p, 4, key.high)
        storeU64(p, 12, key.low)
        storeU32(p, 20, key.share)
        storeU64(p, 24, length)
        storeU32(p, 32, dataCRC)
        storeU32(p, 36, CRC32.checksum(UnsafeRawBufferPointer(rebasing: p[0..<36])))
    }

    struct RecordHeader {
        var key: ShareKey
        var length: UInt64
        var dataCRC: UInt32
    }

    static func parseRecordHeader(_ b: [UInt8]) -> RecordHeader? {
        guard b.count >= recordHeaderSize, Array(b[0..<4]) == recordMagic else { return nil }
        guard CRC32.checksum(Array(b[0..<36])) == readU32(b, 36) else { return nil }
        return RecordHeader(key: ShareKey(high: readU64(b, 4), low: readU64(b, 12), share: readU32(b, 20)),
                            length: readU64(b, 24), dataCRC: readU32(b, 32))
    }

    // MARK: Index entries

    /// Index entry, 64 bytes: storage index (16), share number u32, flags u32, record offset u64 (of the
    /// record header in the pack), data length u64, sequence u64, data CRC u32, 8 reserved zero bytes,
    /// entry CRC u32 (over the previous 60 bytes).
    static let indexEntrySize = 64
    static let flagDropped: UInt32 = 1

    struct IndexEntry: Equatable {
        var key: ShareKey
        var flags: UInt32
        var recordOffset: UInt64
        var length: UInt64
        var sequence: UInt64
        var dataCRC: UInt32
        var isDropped: Bool { flags & flagDropped != 0 }
        var recordEnd: UInt64 { recordOffset + UInt64(recordHeaderSize) + length }
    }

    static func encode(_ e: IndexEntry, into p: UnsafeMutableRawBufferPointer) {
        precondition(p.count >= indexEntrySize)
        storeU64(p, 0, e.key.high)
        storeU64(p, 8, e.key.low)
        storeU32(p, 16, e.key.share)
        storeU32(p, 20, e.flags)
        storeU64(p, 24, e.recordOffset)
        storeU64(p, 32, e.length)
        storeU64(p, 40, e.sequence)
        storeU32(p, 48, e.dataCRC)
        storeU64(p, 52, 0)
        storeU32(p, 60, CRC32.checksum(UnsafeRawBufferPointer(rebasing: p[0..<60])))
    }

    static func encode(_ entries: [IndexEntry]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: entries.count * indexEntrySize)
        out.withUnsafeMutableBytes { p in
            for (i, e) in entries.enumerated() {
                encode(e, into: UnsafeMutableRawBufferPointer(rebasing: p[(i * indexEntrySize)...]))
            }
        }
        return out
    }

    /// Decodes the entry at `offset` of `b`; nil if its CRC fails.
    static func decodeEntry(_ b: UnsafeRawBufferPointer, at offset: Int) -> IndexEntry? {
        let p = UnsafeRawBufferPointer(rebasing: b[offset..<(offset + indexEntrySize)])
        guard CRC32.checksum(UnsafeRawBufferPointer(rebasing: p[0..<60])) == loadU32(p, 60) else { return nil }
        return IndexEntry(key: ShareKey(high: loadU64(p, 0), low: loadU64(p, 8), share: loadU32(p, 16)),
                          flags: loadU32(p, 20), recordOffset: loadU64(p, 24), length: loadU64(p, 32),
                          sequence: loadU64(p, 40), dataCRC: loadU32(p, 48))
    }

    // MARK: Big-endian helpers on raw memory

    static func storeU32(_ p: UnsafeMutableRawBufferPointer, _ at: Int, _ v: UInt32) {
        p.storeBytes(of: v.bigEndian, toByteOffset: at, as: UInt32.self)
    }
    static func storeU64(_ p: UnsafeMutableRawBufferPointer, _ at: Int, _ v: UInt64) {
        p.storeBytes(of: v.bigEndian, toByteOffset: at, as: UInt64.self)
    }
    static func loadU32(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(bigEndian: p.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }
    static func loadU64(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        UInt64(bigEndian: p.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }
    static func readU32(_ b: [UInt8], _ at: Int) -> UInt32 { b.withUnsafeBytes { loadU32($0, at) } }
    static func readU64(_ b: [UInt8], _ at: Int) -> UInt64 { b.withUnsafeBytes { loadU64($0, at) } }
}

/// (storage index, share number) packed into integers: a compact dictionary key for millions of shares.
struct ShareKey: Hashable, Sendable {
    var high: UInt64
    var low: UInt64
    var share: UInt32

    init(high: UInt64, low: UInt64, share: UInt32) {
        self.high = high
        self.low = low
        self.share = share
    }

    init(_ index: StorageIndex, _ share: UInt32) {
        let b = index.bytes
        self.init(high: PackFormat.readU64(b, 0), low: PackFormat.readU64(b, 8), share: share)
    }

    var index: IndexKey { IndexKey(high: high, low: low) }
}

/// A storage index as two integers.
struct IndexKey: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    init(_ index: StorageIndex) {
        self.init(high: PackFormat.readU64(index.bytes, 0), low: PackFormat.readU64(index.bytes, 8))
    }
}
