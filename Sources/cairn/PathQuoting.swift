/// Paths as git prints them with `core.quotePath` on (its default): a name with a control character, a
/// double quote, a backslash or any byte outside ASCII is printed in double quotes with C escapes and
/// octal bytes (`"caf\303\251"`, `"two\nlines"`), so every name prints on one line and unambiguously,
/// whatever bytes it holds (a non-UTF-8 name once printed as U+FFFD).
enum PathQuoting {
    static func quoted(_ bytes: [UInt8]) -> String {
        guard bytes.contains(where: needsQuote) else { return String(decoding: bytes, as: UTF8.self) }
        var out = "\""
        for b in bytes {
            switch b {
            case 0x07: out += "\\a"
            case 0x08: out += "\\b"
            case 0x09: out += "\\t"
            case 0x0A: out += "\\n"
            case 0x0B: out += "\\v"
            case 0x0C: out += "\\f"
            case 0x0D: out += "\\r"
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case _ where needsQuote(b):
                let octal = String(b, radix: 8)
                out += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
            default: out.unicodeScalars.append(Unicode.Scalar(b))
            }
        }
        return out + "\""
    }

    static func needsQuote(_ b: UInt8) -> Bool { b < 0x20 || b == 0x22 || b == 0x5C || b >= 0x7F }
}
