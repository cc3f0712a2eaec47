extension Repository {
    /// Uncommitted changes: the worktree against HEAD's tree (everything is "added" before a first commit).
    public func status(_ session: Session) async throws -> [Change] {
        var head: [[UInt8]: FlatEntry] = [:]
        if let id = try base() ?? headSnapshot(session.refs) {
            head = try await Self.flatten(try await session.objects.snapshot(id).tree, objects: session.objects)
        }
        return Self.changes(from: head, to: try scanWorktree())
    }

    /// Checks out `revision`: the whole tree (moving HEAD: to the branch if `revision` names one,
    /// else detached), or only `paths` (HEAD stays). Refuses to overwrite uncommitted changes unless `force`.
    public func checkout(_ revision: String, paths: [String], force: Bool) async throws {
        let lock = try state.lock()
        defer { withExtendedLifetime(lock) {} }
        let session = try await session()
        try reconcilePending(session.refs, holdingLock: true)
        let target = try await session.resolve(revision)
        let checkout = Checkout(content: session.content)
        let dirty = try await status(session)
        if !paths.isEmpty {
            var entries: [(String, TreeEntry)] = []
            for p in paths {
                let rel = try relativePath(p)
                entries.append((rel, try await session.entry(rel, in: target, revision: revision)))
            }
            if !force {
                let touched = dirty.filter { c in entries.contains { c.pathString == $0.0 || c.pathString.hasPrefix($0.0 + "/") || $0.0.isEmpty } }
                if !touched.isEmpty { throw RepositoryError.uncommittedChanges(touched.map(\.pathString)) }
            }
            for (rel, entry) in entries {
                let path = rel.isEmpty ? workTree : workTree.appending(Array(rel.utf8))
                if rel.isEmpty {
                    try await checkout.write(tree: try await session.objects.snapshot(target).tree, into: workTree)
                } else {
                    if LocalFS.exists(path), (try? LocalFS.lstat(path))?.kind != .directory || entry.kind != .directory {
                        try LocalFS.remove(path)
                    }
                    try LocalFS.makeDirectories(path.parent)
                    try await checkout.write(entry: entry, at: path)
                }
            }
            return
        }
        if !force && !dirty.isEmpty { throw RepositoryError.uncommittedChanges(dirty.map(\.pathString)) }
        let newTree = try await Self.flatten(try await session.objects.snapshot(target).tree, objects: session.objects)
        // Remove what HEAD tracked and the target lacks (untracked files stay, as in git).
        if let head = try base() ?? headSnapshot(session.refs) {
            let old = try await Self.flatten(try await session.objects.snapshot(head).tree, objects: session.objects)
            for path in old.keys.sorted(by: { $0.count > $1.count }) where newTree[path] == nil {
                let p = workTree.appending(path)
                if LocalFS.exists(p) {
                    if old[path]!.kind == .directory, (try? LocalFS.list(p))?.isEmpty == false { continue }
                    try? LocalFS.remove(p)
                }
            }
        }
        for (path, entry) in newTree where entry.kind != .directory {
            let p = workTree.appending(path)
            if let st = try? LocalFS.lstat(p), st.kind == .directory { try LocalFS.remove(p) }
        }
        try await checkout.write(tree: try await session.objects.snapshot(target).tree, into: workTree)
        if session.refs.branches[revision] != nil {
            try setHead(.branch(revision))
        } else {
            try setHead(.detached(target))
        }
        try setBase(target)
        try? state.write("statcache", StatCache().encoded)
    }

    /// A path given on the command line, relative to the worktree root: relative paths count from the
    /// current directory when it is inside the worktree, else from the worktree root. Paths that leave
    /// the worktree, or point into the state folder, are refused.
    public func relativePath(_ path: String) throws -> String {
        func normalize(_ p: String) throws -> [Substring] {
            var parts: [Substring] = []
            for c in p.split(separator: "/") {
                if c == "." || c.isEmpty { continue }
                if c == ".." {
                    if parts.isEmpty { throw RepositoryError.outsideWorktree(path) }
                    parts.removeLast()
                    continue
                }
                parts.append(c)
            }
            return parts
        }
        let cwd = currentDirectory()
        let root = try normalize(workTree.description.hasPrefix("/") ? workTree.description : cwd + "/" + workTree.description)
        let here = try normalize(cwd)
        let base = here.starts(with: root) ? cwd : "/" + root.joined(separator: "/")
        let full = try normalize(path.hasPrefix("/") ? path : base + "/" + path)
        guard full.starts(with: root) else { throw RepositoryError.outsideWorktree(path) }
        let rel = full.dropFirst(root.count).joined(separator: "/")
        if rel == LocalState.folderName || rel.hasPrefix(LocalState.folderName + "/") { throw RepositoryError.outsideWorktree(path) }
        return rel
    }
}
