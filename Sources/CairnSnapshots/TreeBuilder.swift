import CairnFiles
import CairnPrimitives

/// Turns a worktree into trees and file versions (the archiver half; `Checkout` is the restorer).
/// Three passes: scan (lstat, ignore rules, previous trees), store every file concurrently (so both
/// cores hash, compress, delta and encode), then build the trees bottom-up.
public final class TreeBuilder: @unchecked Sendable {
    // Mutable state is touched only from `build`'s own task, never concurrently (the concurrent pass
    // returns values instead).
    public struct Problem: Sendable { public let path: String; public let message: String }

    let root: FSPath
    let content: ContentStore
    let rules: IgnoreRules
    let oldCache: StatCache
    public internal(set) var newCache = StatCache()
    /// Special files skipped (a warning each).
    public private(set) var skipped: [Problem] = []
    /// Files that could not be read (commit exits 3).
    public private(set) var unreadable: [Problem] = []
    /// Files read and hashed (not answered by the stat cache).
    public private(set) var filesRead = 0
    /// Files stored at once.
    public var concurrency = 4
    /// Threads listing and lstat-ing folders.
    static let scanThreads = 8
    public var progress: (@Sendable (String) -> Void)?
    /// This repository's state folder, skipped wherever it sits in the worktree.
    public var stateFolder: FSPath?
    /// Paths (relative) whose `missing` entry in the parent snapshot is kept while nothing stands there
    /// (`.cairn/missing`, written by checkout).
    public var carriedPaths: [[UInt8]] = []

    public init(root: FSPath, content: ContentStore, rules: IgnoreRules, cache: StatCache) {
        self.root = root
        self.content = content
        self.rules = rules
        self.oldCache = cache
        // Without a stamp on the file system (see `Repository.scanStamp`), be safe against a file-system
        // clock that lags this one or keeps whole seconds.
        let now = FileSystem.now()
        newCache.scanStart = (now.0 - 2, now.1)
    }

    final class Directory: @unchecked Sendable {
        // Built and read by one task at a time (scan, then storing, then tree building).
        var items: [Item] = []
        /// What each file item was stored as, by position in `items` (nil for folders and failures).
        var stored: [Stored?] = []
    }

    /// A file to settle: its folder and position there.
    struct Job: @unchecked Sendable {
        let directory: Directory
        let position: Int
        var item: Item { directory.items[position] }
    }

    struct Item: @unchecked Sendable {
        let name: [UInt8]
        let relative: [UInt8]
        let path: FSPath
        let stat: FileStat
        let kind: TreeEntry.Kind
        let directory: Directory?
    }

    struct Stored: Sendable {
        let hash: [UInt8]
        let size: UInt64
        let cacheEntry: StatCache.Entry?
        let wasRead: Bool
    }

    /// Builds and stores the tree of the whole worktree; `previous` is the parent snapshot's root tree
    /// (delta bases are the same path's versions there).
    public func build(previous: Tree?) async throws -> ObjectID {
        try await build(previousTree: previous.map { .loaded($0) })
    }

    /// As `build(previous:)` with the parent's root tree given by id and fetched only if a changed
    /// file needs a delta base.
    public func build(previousTreeID: ObjectID?) async throws -> ObjectID {
        try await build(previousTree: previousTreeID.map { .id($0) })
    }

    private func build(previousTree previous: PreviousVersions.Root?) async throws -> ObjectID {
        _ = try FileSystem.names(in: root)  // an unreadable worktree root fails the commit, not just one entry
        let (top, scanSkipped, scanUnreadable) = Self.parallelScan(root: root, rules: rules, threads: Self.scanThreads, stateFolder: stateFolder)
        skipped += scanSkipped
        unreadable += scanUnreadable
        let lookup = PreviousVersions(root: previous, objects: content.objects)
        var jobs: [Job] = []
        func collect(_ d: Directory) {
            d.stored = [Stored?](repeating: nil, count: d.items.count)
            for (position, item) in d.items.enumerated() {
                if let sub = item.directory { collect(sub) } else { jobs.append(Job(directory: d, position: position)) }
            }
        }
        collect(top)
        // Files the stat cache vouches for are settled here in one pass (one actor call for all their
        // versions); only the rest become storing tasks.
        var candidates: [(Job, StatCache.Entry)] = []
        var misses: [Job] = []
        for job in jobs {
            let item = job.item
            if item.kind == .file, let cached = oldCache.lookup(item.relative, item.stat) {
                candidates.append((job, cached))
            } else {
                misses.append(job)
            }
        }
        let present = await content.objects.hasContents(candidates.map(\.1.contentHash))
        var hits: [(ByteKey, StatCache.Entry)] = []
        hits.reserveCapacity(candidates.count)
        for ((job, cached), ok) in zip(candidates, present) {
            guard ok else { misses.append(job); continue }
            let item = job.item
            job.directory.stored[job.position] = Stored(hash: cached.contentHash, size: item.stat.size, cacheEntry: cached, wasRead: false)
            hits.append((ByteKey(item.relative), cached))
        }
        if misses.isEmpty && hits.count == oldCache.entries.count {
            newCache.entries = oldCache.entries  // every entry still holds: share the table, insert nothing
        } else {
            for (key, entry) in hits { newCache.entries[key] = entry }
        }
        try await storeAll(misses, lookup)
        var carried: [[UInt8]: [TreeEntry]] = [:]
        for path in carriedPaths {
            if let e = await lookup.entry(at: path), e.kind == .missing {
                carried[Array(path.split(separator: 0x2F).dropLast().joined(separator: [0x2F])), default: []].append(e)
            }
        }
        return try await makeTree(top, lookup, carried: carried)
    }

