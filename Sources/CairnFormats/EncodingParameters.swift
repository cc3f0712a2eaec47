/// K-of-N erasure coding with a happiness threshold and a maximum segment size.
public struct EncodingParameters: Sendable, Equatable, CustomStringConvertible {
    public static let defaultMaximumSegmentSize = 1 << 20

    public let k: Int
    public let n: Int
    /// An upload succeeds only when shares sit on at least `happy` distinct servers.
    public let happy: Int
    public let maximumSegmentSize: Int

    public init(k: Int, n: Int, happy: Int, maximumSegmentSize: Int = defaultMaximumSegmentSize) throws {
        guard k >= 1, n >= k, n <= 256 else {
            throw FormatError.invalid("encoding \(k)-of-\(n) is impossible: need 1 ≤ K ≤ N ≤ 256")
        }
        guard happy >= k, happy <= n else {
            throw FormatError.invalid("happy \(happy) must be between K (\(k)) and N (\(n))")
        }
        guard maximumSegmentSize >= k else { throw FormatError.invalid("segment size below K") }
        self.k = k
        self.n = n
        self.happy = happy
        self.maximumSegmentSize = maximumSegmentSize
    }

    /// Parses "3-of-10".
    public static func parseEncoding(_ text: String) throws -> (k: Int, n: Int) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == "of", let k = Int(parts[0]), let n = Int(parts[2]) else {
            throw FormatError.invalid("encoding '\(text)' is not of the form K-of-N, e.g. 3-of-10")
        }
        guard k >= 1, n >= k, n <= 256 else {
            throw FormatError.invalid("encoding \(k)-of-\(n) is impossible: need 1 ≤ K ≤ N ≤ 256")
        }
        return (k, n)
    }

    public var description: String { "\(k)-of-\(n), happy \(happy)" }
}

public enum FormatError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let m): return m }
    }
}
