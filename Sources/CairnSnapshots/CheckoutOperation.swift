import CairnFiles
import CairnPrimitives
extension Repository {
    /// Uncommitted changes: the worktree against HEAD's tree (everything is "added" before a first commit).
    public func status(_ session: Session) async throws -> [Change] {
        var out: [Change] = []
        try await status(session) { out.append($0.change) }
        return out
    }

    /// As `status(_:)`, each change handed to `visit` as it is found (in bounded memory, in path order).
    public func status(_ session: Session, excludes: [String] = [], visit: TreeDiff.Visit) async throws {
        var rules = IgnoreRules()
        for p in excludes { rules.add(override: p) }
        _ = try FileSystem.names(in: workTree)  // an unreadable worktree root is an error, not "everything deleted"
        try await TreeDiff(objects: session.objects).worktree(try await worktreeTree(session), root: workTree, rules: rules,
                                                              cache: statCache(), stateFolder: state.dir, visit: visit)
    }

    /// The tree the worktree was last committed or checked out at (from the base record when it has it).
    public func worktreeTree(_ session: Session) async throws -> ObjectID? {
        guard let id = try base() ?? headSnapshot(session.refs) else { return nil }
        if let record = try baseRecord(), record.snapshot == id, let tree = record.tree { return tree }
        return try await session.objects.snapshot(id).tree
    }

    /// Checks out `revision`: the whole tree (moving HEAD: to the branch if `revision` names one,
    /// else detached), or only `paths` (HEAD stays). Refuses to overwrite uncommitted changes unless `force`.
    /// Returns the paths of missing entries it could not write (reported, not fatal).
    @discardableResult
    public func checkout(_ revision: String, paths: [String], force: Bool,
                         progress: (@Sendable (String) -> Void)? = nil) async throws -> [String] {
        try await checkout(revision, relativePaths: paths.isEmpty ? nil : paths.map { try relativePath($0) }, force: force, progress: progress)
    }

