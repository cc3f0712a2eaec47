import CairnPrimitives

/// The URI extension block: every parameter and root a downloader needs, pinned by its hash in the cap.
public struct UEB: Sendable, Equatable {
    public static let magic = Array("CRNUEB".utf8)
    public static let version: UInt16 = 1
    public static let encodedSize = 110
    /// Reed–Solomon over GF(2^8), polynomial 0x11D, zfec's matrix.
    public static let codecZfecRS: UInt8 = 1
    /// XChaCha20, zero nonce, counter = byte offset / 64.
    public static let cipherXChaCha20: UInt8 = 1

    public let k: Int
    public let n: Int
    public let segmentSize: Int
    public let dataSize: UInt64
    public let segmentCount: Int
    public let tailSegmentSize: Int
    public let shareRoot: Digest
    public let crypttextRoot: Digest

    public init(geometry g: SegmentGeometry, shareRoot: Digest, crypttextRoot: Digest) {
        k = g.k; n = g.n; segmentSize = g.segmentSize; dataSize = g.dataSize
        segmentCount = g.segmentCount; tailSegmentSize = g.tailSegmentSize
        self.shareRoot = shareRoot; self.crypttextRoot = crypttextRoot
    }

    public var geometry: SegmentGeometry {
        SegmentGeometry(k: k, n: n, segmentSize: segmentSize, dataSize: dataSize)
    }

    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: Self.encodedSize)
        w.raw(Self.magic)
        w.u16(Self.version)
        w.u16(UInt16(k))
        w.u16(UInt16(n))
        w.u64(UInt64(segmentSize))
        w.u64(dataSize)
        w.u64(UInt64(segmentCount))
        w.u64(UInt64(tailSegmentSize))
        w.u8(Self.codecZfecRS)
        w.u8(Self.cipherXChaCha20)
        w.raw(shareRoot)
        w.raw(crypttextRoot)
        return w.bytes
    }

    public var hash: Digest { TaggedHash.hash(Tags.ueb, bytes) }

    /// Parses and checks internal consistency (the caller checks the hash against the cap).
    public init(parsing bytes: [UInt8]) throws {
        func bad(_ why: String) -> FormatError { .invalid("bad UEB: \(why)") }
        guard bytes.count == Self.encodedSize else { throw bad("length \(bytes.count)") }
        var r = ByteReader(bytes)
        guard try r.raw(6) == Self.magic else { throw bad("magic") }
        guard try r.u16() == Self.version else { throw bad("unknown version") }
        k = Int(try r.u16()); n = Int(try r.u16())
        let seg = try r.u64(), size = try r.u64(), count = try r.u64(), tail = try r.u64()
        guard try r.u8() == Self.codecZfecRS, try r.u8() == Self.cipherXChaCha20 else { throw bad("unknown codec or cipher") }
        shareRoot = try r.raw(32); crypttextRoot = try r.raw(32)
        guard k >= 1, k <= n, n <= 256, seg >= 1, seg <= 1 << 30, seg % UInt64(k) == 0, size >= 1, size < 1 << 62 else {
            throw bad("impossible parameters")
        }
        segmentSize = Int(seg); dataSize = size; segmentCount = Int(count); tailSegmentSize = Int(tail)
        let g = geometry
        guard g.segmentCount == segmentCount, g.tailSegmentSize == tailSegmentSize else {
            throw bad("segment count or tail size inconsistent with the data size")
        }
    }
}

/// How a file of `dataSize` bytes is cut into segments and blocks.
public struct SegmentGeometry: Sendable, Equatable {
    public let k: Int
    public let n: Int
    /// Bytes of plaintext per segment (a multiple of K).
    public let segmentSize: Int
    public let dataSize: UInt64

    public init(k: Int, n: Int, segmentSize: Int, dataSize: UInt64) {
        self.k = k; self.n = n; self.segmentSize = segmentSize; self.dataSize = dataSize
    }

    /// Segments of about `maximumSegmentSize`, rounded up to a multiple of K so they split evenly
    /// into K blocks (1,048,578 for K=3); a file smaller than that is one segment of its own size
    /// rounded up to K.
    public init(k: Int, n: Int, maximumSegmentSize: Int, dataSize: UInt64) {
        let limit = UInt64(maximumSegmentSize)
        let raw = min(limit, max(dataSize, 1))
        let rounded = (raw + UInt64(k) - 1) / UInt64(k) * UInt64(k)
        self.init(k: k, n: n, segmentSize: Int(rounded), dataSize: dataSize)
    }

    public var segmentCount: Int { Int((dataSize + UInt64(segmentSize) - 1) / UInt64(segmentSize)) }
    /// Plaintext bytes in the last segment (unpadded).
    public var tailSegmentSize: Int { Int(dataSize - UInt64(segmentCount - 1) * UInt64(segmentSize)) }
    public var blockSize: Int { segmentSize / k }
    /// The tail segment is zero-padded to a multiple of K.
    public var tailBlockSize: Int { (tailSegmentSize + k - 1) / k }

    public func segmentLength(_ i: Int) -> Int { i == segmentCount - 1 ? tailSegmentSize : segmentSize }
    public func blockLength(_ i: Int) -> Int { i == segmentCount - 1 ? tailBlockSize : blockSize }
    public func segmentOffset(_ i: Int) -> UInt64 { UInt64(i) * UInt64(segmentSize) }
}
