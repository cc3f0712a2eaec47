/// Writes trees back to disk (the restorer half): bytes, permission bits, mtimes, symlinks, empty
/// directories. Gitlinks become empty directories, as git leaves them.
public struct Checkout: Sendable {
    public let content: ContentStore
    public init(content: ContentStore) { self.content = content }

    /// Materializes `tree` into `dir` (which must exist).
    public func write(tree id: ObjectID, into dir: FSPath) async throws {
        let tree = try await content.objects.tree(id)
        for e in tree.entries {
            let path = dir.appending(e.name)
            try await write(entry: e, at: path)
        }
    }

    public func write(entry e: TreeEntry, at path: FSPath) async throws {
        let mtime = (e.mtimeSeconds, e.mtimeNanoseconds)
        switch e.kind {
        case .file:
            guard let v = e.version else { throw StoreError.damaged("file \(path) has no stored version") }
            try LocalFS.writeFile(path, try await content.content(of: v), mode: e.mode, mtime: mtime)
        case .symlink:
            guard let v = e.version else { throw StoreError.damaged("symlink \(path) has no stored target") }
            if LocalFS.exists(path) { try LocalFS.remove(path) }
            try LocalFS.makeSymlink(path, target: try await content.content(of: v))
            LocalFS.setTimes(path: path, mtime, followSymlink: false)
        case .directory:
            try LocalFS.makeDirectory(path, mode: 0o700)
            guard let id = ObjectID(e.hash) else { throw StoreError.damaged("directory \(path) has a bad tree id") }
            try await write(tree: id, into: path)
            try LocalFS.chmod(path, e.mode)
            LocalFS.setTimes(path: path, mtime, followSymlink: false)
        case .gitlink:
            try LocalFS.makeDirectory(path, mode: 0o755)
        }
    }
}
