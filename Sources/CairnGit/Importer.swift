import CairnDelta
import CairnFiles
import CairnPrimitives
import CairnSnapshots
#if canImport(Glibc)
import Glibc
#endif

/// Which refs an import takes, and under what name its state is kept.
public struct GitImportOptions: Sendable {
    /// Keys the import state (`refs/cairn-import/state/NAME`): not a path, so another machine can go on.
    public var name: String
    /// Branch name globs (`--branches`); empty: every branch when no other selection is given.
    public var branches: [String] = []
    public var tags = false
    /// Every ref except `refs/remotes/*` (HEAD is remembered, not imported as a ref).
    public var all = false
    /// A short status line now and then (the CLI draws it on a terminal only).
    public var progress: (@Sendable (String) -> Void)?

    public init(name: String, branches: [String] = [], tags: Bool = false, all: Bool = false) {
        self.name = name; self.branches = branches; self.tags = tags; self.all = all
    }

    static let heads = Array("refs/heads/".utf8), tagsPrefix = Array("refs/tags/".utf8), remotes = Array("refs/remotes/".utf8)

    /// With no `--all`, `--branches` or `--tags`: branches and tags, as `git clone --mirror` sees them
    /// minus remotes.
    public func selects(_ name: [UInt8]) -> Bool {
        if name.starts(with: Self.remotes) || name.starts(with: ImportState.internalPrefix) { return false }
        if all { return true }
        let everything = branches.isEmpty && !tags
        if name.starts(with: Self.heads) {
            if everything { return true }
            let short = Array(name[Self.heads.count...]) + [0]
            return branches.contains { glob in
                short.withUnsafeBufferPointer { s in
                    s.withMemoryRebound(to: CChar.self) { fnmatch(glob, $0.baseAddress!, 0) == 0 }
                }
            }
        }
        if name.starts(with: Self.tagsPrefix) { return everything || tags }
        return false
    }
}

/// What an import did.
public struct GitImportSummary: Sendable {
    public struct Missing: Sendable { public var path: [UInt8]; public var commit: String; public var blob: String }
    public var nothingNew = false
    public var commits = 0, trees = 0, blobs = 0, tags = 0
    public var blobBytes: UInt64 = 0
    /// Objects kept as raw git bytes beside their Cairn form (odd trees, commits and tags).
    public var rawKept = 0
    public var refsChanged = 0
    public var gitlinks = 0, lfsPointers = 0
    /// Commits whose parents the source does not have (a shallow clone's boundary).
    public var shallowBoundary = 0
    public var missing: [Missing] = []
    /// Refs whose old commits a forced push left behind, kept under `refs/cairn-import/replaced/`.
    public var replaced: [String] = []
    /// Refs and tags left out, one line each.
    public var warnings: [String] = []
    public var seconds = 0.0
}

/// Imports a git repository's history into a Cairn repository (Documentation/Git.md): every object
/// read once and raw, commits in topological order of parents parsed from their bytes, each file's
/// content a forward delta on the same path in the first parent, every object compared with the git
/// bytes Cairn would write back and kept raw where they differ.
public final class GitImporter {
    let source: GitRepository
    let repository: Repository
    let options: GitImportOptions
    var state = ImportState()
    var summary = GitImportSummary()
    /// Each commit imported in this run: its tree (the first parent's tree is a new commit's delta base).
    var commitTrees: [GitOID: GitOID] = [:]
    var objects: ObjectStore!
    var content: ContentStore!
    var blobs: BlobWorker!
    var currentCommit = ""
    /// Trees and tags being imported: with hash checks off, a hand-made object can name itself.
    var inProgress: Set<GitOID> = []
    /// Trees built lately, by git id (a new tree's base is almost always among them).
    var built: [GitOID: Built] = [:]
    var builtEntries = 0
    /// The distinct commits gitlinks name.
    var gitlinks: Set<GitOID> = []
    var missingReported: Set<GitOID> = []
    var started = 0.0

    public init(source: GitRepository, repository: Repository, options: GitImportOptions) {
        self.source = source; self.repository = repository; self.options = options
    }

