import CairnFiles
import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// A repository's local state folder (`.cairn/`, or another with `--work-tree`):
///
/// ```
/// config      "key = value" lines: format, grid, slot cap (write or read), worktree; mode 0600 (holds a secret)
/// HEAD        "branch NAME" or "detached <snapshot id hex>"
/// seen        the highest slot version this client has seen (refuses rollbacks)
/// base        the snapshot (and tree) the worktree is at
/// statcache   StatCache encoding (CRNSTAT3)
/// segments/   cached index segments (decrypted: they hold pack caps; Documentation/Security.md)
/// missing     paths of missing entries the last checkout did not write
/// lock        flock(2) lock file serializing commands in this worktree
/// (Documentation/Snapshots.md, "Local state", lists every file.)
/// ```
public struct LocalState: Sendable {
    public static let folderName = ".cairn"
    public let dir: FSPath

    public init(dir: FSPath) { self.dir = dir }

    func path(_ name: String) -> FSPath { dir.appending(Array(name.utf8)) }

    public func read(_ name: String) throws -> [UInt8]? {
        let p = path(name)
        guard FileSystem.exists(p) else { return nil }
        return try FileSystem.readFile(p, followSymlink: false)
    }

    /// Atomic replace with fsync: a killed command leaves the old file or the new one.
    public func write(_ name: String, _ bytes: [UInt8], mode: UInt32 = 0o600) throws {
        try FileSystem.writeAtomically(path(name), bytes, permissions: mode_t(mode))
    }

    public func readText(_ name: String) throws -> String? {
        try read(name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Takes the worktree lock; fails at once (rather than waiting) if another command holds it.
    public func lock() throws -> StateLock { try StateLock(path: path("lock")) }

    /// A folder that holds a Cairn repository's state (any `.cairn` with a `config`, e.g. a nested
    /// repository's): never stored, since its config holds a write cap.
    static func isStateFolder(name: [UInt8], path: FSPath) -> Bool {
        name == Array(folderName.utf8) && FileSystem.exists(path.appending(Array("config".utf8)))
    }
}

/// An exclusive flock held until deinit (closing the descriptor releases it).
public final class StateLock: Sendable {
    private let file: FileDescriptor

    init(path: FSPath) throws {
        file = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT)
        guard try file.tryLockExclusive() else { throw RepositoryError.locked }
    }
}

/// Parsed `config`.
public struct RepoConfig: Sendable, Equatable {
    public static let formatVersion = 2
    public var grid: String
    public var slotCap: String
    /// Absolute worktree path when it lives apart from the state folder.
    public var workTree: String?

    public init(grid: String, slotCap: String, workTree: String?) {
        self.grid = grid; self.slotCap = slotCap; self.workTree = workTree
    }

    public var text: String {
        var s = "# Cairn repository (Documentation/Snapshots.md). Keep private: it holds the slot cap.\n"
        s += "format = \(Self.formatVersion)\ngrid = \(grid)\nslot = \(slotCap)\n"
        if let workTree { s += "worktree = \(workTree)\n" }
        return s
    }

    public init(parsing text: String, path: String) throws {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "=") else { throw RepositoryError.corruptState(path, "a line is not 'key = value'") }
            values[line[..<eq].trimmingCharacters(in: " ")] = line[line.index(after: eq)...].trimmingCharacters(in: " ")
        }
        guard values["format"] == String(Self.formatVersion) else {
            if values["format"] == "1" { throw RepositoryError.unsupportedFormat("\(path) is format 1, made by an older Cairn") }
            throw RepositoryError.corruptState(path, "unknown format")
        }
        guard let grid = values["grid"], let slot = values["slot"], !grid.isEmpty, slot.hasPrefix("cairn:slot") else {
            throw RepositoryError.corruptState(path, "grid and slot are required")
        }
        self.grid = grid
        self.slotCap = slot
        self.workTree = values["worktree"]
    }
}


public enum Head: Sendable, Equatable {
    case branch(String)
    case detached(ObjectID)

    public var text: String {
        switch self {
        case .branch(let b): return "branch \(b)\n"
        case .detached(let id): return "detached \(id.hex)\n"
        }
    }

    public init(parsing text: String, path: String) throws {
        let line = text.trimmingCharacters(in: "\n ")
        if line.hasPrefix("branch "), Refs.isValidName(String(line.dropFirst(7))) {
            self = .branch(String(line.dropFirst(7)))
        } else if line.hasPrefix("detached "), let id = ObjectID(hex: String(line.dropFirst(9))) {
            self = .detached(id)
        } else {
            throw RepositoryError.corruptState(path, "HEAD is neither 'branch NAME' nor 'detached ID'")
        }
    }
}
