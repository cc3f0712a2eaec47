/// Why a delta could not be applied. Every malformed input ends in one of these, never in a crash.
public enum DeltaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first bytes are not `D6 C3 C4`.
    case notVCDIFF
    /// The fourth header byte is not 0.
    case unsupportedVersion(UInt8)
    /// `VCD_DECOMPRESS` in the header or a non-zero delta indicator: sections are secondarily compressed.
    case secondaryCompression
    /// `VCD_CODETABLE`: the delta brings its own instruction code table.
    case customCodeTable
    /// Indicator bits the RFC does not define.
    case unknownIndicatorBits(field: String, value: UInt8)
    /// The delta ends inside a field or section.
    case truncated(String)
    /// A variable-length integer does not fit in 62 bits.
    case integerOverflow(String)
    /// A size field exceeds what we accept.
    case tooLarge(what: String, size: Int, limit: Int)
    /// A window's source or target segment lies outside the data it refers to.
    case segmentOutOfRange(String)
    /// The structure is inconsistent (lengths, instructions, addresses).
    case malformed(String)
    /// A window's Adler-32 checksum does not match its decoded bytes.
    case checksumMismatch(window: Int, expected: UInt32, actual: UInt32)

    public var description: String {
        switch self {
        case .notVCDIFF:
            return "not a VCDIFF delta (bad magic)"
        case .unsupportedVersion(let v):
            return "unsupported VCDIFF version \(v) (only version 0 is defined)"
        case .secondaryCompression:
            return "secondary compression is not supported (make the delta with xdelta3 -S none)"
        case .customCodeTable:
            return "application-defined code tables (VCD_CODETABLE) are not supported"
        case .unknownIndicatorBits(let field, let value):
            return "unknown bits set in the \(field) (0x\(String(value, radix: 16)))"
        case .truncated(let what):
            return "delta is truncated: it ends inside the \(what)"
        case .integerOverflow(let what):
            return "the \(what) is too large to be an integer"
        case .tooLarge(let what, let size, let limit):
            return "\(what) of \(size) bytes exceeds the limit of \(limit) bytes"
        case .segmentOutOfRange(let why):
            return "delta refers to data it does not have: \(why)"
        case .malformed(let why):
            return "malformed delta: \(why)"
        case .checksumMismatch(let window, let expected, let actual):
            return "target window \(window) checksum mismatch (Adler-32 expected \(hex(expected)), got \(hex(actual)))"
        }
    }

    private func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}
