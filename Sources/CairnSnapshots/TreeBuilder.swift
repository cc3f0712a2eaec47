import CairnFiles
import CairnPrimitives
import Synchronization

/// Turns a worktree into trees and file versions (the archiver half; `Checkout` is the restorer).
/// Folders are done depth first, each finished (its files stored, its tree encoded and put, its stat
/// cache record written) before its parent, so a scan holds only the folders it is inside, whatever the
/// worktree's size. Both cores stay busy: a few folders are listed and done at once (listing on threads
/// of its own: on a cold cache a scan waits on inode reads), and `concurrency` files are stored at once
/// (hash, compress, delta, encode).
public final class TreeBuilder: @unchecked Sendable {
    // The settings (`concurrency`, `progress`, `stateFolder`, `carriedPaths`) are set before `build`; the
    // results are kept under `tally`.
    public struct Problem: Sendable { public let path: String; public let message: String }

    let root: FSPath
    let content: ContentStore
    let rules: IgnoreRules
    let oldCache: StatCache
    /// The stat cache this scan writes as it goes (nil: none).
    public let newCache: StatCacheUpdate?
    private struct Tally {
        var skipped: [Problem] = []
        var unreadable: [Problem] = []
        var filesRead = 0
        var stored = 0
    }
    private let tally = Mutex(Tally())
    /// Special files skipped (a warning each).
    public var skipped: [Problem] { tally.withLock { $0.skipped } }
    /// Files that could not be read (commit exits 3).
    public var unreadable: [Problem] { tally.withLock { $0.unreadable } }
    /// Files read and hashed (not answered by the stat cache).
    public var filesRead: Int { tally.withLock { $0.filesRead } }
    /// Files stored at once.
    public var concurrency = 4
    /// Threads listing and lstat-ing folders.
    static let scanThreads = 8
    /// Folders done at once besides the one each task is in (listing ahead of the files being stored).
    static let folderConcurrency = 12
    public var progress: (@Sendable (String) -> Void)?
    /// This repository's state folder, skipped wherever it sits in the worktree.
    public var stateFolder: FSPath?
    /// Paths (relative) whose `missing` entry in the parent snapshot is kept while nothing stands there
    /// (`.cairn/missing`, written by checkout).
    public var carriedPaths: [[UInt8]] = []

    /// `newCache`: where this scan's stat cache goes (`StatCacheUpdate.save` puts it in place).
    public init(root: FSPath, content: ContentStore, rules: IgnoreRules, cache: StatCache, newCache: StatCacheUpdate? = nil) {
        self.root = root
        self.content = content
        self.rules = rules
        self.oldCache = cache
        self.newCache = newCache
    }

    struct Item: Sendable {
        let name: [UInt8]
        let stat: FileStat
        let kind: TreeEntry.Kind
    }

    /// One folder as listed: its items in name order, the ignore rules for its subfolders, and its stat
    /// cache record.
    struct Listing: Sendable {
        var items: [Item] = []
        var rules: IgnoreRules
        var skipped: [Problem] = []
        var unreadable: [Problem] = []
        var cached: StatCache.Folder?
    }

    /// What every folder of one build shares.
    private struct Walk: Sendable {
        let lookup: PreviousVersions
        let listers: WorkerThreads
        let stores: AsyncLimiter
        let folders: Budget
        /// Folder path → names of the parent snapshot's missing entries to carry over there.
        let carried: [[UInt8]: [[UInt8]]]
        /// (device, inode) of this repository's state folder, wherever it sits.
        let stateIdentity: (UInt64, UInt64)?
    }