    public func run() async throws -> GitImportSummary {
        started = FileSystem.monotonicSeconds()
        let lock = try repository.state.lock()
        defer { withExtendedLifetime(lock) {} }
        let sourceRefs = try source.refs()
        let head = source.head()
        let selected = sourceRefs.filter { options.selects($0.name) }
        let session = try await repository.session()
        objects = session.objects
        content = ContentStore(objects: objects, policy: .history)
        blobs = BlobWorker(sourcePath: source.path, content: content)
        defer { blobs.cancel() }

        let stored = try await ImportState.locate(session, name: options.name)
        if let stored {
            // Only the refs file first: when nothing moved, nothing else is read.
            let known = try await ImportState.read("refs", of: stored, session.content).map(ImportState.decodeRefs)
            if let known, known.refs.filter({ options.selects($0.name) }) == selected && known.head == head {
                summary.nothingNew = true
                summary.seconds = FileSystem.monotonicSeconds() - started
                return summary
            }
            state = try await ImportState.load(stored, session.content, refs: known)
        }
        let oldRefs = state.refs

        // Refs name objects directly or through symbolic refs (an alias such as `refs/heads/master` →
        // `refs/heads/main`): what each selected ref resolves to.
        let byName = Dictionary(sourceRefs.map { ($0.name, $0.target) }, uniquingKeysWith: { a, _ in a })
        func resolved(_ target: GitRef.Target) -> GitOID? {
            var target = target
            var hops = 0
            while case .symbolic(let to) = target, hops < 8, let next = byName[to] { target = next; hops += 1 }
            if case .object(let id) = target { return id }
            return nil
        }
        let selectedNames = Set(selected.map(\.name))
        // A symbolic ref whose target is selected too stays symbolic (in the import state, for export);
        // Cairn refs cannot be symbolic, so any other one becomes a Cairn ref to what it resolves to.
        func staysSymbolic(_ ref: GitRef) -> Bool {
            if case .symbolic(let to) = ref.target { return selectedNames.contains(to) }
            return false
        }

        // Tags first peeled to what they name; the commits behind every ref, then in topological order.
        var tips: [GitOID] = []
        var tagOrder: [GitOID] = []
        var otherTargets: [GitOID] = []
        var seenTags: Set<GitOID> = []
        for ref in selected {
            guard var id = resolved(ref.target) else {
                warn("ref \(String(decoding: ref.name, as: UTF8.self)) names no object: left out")
                continue
            }
            // A chain of annotated tags: each tag after what it names.
            var chain: [GitOID] = []
            while true {
                let type = try state.map[id].map(Self.type(of:)) ?? source.type(of: id)
                guard let type else {
                    warn("ref \(String(decoding: ref.name, as: UTF8.self)) names \(id), which the source does not have: left out")
                    break
                }
                if type == .tag {
                    if !seenTags.insert(id).inserted { break }
                    chain.append(id)
                    guard let (_, raw) = try source.read(id), let target = GitFormat.tag(raw).object else {
                        warn("tag \(id) names no object: left out")
                        chain.removeLast()
                        break
                    }
                    id = target
                    continue
                }
                if type == .commit { tips.append(id) } else { otherTargets.append(id) }
                break
            }
            tagOrder += chain.reversed()
        }
        let order = try topologicalOrder(tips)
        for (n, id) in order.enumerated() {
            try await importCommit(id)
            if n % 64 == 0 { report(done: n, of: order.count) }
        }
        for id in otherTargets { _ = try await importLoose(id) }
        for id in tagOrder { _ = try await importTag(id) }

        // The refs, as Cairn refs.
        var targets: [[UInt8]: RefTarget] = [:]
        for ref in selected where !staysSymbolic(ref) {
            guard let id = resolved(ref.target), let t = cairnTarget(id) else { continue }
            guard Refs.isValidFullName(ref.name) else {
                warn("ref \(String(decoding: ref.name, as: UTF8.self)) is not a name Cairn can hold: left out")
                continue
            }
            targets[ref.name] = t
        }
        // What the last import set each ref to, and the refs it must now remove or keep aside: old
        // commits a forced push dropped stay reachable.
        var previousTargets: [[UInt8]: RefTarget] = [:]
        var removed: [[UInt8]] = []
        var replacedRefs: [[UInt8]: RefTarget] = [:]
        func keepAside(_ name: [UInt8], _ label: String, _ target: RefTarget) {
            let aside = Array("refs/cairn-import/replaced/\(options.name)/\(label)/".utf8) + name.dropFirst(5)
            guard Refs.isValidFullName(aside) else { return }
            replacedRefs[aside] = target
            summary.replaced.append(String(decoding: aside, as: UTF8.self))
        }
        for old in oldRefs where options.selects(old.name) {
            guard case .object(let oldID) = old.target, let oldTarget = cairnTarget(oldID) else { continue }
            previousTargets[old.name] = oldTarget
            let newID = selectedNames.contains(old.name) ? resolved(byName[old.name]!) : nil
            if newID == nil && targets[old.name] == nil { removed.append(old.name) }
            if let newID, newID == oldID { continue }
            if let newID, try isAncestor(oldID, of: newID) { continue }
            keepAside(old.name, oldID.short, oldTarget)
        }

        // Every blob stored before anything names them in a published segment.
        options.progress?("storing the last blobs")
        try await blobs.finish()
        // What only the walk needed goes before the state is written (its map is the largest single thing).
        built = [:]
        builtEntries = 0
        commitTrees = [:]

        // The state: refs outside this selection as they were, the selected ones as they are now.
        state.refs = oldRefs.filter { !options.selects($0.name) } + selected.filter { $0.name.count <= 4096 }
        state.head = head
        let stateID = try await saveState(stored)
        options.progress?("uploading")
        let defaultBranch: [UInt8]? = if case .symbolic(let to)? = head, targets[to] != nil { to } else { nil }
        let stateRef = ImportState.refName(options.name)
        let name = options.name
        let published = try await repository.publish(objects) { refs in
            // Another import under this name got there first: its state would be lost.
            guard refs.all[stateRef]?.id == stored?.snapshot else {
                throw GitError.verification("another import named '\(name)' finished meanwhile: run this one again")
            }
            var changed = 0
            var aside = replacedRefs
            func moveAside(_ ref: [UInt8]) {
                // A ref moved in Cairn since the last import (a commit made here): kept, never dropped.
                guard let current = refs.all[ref], current != previousTargets[ref], current != targets[ref], let id = current.id else { return }
                let label = "cairn-\(id.short)"
                let n = Array("refs/cairn-import/replaced/\(name)/\(label)/".utf8) + ref.dropFirst(5)
                if Refs.isValidFullName(n) { aside[n] = current }
            }
            for ref in removed where refs.all[ref] != nil {
                moveAside(ref)
                refs.all[ref] = nil
                changed += 1
            }
            for (ref, t) in targets where refs.all[ref] != t {
                moveAside(ref)
                refs.all[ref] = t
                changed += 1
            }
            for (ref, t) in aside { refs.all[ref] = t }
            refs.all[stateRef] = .snapshot(stateID)
            // What a clone checks out: the source's HEAD, unless the repository's default names a ref it has.
            if let defaultBranch, refs.defaultBranch.map({ refs.all[$0] == nil }) ?? true { refs.defaultBranch = defaultBranch }
            summary.refsChanged = changed
        }
        _ = published
        summary.gitlinks = gitlinks.count
        summary.seconds = FileSystem.monotonicSeconds() - started
        return summary
    }