    /// Stores files `concurrency` at a time; a file that cannot be read becomes a problem, not a failure.
    private func storeAll(_ jobs: [Job], _ lookup: PreviousVersions) async throws {
        let content = self.content, cache = oldCache
        var done = 0
        try await withThrowingTaskGroup(of: (Job, Result<Stored, Error>).self) { group in
            var next = 0
            func launch() {
                let job = jobs[next]
                next += 1
                group.addTask {
                    // The Result is built in a function of its own: see `capture` (a Swift 6.3.1 -O miscompile).
                    let r = await capture { try await Self.store(job.item, content: content, cache: cache, previous: lookup) }
                    return (job, r)
                }
            }
            while next < min(concurrency, jobs.count) { launch() }
            while let (job, result) = try await group.next() {
                switch result {
                case .success(let s):
                    job.directory.stored[job.position] = s
                    if s.wasRead { filesRead += 1 }
                    if let e = s.cacheEntry { newCache.entries[ByteKey(job.item.relative)] = e }
                case .failure(let e as FileSystemError):
                    unreadable.append(Problem(path: String(decoding: job.item.relative, as: UTF8.self), message: e.description))
                case .failure(let e):
                    throw e
                }
                if next < jobs.count { launch() }
                done += 1
                if done % 64 == 0 || done == jobs.count { progress?("stored \(done) of \(jobs.count) files") }
            }
        }
    }

    private static func store(_ item: Item, content: ContentStore, cache: StatCache, previous: PreviousVersions) async throws -> Stored {
        if item.kind == .symlink {
            let target = try FileSystem.readLink(item.path)
            let hash = try await content.store(target, previous: nil)
            return Stored(hash: hash, size: UInt64(target.count), cacheEntry: nil, wasRead: false)
        }
        if let cached = cache.lookup(item.relative, item.stat), await content.has(cached.contentHash) {
            return Stored(hash: cached.contentHash, size: item.stat.size, cacheEntry: cached, wasRead: false)
        }
        let bytes = try FileSystem.readFile(item.path, followSymlink: false)
        let leaves = ContentHash.leaves(of: bytes)
        let hash = ContentHash.root(leaves: leaves, size: UInt64(bytes.count))
        // The delta base: the same path's content in the parent snapshot (trees fetched only now, for
        // files that changed, so an unchanged tree costs no downloads).
        let base = await content.has(hash) ? nil : await previous.content(at: item.relative)
        try await content.store(bytes, leaves: leaves, previous: base)
        // If the file changed between stat and read, record what was read but do not cache it.
        let entry = UInt64(bytes.count) == item.stat.size ? StatCache.Entry(stat: item.stat, contentHash: hash) : nil
        return Stored(hash: hash, size: UInt64(bytes.count), cacheEntry: entry, wasRead: true)
    }

    /// Builds every tree bottom-up without touching the store, then stores the new ones, each as a delta
    /// on the same folder's tree in the parent snapshot when that is small.
    private func makeTree(_ dir: Directory, _ lookup: PreviousVersions, carried: [[UInt8]: [TreeEntry]]) async throws -> ObjectID {
        var encoded: [(path: [UInt8], bytes: [UInt8])] = []
        let root = try Self.encodeTrees(dir, path: [], carried: carried, into: &encoded)
        let objects = content.objects
        let known = await objects.containsAll(encoded.map { ObjectCoding.id(of: $0.bytes) })
        for (tree, isKnown) in zip(encoded, known) where !isKnown {
            try await objects.put(tree.bytes, deltaBase: await lookup.tree(at: tree.path))
        }
        return root
    }

