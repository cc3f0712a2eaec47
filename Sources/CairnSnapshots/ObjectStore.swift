import CairnFiles
import CairnDelta
import CairnFormats
import CairnGrid
import CairnPrimitives

public enum StoreError: Error, CustomStringConvertible {
    case missingObject(ObjectID)
    /// No index segment says how to rebuild this content.
    case missingContent([UInt8])
    case damaged(String)
    /// This command's index additions could not be kept on disk (`.cairn/segments`, or $TMPDIR).
    case additions(FileSystemError)
    /// A byte range that is not inside the content asked for.
    case outOfRange(String)

    public var description: String {
        switch self {
        case .additions(let e): return "cannot keep this command's index additions on disk: \(e)"
        case .missingObject(let id): return "object \(id.short) is not in the repository"
        case .missingContent(let hash): return "content \(Hex.encode(Array(hash.prefix(6)))) is not in the repository's index"
        case .damaged(let m), .outOfRange(let m): return m
        }
    }
}

/// Reads and writes a repository's objects on the grid. New objects collect in a pack that is
/// uploaded when it reaches the target size or at `flush()`; payloads too big to inline get caps of
/// their own. All caps are convergent under the repository's own secret, so re-running an interrupted
/// commit re-finds what it uploaded.
public actor ObjectStore {
    public static let inlineLimit = 512 << 10
    /// File versions up to this size (a cap reference, or a tiny inline file) live in metadata packs.
    public static let metadataObjectLimit = 1024
    /// Packs kept in memory, least recently used first out (long walks: check --read-data, big checkouts),
    /// at most this many and this many bytes (a first commit of a million files writes hundreds of packs).
    static let cachedPacks = 32
    static let cachedPackBytes = 32 << 20
    /// This store's bounds (a walk over a whole history, as a git export, raises them: its reads jump
    /// between the packs of a path's versions, and each pack dropped is downloaded again).
    private var packLimit = (count: cachedPacks, bytes: cachedPackBytes)

    /// Keeps up to `count` packs and `bytes` bytes of them.
    public func setPackCache(count: Int, bytes: Int) { packLimit = (count, bytes) }

    let grid: Grid
    public private(set) var index: RepoIndex
    /// Snapshots and trees go to metadata packs, file versions to data packs, so that walking history
    /// (log, restore of one file, the trees of a commit) downloads only small metadata packs.
    private var pending = PackBuilder()
    private var pendingData = PackBuilder()
    private var pendingObjects: [ObjectID: [UInt8]] = [:]
    /// Whole bytes held for the pending metadata pack: tree deltas are small in the pack but each keeps
    /// its whole tree here until the upload, so a pack of thousands of deltas of large folders is sent
    /// early rather than held (an imported history once peaked near 500 MB this way).
    private var pendingRaw = 0
    static let pendingRawLimit = 32 << 20
    /// Objects of packs being uploaded right now (readable, not yet in the index).
    private var uploading: [ObjectID: [UInt8]] = [:]
    private var uploadsInFlight = 0
    private var uploadsDone: [CheckedContinuation<Void, Never>] = []
    /// The first upload that failed: nothing may name this command's objects after it.
    private var uploadFailure: Error?
    private var packCache: [Int: (reader: PackReader, used: UInt64)] = [:]
    private var packCacheBytes = 0
    private var useClock: UInt64 = 0
    /// Packs being downloaded, so two readers of one pack wait for one download.
    private var packLoads: [Int: Task<PackReader, Error>] = [:]
    /// Trees stored as deltas: how many deltas from a whole tree each one read or written here is.
    private var treeDepths: [ObjectID: UInt16] = [:]
    /// A tree is stored as a delta on its base at most this many deltas deep (git packs' default depth):
    /// whole trees are most of a long history's metadata (an imported history's folders of a few hundred
    /// entries change a line at a time), and readers keep the trees they rebuilt (`recentTrees`).
    public static let maxTreeDepth: UInt16 = 50
    /// Trees read lately, rebuilt: a walk over history asks for the same bases again and again, and
    /// rebuilding each tree's chain anew cost up to 16 delta applications per tree read.
    private var recentTrees: [ObjectID: [UInt8]] = [:]
    private var recentTreeBytes = 0
    static let recentTreeLimit = 16 << 20

    private func rememberTree(_ id: ObjectID, _ bytes: [UInt8]) {
        if recentTreeBytes + bytes.count > Self.recentTreeLimit {
            recentTrees.removeAll(keepingCapacity: true)
            recentTreeBytes = 0
        }
        recentTrees[id] = bytes
        recentTreeBytes += bytes.count + 64
    }

    /// `grid` must carry the repository's convergence secret.
    public init(grid: Grid, index: RepoIndex) {
        self.grid = grid
        self.index = index
    }

    public func containsAll(_ ids: [ObjectID]) -> [Bool] { ids.map { contains($0) } }

    /// Puts many objects with one hop onto the actor.
    public func putAll(_ objects: [[UInt8]]) async throws {
        for bytes in objects { try await put(bytes) }
    }

    public func contains(_ id: ObjectID) -> Bool {
        index.location(of: id) != nil || pendingObjects[id] != nil || uploading[id] != nil
    }

    /// Puts a tree as a VCDIFF delta on `base` (the same folder's tree in the parent snapshot) when that
    /// is at most a quarter of its size and the chain stays within `maxTreeDepth`; else whole.
    /// `baseBytes`: the base's bytes when the caller holds them (checked against its id), so a base whose
    /// pack was uploaded is not fetched back. `delta`: makes the delta from the base's bytes when the
    /// caller knows what the two share (an importer that built the tree from its base), sparing the
    /// search; nil from it means search.
    @discardableResult
    public func put(_ bytes: [UInt8], deltaBase base: ObjectID?, baseBytes known: [UInt8]? = nil,
                    delta makeDelta: (@Sendable ([UInt8]) -> [UInt8]?)? = nil) async throws -> ObjectID {
        let id = ObjectCoding.id(of: bytes)
        guard let base, base != id, !contains(id), ObjectCoding.kind(of: bytes) == .tree, bytes.count <= PackBuilder.maxDeltaTarget,
              let depth = treeDepths[base], depth < Self.maxTreeDepth else {
            return try await put(bytes)
        }
        // Bytes held here need no check; the caller's are checked against the base's id.
        var baseBytes = pendingObjects[base] ?? uploading[base] ?? recentTrees[base]
        if baseBytes == nil { baseBytes = known.flatMap { ObjectCoding.id(of: $0) == base ? $0 : nil } }
        if baseBytes == nil { baseBytes = try? await get(base) }
        guard let baseBytes else { return try await put(bytes) }
        let delta = makeDelta?(baseBytes) ?? VCDIFF.encode(source: baseBytes, target: bytes)
        guard delta.count * 4 <= bytes.count, !contains(id) else { return try await put(bytes) }
        pendingObjects[id] = bytes
        treeDepths[id] = depth + 1
        pending.addDelta(id, rawLength: bytes.count, base: base, depth: depth + 1, delta: delta)
        pendingRaw += bytes.count
        if pending.byteCount >= PackBuilder.targetSize || pendingRaw >= Self.pendingRawLimit { try await flush(data: false) }
        return id
    }

    /// `metadata`: into a metadata pack whatever its size (a big file's chunk list, which restoring one
    /// file reads before any data).
    @discardableResult
    public func put(_ bytes: [UInt8], metadata: Bool = false) async throws -> ObjectID {
        try await put(bytes, id: ObjectCoding.id(of: bytes), metadata: metadata)
    }

    /// As `put(_:metadata:)` with the id computed by the caller, off this actor: hashing a megabyte chunk
    /// here would make every store wait for it in turn.
    @discardableResult
    func put(_ bytes: [UInt8], id: ObjectID, metadata: Bool = false) async throws -> ObjectID {
        if contains(id) { return id }
        pendingObjects[id] = bytes
        if ObjectCoding.kind(of: bytes) == .tree { treeDepths[id] = 0 }
        // Large file versions (inline payloads) go to data packs; small objects, including versions whose
        // payload is a cap of its own, to metadata packs, so restoring one big file fetches no data pack.
        if !metadata && ObjectCoding.kind(of: bytes) == .fileVersion && bytes.count > Self.metadataObjectLimit {
            // Payloads were already compressed (or found incompressible) by the content store.
            pendingData.add(id, bytes, compress: false)
            if pendingData.byteCount >= PackBuilder.targetSize { try await flushDataInBackground() }
        } else {
            // A file version's payload went through the compression probe already: its header (sizes,
            // hashes) would not shrink, and compressing it again cost a second igzip call per small file.
            pending.add(id, bytes, compress: ObjectCoding.kind(of: bytes) != .fileVersion)
            pendingRaw += bytes.count
        if pending.byteCount >= PackBuilder.targetSize || pendingRaw >= Self.pendingRawLimit { try await flush(data: false) }
        }
        return id
    }

    public func get(_ id: ObjectID) async throws -> [UInt8] {
        // Writers keep chains within maxTreeDepth by their own view of the base; two writers may each
        // have stored the same base at another depth, so readers allow a few times that.
        try await get(id, budget: 4 * Int(Self.maxTreeDepth) + 1)
    }

    /// `budget` bounds the delta chain followed, whatever a damaged record claims.
    private func get(_ id: ObjectID, budget: Int) async throws -> [UInt8] {
        if let b = pendingObjects[id] ?? uploading[id] ?? recentTrees[id] { return b }
        guard let n = index.location(of: id) else { throw StoreError.missingObject(id) }
        let reader = try await pack(n)
        switch try reader.record(id) {
        case nil:
            throw StoreError.damaged("pack \(n) does not hold object \(id.short) although the index says so")
        case .full(let bytes)?:
            if ObjectCoding.kind(of: bytes) == .tree {
                treeDepths[id] = 0
                rememberTree(id, bytes)
            }
            return bytes
        case .delta(let base, let depth, let delta, let rawLength)?:
            guard budget > 1 else { throw StoreError.damaged("object \(id.short): delta chain longer than \(4 * Self.maxTreeDepth)") }
            let source = try await get(base, budget: budget - 1)
            let bytes: [UInt8]
            do { bytes = try VCDIFF.apply(delta, to: source, maxTargetSize: rawLength) } catch {
                throw StoreError.damaged("object \(id.short): its delta does not apply: \(error)")
            }
            guard bytes.count == rawLength, ObjectCoding.id(of: bytes) == id else {
                throw StoreError.damaged("object \(id.short) does not match its id")
            }
            treeDepths[id] = depth
            rememberTree(id, bytes)
            return bytes
        }
    }

    /// An object read by byte ranges of its pack (the pack's head, its table, then the one record) unless
    /// the pack is here already: a ranged read of a big file needs a chunk or two, not the data packs
    /// around them.
    public func getByRange(_ id: ObjectID, checkID: Bool = true) async throws -> [UInt8] {
        if let b = pendingObjects[id] ?? uploading[id] { return b }
        guard let n = index.location(of: id) else { throw StoreError.missingObject(id) }
        if packCache[n] != nil || packLoads[n] != nil { return checkID ? try await get(id) : try await getUnchecked(id) }
        guard case .read(let readCap) = try Cap(parsing: index.packs[n]) else { return try await get(id) }
        let cap = Cap.read(readCap), grid = self.grid
        let downloader = Downloader(grid: grid)
        let count = try PackReader.entryCount(head: try await downloader.bytes(cap, range: 0..<12), packSize: readCap.size)
        let head = try await downloader.bytes(cap, range: 0..<UInt64(PackReader.tableStart + count * PackBuilder.entrySize))
        guard let e = try PackReader.locate(id, head: head, packSize: readCap.size) else {
            throw StoreError.damaged("pack \(n) does not hold object \(id.short) although the index says so")
        }
        let stored = try await downloader.bytes(cap, range: UInt64(e.offset)..<(UInt64(e.offset) + UInt64(e.stored)))
        switch try PackReader.decode(id, e, stored: stored, checkID: checkID) {
        case .full(let bytes): return bytes
        case .delta: return try await get(id)  // trees only: never a chunk
        }
    }

    /// How many packs are held in memory (tests: a ranged read holds no data pack).
    var packsInMemory: Int { packCache.count }

    /// A whole object without its id check, for a caller that checks what it rebuilds from it (a big
    /// file's chunk versions, whose bytes are checked against the file's leaves): hashing every chunk
    /// here, on the actor, made them wait for each other.
    func getUnchecked(_ id: ObjectID) async throws -> [UInt8] {
        if let b = pendingObjects[id] ?? uploading[id] { return b }
        guard let n = index.location(of: id) else { throw StoreError.missingObject(id) }
        let reader = try await pack(n)
        guard case .full(let bytes)? = try reader.record(id, checkID: false) else { return try await get(id) }
        return bytes
    }

    /// Pack `n`, from memory or downloaded once however many readers ask at the same time.
    private func pack(_ n: Int) async throws -> PackReader {
        useClock += 1
        if let cached = packCache[n] {
            packCache[n] = (cached.reader, useClock)
            return cached.reader
        }
        if let loading = packLoads[n] { return try await loading.value }
        let grid = self.grid, capText = index.packs[n]
        let task = Task { () throws -> PackReader in
            let cap = try Cap(parsing: capText)
            return try PackReader(try await Downloader(grid: grid).bytes(cap))
        }
        packLoads[n] = task
        defer { packLoads[n] = nil }
        let reader = try await task.value
        remember(n, reader)
        return reader
    }

    private func remember(_ n: Int, _ reader: PackReader) {
        useClock += 1
        if let old = packCache.removeValue(forKey: n) { packCacheBytes -= old.reader.bytes.count }
        while !packCache.isEmpty && (packCache.count >= packLimit.count || packCacheBytes + reader.bytes.count > packLimit.bytes),
              let victim = packCache.min(by: { $0.value.used < $1.value.used })?.key {
            packCacheBytes -= packCache.removeValue(forKey: victim)?.reader.bytes.count ?? 0
        }
        packCache[n] = (reader, useClock)
        packCacheBytes += reader.bytes.count
    }

    public func snapshot(_ id: ObjectID) async throws -> Snapshot { try Snapshot(decoding: try await get(id)) }
    public func tree(_ id: ObjectID) async throws -> Tree { try Tree(decoding: try await get(id)) }
    public func fileVersion(_ id: ObjectID) async throws -> FileVersion { try FileVersion(decoding: try await get(id)) }
    public func annotatedTag(_ id: ObjectID) async throws -> AnnotatedTag { try AnnotatedTag(decoding: try await get(id)) }

    public func recordContent(_ hash: [UInt8], version: ObjectID, depth: UInt16) throws {
        try index.recordContent(hash, version: version, depth: depth)
    }

    public func hasContents(_ hashes: [[UInt8]]) -> [Bool] { hashes.map { version(forContent: $0) != nil } }

    /// The version that rebuilds `hash`: only one whose object is really here (a known pack, or this
    /// command's own), never an index entry alone.
    public func version(forContent hash: [UInt8]) -> ObjectID? {
        guard let v = index.version(forContent: hash), contains(v) else { return nil }
        return v
    }

    /// Uploads a payload as a cap of its own (for large files and deltas). Not synced: `saveSegment`
    /// syncs every server once before the segment (and so the commit) can refer to it.
    public nonisolated func putLarge(_ bytes: [UInt8]) async throws -> String {
        try await Uploader(grid: grid).putUnsynced(MemorySource(bytes)).string
    }

    public func getLarge(_ cap: String) async throws -> [UInt8] {
        try await Downloader(grid: grid).bytes(try Cap(parsing: cap))
    }

    /// Uploads the pending packs, if any. A pack is taken out of `pending` before the upload awaits, so
    /// objects put meanwhile (the actor is reentrant) start the next pack instead of being lost.
    public func flushPack() async throws {
        try await flush(data: true)
        try await flush(data: false)
    }

    /// Data packs uploading at once behind the puts; a put that fills one more waits for a slot. So a big
    /// file's reader goes on cutting and hashing while the packs before are encrypted, coded and written
    /// (both cores busy), and at most this many packs are held for upload.
    static let dataUploadsAtOnce = 2
    private var dataUploads = 0
    private var dataUploadSlots: [CheckedContinuation<Void, Never>] = []

    private func flushDataInBackground() async throws {
        while dataUploads >= Self.dataUploadsAtOnce { await withCheckedContinuation { dataUploadSlots.append($0) } }
        if let uploadFailure { throw uploadFailure }
        // Another put may have sent it while this one waited. Taken here, before any suspension, so
        // `saveSegment` finds it either pending or counted in `uploadsInFlight`.
        guard pendingData.byteCount >= PackBuilder.targetSize, let taken = take(data: true) else { return }
        dataUploads += 1
        // A failure is kept in `uploadFailure` for the next put and for the segment.
        Task {
            try? await self.upload(taken)
            self.dataUploadFinished()
        }
    }

    /// Every waiter looks again (one woken at a time could be left waiting when the pack it wanted to
    /// send had gone with another upload).
    private func dataUploadFinished() {
        dataUploads -= 1
        let waiting = dataUploadSlots
        dataUploadSlots = []
        for w in waiting { w.resume() }
    }

    /// A pack taken out of `pending` (or `pendingData`) for upload; its objects stay readable meanwhile.
    private struct Taken: Sendable {
        let builder: PackBuilder
        let ids: [ObjectID]
        let data: Bool
    }

    /// Takes the pending pack, if any (synchronously: objects put from now on start the next pack).
    private func take(data: Bool) -> Taken? {
        let builder = data ? pendingData : pending
        guard !builder.isEmpty else { return nil }
        if data { pendingData = PackBuilder() } else { pending = PackBuilder(); pendingRaw = 0 }
        let ids = builder.ids
        for id in ids { if let bytes = pendingObjects.removeValue(forKey: id) { uploading[id] = bytes } }
        uploadsInFlight += 1
        return Taken(builder: builder, ids: ids, data: data)
    }

    private func flush(data: Bool) async throws {
        guard let taken = take(data: data) else { return }
        try await upload(taken)
    }

    private func upload(_ taken: Taken) async throws {
        defer {
            for id in taken.ids { uploading[id] = nil }
            uploadsInFlight -= 1
            if uploadsInFlight == 0 {
                for waiter in uploadsDone { waiter.resume() }
                uploadsDone = []
            }
        }
        let bytes = taken.builder.build()
        do {
            let cap = try await Uploader(grid: grid).putUnsynced(MemorySource(bytes))
            let n = try index.addPack(cap: cap.string, ids: taken.ids)
            // A metadata pack just written holds the trees the next commit's deltas start from (and this
            // one's snapshot); a data pack is rarely read again by the command that wrote it.
            if !taken.data { remember(n, try PackReader(bytes)) }
        } catch {
            if uploadFailure == nil { uploadFailure = error }
            throw error
        }
    }

    /// Flushes the pending packs, waits for every upload, makes them durable and uploads what this
    /// command added to the index as one segment; returns its cap and the segment file, which the caller
    /// owns (a repository keeps it as its cached copy); nil when nothing was added.
    public func saveSegment() async throws -> (cap: String, file: FSPath)? {
        try await flushPack()
        if uploadsInFlight > 0 { await withCheckedContinuation { uploadsDone.append($0) } }
        if let uploadFailure { throw uploadFailure }
        guard index.hasAdditions else { return nil }
        // Everything the segment names must be durable before the segment is.
        try await Self.syncAll(grid)
        guard let (path, _) = try index.writeAddedSegment() else { return nil }
        do {
            return (try await Uploader(grid: grid).put(try FileSource(path: path.description)).string, path)
        } catch {
            _ = try? FileSystem.unlink(path)
            throw error
        }
    }

    static func syncAll(_ grid: Grid) async throws {
        let failures = await grid.syncAll()
        if !failures.isEmpty {
            throw GridError.io(path: "grid", reason: "could not make the commit's data durable: " + failures.values.sorted().joined(separator: "; "))
        }
    }

    public static func loadSegment(grid: Grid, cap: String) async throws -> [UInt8] {
        try await Downloader(grid: grid).bytes(try Cap(parsing: cap))
    }
}
