/// The metadata header at the front of every zfec `.fec` share file, bit-packed as zfec's
/// `filefec._build_header` does: M−1 in 8 bits, then K−1 in ⌈log₂ M⌉ bits, the pad length in ⌈log₂ K⌉ bits
/// and the share number in ⌈log₂ M⌉ bits, big-endian, left-aligned and zero-filled to 2, 3 or 4 bytes
/// (never fewer than 2). For K=3, M=10 that is 3 bytes, e.g. `09 28 40` for share 1 with 2 pad bytes.
public struct FECHeader: Equatable, Sendable {
    /// Total number of shares (1...256).
    public let m: Int
    /// Shares needed to decode (1...M).
    public let k: Int
    /// Zero bytes added to the file so its length is a multiple of K (0..<K).
    public let padLength: Int
    /// This file's share number (0..<M).
    public let shareNumber: Int

    public init(m: Int, k: Int, padLength: Int, shareNumber: Int) throws {
        guard 1 <= k, k <= m, m <= 256 else { throw ErasureCodeError.invalidParameters(k: k, n: m) }
        guard 0 <= padLength, padLength < k else {
            throw FECFileError.invalidHeader(reason: "pad length \(padLength) must be below K=\(k)")
        }
        guard 0 <= shareNumber, shareNumber < m else {
            throw FECFileError.invalidHeader(reason: "share number \(shareNumber) must be below M=\(m)")
        }
        self.m = m
        self.k = k
        self.padLength = padLength
        self.shareNumber = shareNumber
    }

    /// Bits needed to store any of `count` values: the smallest b with 2^b ≥ count (zfec's `log_ceil`).
    static func bits(for count: Int) -> Int {
        var b = 0
        while (1 << b) < count { b += 1 }
        return b
    }

    /// The packed header bytes.
    public var bytes: [UInt8] {
        let kBits = Self.bits(for: m), padBits = Self.bits(for: k), shareBits = Self.bits(for: m)
        var value = UInt64(m - 1)
        value = value << UInt64(kBits) | UInt64(k - 1)
        value = value << UInt64(padBits) | UInt64(padLength)
        value = value << UInt64(shareBits) | UInt64(shareNumber)
        let used = 8 + kBits + padBits + shareBits
        let length = used <= 16 ? 2 : used <= 24 ? 3 : 4
        value <<= UInt64(length * 8 - used)
        return (0..<length).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * (length - 1 - $0))) }
    }

    /// Reads a header one byte at a time from `next` (nil at end of file), consuming exactly the bytes
    /// `bytes` would produce. `path` only names the file in errors.
    public static func parse(path: String, next: () throws -> UInt8?) throws -> FECHeader {
        var reader = BitReader()
        func field(_ width: Int) throws -> Int {
            guard let value = try reader.read(width, from: next) else {
                throw FECFileError.corruptHeader(path: path, reason: "the file is shorter than its metadata header; perhaps it was truncated")
            }
            return value
        }
        let m = try field(8) + 1
        let k = try field(bits(for: m)) + 1
        let pad = try field(bits(for: k))
        let share = try field(bits(for: m))
        if reader.bytesRead < 2 { _ = try field(8) }  // M = 1: the header still occupies two bytes
        guard k <= m else { throw FECFileError.corruptHeader(path: path, reason: "K=\(k) is larger than M=\(m)") }
        guard pad < k else { throw FECFileError.corruptHeader(path: path, reason: "pad length \(pad) is not below K=\(k)") }
        guard share < m else { throw FECFileError.corruptHeader(path: path, reason: "share number \(share) is not below M=\(m)") }
        return try FECHeader(m: m, k: k, padLength: pad, shareNumber: share)
    }

    /// Parses a header at the start of `bytes`; returns it and its length.
    public static func parse(_ bytes: [UInt8]) throws -> (header: FECHeader, length: Int) {
        var index = 0
        let header = try parse(path: "<bytes>") {
            guard index < bytes.count else { return nil }
            defer { index += 1 }
            return bytes[index]
        }
        return (header, index)
    }
}

/// Big-endian bit reader that fetches a byte only when a field needs more bits.
private struct BitReader {
    private var buffer: UInt64 = 0
    private var available = 0
    private(set) var bytesRead = 0

    mutating func read(_ width: Int, from next: () throws -> UInt8?) throws -> Int? {
        while available < width {
            guard let byte = try next() else { return nil }
            buffer = buffer << 8 | UInt64(byte)
            available += 8
            bytesRead += 1
        }
        available -= width
        let value = (buffer >> UInt64(available)) & ((1 << UInt64(width)) - 1)
        buffer &= (1 << UInt64(available)) - 1
        return Int(value)
    }
}