    // MARK: history

    /// Every commit reachable from `tips` that is not imported yet, parents first (Kahn's algorithm over
    /// parents parsed from the raw bytes: a commit whose idents do not parse still has parents).
    func topologicalOrder(_ tips: [GitOID]) throws -> [GitOID] {
        var parents: [GitOID: [GitOID]] = [:]
        var discovered: [GitOID] = []
        var stack = tips.reversed().filter { state.map[$0] == nil }
        while let id = stack.popLast() {
            if parents[id] != nil { continue }
            guard let ps = try source.read(id, { type, bytes -> [GitOID]? in type == .commit ? GitFormat.parents(bytes) : nil }) else {
                throw GitError.missingObject(id, "a commit")
            }
            guard let ps else { throw GitError.malformed(id, "named as a commit but is not one") }
            // Parents the source lacks (a shallow clone's boundary) are left out of the order.
            let present = try ps.filter { state.map[$0] == nil && (parents[$0] != nil || source.contains($0)) }
            if present.count + ps.filter({ state.map[$0] != nil }).count < ps.count { summary.shallowBoundary += 1 }
            parents[id] = present
            discovered.append(id)
            for p in present.reversed() where parents[p] == nil { stack.append(p) }
        }
        var children: [GitOID: [GitOID]] = [:]
        var waiting: [GitOID: Int] = [:]
        for id in discovered {
            let ps = Set(parents[id]!)
            waiting[id] = ps.count
            for p in ps { children[p, default: []].append(id) }
        }
        // Oldest discoveries first among the ready ones: deterministic for a given source.
        var ready = discovered.filter { waiting[$0] == 0 }.reversed() as [GitOID]
        var order: [GitOID] = []
        order.reserveCapacity(discovered.count)
        while let id = ready.popLast() {
            order.append(id)
            for c in (children[id] ?? []).reversed() {
                waiting[c]! -= 1
                if waiting[c] == 0 { ready.append(c) }
            }
        }
        guard order.count == discovered.count else { throw GitError.verification("the source's history has a cycle") }
        return order
    }

