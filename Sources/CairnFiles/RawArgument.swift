/// Command-line arguments as the bytes they are. `CommandLine.arguments` replaces invalid UTF-8 with
/// U+FFFD, so a file whose name is not UTF-8 (a Latin-1 `café`) could not be named on the command line.
/// Here each byte of an invalid sequence becomes U+F700 + byte (U+F780…U+F7FF, private use, which file
/// names do not hold in practice), and `bytes(_:)` turns such text back into the exact bytes, so a path
/// argument reaches the file system and the trees byte for byte.
public enum RawArgument {
    static let escapeBase: UInt32 = 0xF700

    /// The process's arguments after the program name, from the raw `argv`.
    public static var arguments: [String] {
        (1..<Int(CommandLine.argc)).map { i in
            guard let p = CommandLine.unsafeArgv[i] else { return "" }
            var bytes: [UInt8] = []
            var q = p
            while q.pointee != 0 { bytes.append(UInt8(bitPattern: q.pointee)); q += 1 }
            return text(bytes)
        }
    }

    /// `bytes` as text: valid UTF-8 as it is, each byte of an invalid sequence escaped.
    public static func text(_ bytes: [UInt8]) -> String {
        if let valid = String(validating: bytes, as: UTF8.self) { return valid }
        var scalars = String.UnicodeScalarView()
        var parser = Unicode.UTF8.ForwardParser()
        var input = bytes.makeIterator()
        var consumed = 0
        while true {
            switch parser.parseScalar(from: &input) {
            case .valid(let encoded):
                scalars.append(Unicode.UTF8.decode(encoded))
                consumed += encoded.count
            case .error(let length):
                // The bytes of the invalid sequence, each escaped.
                for b in bytes[consumed..<(consumed + length)] { scalars.append(Unicode.Scalar(escapeBase + UInt32(b))!) }
                consumed += length
            case .emptyInput:
                return String(scalars)
            }
        }
    }

    /// Text back to bytes: escaped bytes as themselves, everything else as UTF-8.
    public static func bytes(_ text: some StringProtocol) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            if s.value >= escapeBase + 0x80 && s.value <= escapeBase + 0xFF {
                out.append(UInt8(s.value - escapeBase))
            } else {
                out.append(contentsOf: String(s).utf8)
            }
        }
        return out
    }
}