    /// As `checkout(_:paths:force:)` with paths already relative to the worktree root (nil = everything).
    @discardableResult
    public func checkout(_ revision: String, relativePaths: [String]?, force: Bool,
                         progress: (@Sendable (String) -> Void)? = nil) async throws -> [String] {
        let lock = try state.lock()
        defer { withExtendedLifetime(lock) {} }
        let session = try await session()
        try reconcilePending(session.refs, holdingLock: true)
        let target = try await session.resolve(revision)
        let checkout = Checkout(content: session.content, progress: progress)
        let targetTree = try await session.objects.snapshot(target).tree
        let baseTree = try await worktreeTree(session)
        // What would be lost: tracked files changed, and untracked files the target would overwrite. Other
        // untracked files are left alone, as git does. A path that already is what the target has loses
        // nothing either: that is how an interrupted checkout or restore leaves the paths it got to, so
        // running it again needs no --force. The worktree is compared folder by folder and the target
        // looked up only at changed paths, so a checkout holds no whole tree.
        let incomingAt = PreviousVersions(root: .id(targetTree), objects: session.objects)
        var dirty: [(change: Change, here: FlatEntry?)] = []
        // Paths where the worktree is not its snapshot: a whole checkout writes them as well as what the
        // target changes (up to `rewriteLimit`; beyond, it writes everything, as into an empty worktree).
        var differing: [[UInt8]] = []
        try await status(session) { d in
            let c = d.change, here = d.new
            if differing.count <= Self.rewriteLimit { differing.append(c.path) }
            let incoming = try await incomingAt.strictEntry(at: c.path).map(TreeDiff.flat)
            if let incoming, let here, incoming.kind == here.kind,
               here.kind == .directory || (incoming.hash == here.hash && incoming.mode == here.mode) { return }
            // Absent here (deleted, or removed by an interrupted checkout on its way to a folder of that name):
            // whatever the target writes there loses nothing the user had.
            guard let here else { return }
            if c.kind != .added { dirty.append((c, here)); return }
            guard let incoming else { return }
            if incoming.kind != here.kind || (here.kind != .directory && incoming.hash != here.hash) { dirty.append((c, here)) }
        }
        if let relativePaths {
            var entries: [(String, TreeEntry)] = []
            for rel in relativePaths {
                entries.append((rel, try await session.entry(rel, in: target, revision: revision)))
            }
            if !force {
                // Bringing back a deleted file loses nothing, nor does overwriting a file whose bytes the
                // repository holds (an earlier `checkout REV -- PATH` left it so: git overwrites paths
                // checked out by name, and so does this, as long as nothing only the worktree has is lost).
                var touched: [String] = []
                for (c, here) in dirty where c.kind != .deleted
                    && entries.contains(where: { c.pathString == $0.0 || c.pathString.hasPrefix($0.0 + "/") || $0.0.isEmpty }) {
                    if let here, here.kind == .file || here.kind == .symlink, await session.content.has(here.hash) { continue }
                    touched.append(c.pathString)
                }
                if !touched.isEmpty { throw RepositoryError.uncommittedChanges(touched) }
            }
            for (rel, entry) in entries {
                if rel.isEmpty {
                    try await checkout.write(tree: targetTree, into: workTree, isRoot: true)
                } else {
                    try makeRealDirectories(rel)
                    let path = workTree.appending(RawArgument.bytes(rel))
                    FileSystem.removeStaleTemporaries(in: path.parent)
                    try await checkout.write(entry: entry, at: path)
                }
            }
            try recordMissing(checkout.missing.paths, replacing: false)
            return checkout.missing.paths.map(\.description)
        }
        if !force && !dirty.isEmpty { throw RepositoryError.uncommittedChanges(dirty.map(\.change.pathString)) }
        // Remove what the worktree's snapshot tracked and the target lacks; never a directory that
        // still holds untracked files (folders last, deepest first, once their files are gone).
        var folders: [[UInt8]] = []
        func remove(_ path: [UInt8]) {
            // Never inside this worktree's state, nor under a name a checkout never writes (`.git`).
            let parts = path.split(separator: 0x2F)
            if parts.first.map({ Array($0) == Array(LocalState.folderName.utf8) }) ?? true { return }
            if parts.contains(where: { !TreeEntry.isCheckoutSafe(Array($0)) }) { return }
            let p = workTree.appending(path)
            guard let st = try? FileSystem.linkStatus(p) else { return }
            if st.kind == .directory {
                if (try? FileSystem.names(in: p))?.isEmpty == true { try? FileSystem.remove(p) }
            } else {
                try? FileSystem.remove(p)
            }
        }
        var changed: [[UInt8]] = []
        try await TreeDiff(objects: session.objects).compare(baseTree, targetTree) { d in
            // Every changed path, removed ones too (their folders get the target's mtime back).
            if changed.count <= Self.rewriteLimit { changed.append(d.change.path) }
            guard d.change.kind == .deleted else { return }
            if d.old?.kind == .directory { folders.append(d.change.path) } else { remove(d.change.path) }
        }
        for path in folders.reversed() { remove(path) }
        let writesAll = baseTree == nil || differing.count > Self.rewriteLimit || changed.count > Self.rewriteLimit
        if writesAll {
            try await checkout.write(tree: targetTree, into: workTree, isRoot: true)
        } else {
            try await write(changed + differing, of: incomingAt, with: checkout)
        }
        if session.refs.branches[revision] != nil {
            try setHead(.branch(revision))
        } else {
            try setHead(.detached(target))
        }
        try setBase(target, tree: targetTree)
        // The stat cache stays: a file written here has a new inode and ctime, so no entry vouches for
        // it, and the entries of files left alone still hold (a million files are not read again).
        try recordMissing(checkout.missing.paths, replacing: writesAll)
        return checkout.missing.paths.map(\.description)
    }