    struct Stored: Sendable {
        let hash: [UInt8]
        let size: UInt64
        let cacheEntry: StatCache.Entry?
        let wasRead: Bool
        /// The stat the stored bytes belong to, when read (it may be newer than the listing's).
        let stat: FileStat?
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
        var carried: [[UInt8]: [[UInt8]]] = [:]
        for path in carriedPaths {
            let parts = path.split(separator: 0x2F)
            guard let name = parts.last else { continue }
            carried[Array(parts.dropLast().joined(separator: [0x2F])), default: []].append(Array(name))
        }
        let listers = WorkerThreads(limit: Self.scanThreads)
        defer { listers.close() }
        let walk = Walk(lookup: PreviousVersions(root: previous, objects: content.objects), listers: listers,
                        stores: AsyncLimiter(concurrency), folders: Budget(Self.folderConcurrency), carried: carried,
                        stateIdentity: stateFolder.flatMap { try? FileSystem.linkStatus($0) }.map { ($0.device, $0.inode) })
        let id = try await folder(root, [], rules, walk)
        // Files read are cached under the new scan start (they may have been racy under the old one).
        if filesRead > 0 { newCache?.markChanged() }
        let stored = tally.withLock { $0.stored }
        progress?("stored \(stored) files")
        return id
    }

