/// Problems with how a Tahoe storage node is named or configured (failures of requests to a node are
/// `StorageError`s, like every server's).
public enum TahoeError: Error, Equatable, CustomStringConvertible {
    case badNURL(text: String, reason: String)
    case badNodeFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .badNURL(let text, let reason): return "not a storage node NURL (\(text)): \(reason)"
        case .badNodeFile(let path, let reason): return "\(path): \(reason)"
        }
    }
}
