import CairnFiles
import ArgumentParser
import CairnFormats
import CairnGit
import CairnGrid
import CairnSnapshots
import CairnStorage

/// Exit codes (Documentation/CLI.md). 64 and up follow BSD sysexits, as argument-parser does.
enum Code {
    static let unhealthy: Int32 = 1
    static let unavailable: Int32 = 2
    static let integrity: Int32 = 3
    /// A slot is not at the version the writer built on (someone published first).
    static let conflict: Int32 = 4
    /// `commit`: the snapshot was made, but some files could not be read (as restic's exit 3).
    static let partialCommit: Int32 = 3
    static let usage: Int32 = 64
    /// Another cairn command holds this worktree's lock.
    static let locked: Int32 = 75
    static let noInput: Int32 = 66
    static let ioError: Int32 = 74
    static let config: Int32 = 78
}

/// A failure reported as one line on stderr with a specific exit code.
struct Failure: Error {
    let message: String
    let code: Int32

    init(_ message: String, code: Int32) {
        self.message = message
        self.code = code
    }

    init(code: Int32, _ message: String) {
        self.init(message, code: code)
    }

    init(_ error: GridError) {
        message = error.description
        switch error {
        case .noGrid, .badConfig: code = Code.config
        case .notEnoughShares, .placementFailed: code = Code.unavailable
        case .integrity: code = Code.integrity
        case .notEnoughBlocks(_, _, _, let unreadable, _, _): code = unreadable > 0 ? Code.unavailable : Code.integrity
        case .io, .full: code = Code.ioError
        case .usage: code = Code.usage
        }
    }

    init(_ error: SlotError) {
        message = error.description
        switch error {
        case .stale, .noSuchVersion: code = Code.conflict
        case .notEnoughServers, .notFound, .unrecoverable: code = Code.unavailable
        case .unsafeGrid: code = Code.config
        case .wrongSlot, .tooLarge, .usage: code = Code.usage
        }
    }

    /// Errors Cairn reports itself; the rest (usage errors, ExitCode) are argument-parser's.
    static func isOurs(_ error: Error) -> Bool {
        error is Failure || error is GridError || error is CapError || error is FormatError || error is StorageError
            || error is SlotError || error is RepositoryError || error is RefStoreError || error is DateParser.Error
            || error is ObjectError || error is StoreError || error is FileSystemError || error is GitError
    }

    init(_ error: RepositoryError) {
        message = error.description
        switch error {
        case .notARepository, .corruptState, .alreadyARepository, .unsupportedFormat: code = Code.config
        case .locked: code = Code.locked
        case .nonFastForward, .branchGone: code = Code.conflict
        case .segmentUnavailable: code = Code.unavailable
        case .rollback: code = Code.integrity
        case .unknownRevision, .revisionNotFound, .noSuchPath, .badName, .outsideWorktree: code = Code.usage
        case .exists, .uncommittedChanges, .readOnly: code = Code.unhealthy
        }
    }

    static func from(_ error: Error) -> Failure {
        if let f = error as? Failure { return f }
        if let g = error as? GitError { return Failure(g) }
        if let g = error as? GridError { return Failure(g) }
        if let s = error as? SlotError { return Failure(s) }
        if let r = error as? RepositoryError { return Failure(r) }
        if let r = error as? RefStoreError { return Failure(r.description, code: r == .readOnly ? Code.unhealthy : Code.conflict) }
        if let d = error as? DateParser.Error { return Failure(d.description, code: Code.usage) }
        if let o = error as? ObjectError { return Failure(o.description, code: Code.integrity) }
        if let s = error as? StoreError { return Failure(s.description, code: Code.integrity) }
        if let f = error as? FileSystemError { return Failure(f.description, code: Code.ioError) }
        if let c = error as? CapError { return Failure(c.description, code: Code.usage) }
        if let f = error as? FormatError { return Failure(f.description, code: Code.usage) }
        if let s = error as? StorageError {
            switch s {
            case .unreachable: return Failure(s.description, code: Code.unavailable)
            case .notAllocated: return Failure(s.description, code: Code.conflict)
            default: return Failure(s.description, code: Code.ioError)
            }
        }
        return Failure(String(describing: error), code: Code.ioError)
    }
}

func parseCap(_ text: String) throws -> Cap {
    do { return try Cap(parsing: text) } catch { throw Failure.from(error) }
}
