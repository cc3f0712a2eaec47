import CairnFiles
import CairnPrimitives

/// One change of a comparison, with what stood at the path on each side.
public struct ChangeDetail: Sendable {
    public let change: Change
    public let old: FlatEntry?
    public let new: FlatEntry?
}

/// Compares trees, or a tree and the worktree, folder by folder: a subtree whose id is the same on both
/// sides is skipped unread, and only the folders being compared are held, so `status`, `diff` and `show`
/// stay within bounded memory for any number of files. Changes come in path order (a folder's entries by
/// name, a folder's own contents right after it), with the meaning of `Repository.changes(from:to:)`:
/// directories count only when added or removed, a missing entry is never a deletion.
public struct TreeDiff: Sendable {
    let objects: ObjectStore
    public typealias Visit = (ChangeDetail) async throws -> Void

    public init(objects: ObjectStore) { self.objects = objects }

    /// Stored tree against stored tree (nil: nothing).
    public func compare(_ old: ObjectID?, _ new: ObjectID?, visit: Visit) async throws {
        try await trees(old, new, prefix: [], visit)
    }

    private func entries(_ id: ObjectID?) async throws -> [TreeEntry] {
        guard let id else { return [] }
        return try await objects.tree(id).entries
    }

    private func trees(_ old: ObjectID?, _ new: ObjectID?, prefix: [UInt8], _ visit: Visit) async throws {
        guard old != new else { return }
        try await merge(try await entries(old), try await entries(new), prefix: prefix, visit) { o, n, path in
            try await trees(o, n, prefix: path, visit)
        }
    }

    /// Walks both folders' entries by name; `descend` compares two subfolders of the same name.
    private func merge(_ old: [TreeEntry], _ new: [TreeEntry], prefix: [UInt8], _ visit: Visit,
                       descend: (ObjectID?, ObjectID?, [UInt8]) async throws -> Void) async throws {
        var byName: [[UInt8]: (TreeEntry?, TreeEntry?)] = [:]
        for e in old { byName[e.name, default: (nil, nil)].0 = e }
        for e in new { byName[e.name, default: (nil, nil)].1 = e }
        // Path order: a folder sorts as its name and a slash (so "a/x" comes after "a.b", as in git).
        func key(_ name: [UInt8], _ pair: (TreeEntry?, TreeEntry?)) -> [UInt8] {
            pair.0?.kind == .directory || pair.1?.kind == .directory ? name + [0x2F] : name
        }
        for (name, pair) in byName.sorted(by: { key($0.key, $0.value).lexicographicallyPrecedes(key($1.key, $1.value)) }) {
            let path = prefix.isEmpty ? name : prefix + [0x2F] + name
            let (o, n) = pair
            let oldDir = o?.kind == .directory ? o.flatMap { ObjectID($0.hash) } : nil
            let newDir = n?.kind == .directory ? n.flatMap { ObjectID($0.hash) } : nil
            if let o, let n, o.kind == .directory, n.kind == .directory {
                try await descend(oldDir, newDir, path)
                continue
            }
            if let o, let n {
                if o.kind != n.kind || o.hash != n.hash || !TreeEntry.sameMode(o.mode, n.mode, kind: o.kind) {
                    try await visit(ChangeDetail(change: Change(path: path, kind: .modified), old: Self.flat(o), new: Self.flat(n)))
                }
            } else if let o, o.kind != .missing {
                try await visit(ChangeDetail(change: Change(path: path, kind: .deleted), old: Self.flat(o), new: nil))
            } else if let n {
                try await visit(ChangeDetail(change: Change(path: path, kind: .added), old: nil, new: Self.flat(n)))
            }
            // A folder on one side only: everything in it is added or deleted.
            if oldDir != nil || newDir != nil { try await descend(oldDir, newDir, path) }
        }
    }

    static func flat(_ e: TreeEntry) -> FlatEntry {
        FlatEntry(kind: e.kind, mode: e.mode, hash: e.kind == .directory ? [] : e.hash, size: e.size)
    }

    /// A stored tree (nil: nothing) against the worktree: each worktree folder's tree is computed as a
    /// commit would (the stat cache answers for unchanged files; nothing is stored) and the stored folder
    /// is read only when the ids differ.
    public func worktree(_ old: ObjectID?, root: FSPath, rules: IgnoreRules, cache: StatCache, stateFolder: FSPath?, visit: Visit) async throws {
        let identity = stateFolder.flatMap { try? FileSystem.linkStatus($0) }.map { ($0.device, $0.inode) }
        _ = try await folder(old, path: root, relative: [], rules: rules, cache: cache, identity: identity, visit)
    }