    /// `.cairn/missing`: the worktree paths (relative, NUL-terminated) of missing entries a checkout did
    /// not write. A commit carries those entries over from the parent snapshot while nothing stands at
    /// their path: the user never had those files, so leaving them out is not deleting them.
    func recordMissing(_ paths: [FSPath], replacing: Bool) throws {
        let root = workTree.bytes + [0x2F]
        var relative = Set(paths.compactMap { p in p.bytes.starts(with: root) ? Array(p.bytes.dropFirst(root.count)) : nil })
        if !replacing { relative.formUnion(try missingPaths()) }
        if relative.isEmpty {
            if FileSystem.exists(state.path("missing")) { try FileSystem.remove(state.path("missing")) }
            return
        }
        try state.write("missing", relative.sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 + [0] })
    }

    /// The paths `.cairn/missing` lists.
    /// A list that cannot be read is an error: taken for "none", a commit would drop those entries.
    func missingPaths() throws -> [[UInt8]] {
        guard let bytes = try state.read("missing") else { return [] }
        return bytes.split(separator: 0).map(Array.init)
    }

    /// Makes every folder on the way to `rel` a real directory (replacing a file or symlink there), so
    /// that nothing is written through a link.
    /// A whole checkout writes only what differs when at most this many paths do (each held as a path).
    static let rewriteLimit = 20_000

    /// Writes the target's entry at each of `paths` (a folder whole, once), then gives every folder
    /// written into its mode and mtime from the target, deepest first, as a whole checkout does: a commit
    /// right after then finds nothing changed.
    func write(_ paths: [[UInt8]], of target: PreviousVersions, with checkout: Checkout) async throws {
        // Parents before children, a folder's paths right after it ("/" sorts first).
        let order = Set(paths).sorted { a, b in
            a.map { $0 == 0x2F ? 0 : $0 }.lexicographicallyPrecedes(b.map { $0 == 0x2F ? 0 : $0 })
        }
        var writtenFolder: [UInt8]?
        var parents: Set<[UInt8]> = []
        let state = Array(LocalState.folderName.utf8)
        for rel in order {
            if rel == state || rel.starts(with: state + [0x2F]) { continue }
            if let w = writtenFolder, rel.starts(with: w + [0x2F]) { continue }
            if rel.split(separator: 0x2F).contains(where: { !TreeEntry.isCheckoutSafe(Array($0)) }) { continue }
            let parts = rel.split(separator: 0x2F).map(Array.init)
            for i in 1..<max(1, parts.count) { parents.insert(Array(parts[0..<i].joined(separator: [0x2F]))) }
            guard let entry = try await target.strictEntry(at: rel) else { continue }
            try makeRealDirectories(bytes: rel)
            let path = workTree.appending(rel)
            FileSystem.removeStaleTemporaries(in: path.parent)
            try await checkout.write(entry: entry, at: path)
            writtenFolder = entry.kind == .directory ? rel : nil
        }
        for folder in parents.sorted(by: { $0.count > $1.count }) {
            guard let e = try await target.strictEntry(at: folder), e.kind == .directory else { continue }
            let path = workTree.appending(folder)
            try FileSystem.setPermissions(path, e.mode)
            if let mtime = e.checkoutMtime { try FileSystem.setTimes(path, modified: mtime, followSymlink: false) }
        }
    }

    /// As `makeRealDirectories(_:)` for a path given as bytes.
    func makeRealDirectories(bytes rel: [UInt8]) throws {
        var path = workTree
        for component in rel.split(separator: 0x2F).dropLast() {
            path = path.appending(Array(component))
            if let st = try? FileSystem.linkStatus(path) {
                if st.kind == .directory { continue }
                try FileSystem.remove(path)
            }
            try FileSystem.makeDirectory(path, mode: 0o755)
        }
    }

    func makeRealDirectories(_ rel: String) throws { try makeRealDirectories(bytes: RawArgument.bytes(rel)) }

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
        let cwd = ProcessEnvironment.currentDirectory
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
