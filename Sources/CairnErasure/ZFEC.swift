/// zfec's whole-buffer convention (its `easyfec` module): the input is zero-padded to K equal blocks of
/// ceil(len/K) bytes, the shares are those blocks followed by the N−K parity blocks, and the decoder drops
/// the padding again. Byte-identical to zfec 1.6.
public enum ZFEC {
    /// Block size zfec uses for `length` input bytes: ceil(length / K).
    public static func blockSize(forLength length: Int, k: Int) -> Int { (length + k - 1) / k }

    /// Zero bytes zfec appends so the input splits into K equal blocks.
    public static func padLength(forLength length: Int, k: Int) -> Int { blockSize(forLength: length, k: k) * k - length }

    /// All N shares of `input` (share i at index i).
    public static func encode(_ input: [UInt8], k: Int, n: Int) throws -> [[UInt8]] {
        try encode(input, with: ErasureCode(k: k, n: n))
    }

    /// All N shares of `input`, reusing a code (and its ISA-L tables).
    public static func encode(_ input: [UInt8], with code: ErasureCode) -> [[UInt8]] {
        let size = blockSize(forLength: input.count, k: code.k)
        let data: [[UInt8]] = (0..<code.k).map { j in
            let start = min(j * size, input.count), end = min((j + 1) * size, input.count)
            return Array(input[start..<end]) + [UInt8](repeating: 0, count: size - (end - start))
        }
        return data + code.encode(data)
    }

    /// The original bytes from any K distinct shares, dropping `padLength` trailing pad bytes.
    public static func decode(_ shares: [(number: Int, block: [UInt8])], k: Int, n: Int,
                              padLength: Int = 0) throws -> [UInt8] {
        try decode(shares, with: ErasureCode(k: k, n: n), padLength: padLength)
    }

    /// The original bytes from any K distinct shares, reusing a code.
    public static func decode(_ shares: [(number: Int, block: [UInt8])], with code: ErasureCode,
                              padLength: Int = 0) throws -> [UInt8] {
        let joined = try code.decode(shares).flatMap { $0 }
        guard padLength >= 0, padLength <= joined.count else {
            throw ErasureCodeError.invalidPadding(padLength: padLength, total: joined.count)
        }
        return Array(joined.dropLast(padLength))
    }
}
