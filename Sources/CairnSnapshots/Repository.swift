import CairnFiles
import Synchronization
import CairnFormats
import CairnGrid
import CairnPrimitives

/// Creates and opens ref stores; the grid implementation is a mutable slot (SlotRefStore).
public protocol RefStoreProvider: Sendable {
    /// Makes a new store holding `refs`; returns it with its write cap.
    func create(grid: Grid, refs: Refs) async throws -> (store: any RefStore, writeCap: String)
    func open(grid: Grid, cap: String) throws -> any RefStore
    /// The read cap for a write cap (for `cairn cap` and read-only clones).
    func readCap(for cap: String) throws -> String
}

/// A worktree, its local state, its grid and its refs.
public struct Repository: Sendable {
    public let state: LocalState
    public let workTree: FSPath
    public let config: RepoConfig
    public let baseGrid: Grid
    public let refStore: any RefStore
    public let provider: any RefStoreProvider

    /// Finds the state folder: `.cairn` in `start` or the nearest parent that has one.
    public static func find(from start: FSPath) throws -> LocalState {
        var dir = start
        while true {
            let candidate = dir.appending(Array(LocalState.folderName.utf8))
            if FileSystem.exists(candidate.appending(Array("config".utf8))) { return LocalState(dir: candidate) }
            let parent = dir.parent
            if parent == dir || dir.bytes == [0x2F] { throw RepositoryError.notARepository(start.description) }
            dir = parent
        }
    }

    /// Opens the repository whose state is `state`, its grid through `grids` (as configured, by default).
    public static func open(state: LocalState, provider: any RefStoreProvider,
                            grids: any GridOpener = ConfiguredGrids()) throws -> Repository {
        let configPath = state.path("config").description
        guard let text = try? state.readText("config") else { throw RepositoryError.notARepository(state.dir.parent.description) }
        let config = try RepoConfig(parsing: text, path: configPath)
        let grid = try grids.open(at: config.grid)
        let store = try provider.open(grid: grid, cap: config.slotCap)
        let workTree = config.workTree.map { FSPath($0) } ?? state.dir.parent
        return Repository(state: state, workTree: workTree, config: config, baseGrid: grid, refStore: store, provider: provider)
    }

    /// Makes a new repository: a fresh convergence secret and an empty refs slot on the grid, then the
    /// local state. Returns the repository and its write cap (printed once by `cairn init`).
    public static func initialize(state: LocalState, workTree: FSPath?, gridPath: String, grid: Grid,
                                  provider: any RefStoreProvider, branch: String = "main") async throws -> (Repository, String) {
        if FileSystem.exists(state.path("config")) { throw RepositoryError.alreadyARepository(state.dir.parent.description) }
        if let st = try? FileSystem.linkStatus(state.dir), st.kind != .directory {
            throw RepositoryError.corruptState(state.dir.description, "it exists and is not a folder: move it away, then run 'cairn init' again")
        }
        let refs = Refs(secret: SecureRandom.bytes(32))
        let (store, writeCap) = try await provider.create(grid: grid, refs: refs)
        try FileSystem.makeDirectories(state.dir)
        try FileSystem.setPermissions(state.dir, 0o700)
        let config = RepoConfig(grid: gridPath, slotCap: writeCap, workTree: workTree?.description)
        try state.write("HEAD", Array(Head.branch(branch).text.utf8))
        try state.write("seen", Array("1\n".utf8))
        try state.write("config", Array(config.text.utf8))
        let repo = Repository(state: state, workTree: workTree ?? state.dir.parent, config: config, baseGrid: grid,
                              refStore: store, provider: provider)
        return (repo, writeCap)
    }

    /// Clones: local state pointing at an existing slot (a read cap gives a read-only clone).
    public static func clone(cap: String, state: LocalState, gridPath: String, grid: Grid,
                             provider: any RefStoreProvider) async throws -> Repository {
        if FileSystem.exists(state.path("config")) { throw RepositoryError.alreadyARepository(state.dir.parent.description) }
        let store = try provider.open(grid: grid, cap: cap)
        let (refs, version) = try await store.load()
        try FileSystem.makeDirectories(state.dir)
        try FileSystem.setPermissions(state.dir, 0o700)
        // The repository's default branch, as git clone checks out the remote's HEAD.
        let branches = refs.branches
        let branch = refs.defaultBranchName.flatMap { branches[$0] != nil ? $0 : nil }
            ?? (branches["main"] != nil ? "main" : branches.isEmpty ? (refs.defaultBranchName ?? "main") : branches.keys.sorted()[0])
        try state.write("HEAD", Array(Head.branch(branch).text.utf8))
        try state.write("seen", Array("\(version)\n".utf8))
        try state.write("base", Array(((refs.branches[branch]?.hex ?? "") + "\n").utf8))
        let config = RepoConfig(grid: gridPath, slotCap: cap, workTree: nil)
        try state.write("config", Array(config.text.utf8))
        return Repository(state: state, workTree: state.dir.parent, config: config, baseGrid: grid, refStore: store, provider: provider)
    }

    // MARK: refs and objects