    /// Whether `old` is `new` or one of its ancestors (a fast-forward), walking the source's parents.
    func isAncestor(_ old: GitOID, of new: GitOID) throws -> Bool {
        var seen: Set<GitOID> = [new]
        var stack = [new]
        while let id = stack.popLast() {
            if id == old { return true }
            guard let ps = try source.read(id, { type, bytes in type == .commit ? GitFormat.parents(bytes) : [] }) else { continue }
            for p in ps where seen.insert(p).inserted { stack.append(p) }
        }
        return false
    }

    func importCommit(_ id: GitOID) async throws {
        guard let (type, raw) = try source.read(id), type == .commit else { throw GitError.missingObject(id, "a commit") }
        currentCommit = id.description
        let c = GitFormat.commit(raw)
        guard let treeID = c.tree else { throw GitError.malformed(id, "a commit without a tree line") }
        var baseTree: GitOID?
        if let p = c.parents.first {
            baseTree = commitTrees[p]
            if baseTree == nil, let (t, parentRaw) = try source.read(p), t == .commit { baseTree = GitFormat.commit(parentRaw).tree }
        }
        let (tree, treeExact) = try await importTree(treeID, base: baseTree, path: [])
        let mappedParents = c.parents.filter { state.map[$0]?.kind == .commit }
        var snapshot = Snapshot(tree: tree, parents: mappedParents.map { state.map[$0]!.hash }, author: c.author ?? GitMapping.noIdent,
                                committer: c.committer ?? GitMapping.noIdent, message: c.message, extraHeaders: c.extra)
        let regenerated = GitMapping.commitBytes(snapshot, tree: treeExact ? treeID : nil, parents: mappedParents)
        if regenerated != raw || c.extra.contains(where: { $0.key == GitMapping.rawKey }) {
            snapshot.extraHeaders.append(ExtraHeader(key: GitMapping.rawKey, value: raw))
            summary.rawKept += 1
        }
        let snapshotID = try await objects.put(snapshot.encoded)
        state.map[id] = ImportState.Mapped(kind: .commit, hash: snapshotID, size: 0)
        commitTrees[id] = treeID
        summary.commits += 1
    }

