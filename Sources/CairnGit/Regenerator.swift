import CairnPrimitives
import CairnSnapshots

/// Writes Cairn history back as git objects, from the grid alone: blobs from their content, trees,
/// commits and tags from Cairn's fields (or the raw bytes an import kept), each id computed from the bytes,
/// children before parents. `--verify` compares the ids it computes for the source's refs with the
/// source's: a ref's id is the SHA-1 over every byte it reaches, so equal ids prove the whole history.
/// Export hands each object to a git repository.
public final class GitRegenerator {
    let session: Session
    let content: ContentStore
    var map: [GitOID: ImportState.Mapped] = [:]
    var rawTrees: [GitOID: [UInt8]] = [:]
    /// Refs the imports recorded (full name → git target), and the source's HEAD.
    public private(set) var importedRefs: [[UInt8]: GitRef.Target] = [:]
    public private(set) var importedHead: GitRef.Target?
    /// Each object once: `sink` receives its type, bytes and id (export writes it; verify needs nothing).
    let sink: (GitObjectType, [UInt8], GitOID) throws -> Void

    private var commitIDs: [ObjectID: GitOID] = [:]
    private var treeIDs: [ObjectID: GitOID] = [:]
    private var rawDone: Set<GitOID> = []
    private var blobIDs: [ObjectID: GitOID] = [:]
    private var tagIDs: [ObjectID: GitOID] = [:]
    public private(set) var objectCount = 0
    public private(set) var byteCount: UInt64 = 0
    /// Snapshots whose git commits name parents the repository never had (a shallow clone's boundary).
    private var shallowCommits: Set<ObjectID> = []
    /// Their git ids, for a `shallow` file.
    public var shallow: [GitOID] { shallowCommits.compactMap { commitIDs[$0] }.sorted() }
    /// Blobs a partial clone never had: named by trees, not written.
    public private(set) var missingBlobs = 0
    public var progress: (@Sendable (String) -> Void)?

    /// Loads every import state of the repository (one per imported source name).
    public init(session: Session, sink: @escaping (GitObjectType, [UInt8], GitOID) throws -> Void) async throws {
        self.session = session
        self.sink = sink
        // A walk over all history: each blob rebuilt on its path's previous version, which must still be
        // at hand, from data packs it comes back to (bounded all the same: 192 + 96 MiB).
        await session.objects.setPackCache(count: 256, bytes: 192 << 20)
        content = ContentStore(objects: session.objects, recentBytes: 96 << 20)
        let prefix = ImportState.refName("")
        for (name, target) in session.refs.all where name.starts(with: prefix) && target.kind == .snapshot {
            guard let (state, _) = try await ImportState.load(session, name: String(decoding: name[prefix.count...], as: UTF8.self)) else {
                continue
            }
            map.merge(state.map) { a, _ in a }
            rawTrees.merge(state.rawTrees) { a, _ in a }
            for r in state.refs { importedRefs[r.name] = r.target }
            importedHead = importedHead ?? state.head
        }
    }

    /// What a Cairn ref target maps to for a git id the import recorded.
    func mapped(_ id: GitOID) -> RefTarget? { map[id]?.refTarget }

    /// The git id of a ref target, every object it reaches emitted first. `expected`: the id an import
    /// recorded for it (needed for a tree kept raw, which Cairn's fields do not name).
    public func emit(_ target: RefTarget, expected: GitOID?) async throws -> GitOID {
        guard let id = target.id else { throw GitError.verification("a ref names a bad id") }
        let got: GitOID
        switch target.kind {
        case .snapshot: got = try await emitHistory(id)
        case .tree: got = try await emitTree(id, expected: expected)
        case .content: got = try await emitBlob(id)
        case .tag: got = try await emitTag(id, expected: expected)
        }
        if let expected, got != expected { throw GitError.verification("\(expected) rebuilds as \(got)") }
        return got
    }

    func hashAndSink(_ type: GitObjectType, _ bytes: [UInt8]) throws -> GitOID {
        let id = try GitRepository.hash(type, bytes)
        try sink(type, bytes, id)
        objectCount += 1
        byteCount += UInt64(bytes.count)
        if objectCount % 4096 == 0 { progress?("\(objectCount) objects, \(byteCount >> 20) MiB") }
        return id
    }

    func emitBlob(_ hash: ObjectID) async throws -> GitOID {
        if let id = blobIDs[hash] { return id }
        let bytes = try await content.content(forHash: hash.bytes)
        let id = try hashAndSink(.blob, bytes)
        blobIDs[hash] = id
        return id
    }

