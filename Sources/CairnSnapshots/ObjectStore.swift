import CairnFormats
import CairnGrid
import CairnPrimitives

public enum StoreError: Error, CustomStringConvertible {
    case missingObject(ObjectID)
    case damaged(String)

    public var description: String {
        switch self {
        case .missingObject(let id): return "object \(id.short) is not in the repository"
        case .damaged(let m): return m
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

    let grid: Grid
    public private(set) var index: RepoIndex
    /// Snapshots and trees go to metadata packs, file versions to data packs, so that walking history
    /// (log, restore of one file, the trees of a commit) downloads only small metadata packs.
    private var pending = PackBuilder()
    private var pendingData = PackBuilder()
    private var pendingObjects: [ObjectID: [UInt8]] = [:]
    /// Objects of packs being uploaded right now (readable, not yet in the index).
    private var uploading: [ObjectID: [UInt8]] = [:]
    private var packCache: [Int: PackReader] = [:]

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
        index.location[id] != nil || pendingObjects[id] != nil || uploading[id] != nil
    }

    @discardableResult
    public func put(_ bytes: [UInt8]) async throws -> ObjectID {
        let id = ObjectCoding.id(of: bytes)
        if contains(id) { return id }
        pendingObjects[id] = bytes
        // Large file versions (inline payloads) go to data packs; small objects, including versions whose
        // payload is a cap of its own, to metadata packs, so restoring one big file fetches no data pack.
        if ObjectCoding.kind(of: bytes) == .fileVersion && bytes.count > Self.metadataObjectLimit {
            // Payloads were already compressed (or found incompressible) by the content store.
            pendingData.add(id, bytes, compress: false)
            if pendingData.byteCount >= PackBuilder.targetSize { try await flush(data: true) }
        } else {
            pending.add(id, bytes)
            if pending.byteCount >= PackBuilder.targetSize { try await flush(data: false) }
        }
        return id
    }

    public func get(_ id: ObjectID) async throws -> [UInt8] {
        if let b = pendingObjects[id] ?? uploading[id] { return b }
        guard let n = index.location[id] else { throw StoreError.missingObject(id) }
        if packCache[n] == nil {
            let cap = try Cap(parsing: index.packs[n])
            let bytes = try await Downloader(grid: grid).bytes(cap)
            // Keep memory bounded on long walks (check --read-data, big checkouts): at most 32 packs.
            if packCache.count >= 32, let victim = packCache.keys.first { packCache[victim] = nil }
            packCache[n] = try PackReader(bytes)
        }
        guard let b = try packCache[n]!.object(id) else {
            throw StoreError.damaged("pack \(n) does not hold object \(id.short) although the index says so")
        }
        return b
    }

    public func snapshot(_ id: ObjectID) async throws -> Snapshot { try Snapshot(decoding: try await get(id)) }
    public func tree(_ id: ObjectID) async throws -> Tree { try Tree(decoding: try await get(id)) }
    public func fileVersion(_ id: ObjectID) async throws -> FileVersion { try FileVersion(decoding: try await get(id)) }

    public func recordContent(_ hash: [UInt8], version: ObjectID) { index.recordContent(hash, version: version) }
    public func version(forContent hash: [UInt8]) -> ObjectID? { index.dedup[ByteKey(hash)] }

    /// Uploads a payload as a cap of its own (for large files and deltas). Not synced: `saveIndex`
    /// syncs every server once before the index (and so the commit) can refer to it.
    public nonisolated func putLarge(_ bytes: [UInt8]) async throws -> String {
        try await Uploader(grid: grid).putUnsynced(MemorySource(bytes)).string
    }

    public func getLarge(_ cap: String) async throws -> [UInt8] {
        try await Downloader(grid: grid).bytes(try Cap(parsing: cap))
    }

    /// Uploads the pending pack, if any. The pack is taken out of `pending` before the upload awaits,
    /// so objects put meanwhile (the actor is reentrant) start the next pack instead of being lost.
    public func flushPack() async throws {
        try await flush(data: true)
        try await flush(data: false)
    }

    private func flush(data: Bool) async throws {
        let builder = data ? pendingData : pending
        guard !builder.isEmpty else { return }
        if data { pendingData = PackBuilder() } else { pending = PackBuilder() }
        var objects: [ObjectID: [UInt8]] = [:]
        for id in builder.ids { objects[id] = pendingObjects.removeValue(forKey: id) }
        for (id, bytes) in objects { uploading[id] = bytes }
        defer { for id in objects.keys { uploading[id] = nil } }
        let bytes = builder.build()
        let cap = try await Uploader(grid: grid).putUnsynced(MemorySource(bytes))
        index.addPack(cap: cap.string, ids: builder.ids)
        packCache[index.packs.count - 1] = try PackReader(bytes)
    }

    /// Flushes the pending pack and uploads the index; returns the index's cap.
    public func saveIndex() async throws -> String {
        try await flushPack()
        while !uploading.isEmpty { await Task.yield() }  // packs still being uploaded by other calls
        // Everything the index names must be durable before the index is.
        let failures = await grid.syncAll()
        if !failures.isEmpty {
            throw GridError.io(path: "grid", reason: "could not make the commit's data durable: " + failures.values.sorted().joined(separator: "; "))
        }
        return try await Uploader(grid: grid).put(MemorySource(index.encoded)).string
    }

    public static func loadIndex(grid: Grid, cap: String) async throws -> RepoIndex {
        try RepoIndex(decoding: try await Downloader(grid: grid).bytes(try Cap(parsing: cap)))
    }
}