    /// Imports a tree (memoised by git id) and returns its Cairn tree and whether Cairn's fields write it
    /// back exactly. `base`: the same folder's tree in the first parent.
    func importTree(_ id: GitOID, base: GitOID?, path: [UInt8]) async throws -> (ObjectID, Bool) {
        if let m = state.map[id], m.kind == .tree { return (m.hash, state.rawTrees[id] == nil) }
        guard let (type, raw) = try source.read(id) else {
            throw GitError.missingObject(id, "the tree at '\(String(decoding: path, as: UTF8.self))' of commit \(currentCommit)")
        }
        guard type == .tree else { throw GitError.malformed(id, "named as a tree but is a \(type.name)") }
        guard inProgress.insert(id).inserted else { throw GitError.malformed(id, "a tree that contains itself") }
        defer { inProgress.remove(id) }
        // Canonical bytes (git's modes and order) with every entry taken into Cairn's tree and every child
        // exact are exactly what export writes back: no need to write them to compare.
        var canonical = true
        let items = try GitFormat.tree(raw, id: id, canonical: &canonical)
        // The same folder in the first parent: built lately (most entries are then taken over as they
        // were), else read from the source.
        let baseBuilt = base.flatMap { built[$0] }
        var baseItems = baseBuilt?.items ?? []
        if baseBuilt == nil, let base, base != id, let (t, b) = try source.read(base), t == .tree {
            baseItems = (try? GitFormat.tree(b, id: base)) ?? []
        }
        var matcher = NameMatcher(baseItems)
        var made = Built(items: items, entries: [], childExact: [], encoded: [], offsets: [], tree: try Tree(entries: []))
        made.entries.reserveCapacity(items.count)
        made.childExact.reserveCapacity(items.count)
        var entries: [TreeEntry] = []
        entries.reserveCapacity(items.count)
        var ids: [ByteKey: GitOID] = [:]
        ids.reserveCapacity(items.count)
        var exact = true
        for item in items {
            let b = matcher.index(of: item.name)
            var entry: TreeEntry?
            var childExact = true
            if let b, let baseBuilt, baseItems[b].id == item.id, baseItems[b].mode == item.mode {
                // Unchanged since the first parent: what it became then.
                entry = baseBuilt.entries[b]
                childExact = baseBuilt.childExact[b]
                if entry == nil { exact = false }
            } else {
                let baseItem = b.map { baseItems[$0] }
                (entry, childExact) = try await importEntry(item, base: baseItem, path: path)
            }
            exact = exact && childExact
            made.entries.append(entry)
            made.childExact.append(childExact)
            guard let entry else { continue }
            if Tree.isValidName(item.name), ids.updateValue(item.id, forKey: ByteKey(item.name)) == nil {
                entries.append(entry)
            } else {
                exact = false  // `.`, `..`, a name with "/", an empty one, or a name twice: only the raw tree has it
            }
        }
        let tree = try Tree(entries: entries)
        let (encoded, offsets) = tree.encodedWithOffsets
        let baseTree = base.flatMap { state.map[$0] }.flatMap { $0.kind == .tree ? $0.hash : nil }
        var makeDelta: (@Sendable ([UInt8]) -> [UInt8]?)?
        if let baseBuilt {
            let copies = Self.sharedEntries(tree, offsets, baseBuilt)
            makeDelta = { baseBytes in
                // Checked before use: a wrong delta would be damage.
                guard let d = VCDIFF.encode(source: baseBytes, target: encoded, copies: copies),
                      (try? VCDIFF.apply(d, to: baseBytes)) == encoded else { return nil }
                return d
            }
        }
        let treeID = try await objects.put(encoded, deltaBase: baseTree, baseBytes: baseBuilt?.encoded, delta: makeDelta)
        if exact && !(canonical && entries.count == items.count) {
            exact = GitMapping.treeBytes(tree, oid: { ids[ByteKey($0.name)] }) == raw
        }
        if !exact {
            state.rawTrees[id] = raw
            summary.rawKept += 1
        }
        state.map[id] = ImportState.Mapped(kind: .tree, hash: treeID, size: 0)
        summary.trees += 1
        made.encoded = encoded
        made.offsets = offsets
        made.tree = tree
        if built.count >= Self.builtKept || builtEntries + items.count > Self.builtEntriesKept {
            built.removeAll(keepingCapacity: true)
            builtEntries = 0
        }
        built[id] = made
        builtEntries += items.count
        return (treeID, exact)
    }

