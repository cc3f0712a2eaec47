/// Lowercase RFC 4648 base32 without padding, as used in cap strings.
public enum Base32 {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    static let decodeTable: [Int8] = {
        var t = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = Int8(i) }
        return t
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for b in bytes {
            buffer = (buffer << 8) | UInt32(b)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The length of the base32 text for `byteCount` bytes.
    public static func encodedLength(_ byteCount: Int) -> Int { (byteCount * 8 + 4) / 5 }

    /// Strict decoding: lowercase alphabet only, no padding, a length that some byte count encodes to,
    /// and zero trailing bits (so every byte string has exactly one spelling). Nil otherwise.
    public static func decode(_ text: Substring) -> [UInt8]? {
        let chars = Array(text.utf8)
        let byteCount = chars.count * 5 / 8
        guard encodedLength(byteCount) == chars.count else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(byteCount)
        var buffer: UInt32 = 0
        var bits = 0
        for c in chars {
            let v = decodeTable[Int(c)]
            guard v >= 0 else { return nil }
            buffer = (buffer << 5) | UInt32(v)
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt32(bits - 8)) & 0xff))
                bits -= 8
            }
        }
        if bits > 0, buffer & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return out
    }

    public static func decode(_ text: String) -> [UInt8]? { decode(Substring(text)) }
}