    private static func encodeTrees(_ dir: Directory, path: [UInt8], carried: [[UInt8]: [TreeEntry]],
                                    into encoded: inout [(path: [UInt8], bytes: [UInt8])]) throws -> ObjectID {
        var entries: [TreeEntry] = []
        entries.reserveCapacity(dir.items.count)
        for (position, item) in dir.items.enumerated() {
            let st = item.stat
            func entry(_ size: UInt64, _ hash: [UInt8]) -> TreeEntry {
                TreeEntry(name: item.name, kind: item.kind, mode: st.mode, size: size, mtimeSeconds: st.mtimeSeconds,
                          mtimeNanoseconds: st.mtimeNanoseconds, hash: hash)
            }
            if let sub = item.directory {
                entries.append(entry(0, try encodeTrees(sub, path: path.isEmpty ? item.name : path + [0x2F] + item.name,
                                                        carried: carried, into: &encoded).bytes))
            } else if let s = dir.stored[position] {
                entries.append(entry(s.size, s.hash))
            }
        }
        // Missing entries of the parent snapshot where the worktree has nothing of that name.
        for e in carried[path] ?? [] where !dir.items.contains(where: { $0.name == e.name }) { entries.append(e) }
        let bytes = try Tree(entries: entries).encoded
        encoded.append((path, bytes))
        return ObjectCoding.id(of: bytes)
    }

}

/// Runs `body` and captures its result. Task-group children must not write
/// `do { return (x, .success(try await …)) } catch { return (x, .failure(error)) }`: Swift 6.3.1 at -O
/// hands the parent a garbage tuple for non-trivial payloads (Benchmarks/Repro).
func capture<T>(_ body: () async throws -> T) async -> Result<T, Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

/// The parent snapshot's file contents by path, loading only the trees on the paths asked for.
actor PreviousVersions {
    enum Root: Sendable { case loaded(Tree), id(ObjectID) }
    private var root: Root?
    let objects: ObjectStore
    private var trees: [ObjectID: Tree] = [:]

    init(root: Root?, objects: ObjectStore) {
        self.root = root
        self.objects = objects
    }

    /// The id of the folder at `path` in the parent snapshot ([] for the root), if it was a folder there.
    func tree(at path: [UInt8]) async -> ObjectID? {
        if path.isEmpty {
            switch root {
            case nil: return nil
            case .loaded(let t): return ObjectCoding.id(of: t.encoded)
            case .id(let id): return id
            }
        }
        guard let parentTree = await folder(at: Array(path.split(separator: 0x2F).dropLast().joined(separator: [0x2F]))),
              let e = parentTree.entry(named: Array(path.split(separator: 0x2F).last ?? [])), e.kind == .directory else { return nil }
        return ObjectID(e.hash)
    }

    /// The parent snapshot's tree of the folder at `path` ([] for the root).
    private func folder(at path: [UInt8]) async -> Tree? {
        var tree: Tree
        switch root {
        case nil: return nil
        case .loaded(let t): tree = t
        case .id(let id):
            guard let t = try? await objects.tree(id) else { return nil }
            root = .loaded(t)
            tree = t
        }
        for name in path.split(separator: 0x2F).map(Array.init) {
            guard let e = tree.entry(named: name), e.kind == .directory, let id = ObjectID(e.hash) else { return nil }
            if let cached = trees[id] { tree = cached; continue }
            guard let t = try? await objects.tree(id) else { return nil }
            trees[id] = t
            tree = t
        }
        return tree
    }

    /// The entry at `path` in the parent snapshot.
    func entry(at path: [UInt8]) async -> TreeEntry? {
        let parts = path.split(separator: 0x2F)
        guard let name = parts.last, let tree = await folder(at: Array(parts.dropLast().joined(separator: [0x2F]))) else { return nil }
        return tree.entry(named: Array(name))
    }

    /// The content hash of the file at `path` in the parent snapshot.
    func content(at path: [UInt8]) async -> [UInt8]? {
        var rootTree: Tree
        switch root {
        case nil: return nil
        case .loaded(let t): rootTree = t
        case .id(let id):
            guard let t = try? await objects.tree(id) else { return nil }
            root = .loaded(t)
            rootTree = t
        }
        var tree = rootTree
        let parts = path.split(separator: 0x2F).map(Array.init)
        for (i, name) in parts.enumerated() {
            guard let e = tree.entry(named: name) else { return nil }
            if i == parts.count - 1 { return e.kind == .file ? e.hash : nil }
            guard e.kind == .directory, let id = ObjectID(e.hash) else { return nil }
            if let cached = trees[id] { tree = cached; continue }
            guard let t = try? await objects.tree(id) else { return nil }
            trees[id] = t
            tree = t
        }
        return nil
    }
}