    /// The Cairn entry one git entry becomes (nil: left out of Cairn's tree, which is then not exact), and
    /// whether what it names is exact.
    func importEntry(_ item: GitFormat.TreeItem, base: GitFormat.TreeItem?, path: [UInt8]) async throws -> (TreeEntry?, Bool) {
        let childPath = path.isEmpty ? item.name : path + [0x2F] + item.name
        // A gitlink names a commit of another repository: nothing to look up.
        if item.mode & 0o170000 == 0o160000 {
            gitlinks.insert(item.id)
            return (TreeEntry(name: item.name, kind: .gitlink, mode: item.mode, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0,
                              hash: item.id.bytes), true)
        }
        let childType = try state.map[item.id].map(Self.type(of:)) ?? source.type(of: item.id)
        switch item.mode & 0o170000 {
        case 0o040000 where childType == .tree:
            let b = base.flatMap { $0.isDirectory ? $0.id : nil }
            let (child, childExact) = try await importTree(item.id, base: b, path: childPath)
            return (TreeEntry(name: item.name, kind: .directory, mode: 0o040755, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0,
                              hash: child.bytes), childExact)
        case let bits where (bits == 0o100000 || bits == 0o120000) && (childType == .blob || childType == nil):
            let b = base.flatMap { $0.isDirectory ? nil : $0.id }
            return (try await importBlob(item, base: b, path: childPath), true)
        default:
            // A mode that does not fit what it names (a blob as a directory), or an object the source lacks
            // (reported): the tree is kept raw; Cairn's tree leaves the entry out.
            if try await importLoose(item.id) == nil { noteMissing(item.id, childPath) }
            return (nil, false)
        }
    }

    static let lfsPrefix = Array("version https://git-lfs.github.com/spec/v1".utf8)

    /// A file or symlink entry for a blob (memoised by git id); a blob the source lacks (a partial clone)
    /// becomes a `missing` entry and is reported.
    func importBlob(_ item: GitFormat.TreeItem, base: GitOID?, path: [UInt8]) async throws -> TreeEntry {
        let kind: TreeEntry.Kind = item.mode & 0o170000 == 0o120000 ? .symlink : .file
        // What a checkout gives the file: 644 or 755, never a setuid bit or no permissions at all, whatever
        // the git tree says (an odd mode leaves the tree raw, so git gets it back).
        let mode: UInt32 = kind == .symlink ? 0o120000 : item.mode & 0o100 != 0 ? 0o100755 : 0o100644
        func entry(_ m: ImportState.Mapped) -> TreeEntry {
            if m.kind == .missingBlob {
                return TreeEntry(name: item.name, kind: .missing, mode: item.mode, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0,
                                 hash: item.id.bytes)
            }
            return TreeEntry(name: item.name, kind: kind, mode: mode, size: m.size, mtimeSeconds: 0, mtimeNanoseconds: 0,
                             hash: m.hash.bytes)
        }
        if let m = state.map[item.id] {
            if m.kind == .missingBlob { noteMissing(item.id, path) }
            return entry(m)
        }
        guard let (_, bytes) = try source.read(item.id) else {
            noteMissing(item.id, path)
            let m = ImportState.Mapped(kind: .missingBlob, hash: ImportState.zeroID, size: 0)
            state.map[item.id] = m
            return entry(m)
        }
        let m = try await storeBlob(item.id, bytes, base: base)
        return entry(m)
    }

    /// Maps the blob to its content hash now and hands its storing to the worker.
    func storeBlob(_ id: GitOID, _ bytes: [UInt8], base: GitOID?) async throws -> ImportState.Mapped {
        let previous = base.flatMap { state.map[$0] }.flatMap { $0.kind == .blob ? $0.hash.bytes : nil }
        let leaves = ContentHash.leaves(of: bytes)
        let hash = ContentHash.root(leaves: leaves, size: UInt64(bytes.count))
        try await blobs.submit(.init(bytes: bytes, leaves: leaves, previous: previous, base: previous == nil ? nil : base))
        if bytes.starts(with: Self.lfsPrefix) { summary.lfsPointers += 1 }
        let m = ImportState.Mapped(kind: .blob, hash: ObjectID(hash)!, size: UInt64(bytes.count))
        state.map[id] = m
        summary.blobs += 1
        summary.blobBytes += UInt64(bytes.count)
        return m
    }

    func warn(_ message: String) { summary.warnings.append(message) }

    /// Each missing blob once, where it was first met (its later appearances are the same blob).
    func noteMissing(_ id: GitOID, _ path: [UInt8]) {
        guard missingReported.insert(id).inserted else { return }
        summary.missing.append(.init(path: path, commit: currentCommit, blob: id.description))
    }