    /// Does one folder: settles its files (stat cache, else stored) and its subfolders, then puts its tree.
    private func folder(_ path: FSPath, _ relative: [UInt8], _ rules: IgnoreRules, _ walk: Walk) async throws -> ObjectID {
        // Another folder failed (its task group cancels the rest): stop here rather than read on.
        try Task.checkCancellation()
        let oldCache = self.oldCache, identity = walk.stateIdentity
        let listing = await walk.listers.run { Self.list(path, relative, rules, stateIdentity: identity, cache: oldCache) }
        if !listing.skipped.isEmpty || !listing.unreadable.isEmpty {
            tally.withLock { $0.skipped += listing.skipped; $0.unreadable += listing.unreadable }
        }
        let items = listing.items
        // Per item: content hash or tree id, size, and the stat cache entry that vouches for it.
        var hashes = [[UInt8]?](repeating: nil, count: items.count)
        var sizes = [UInt64](repeating: 0, count: items.count)
        var entries = [StatCache.Entry?](repeating: nil, count: items.count)
        var stats = items.map(\.stat)
        // Files that moved each time they were read: settled after the stores (from the parent snapshot).
        var changing: [Int] = []
        var candidates: [(Int, StatCache.Entry)] = []
        var misses: [Int] = []
        var subfolders: [Int] = []
        for (i, item) in items.enumerated() {
            switch item.kind {
            case .directory: subfolders.append(i)
            case .file:
                if let cached = listing.cached?.lookup(item.name, item.stat) { candidates.append((i, cached)) } else { misses.append(i) }
            default: misses.append(i)
            }
        }
        // Taken on the stat cache's word for now: checked below unless the folder's tree turns out known.
        for (i, cached) in candidates {
            hashes[i] = cached.contentHash
            sizes[i] = items[i].stat.size
            entries[i] = cached
        }
        enum Settled: Sendable { case folder(Int, ObjectID), file(Int, Result<Stored, Error>) }
        let content = self.content, cache = listing.cached, progress = self.progress
        try await withThrowingTaskGroup(of: Settled.self) { group in
            var next = 0
            var running = 0
            func launchFile() {
                let i = misses[next]
                next += 1
                running += 1
                let item = items[i], itemPath = path.appending(item.name)
                let itemRelative = relative.isEmpty ? item.name : relative + [0x2F] + item.name
                group.addTask {
                    await walk.stores.acquire()
                    if Task.isCancelled {
                        walk.stores.release()
                        return .file(i, await capture { throw CancellationError() })
                    }
                    // The Result is built in a function of its own: see `capture` (a Swift 6.3.1 -O miscompile).
                    let r = await capture { try await Self.store(item, path: itemPath, relative: itemRelative, content: content,
                                                                 cache: cache, previous: walk.lookup, progress: progress) }
                    walk.stores.release()
                    return .file(i, r)
                }
            }
            func handle(_ settled: Settled) throws {
                running -= 1
                switch settled {
                case .folder(let i, let id):
                    hashes[i] = id.bytes
                case .file(let i, .success(let s)):
                    hashes[i] = s.hash
                    sizes[i] = s.size
                    entries[i] = s.cacheEntry
                    if let st = s.stat { stats[i] = st }
                    let stored = tally.withLock { t in
                        if s.wasRead { t.filesRead += 1 }
                        t.stored += 1
                        return t.stored
                    }
                    if stored % 256 == 0 { progress?("stored \(stored) files") }
                    if next < misses.count { launchFile() }
                case .file(let i, .failure(let e as FileSystemError)):
                    let problem = Problem(path: String(decoding: relative.isEmpty ? items[i].name : relative + [0x2F] + items[i].name, as: UTF8.self),
                                          message: e.description)
                    tally.withLock { $0.unreadable.append(problem) }
                    if next < misses.count { launchFile() }
                case .file(let i, .failure(is ChangedWhileRead)):
                    changing.append(i)
                    if next < misses.count { launchFile() }
                case .file(_, .failure(let e)):
                    throw e
                }
            }
            while next < min(concurrency, misses.count) { launchFile() }
            // Subfolders alongside while the folder budget lasts; when it is spent, wait for one of this
            // folder's own tasks (a finished task is consumed at once: thousands kept until the end of a
            // wide folder held 50 MB), or, with none, do the subfolder here. Either way only a bounded
            // number of folders is in progress.
            for i in subfolders {
                let name = items[i].name
                let childPath = path.appending(name), childRelative = relative.isEmpty ? name : relative + [0x2F] + name
                while true {
                    if walk.folders.tryTake() {
                        running += 1
                        group.addTask {
                            defer { walk.folders.give() }
                            return .folder(i, try await self.folder(childPath, childRelative, listing.rules, walk))
                        }
                    } else if running > 0, let settled = try await group.next() {
                        try handle(settled)
                        continue
                    } else {
                        hashes[i] = try await folder(childPath, childRelative, listing.rules, walk).bytes
                    }
                    break
                }
            }
            while let settled = try await group.next() { try handle(settled) }
        }
        // A file that never held still while read: its version in the parent snapshot if it has one (a
        // consistent version, if an older one), else nothing; said either way.
        var kept: [Int: TreeEntry] = [:]
        func keepPrevious(_ i: Int) async {
            let itemRelative = relative.isEmpty ? items[i].name : relative + [0x2F] + items[i].name
            let path = String(decoding: itemRelative, as: UTF8.self)
            if let old = await walk.lookup.entry(at: itemRelative), old.kind == .file {
                kept[i] = old
                tally.withLock { $0.skipped.append(Problem(path: path, message: "\(ChangedWhileRead()); the snapshot keeps its previous version")) }
            } else {
                tally.withLock { $0.unreadable.append(Problem(path: path, message: "\(ChangedWhileRead()); left out of this snapshot")) }
            }
        }
        for i in changing { await keepPrevious(i) }
        var (bytes, id) = try await encodeTree(items, hashes: hashes, sizes: sizes, stats: stats, kept: kept, relative: relative, walk)
        let objects = content.objects
        if await !objects.contains(id) {
            // A tree the repository has vouches for every content in it (a tree is stored only with its
            // contents), so only a changed folder checks what the stat cache said, one lookup a file: a
            // million lookups in the index would cost time and make the whole index resident.
            if !candidates.isEmpty {
                let present = await objects.hasContents(candidates.map(\.1.contentHash))
                let gone = zip(candidates, present).filter { !$0.1 }.map(\.0.0)
                for i in gone {
                    let item = items[i], itemRelative = relative.isEmpty ? item.name : relative + [0x2F] + item.name
                    switch await capture({ try await Self.store(item, path: path.appending(item.name), relative: itemRelative,
                                                               content: content, cache: cache, previous: walk.lookup) }) {
                    case .success(let s):
                        hashes[i] = s.hash
                        sizes[i] = s.size
                        entries[i] = s.cacheEntry
                        if let st = s.stat { stats[i] = st }
                        tally.withLock { $0.filesRead += 1; $0.stored += 1 }
                    case .failure(is ChangedWhileRead):
                        hashes[i] = nil
                        entries[i] = nil
                        await keepPrevious(i)
                    case .failure(let e as FileSystemError):
                        hashes[i] = nil
                        entries[i] = nil
                        tally.withLock { $0.unreadable.append(Problem(path: String(decoding: itemRelative, as: UTF8.self), message: e.description)) }
                    case .failure(let e):
                        throw e
                    }
                }
                if !gone.isEmpty { (bytes, id) = try await encodeTree(items, hashes: hashes, sizes: sizes, stats: stats, kept: kept, relative: relative, walk) }
            }
            if await !objects.contains(id) {
                try await objects.put(bytes, deltaBase: await walk.lookup.tree(at: relative))
            }
        }
        if let newCache {
            var records: [(name: [UInt8], entry: StatCache.Entry)] = []
            for (i, item) in items.enumerated() where item.kind == .file { if let e = entries[i] { records.append((item.name, e)) } }
            newCache.add(folder: relative, entries: records, old: listing.cached)
        }
        return id
    }