    /// Compares one worktree folder with the stored folder `old`; returns the worktree folder's tree id.
    private func folder(_ old: ObjectID?, path: FSPath, relative: [UInt8], rules: IgnoreRules, cache: StatCache,
                        identity: (UInt64, UInt64)?, _ visit: Visit) async throws -> ObjectID {
        let listing = TreeBuilder.list(path, relative, rules, stateIdentity: identity, cache: cache)
        // Files and symlinks as a commit would record them (an unreadable one is left out, as a commit does).
        var leaves: [[UInt8]: TreeEntry] = [:]
        var folders: [[UInt8]: TreeBuilder.Item] = [:]
        for item in listing.items {
            let st = item.stat
            let itemPath = path.appending(item.name)
            func entry(_ size: UInt64, _ hash: [UInt8]) -> TreeEntry {
                TreeEntry(name: item.name, kind: item.kind, mode: st.mode, size: size, mtimeSeconds: st.mtimeSeconds,
                          mtimeNanoseconds: st.mtimeNanoseconds, hash: hash)
            }
            switch item.kind {
            case .file:
                if let c = listing.cached?.lookup(item.name, st) {
                    leaves[item.name] = entry(st.size, c.contentHash)
                } else if st.size > ContentStore.chunkThreshold {
                    if let file = try? FileSystem.openForReading(itemPath, followSymlink: false) {
                        defer { try? file.close() }
                        if let (hash, size) = try? ContentHash.of(file: file) { leaves[item.name] = entry(size, hash) }
                    }
                } else if let bytes = try? FileSystem.readFile(itemPath, followSymlink: false) {
                    leaves[item.name] = entry(UInt64(bytes.count), ContentHash.of(bytes))
                }
            case .symlink:
                if let target = try? FileSystem.readLink(itemPath) { leaves[item.name] = entry(UInt64(target.count), ContentHash.of(target)) }
            case .directory:
                folders[item.name] = item
            default:
                continue
            }
        }
        if folders.isEmpty {
            // A folder of files: its id says whether anything changed, without reading the stored folder.
            var mine = leaves.values.sorted { $0.name.lexicographicallyPrecedes($1.name) }
            var id = ObjectCoding.id(of: try Tree(entries: mine).encoded)
            if id != old {
                let stored = try await entries(old)
                // Entries a checkout never writes (an imported `.git`) are not gone, as a commit keeps them.
                let kept = stored.filter { !TreeEntry.isCheckoutSafe($0.name) && leaves[$0.name] == nil }
                if !kept.isEmpty {
                    mine = (mine + kept).sorted { $0.name.lexicographicallyPrecedes($1.name) }
                    id = ObjectCoding.id(of: try Tree(entries: mine).encoded)
                }
                if id != old {
                    try await merge(stored, mine, prefix: relative, visit) { o, n, p in try await trees(o, n, prefix: p, visit) }
                }
            }
            return id
        }
        // With subfolders, the stored folder gives their ids: compare entry by entry in path order.
        var byName: [[UInt8]: (old: TreeEntry?, isFolder: Bool)] = [:]
        for e in try await entries(old) { byName[e.name] = (e, false) }
        for name in leaves.keys { byName[name, default: (nil, false)].isFolder = false }
        for name in folders.keys { byName[name, default: (nil, false)].isFolder = true }
        func key(_ name: [UInt8], _ v: (old: TreeEntry?, isFolder: Bool)) -> [UInt8] {
            v.isFolder || v.old?.kind == .directory ? name + [0x2F] : name
        }
        var mine: [TreeEntry] = []
        for (name, v) in byName.sorted(by: { key($0.key, $0.value).lexicographicallyPrecedes(key($1.key, $1.value)) }) {
            let itemPath = relative.isEmpty ? name : relative + [0x2F] + name
            let o = v.old
            let oldDir = o?.kind == .directory ? o.flatMap { ObjectID($0.hash) } : nil
            // An entry a checkout never writes (an imported `.git`) is not gone: a commit keeps it.
            if !v.isFolder, leaves[name] == nil, let o, !TreeEntry.isCheckoutSafe(o.name) {
                mine.append(o)
                continue
            }
            // A submodule's gitlink checks out as an empty folder: while it is one, nothing changed.
            if v.isFolder, let o, o.kind == .gitlink, (try? FileSystem.names(in: path.appending(name)))?.isEmpty == true {
                mine.append(o)
                continue
            }
            if v.isFolder, let item = folders[name] {
                let here = FlatEntry(kind: .directory, mode: item.stat.mode, hash: [], size: 0)
                if o == nil {
                    try await visit(ChangeDetail(change: Change(path: itemPath, kind: .added), old: nil, new: here))
                } else if let o, o.kind != .directory {
                    try await visit(ChangeDetail(change: Change(path: itemPath, kind: .modified), old: Self.flat(o), new: here))
                }
                let id = try await folder(oldDir, path: path.appending(name), relative: itemPath, rules: listing.rules, cache: cache,
                                          identity: identity, visit)
                mine.append(TreeEntry(name: name, kind: .directory, mode: item.stat.mode, size: 0, mtimeSeconds: item.stat.mtimeSeconds,
                                      mtimeNanoseconds: item.stat.mtimeNanoseconds, hash: id.bytes))
                continue
            }
            if let n = leaves[name] {
                mine.append(n)
                if let o {
                    if o.kind != n.kind || o.hash != n.hash || !TreeEntry.sameMode(o.mode, n.mode, kind: o.kind) {
                        try await visit(ChangeDetail(change: Change(path: itemPath, kind: .modified), old: Self.flat(o), new: Self.flat(n)))
                    }
                } else {
                    try await visit(ChangeDetail(change: Change(path: itemPath, kind: .added), old: nil, new: Self.flat(n)))
                }
            } else if let o, o.kind != .missing {
                try await visit(ChangeDetail(change: Change(path: itemPath, kind: .deleted), old: Self.flat(o), new: nil))
            }
            // A stored folder the worktree has no folder for: everything in it is gone.
            if let oldDir { try await trees(oldDir, nil, prefix: itemPath, visit) }
        }
        return ObjectCoding.id(of: try Tree(entries: mine).encoded)
    }
}
