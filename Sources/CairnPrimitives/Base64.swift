/// RFC 4648 base64: the standard alphabet with padding (HTTP headers, curl's pins) or the URL-safe one
/// without (Tahoe's NURLs).
public enum Base64 {
    static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let urlSafe = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8], urlSafe safe: Bool = false, padded: Bool = true) -> String {
        let alphabet = safe ? urlSafe : standard
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v = UInt32(bytes[i]) << 16
            if n > 1 { v |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { v |= UInt32(bytes[i + 2]) }
            for j in 0..<4 {
                if j <= n { out.append(alphabet[Int((v >> UInt32(18 - 6 * j)) & 63)]) } else if padded { out.append(UInt8(ascii: "=")) }
            }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Strict decoding in one alphabet; padding optional but, when present, exact. Nil when malformed.
    public static func decode(_ text: Substring, urlSafe safe: Bool = false) -> [UInt8]? {
        var chars = Array(text.utf8)
        if chars.count % 4 == 0 {
            var pad = 0
            while pad < 2, chars.last == UInt8(ascii: "=") { chars.removeLast(); pad += 1 }
        }
        guard chars.count % 4 != 1 else { return nil }
        let alphabet = safe ? urlSafe : standard
        var table = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 3 / 4)
        var buffer: UInt32 = 0, bits = 0
        for c in chars {
            let v = table[Int(c)]
            guard v >= 0 else { return nil }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt32(bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        if bits > 0, buffer & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return out
    }

    public static func decode(_ text: String, urlSafe safe: Bool = false) -> [UInt8]? { decode(Substring(text), urlSafe: safe) }
}