    /// The folder's tree, encoded, and its id.
    private func encodeTree(_ items: [Item], hashes: [[UInt8]?], sizes: [UInt64], stats: [FileStat], kept: [Int: TreeEntry],
                            relative: [UInt8], _ walk: Walk) async throws -> ([UInt8], ObjectID) {
        var entries: [TreeEntry] = []
        entries.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            if let old = kept[i] { entries.append(old); continue }
            guard let hash = hashes[i] else { continue }  // unreadable
            let st = stats[i]
            entries.append(TreeEntry(name: item.name, kind: item.kind, mode: st.mode, size: item.kind == .directory ? 0 : sizes[i],
                                     mtimeSeconds: st.mtimeSeconds, mtimeNanoseconds: st.mtimeNanoseconds, hash: hash))
        }
        // Missing entries of the parent snapshot where the worktree has nothing of that name.
        for name in walk.carried[relative] ?? [] where !items.contains(where: { $0.name == name }) {
            if let e = await walk.lookup.entry(at: relative.isEmpty ? name : relative + [0x2F] + name), e.kind == .missing { entries.append(e) }
        }
        var bytes = try Tree(entries: entries).encoded
        var id = ObjectCoding.id(of: bytes)
        // Imported history has no times (mtime 0): where the worktree differs from such an entry only by
        // the time a checkout wrote (and a symlink's meaningless permission bits), the entry stays as it
        // was, so a commit after a checkout finds nothing changed. Asked only for a folder that changed.
        let objects = content.objects
        if await !objects.contains(id), let previousID = await walk.lookup.tree(at: relative),
           let previous = try? await objects.tree(previousID),
           previous.entries.contains(where: { $0.checkoutMtime == nil || $0.kind == .gitlink || !TreeEntry.isCheckoutSafe($0.name) }) {
            var changed = false
            // Entries a checkout never writes (an imported `.git`) stay while the worktree has nothing there.
            for old in previous.entries where !TreeEntry.isCheckoutSafe(old.name) && !entries.contains(where: { $0.name == old.name }) {
                entries.append(old)
                changed = true
            }
            for (i, e) in entries.enumerated() {
                // A submodule's gitlink checks out as an empty folder: while it is one, the gitlink stays.
                if e.kind == .directory, e.hash == Self.emptyTreeID.bytes, let old = previous.entry(named: e.name), old.kind == .gitlink {
                    entries[i] = old
                    changed = true
                    continue
                }
                guard let old = previous.entry(named: e.name), old.checkoutMtime == nil, e.checkoutMtime != nil, old.kind == e.kind,
                      old.hash == e.hash, old.size == e.size, TreeEntry.sameMode(old.mode, e.mode, kind: e.kind) else { continue }
                entries[i] = old
                changed = true
            }
            if changed {
                bytes = try Tree(entries: entries).encoded
                id = ObjectCoding.id(of: bytes)
            }
        }
        return (bytes, id)
    }

    static let emptyTreeID = ObjectCoding.id(of: try! Tree(entries: []).encoded)

    /// How many times a file that moves while it is read is read again before it is given up.
    static let readAttempts = 3

    /// A file whose size or mtime moved while it was read, `readAttempts` times in a row: what was read may
    /// be a mix of two versions, so it is not taken.
    struct ChangedWhileRead: Error, CustomStringConvertible {
        var description: String { "changed while it was read (size or mtime moved, \(TreeBuilder.readAttempts) times)" }
    }

    private static func store(_ item: Item, path: FSPath, relative: [UInt8], content: ContentStore, cache: StatCache.Folder?,
                              previous: PreviousVersions, progress: (@Sendable (String) -> Void)? = nil) async throws -> Stored {
        if item.kind == .symlink {
            let target = try FileSystem.readLink(path)
            let hash = try await content.store(target, previous: nil)
            return Stored(hash: hash, size: UInt64(target.count), cacheEntry: nil, wasRead: false, stat: nil)
        }
        // Read between two fstats of the open file; taken only if they agree (else read again), so what is
        // stored is one version of the file, never a mix of two.
        for _ in 0..<readAttempts {
            let file = try FileSystem.openForReading(path, followSymlink: false)
            defer { try? file.close() }
            let before = try file.status()
            let hash: [UInt8], size: UInt64
            if before.size > ContentStore.chunkThreshold {
                // Streamed: chunks are stored as they are read (a torn read's chunks stay unreferenced).
                let name = String(decoding: relative, as: UTF8.self)
                let stored = try await content.storeChunked(file, previous: await previous.content(at: relative), readLimit: before.size + 1,
                                                            progress: progress.map { report in
                                                                { done in report("reading \(name): \(done >> 20) of \(before.size >> 20) MiB") }
                                                            })
                guard Self.steady(before, try file.status(), read: stored.size) else { continue }
                (hash, size) = (stored.hash, stored.size)
            } else {
                // One byte more than it had: a file growing while read cannot make this read grow with it.
                let bytes = try file.read(count: Int(before.size) + 1, at: 0)
                guard Self.steady(before, try file.status(), read: UInt64(bytes.count)) else { continue }
                let leaves = ContentHash.leaves(of: bytes)
                hash = ContentHash.root(leaves: leaves, size: UInt64(bytes.count))
                size = UInt64(bytes.count)
                // The delta base: the same path's content in the parent snapshot (trees fetched only now, for
                // files that changed, so an unchanged tree costs no downloads).
                let base = await content.has(hash) ? nil : await previous.content(at: relative)
                try await content.store(bytes, leaves: leaves, previous: base)
            }
            // The bytes belong to this stat of the open file (it may be newer than the listing's).
            return Stored(hash: hash, size: size, cacheEntry: StatCache.Entry(stat: before, contentHash: hash), wasRead: true, stat: before)
        }
        throw ChangedWhileRead()
    }

    /// Whether a file read `read` bytes between two fstats that agree on its size and mtime.
    static func steady(_ before: FileStat, _ after: FileStat, read: UInt64) -> Bool {
        before.size == after.size && before.mtimeSeconds == after.mtimeSeconds && before.mtimeNanoseconds == after.mtimeNanoseconds
            && read == after.size
    }

    /// Lists one folder (on a lister thread): names in order, lstat, ignore rules, special and temporary
    /// files; reads its stat cache record.
    static func list(_ path: FSPath, _ relative: [UInt8], _ inherited: IgnoreRules, stateIdentity: (UInt64, UInt64)?,
                     cache: StatCache) -> Listing {
        var out = Listing(rules: inherited)
        func describe(_ rel: [UInt8]) -> String { String(decoding: rel, as: UTF8.self) }
        let listing: [(name: [UInt8], status: Result<FileStat, FileSystemError>)]
        do { listing = try FileSystem.namesWithStatus(in: path).sorted { $0.name.lexicographicallyPrecedes($1.name) } } catch {
            out.unreadable.append(Problem(path: relative.isEmpty ? "." : describe(relative), message: "\(error)"))
            return out
        }
        if listing.contains(where: { $0.name == Array(".cairnignore".utf8) }),
           let text = try? FileSystem.readFile(path.appending(Array(".cairnignore".utf8)), followSymlink: false) {
            out.rules.add(fileContents: text, base: relative)
        }
        for (name, result) in listing {
            if name == Array(LocalState.folderName.utf8) && (relative.isEmpty || LocalState.isStateFolder(name: name, path: path.appending(name))) { continue }
            let rel = relative.isEmpty ? name : relative + [0x2F] + name
            let st: FileStat
            switch result {
            case .success(let s): st = s
            case .failure(let e):
                out.unreadable.append(Problem(path: describe(rel), message: e.description))
                continue
            }
            if out.rules.isIgnored(rel, isDirectory: st.kind == .directory) { continue }
            // A file a killed checkout or restore was writing (`<name>.cairn-tmp-<pid>`) is not stored, and the
            // user is told (a file of theirs that merely looks like one is never dropped silently).
            if st.kind == .file, FileSystem.temporaryOwner(name) != nil {
                out.skipped.append(Problem(path: describe(rel),
                                           message: "looks like a temporary file of an interrupted checkout or restore; skipped (rename it to keep it)"))
                continue
            }
            if st.kind == .directory, let state = stateIdentity, state == (st.device, st.inode) { continue }
            switch st.kind {
            case .file: out.items.append(Item(name: name, stat: st, kind: .file))
            case .symlink: out.items.append(Item(name: name, stat: st, kind: .symlink))
            case .directory: out.items.append(Item(name: name, stat: st, kind: .directory))
            case .other:
                out.skipped.append(Problem(path: describe(rel), message: "not a regular file, directory or symlink; skipped"))
            }
        }
        if out.items.contains(where: { $0.kind == .file }) { out.cached = cache.folder(relative) }
        return out
    }
}

