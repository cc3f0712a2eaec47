public enum RepositoryError: Error, CustomStringConvertible, Equatable {
    case notARepository(String)
    case alreadyARepository(String)
    case locked
    case corruptState(String, String)
    case nonFastForward(branch: String)
    case branchGone(String)
    case rollback(seen: UInt64, got: UInt64)
    case unknownRevision(String)
    /// A revision that names something, but not a snapshot that exists: why, after the name.
    case revisionNotFound(String, because: String)
    case noSuchPath(String, revision: String)
    case badName(String)
    case exists(String)
    case uncommittedChanges([String])
    case outsideWorktree(String)
    case readOnly
    /// A repository (refs, index or local state) of another format version.
    case unsupportedFormat(String)
    /// An index segment could not be read this time (too few shares reachable): nothing is lost yet.
    case segmentUnavailable(String)

    public var description: String {
        switch self {
        case .notARepository(let p): return "not a Cairn repository (or any parent up to /): \(p); run 'cairn init' first"
        case .alreadyARepository(let p): return "\(p) is already a Cairn repository"
        case .locked: return "another cairn command is running in this worktree (the lock in .cairn/lock is held)"
        case .corruptState(let p, let why): return "\(p) is damaged: \(why)"
        case .nonFastForward(let b):
            return "branch '\(b)' has moved on the grid past this worktree's snapshot (non-fast-forward); nothing was changed — run 'cairn checkout \(b)' to bring the worktree up to date (keep your changes aside first), then commit again"
        case .branchGone(let b):
            return "branch '\(b)' no longer exists on the grid; nothing was committed — create it again ('cairn branch \(b) ID' with the id of its last snapshot, see 'cairn log') or check out another branch"
        case .rollback(let seen, let got):
            return "the grid returned refs version \(got), older than version \(seen) already seen here: refusing a rollback"
        case .unknownRevision(let r): return "unknown revision '\(r)'"
        case .revisionNotFound(let r, let why): return "unknown revision '\(r)': \(why)"
        case .noSuchPath(let p, let r): return "path '\(p)' does not exist in \(r)"
        case .badName(let n): return "'\(n)' is not a valid branch or tag name"
        case .exists(let n): return "'\(n)' already exists"
        case .uncommittedChanges(let paths):
            let list = paths.prefix(5).joined(separator: ", ") + (paths.count > 5 ? ", …" : "")
            return "uncommitted changes would be overwritten (\(list)); commit them or use --force"
        case .outsideWorktree(let p): return "\(p) is outside the worktree"
        case .readOnly: return "this is a read-only clone (made from a read cap): it cannot commit or move refs"
        case .segmentUnavailable(let why): return why
        case .unsupportedFormat(let why):
            return "this repository cannot be read: \(why); this Cairn reads snapshot format 2 only (format 1 was never released: make a new repository with 'cairn init' and commit the files again)"
        }
    }
}
