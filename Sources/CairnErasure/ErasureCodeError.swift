/// Why an erasure-code operation was refused; each message says what to change.
public enum ErasureCodeError: Error, Equatable, CustomStringConvertible, Sendable {
    /// K or N outside 1 ≤ K ≤ N ≤ 256.
    case invalidParameters(k: Int, n: Int)
    /// Fewer distinct shares than K.
    case notEnoughShares(needed: Int, got: Int)
    /// The same share number was given twice.
    case duplicateShare(number: Int)
    /// A share number outside 0..<N.
    case shareOutOfRange(number: Int, n: Int)
    /// Blocks of one call must all have the same length.
    case unequalBlockLengths(expected: Int, got: Int, share: Int)
    /// Share numbers and blocks (or outputs) do not pair up.
    case mismatchedCounts(what: String, expected: Int, got: Int)
    /// A zfec padding length that cannot come from K data blocks of this size.
    case invalidPadding(padLength: Int, total: Int)

    public var description: String {
        switch self {
        case let .invalidParameters(k, n):
            return "invalid erasure code K=\(k), N=\(n): K must be between 1 and N, and N at most 256"
        case let .notEnoughShares(needed, got):
            return "need \(needed) distinct shares to decode, got \(got)"
        case let .duplicateShare(number):
            return "share \(number) was given more than once; give each share number once"
        case let .shareOutOfRange(number, n):
            return "share number \(number) is out of range: shares are numbered 0 to \(n - 1) for N=\(n)"
        case let .unequalBlockLengths(expected, got, share):
            return "share \(share) has a block of \(got) bytes but the others have \(expected): all blocks must have the same length"
        case let .mismatchedCounts(what, expected, got):
            return "\(what): expected \(expected), got \(got)"
        case let .invalidPadding(padLength, total):
            return "padding of \(padLength) bytes is impossible for \(total) decoded bytes"
        }
    }
}
