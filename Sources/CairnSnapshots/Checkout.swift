import CairnFiles
import Synchronization

/// Writes trees back to disk (the restorer half): bytes, permission bits, mtimes, symlinks, empty
/// directories. Gitlinks become empty directories, as git leaves them.
public struct Checkout: Sendable {
    public let content: ContentStore
    /// Paths of `missing` entries (content known by another id but absent): reported, not written.
    public let missing = PathList()
    /// Told now and then how far a checkout is (every 256 files, and every 16 MiB of a big file); the CLI
    /// draws it on a terminal only.
    public var progress: (@Sendable (String) -> Void)?
    private let filesWritten = FileCounter()
    public init(content: ContentStore, progress: (@Sendable (String) -> Void)? = nil) {
        self.content = content
        self.progress = progress
    }

    /// Materializes `tree` into `dir` (which must exist). At the top, an entry named `.cairn` is never
    /// written: it would overwrite this worktree's own state.
    public func write(tree id: ObjectID, into dir: FSPath, isRoot: Bool = false) async throws {
        let tree = try await content.objects.tree(id)
        // What a killed checkout left here under temporary names goes; this one writes every entry anew.
        FileSystem.removeStaleTemporaries(in: dir)
        for e in tree.entries {
            if isRoot && e.name == Array(LocalState.folderName.utf8) { continue }
            if !TreeEntry.isCheckoutSafe(e.name) { continue }
            let path = dir.appending(e.name)
            try await write(entry: e, at: path)
        }
    }

    /// Writes one entry. Whatever stands at `path` and is not what the entry needs is replaced first —
    /// in particular a symlink where a directory goes, so nothing is ever written through a link and
    /// out of the worktree.
    public func write(entry e: TreeEntry, at path: FSPath) async throws {
        // Nothing to write for a missing entry, and whatever stands at its path (perhaps the only copy of
        // that content) stays.
        if e.kind == .missing {
            missing.append(path)
            return
        }
        let mtime = e.checkoutMtime
        if let st = try? FileSystem.linkStatus(path) {
            let fits = switch e.kind {
            case .directory, .gitlink: st.kind == .directory
            case .file: st.kind == .file
            case .symlink, .missing: false
            }
            if !fits { try FileSystem.remove(path) }
        }
        switch e.kind {
        case .file:
            // Inside a big file, how far it is written.
            var written: ((UInt64) -> Void)?
            if let progress, e.size > ContentStore.chunkThreshold {
                let name = String(decoding: e.name, as: UTF8.self)
                written = { done in progress("writing \(name): \(done >> 20) of \(e.size >> 20) MiB") }
            }
            try await Self.writeFile(path, content: content, hash: e.hash, mode: e.mode, mtime: mtime, progress: written)
            let n = filesWritten.next()
            if n % 256 == 0 { progress?("wrote \(n) files") }
        case .symlink:
            if FileSystem.exists(path) { try FileSystem.remove(path) }
            try FileSystem.makeSymlink(path, target: try await content.content(forHash: e.hash))
            if let mtime { try FileSystem.setTimes(path, modified: mtime, followSymlink: false) }
        case .directory:
            try FileSystem.makeDirectory(path, mode: 0o700)
            guard let id = ObjectID(e.hash) else { throw StoreError.damaged("directory \(path) has a bad tree id") }
            try await write(tree: id, into: path)
            try FileSystem.setPermissions(path, e.mode)
            if let mtime { try FileSystem.setTimes(path, modified: mtime, followSymlink: false) }
        case .gitlink:
            try FileSystem.makeDirectory(path, mode: 0o755)
        case .missing:
            break  // handled above
        }
    }

    /// Writes a worktree file whole (`NAME.cairn-tmp-PID`, renamed into place) with exactly `mode`'s
    /// permission bits and, if given, its mtime. No fsync: a checkout writes many files, and a crash leaves
    /// a worktree that the next checkout repairs (Snapshots.md, "Checkout and restore in the worktree").
    /// Streamed from the repository (a big file a few chunks at a time), runs of zeros left as holes.
    static func writeFile(_ path: FSPath, content: ContentStore, hash: [UInt8], mode: UInt32, mtime: (Int64, UInt32)?,
                          progress: ((UInt64) -> Void)? = nil) async throws {
        let f = try AtomicFile(replacing: path)
        let size = try await Self.writeSparse(content: content, hash: hash, to: f.file, progress: progress)
        try f.file.truncate(to: size)
        try f.file.setPermissions(mode)
        if let mtime { try f.file.setTimes(modified: mtime) }
        try f.commit(.none)
    }
}

extension Checkout {
    /// Writes content `hash` into the new, empty `file` from offset 0, zero blocks as holes; returns its size.
    /// The caller truncates to that size (a trailing hole).
    /// `progress` hears the bytes written so far, every 16 MiB.
    public static func writeSparse(content: ContentStore, hash: [UInt8], to file: FileDescriptor,
                                   progress: ((UInt64) -> Void)? = nil) async throws -> UInt64 {
        var size: UInt64 = 0
        var reported: UInt64 = 0
        try await content.write(hash) { offset, piece in
            try file.writeSparse(piece, at: offset)
            size = offset + UInt64(piece.count)
            if let progress, size - reported >= 16 << 20 {
                reported = size
                progress(size)
            }
        }
        return size
    }
}

/// Files written so far by one checkout (shared by its copies).
final class FileCounter: Sendable {
    private let count = Mutex(0)
    func next() -> Int { count.withLock { $0 += 1; return $0 } }
}

/// Paths collected while a checkout runs.
public final class PathList: Sendable {
    private let items = Mutex<[FSPath]>([])
    public init() {}
    func append(_ path: FSPath) { items.withLock { $0.append(path) } }
    public var paths: [FSPath] { items.withLock { $0 } }
}