    /// Loads refs, refusing a version older than one this client has seen.
    public func loadRefs() async throws -> (refs: Refs, version: UInt64) {
        let (refs, version) = try await refStore.load()
        let seen = UInt64((try state.readText("seen") ?? "0").trimmingCharacters(in: "\n ")) ?? 0
        if version < seen { throw RepositoryError.rollback(seen: seen, got: version) }
        if version > seen { try state.write("seen", Array("\(version)\n".utf8)) }
        try reconcilePending(refs, holdingLock: false)
        return (refs, version)
    }

    /// The grid with the repository's own convergence secret: its caps never match another grid user's.
    public func repositoryGrid(_ refs: Refs) -> Grid {
        Grid(parameters: baseGrid.parameters, convergenceSecret: refs.secret, servers: baseGrid.servers,
             primaryHolders: baseGrid.primaryHolders)
    }

    public func objectStore(_ refs: Refs) async throws -> ObjectStore {
        let grid = repositoryGrid(refs)
        // This command's additions spill, and its segment is written, beside the cached segments.
        let folder = state.path("segments")
        let usable = (try? FileSystem.makeDirectories(folder)) != nil
        var index = RepoIndex(folder: usable ? folder.description : RepoIndex.temporaryFolder)
        for (n, cap) in refs.segments.enumerated() {
            index.append(try await segment(cap, number: n, of: refs.segments.count, grid: grid))
        }
        tidySegmentCache(keeping: refs.segments)
        return ObjectStore(grid: grid, index: index)
    }

    /// An index segment: mapped from `.cairn/segments/` (segments are immutable, so a cached copy never
    /// goes stale), else read from the grid into the cache (streamed to a file: a segment of a million
    /// files is 100 MB), checked whole and mapped.
    func segment(_ cap: String, number: Int, of count: Int, grid: Grid) async throws -> SegmentView {
        let path = state.path(Self.segmentCacheName(cap))
        // A binary search per folder of a commit reads pages in no useful order: on a cold cache, reading a
        // segment of up to 64 MB ahead costs one sequential read instead of a seek per page.
        if let mapped = try? MappedBytes(mapping: path, prefetchingUpTo: 64 << 20), let view = try? SegmentView(mapped, checkingOrder: false) { return view }
        let what = "index segment \(number + 1) of \(count) (\(cap.prefix(28))…)"
        func fetch(_ sink: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
            do { try await Downloader(grid: grid).get(try Cap(parsing: cap), sink: sink) } catch let e as GridError {
                switch e {
                case .notEnoughShares: throw RepositoryError.segmentUnavailable("\(what): \(e.description)")
                default: throw GridError.io(path: what, reason: e.description)
                }
            } catch let e as CapError {
                throw StoreError.damaged("\(what) has an invalid cap: \(e)")
            }
        }
        let folder = state.path("segments")
        guard (try? FileSystem.makeDirectories(folder)) != nil,
              let file = try? FileDescriptor.createTemporary(in: folder.description, prefix: "segment-") else {
            // No cache to be had (a read-only state folder): read the segment into memory.
            let box = SegmentBytes()
            try await fetch { box.append($0) }
            do { return try SegmentView(MappedBytes(copying: box.bytes)) } catch {
                throw StoreError.damaged("\(what) is damaged: \(error); run 'cairn check'")
            }
        }
        let temporary = FSPath(file.path)
        defer { _ = try? FileSystem.unlink(temporary) }  // renamed into place when all went well
        let written = SegmentBytes(file: file)
        try await fetch { try written.write($0) }
        try file.sync()
        let view: SegmentView
        do {
            let mapped = try MappedBytes(mapping: temporary)
            view = try SegmentView(mapped, checkingOrder: true)
            mapped.dropResidentPages()  // checked page by page; lookups touch only what they need
        } catch {
            throw StoreError.damaged("\(what) is damaged: \(error); run 'cairn check'")
        }
        try? FileSystem.rename(temporary, to: path)
        return view
    }

    /// Keeps a segment file this command wrote as the cached copy of `cap` (renamed; removed if it cannot be).
    func cacheSegment(_ cap: String, file: FSPath) {
        if (try? FileSystem.rename(file, to: state.path(Self.segmentCacheName(cap)))) == nil { _ = try? FileSystem.unlink(file) }
    }

    static func segmentCacheName(_ cap: String) -> String {
        "segments/" + Hex.encode(TaggedHash.hash(HashTag("cairn:segcache"), Array(cap.utf8), outputSize: 16))
    }

    /// Drops cached segments the refs no longer name (folded into others).
    /// Only copies older than an hour go: a commit running now may have cached the segment it is about
    /// to publish (read commands tidy without the worktree lock).
    func tidySegmentCache(keeping caps: [String]) {
        let keep = Set(caps.map { Self.segmentCacheName($0).dropFirst("segments/".count) })
        guard let names = try? FileSystem.names(in: state.path("segments")) else { return }
        let now = FileSystem.currentTimeSeconds()
        for name in names where !keep.contains(Substring(String(decoding: name, as: UTF8.self))) {
            let path = state.path("segments").appending(name)
            guard let st = try? FileSystem.linkStatus(path), now - st.modified > 3600 else { continue }
            try? FileSystem.remove(path)
        }
    }

