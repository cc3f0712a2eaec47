import CZlib

public enum CompressionError: Error, CustomStringConvertible {
    case corrupt(String)
    public var description: String {
        switch self {
        case .corrupt(let why): return "compressed data is corrupt: \(why)"
        }
    }
}

/// zlib (RFC 1950) compression, with a cheap probe that says whether compressing pays.
public enum Zlib {
    /// Compresses at `level` (1 = fast, 9 = small). Level 1 runs in ISA-L's igzip, which writes the same
    /// format several times faster.
    public static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        if level <= 1, let fast = Igzip.compressZlib(input) { return fast }
        return zlibCompress(input, level: level)
    }

    static func zlibCompress(_ input: [UInt8], level: Int32) -> [UInt8] {
        var bound = compressBound(uLong(input.count))
        var out = [UInt8](repeating: 0, count: Int(bound))
        var one: UInt8 = 0
        let rc = input.isEmpty
            ? compress2(&out, &bound, &one, 0, level)
            : compress2(&out, &bound, input, uLong(input.count), level)
        precondition(rc == Z_OK, "compress2 failed with \(rc)")
        out.removeSubrange(Int(bound)...)
        return out
    }

    /// Inflates `input`, which must expand to exactly `expectedSize` bytes.
    public static func decompress(_ input: [UInt8], expectedSize: Int) throws -> [UInt8] {
        // igzip inflates any zlib stream several times faster than zlib; zlib names what is wrong.
        if let fast = Igzip.inflateZlib(input, expectedSize: expectedSize) { return fast }
        return try zlibInflate(input, expectedSize: expectedSize)
    }

    static func zlibInflate(_ input: [UInt8], expectedSize: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(expectedSize, 1))
        var outLen = uLong(expectedSize)
        var one: UInt8 = 0
        let rc = out.withUnsafeMutableBufferPointer { o in
            input.isEmpty ? uncompress(o.baseAddress, &outLen, &one, 0)
                          : uncompress(o.baseAddress, &outLen, input, uLong(input.count))
        }
        guard rc == Z_OK else { throw CompressionError.corrupt("zlib error \(rc)") }
        guard Int(outLen) == expectedSize else {
            throw CompressionError.corrupt("expected \(expectedSize) bytes, got \(outLen)")
        }
        out.removeSubrange(expectedSize...)
        return out
    }

    /// Compresses a sample (up to 64 KiB from the middle) at level 1 and says whether the whole input
    /// would likely shrink below `threshold` of its size. Incompressible data costs zlib about 60 MB/s for
    /// nothing, so the probe saves far more than it spends.
    /// `input` compressed at `level` when that pays (below `threshold` of its size), else nil. Up to the
    /// probe's sample size the compression is its own probe: a small input is compressed once, not twice.
    public static func compressedIfWorth(_ input: [UInt8], level: Int32, threshold: Double = 0.9) -> [UInt8]? {
        guard input.count >= 64 else { return nil }
        if input.count <= probeSize {
            let c = compress(input, level: level)
            return Double(c.count) < Double(input.count) * threshold ? c : nil
        }
        guard worthCompressing(input, threshold: threshold) else { return nil }
        let c = compress(input, level: level)
        return c.count < input.count ? c : nil
    }

    static let probeSize = 64 * 1024

    public static func worthCompressing(_ input: [UInt8], threshold: Double = 0.9) -> Bool {
        guard input.count >= 64 else { return false }
        let sampleSize = min(input.count, probeSize)
        let start = (input.count - sampleSize) / 2
        let sample = Array(input[start..<start + sampleSize])
        let compressed = compress(sample, level: 1)
        return Double(compressed.count) < Double(sample.count) * threshold
    }
}

/// CRC-32 (IEEE, as zlib and gzip compute it), for torn-write detection in storage files.
public enum CRC32 {
    public static func checksum(_ data: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = data.baseAddress, data.count > 0 else { return seed }
        var crc = uLong(seed)
        var p = base.assumingMemoryBound(to: UInt8.self)
        var left = data.count
        while left > 0 {  // zlib takes a 32-bit length
            let n = min(left, 1 << 30)
            crc = crc32(crc, p, uInt(n))
            p += n
            left -= n
        }
        return UInt32(crc)
    }

    public static func checksum(_ data: [UInt8], seed: UInt32 = 0) -> UInt32 {
        data.withUnsafeBytes { checksum($0, seed: seed) }
    }
}

/// Adler-32 (RFC 1950, as zlib computes it): the per-window checksum xdelta3 writes into VCDIFF deltas.
public enum Adler32 {
    public static func checksum(_ data: UnsafeRawBufferPointer, seed: UInt32 = 1) -> UInt32 {
        guard let base = data.baseAddress, data.count > 0 else { return seed }
        var sum = uLong(seed)
        var p = base.assumingMemoryBound(to: UInt8.self)
        var left = data.count
        while left > 0 {  // zlib takes a 32-bit length
            let n = min(left, 1 << 30)
            sum = adler32(sum, p, uInt(n))
            p += n
            left -= n
        }
        return UInt32(sum)
    }

    public static func checksum(_ data: [UInt8], seed: UInt32 = 1) -> UInt32 {
        data.withUnsafeBytes { checksum($0, seed: seed) }
    }
}