    func emitTree(_ treeID: ObjectID, expected: GitOID?) async throws -> GitOID {
        if let expected, let raw = rawTrees[expected] {
            if rawDone.contains(expected) { return expected }
            // A tree kept raw: its entries' ids are checked against what Cairn rebuilds for them.
            for item in try GitFormat.tree(raw, id: expected) where item.mode & 0o170000 != 0o160000 {
                guard let m = map[item.id], let target = mapped(item.id) else {
                    if map[item.id]?.kind == .missingBlob { missingBlobs += 1 }
                    continue
                }
                let got = m.kind == .commit ? try await emitHistory(m.hash) : try await emit(target, expected: item.id)
                guard got == item.id else {
                    throw GitError.verification("tree \(expected) names \(item.id), but the repository rebuilds \(got)")
                }
            }
            guard try hashAndSink(.tree, raw) == expected else { throw GitError.verification("the raw bytes kept for tree \(expected) do not hash to it") }
            rawDone.insert(expected)
            return expected
        }
        if let id = treeIDs[treeID] {
            if let expected, id != expected { throw GitError.verification("tree \(expected) rebuilds as \(id)") }
            return id
        }
        let tree = try await session.objects.tree(treeID)
        var ids: [[UInt8]: GitOID] = [:]
        for e in tree.entries {
            switch e.kind {
            case .directory:
                guard let child = ObjectID(e.hash) else { throw GitError.verification("a tree entry names a bad tree id") }
                ids[e.name] = try await emitTree(child, expected: nil)
            case .file, .symlink:
                guard let hash = ObjectID(e.hash) else { throw GitError.verification("a tree entry names a bad content hash") }
                ids[e.name] = try await emitBlob(hash)
            case .gitlink, .missing:
                guard let id = GitOID(e.hash) else {
                    throw GitError.verification("entry '\(e.nameString)' names no git id: it cannot be written as git")
                }
                if e.kind == .missing { missingBlobs += 1 }
                ids[e.name] = id
            }
        }
        let bytes = GitMapping.treeBytes(tree) { ids[$0.name] }!
        let id = try hashAndSink(.tree, bytes)
        if let expected, id != expected { throw GitError.verification("tree \(expected) rebuilds as \(id)") }
        treeIDs[treeID] = id
        return id
    }

    /// Every snapshot reachable from `tip` not emitted yet, parents first; returns the tip's commit id.
    func emitHistory(_ tip: ObjectID) async throws -> GitOID {
        if let id = commitIDs[tip] { return id }
        var parents: [ObjectID: [ObjectID]] = [:]
        var discovered: [ObjectID] = []
        var stack = [tip]
        while let id = stack.popLast() {
            if parents[id] != nil || commitIDs[id] != nil { continue }
            let s = try await session.objects.snapshot(id)
            parents[id] = s.parents
            discovered.append(id)
            for p in s.parents.reversed() where parents[p] == nil && commitIDs[p] == nil { stack.append(p) }
        }
        var waiting: [ObjectID: Int] = [:]
        var children: [ObjectID: [ObjectID]] = [:]
        for id in discovered {
            let pending = Set(parents[id]!.filter { commitIDs[$0] == nil })
            waiting[id] = pending.count
            for p in pending { children[p, default: []].append(id) }
        }
        var ready = discovered.filter { waiting[$0] == 0 }
        parents = [:]
        while let id = ready.popLast() {
            try await emitCommit(id)
            for c in children[id] ?? [] {
                waiting[c]! -= 1
                if waiting[c] == 0 { ready.append(c) }
            }
        }
        guard let id = commitIDs[tip] else { throw GitError.verification("the history of \(tip.short) has a cycle") }
        return id
    }

    func emitCommit(_ snapshotID: ObjectID) async throws {
        let s = try await session.objects.snapshot(snapshotID)
        let parents = s.parents.map { commitIDs[$0]! }
        let bytes: [UInt8]
        if let raw = GitMapping.rawFallback(s.extraHeaders) {
            let c = GitFormat.commit(raw)
            guard let tree = c.tree else { throw GitError.verification("the raw bytes kept for snapshot \(snapshotID.short) name no tree") }
            let got = try await emitTree(s.tree, expected: tree)
            guard got == tree else { throw GitError.verification("commit bytes kept for \(snapshotID.short) name tree \(tree), the repository rebuilds \(got)") }
            // The snapshot's parents are the raw parents the source had then, in order (a shallow
            // boundary's were absent; a later import may have them).
            guard Self.isSubsequence(parents, of: c.parents) else {
                throw GitError.verification("commit bytes kept for \(snapshotID.short) name other parents than the snapshot")
            }
            // Parents the snapshot lacks were never imported: git must know this commit as shallow.
            if c.parents.contains(where: { map[$0]?.kind != .commit }) { shallowCommits.insert(snapshotID) }
            bytes = raw
        } else {
            let tree = try await emitTree(s.tree, expected: nil)
            bytes = GitMapping.commitBytes(s, tree: tree, parents: parents)!
        }
        commitIDs[snapshotID] = try hashAndSink(.commit, bytes)
    }

    static func isSubsequence(_ a: [GitOID], of b: [GitOID]) -> Bool {
        var i = 0
        for x in b where i < a.count && a[i] == x { i += 1 }
        return i == a.count
    }

    func emitTag(_ tagID: ObjectID, expected: GitOID?) async throws -> GitOID {
        if let id = tagIDs[tagID] { return id }
        let t = try await session.objects.annotatedTag(tagID)
        let bytes: [UInt8]
        if let raw = GitMapping.rawFallback(t.extraHeaders) {
            let parsed = GitFormat.tag(raw)
            let got = try await emit(t.target, expected: parsed.object)
            guard got == parsed.object else { throw GitError.verification("tag bytes kept for \(tagID.short) name \(parsed.object?.description ?? "nothing"), the repository rebuilds \(got)") }
            bytes = raw
        } else {
            bytes = GitMapping.tagBytes(t, target: try await emit(t.target, expected: nil))!
        }
        let id = try hashAndSink(.tag, bytes)
        if let expected, id != expected { throw GitError.verification("tag \(expected) rebuilds as \(id)") }
        tagIDs[tagID] = id
        return id
    }
}