    /// Folds `caps` (a run of the refs' segments) into one new segment, durable before it is named.
    /// Streamed: the segments' sorted tables are merged from their mapped copies into a file.
    func fold(_ caps: [String], grid: Grid) async throws -> String {
        var views: [SegmentView] = []
        for (n, cap) in caps.enumerated() { views.append(try await segment(cap, number: n, of: caps.count, grid: grid)) }
        let (path, _) = try IndexSegment.fold(views, folder: state.path("segments").description)
        let cap: String
        do { cap = try await Uploader(grid: grid).put(try FileSource(path: path.description)).string } catch {
            _ = try? FileSystem.unlink(path)
            throw error
        }
        cacheSegment(cap, file: path)
        return cap
    }

    public func head() throws -> Head {
        guard let text = try state.readText("HEAD") else { throw RepositoryError.corruptState(state.path("HEAD").description, "missing") }
        return try Head(parsing: text, path: state.path("HEAD").description)
    }

    public func setHead(_ head: Head) throws { try state.write("HEAD", Array(head.text.utf8)) }

    public func headSnapshot(_ refs: Refs) throws -> ObjectID? {
        switch try head() {
        case .branch(let b): return refs.branches[b]
        case .detached(let id): return id
        }
    }

    /// The snapshot the worktree was last committed or checked out at (nil before the first).
    /// Status compares against it, and a commit refuses when the branch has moved past it.
    public func base() throws -> ObjectID? { try baseRecord()?.snapshot }

    /// `base` holds the snapshot id and, when known, its tree id ("SNAPSHOT [TREE]"): with the tree id at
    /// hand a commit that changes nothing fetches no pack at all.
    public func baseRecord() throws -> (snapshot: ObjectID, tree: ObjectID?)? {
        guard let text = try state.readText("base") else { return nil }
        let parts = text.trimmingCharacters(in: "\n ").split(separator: " ")
        if parts.isEmpty { return nil }
        guard let id = ObjectID(hex: String(parts[0])), parts.count <= 2 else {
            throw RepositoryError.corruptState(state.path("base").description, "not a snapshot id")
        }
        let tree = parts.count == 2 ? ObjectID(hex: String(parts[1])) : nil
        if parts.count == 2 && tree == nil { throw RepositoryError.corruptState(state.path("base").description, "not a tree id") }
        return (id, tree)
    }

    public func setBase(_ id: ObjectID?, tree: ObjectID? = nil) throws {
        let line = [id?.hex, tree?.hex].compactMap { $0 }.joined(separator: " ")
        try state.write("base", Array((line + "\n").utf8))
    }

    /// A commit writes `pending` (the snapshot it is about to publish) before moving the ref and
    /// removes it after updating `base`. If it was killed in between, the next command finds out from
    /// the refs whether the publish happened and sets `base` accordingly.
    /// Callers that do not hold the worktree lock pass `holdingLock: false`: then it is done only if the
    /// lock is free, never under a running commit.
    public func reconcilePending(_ refs: Refs, holdingLock: Bool) throws {
        guard let text = try state.readText("pending") else { return }
        var lock: StateLock?
        if !holdingLock {
            lock = try? state.lock()
            if lock == nil { return }
        }
        defer { withExtendedLifetime(lock) {} }
        if let id = ObjectID(hex: text.trimmingCharacters(in: "\n ")), case .branch(let b) = try head(), refs.branches[b] == id {
            try setBase(id)
        }
        try FileSystem.remove(state.path("pending"))
    }

    /// The scan's start on the worktree file system's clock: the mtime of a stamp file written now (in
    /// the state folder; a worktree elsewhere may sit on another file system, hence the fallback).
    public func scanStamp() -> (Int64, UInt32)? {
        guard (try? FileSystem.linkStatus(state.dir))?.device == (try? FileSystem.linkStatus(workTree))?.device else { return nil }
        let path = state.path("scan-stamp")
        guard (try? FileSystem.writeAtomically(path, [], durability: .none)) != nil, let st = try? FileSystem.linkStatus(path) else { return nil }
        return (st.mtimeSeconds, st.mtimeNanoseconds)
    }

    public func statCache() -> StatCache {
        // A cache that cannot be read (another version, damage) only means files are read again.
        ((try? StatCache(reading: state.path("statcache"))) ?? nil) ?? .empty
    }
}

/// Where a segment being downloaded goes: appended to a file, or collected in memory.
final class SegmentBytes: Sendable {
    private let state = Mutex<(offset: UInt64, bytes: [UInt8])>((0, []))
    private let file: FileDescriptor?
    init(file: FileDescriptor? = nil) { self.file = file }

    func write(_ chunk: [UInt8]) throws {
        try state.withLock { s in
            try file?.write(chunk, at: s.offset)
            s.offset += UInt64(chunk.count)
        }
    }
    func append(_ chunk: [UInt8]) { state.withLock { $0.bytes += chunk } }
    var bytes: [UInt8] { state.withLock { $0.bytes } }
}