/// At most `count` holders at once; `acquire` waits without blocking a thread.
final class AsyncLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>
    init(_ count: Int) { state = Mutex(State(available: max(1, count))) }

    func acquire() async {
        let granted = state.withLock { s -> Bool in
            if s.available > 0 { s.available -= 1; return true }
            return false
        }
        if granted { return }
        await withCheckedContinuation { c in
            let now = state.withLock { s -> Bool in
                if s.available > 0 { s.available -= 1; return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func release() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.available += 1; return nil }
            return s.waiters.removeFirst()
        }
        waiter?.resume()
    }
}

/// Up to `count` tokens, taken only if free (never waited for).
final class Budget: Sendable {
    private let left: Mutex<Int>
    init(_ count: Int) { left = Mutex(count) }
    func tryTake() -> Bool { left.withLock { n in if n > 0 { n -= 1; return true }; return false } }
    func give() { left.withLock { $0 += 1 } }
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
    /// Trees read, by id: a depth-first walk asks for the same few ancestors again and again. Bounded: a
    /// whole parent snapshot of a large worktree is never held.
    private var trees: [ObjectID: Tree] = [:]
    static let treesKept = 256

    private func keep(_ id: ObjectID, _ tree: Tree) {
        if trees.count >= Self.treesKept { trees.removeAll(keepingCapacity: true) }
        trees[id] = tree
    }

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
        guard let e = await entry(at: path), e.kind == .directory else { return nil }
        return ObjectID(e.hash)
    }

    /// The parent snapshot's tree of the folder at `path` ([] for the root); nil when there is no folder
    /// there; fails when a tree on the way cannot be read.
    private func folder(at path: [UInt8]) async throws -> Tree? {
        var tree: Tree
        switch root {
        case nil: return nil
        case .loaded(let t): tree = t
        case .id(let id):
            tree = try await objects.tree(id)
            root = .loaded(tree)
        }
        for name in path.split(separator: 0x2F).map(Array.init) {
            guard let e = tree.entry(named: name), e.kind == .directory, let id = ObjectID(e.hash) else { return nil }
            if let cached = trees[id] { tree = cached; continue }
            tree = try await objects.tree(id)
            keep(id, tree)
        }
        return tree
    }

    /// The entry at `path`, failing when a tree on the way cannot be read (where "absent" would be
    /// taken as "nothing to lose").
    func strictEntry(at path: [UInt8]) async throws -> TreeEntry? {
        let parts = path.split(separator: 0x2F)
        guard let name = parts.last, let tree = try await folder(at: Array(parts.dropLast().joined(separator: [0x2F]))) else { return nil }
        return tree.entry(named: Array(name))
    }

    /// The entry at `path` in the parent snapshot; nil also when a tree on the way cannot be read (a delta
    /// base that cannot be had only means a keyframe).
    func entry(at path: [UInt8]) async -> TreeEntry? {
        (try? await strictEntry(at: path)) ?? nil
    }

    /// The content hash of the file at `path` in the parent snapshot.
    func content(at path: [UInt8]) async -> [UInt8]? {
        guard let e = await entry(at: path), e.kind == .file else { return nil }
        return e.hash
    }
}