    /// An object a ref or an odd tree entry names directly (a tree or a blob); nil if the source lacks it.
    func importLoose(_ id: GitOID) async throws -> ImportState.Mapped? {
        if let m = state.map[id] { return m }
        guard let type = try source.type(of: id) else { return nil }
        switch type {
        case .tree: _ = try await importTree(id, base: nil, path: [])
        case .blob:
            guard let (_, bytes) = try source.read(id) else { return nil }
            _ = try await storeBlob(id, bytes, base: nil)
        case .commit:
            // A commit named where a tree or blob belongs: imported with its history.
            for c in try topologicalOrder([id]) { try await importCommit(c) }
        case .tag: _ = try await importTag(id)
        }
        return state.map[id]
    }

    /// An annotated tag, after what it names (memoised by git id).
    func importTag(_ id: GitOID) async throws -> ObjectID? {
        if let m = state.map[id] { return m.kind == .tag ? m.hash : nil }
        guard let (type, raw) = try source.read(id), type == .tag else { return nil }
        guard inProgress.insert(id).inserted else { throw GitError.malformed(id, "a tag that names itself") }
        defer { inProgress.remove(id) }
        let t = GitFormat.tag(raw)
        guard let object = t.object, let mapped = try await importLoose(object), let target = mapped.refTarget else {
            warn("tag \(String(decoding: t.name, as: UTF8.self)) (\(id)) names an object the source does not have: left out")
            return nil
        }
        var tag = AnnotatedTag(target: target, name: t.name, tagger: t.tagger, message: t.message, extraHeaders: t.extra)
        let exactTarget = mapped.kind != .tree || state.rawTrees[object] == nil
        let regenerated = GitMapping.tagBytes(tag, target: exactTarget ? object : nil)
        if regenerated != raw || t.extra.contains(where: { $0.key == GitMapping.rawKey }) {
            tag.extraHeaders.append(ExtraHeader(key: GitMapping.rawKey, value: raw))
            summary.rawKept += 1
        }
        let tagID = try await objects.put(tag.encoded)
        state.map[id] = ImportState.Mapped(kind: .tag, hash: tagID, size: 0)
        summary.tags += 1
        return tagID
    }

    func cairnTarget(_ id: GitOID) -> RefTarget? { state.map[id]?.refTarget }

    static func type(of m: ImportState.Mapped) -> GitObjectType? {
        switch m.kind {
        case .commit: .commit
        case .tree: .tree
        case .blob: .blob
        case .tag: .tag
        case .missingBlob: nil
        }
    }

    // MARK: state

    /// Stores the state's three files (each a forward delta on its previous version) under a snapshot
    /// whose parent is the previous state.
    func saveState(_ stored: ImportState.Stored?) async throws -> ObjectID {
        options.progress?("saving the import state")
        var entries: [TreeEntry] = []
        for (name, bytes) in [("map", state.encodeMap()), ("raw", state.encodeRaw()),
                              ("refs", ImportState.encodeRefs(state.refs, head: state.head))] {
            let previous = stored?.files[name]?.hash
            let hash = try await content.store(bytes, previous: previous) { nil }
            entries.append(TreeEntry(name: Array(name.utf8), kind: .file, mode: 0o100644, size: UInt64(bytes.count), mtimeSeconds: 0,
                                     mtimeNanoseconds: 0, hash: hash))
        }
        let tree = try Tree(entries: entries)
        let treeID = try await objects.put(tree.encoded)
        let now = FileSystem.now().0
        let who = Signature(name: "cairn import-git", email: "cairn@localhost", time: now, zoneOffset: 0)
        let snapshot = Snapshot(tree: treeID, parents: stored.map { [$0.snapshot] } ?? [], author: who, committer: who,
                                message: Array("git import state for \(options.name)\n".utf8))
        return try await objects.put(snapshot.encoded)
    }

    // MARK: progress

    func report(done: Int, of total: Int) {
        guard let progress = options.progress, done > 0 else { return }
        let elapsed = FileSystem.monotonicSeconds() - started
        let rate = Double(done) / max(elapsed, 0.001)
        let eta = Double(total - done) / max(rate, 0.001)
        progress("importing commits: \(done)/\(total), \(summary.trees + summary.blobs) objects, \(summary.blobBytes >> 20) MiB, "
                 + "\(Int(rate)) commits/s, about \(Int(eta)) s left")
    }

}

