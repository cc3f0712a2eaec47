import CairnFiles
import CairnStorage

/// Grid-level failures, each a sentence a user can act on.
public enum GridError: Error, CustomStringConvertible {
    case noGrid(path: String)
    case badConfig(path: String, reason: String)
    /// `problems`: why servers or shares failed ("server 3: …: Too many open files"), for the message.
    /// `failedCheck`: shares that were found but did not verify against the cap (damaged, or a cap that
    /// was not copied whole: a wrong size or hash fails every share).
    case notEnoughShares(found: Int, needed: Int, servers: [String], problems: [String], failedCheck: Int = 0)
    /// Repair could not rebuild a segment: fewer than K of its blocks could be read and verified.
    case notEnoughBlocks(segment: Int, found: Int, needed: Int, unreadable: Int, corrupt: Int, unverified: Int)
    case placementFailed(servers: Int, happy: Int, problems: [String])
    case integrity(String)
    case io(path: String, reason: String)
    case full(String)
    case usage(String)

    public var description: String {
        switch self {
        case .noGrid(let p):
            return "no grid at \(p) (create one with 'cairn grid create \(p)')"
        case .badConfig(let p, let r):
            return "grid configuration \(p) is unusable: \(r)"
        case .notEnoughShares(let found, let needed, let servers, let problems, let failedCheck):
            var s = "found \(found) of the \(needed) shares needed"
            if failedCheck > 0 {
                s += "; \(failedCheck) share\(failedCheck == 1 ? "" : "s") found failed the check against this cap"
                s += found == 0 ? " (every one: is the cap copied whole, size and hash included?)" : " (damaged: 'cairn repair' rewrites them)"
            }
            if !servers.isEmpty { s += "; servers \(servers.joined(separator: ", ")) unreachable or missing" }
            // The first few reasons say what to do (a full descriptor table, a permission, a dead server).
            if !problems.isEmpty {
                s += ": " + problems.prefix(3).joined(separator: "; ")
                if problems.count > 3 { s += "; and \(problems.count - 3) more" }
            }
            return s
        case .notEnoughBlocks(let segment, let found, let needed, let unreadable, let corrupt, let unverified):
            var s = "segment \(segment): found \(found) of the \(needed) good blocks needed"
            var why: [String] = []
            if unreadable > 0 { why.append("\(unreadable) could not be read this time") }
            if corrupt > 0 { why.append("\(corrupt) failed their hash") }
            if unverified > 0 { why.append("\(unverified) could not be checked: their hash trees are damaged") }
            if !why.isEmpty { s += " (" + why.joined(separator: ", ") + ")" }
            if unreadable > 0 { s += "; nothing was changed: try again when the servers can be read" }
            return s
        case .placementFailed(let servers, let happy, let problems):
            var s = "could place shares on only \(servers) servers, but \(happy) are needed (happy)"
            if !problems.isEmpty { s += ": " + problems.joined(separator: "; ") }
            return s
        case .integrity(let m): return m
        case .io(let p, let r): return "\(p): \(r)"
        case .full(let m): return m
        case .usage(let m): return m
        }
    }
}

extension GridError {
    /// The one translation of the file layer's errors for the grid client (source files, grid configuration):
    /// "PATH: strerror", or `.full` when the disk or quota is full.
    public init(_ error: FileSystemError) {
        self = error.isNoSpace ? .full("\(error.path): no space left on device") : .io(path: error.path, reason: error.message)
    }

    /// Runs `body`, reporting the file layer's errors as `GridError`s.
    static func mapping<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as FileSystemError { throw GridError(error) }
    }
}

/// Names a server failure in short form for messages ("3 (full: …)").
func describe(_ error: Error) -> String {
    if let e = error as? StorageError { return e.description }
    if let e = error as? GridError { return e.description }
    return String(describing: error)
}

/// Runs `body` and captures its result. Building the `Result` in a function of its own, rather than
/// `do { return (i, .success(try await …)) } catch { … }` inside a task-group child, avoids a Swift
/// 6.3.1 -O miscompile that handed the parent a garbage tuple (Benchmarks/Repro).
func outcome<T>(_ body: () async throws -> T) async -> Result<T, Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}
