import CairnDelta
import CairnPrimitives

/// Stores file contents as file versions: a keyframe, or a VCDIFF delta on the same path's previous
/// version when that is much smaller, with bounded chains (Documentation/Snapshots.md):
/// - a delta is used only when its stored size is at most `deltaRatio` of the full version's;
/// - a keyframe is forced at depth `maxDepth`, when the deltas since the last keyframe would
///   outweigh `chainFraction` of the full version's stored size, or when the keyframe the chain rests
///   on is more than `keyframeFactor` times the full version's stored size (a file that shrank).
/// So restoring any version reads at most one keyframe and `maxDepth` deltas, and never more than
/// (keyframeFactor + chainFraction) × a full copy.
public struct ContentStore: Sendable {
    public static let maxDepth: UInt16 = 16
    public static let chainFraction = 0.5
    /// Readers follow chains up to this deep, whatever policy wrote them.
    public static let readableDepth: UInt16 = 64

    /// How long chains may grow: a worktree's (`maxDepth`, `chainFraction`), or an imported history's,
    /// as deep as git packs (most of a long history's versions are small edits; a keyframe every 16 was
    /// most of its storage).
    public struct ChainPolicy: Sendable {
        public var maxDepth: UInt16
        public var chainFraction: Double
        public static let worktree = ChainPolicy(maxDepth: ContentStore.maxDepth, chainFraction: ContentStore.chainFraction)
        public static let history = ChainPolicy(maxDepth: 48, chainFraction: 2.0)
    }
    public let policy: ChainPolicy
    public static let deltaRatio = 0.5
    public static let keyframeFactor: UInt64 = 4

    public let objects: ObjectStore
    /// Recently stored or rebuilt contents: the next version of a path deltas against the one just
    /// stored, so its base is almost always here and the chain is not rebuilt from the grid.
    let recent: RecentContents
    /// Whether stored contents are kept in `recent`: worth it when one process stores many versions of
    /// the same paths (an import); a single commit stores each path once, and 100,000 small files kept
    /// there cost 20 MB for nothing.
    let remembersStored: Bool
    /// Cuts big files; keyed by the repository's secret.
    let chunker: Chunker

    /// `recentBytes`: how much rebuilt content is kept (a walk over a whole history keeps more, so a
    /// path's previous version is at hand when the next one is rebuilt on it).
    public init(objects: ObjectStore, remembersStored: Bool = true, recentBytes: Int = 32 << 20, policy: ChainPolicy = .worktree) {
        self.objects = objects
        self.policy = policy
        self.remembersStored = remembersStored
        recent = RecentContents(limit: recentBytes)
        chunker = Chunker(secret: objects.grid.convergenceSecret)
    }

    /// Stores `content` unless the repository already has it; returns its content hash. `previous`: the
    /// same path's content in the parent snapshot (the delta base). `leaves`: its leaf hashes, if known.
    @discardableResult
    public func store(_ content: [UInt8], leaves known: [Digest]? = nil, previous: [UInt8]?) async throws -> [UInt8] {
        let leaves = known ?? ContentHash.leaves(of: content)
        let hash = ContentHash.root(leaves: leaves, size: UInt64(content.count))
        if await objects.version(forContent: hash) != nil { return hash }
        let previousVersion: ObjectID? = if let previous { await objects.version(forContent: previous) } else { nil }
        try await storeWhole(content, hash: hash, leaves: leaves, previous: previousVersion, inlineLimit: ObjectStore.inlineLimit)
        return hash
    }

    /// As `store(_:leaves:previous:)` for an importer that has the base's bytes at hand (a git blob read
    /// from its source): `base` is asked for them only when the base version is not among the recent
    /// contents, so a chain is never rebuilt from the grid. Bytes that are not `previous` are not used.
    @discardableResult
    public func store(_ content: [UInt8], leaves known: [Digest]? = nil, previous: [UInt8]?, base: () throws -> [UInt8]?) async throws -> [UInt8] {
        let leaves = known ?? ContentHash.leaves(of: content)
        let hash = ContentHash.root(leaves: leaves, size: UInt64(content.count))
        if await objects.version(forContent: hash) != nil { return hash }
        var previousVersion: ObjectID?
        if let previous, let v = await objects.version(forContent: previous) {
            previousVersion = v
            if await recent.get(v) == nil, let bytes = try base(), ContentHash.of(bytes) == previous {
                await recent.remember(v, bytes)
            }
        }
        try await storeWhole(content, hash: hash, leaves: leaves, previous: previousVersion, inlineLimit: ObjectStore.inlineLimit)
        return hash
    }

    /// Stores one version of `content`: a keyframe, or a delta on the first of `bases` it pays to rest on.
    /// Payloads up to `inlineLimit` go into a pack (chunks of big files do), larger ones into a cap of their
    /// own. Returns the version's depth (0: a keyframe).
    @discardableResult
    func storeWhole(_ content: [UInt8], hash: [UInt8], leaves: [Digest], previous: ObjectID?, inlineLimit: Int) async throws -> UInt16 {
        try await storeWhole(content, hash: hash, leaves: leaves, bases: previous.map { [$0] } ?? [], inlineLimit: inlineLimit)
    }

    @discardableResult
    func storeWhole(_ content: [UInt8], hash: [UInt8], leaves: [Digest], bases: [ObjectID], inlineLimit: Int) async throws -> UInt16 {
        let (fullEncoding, fullPayload) = Self.pack(content)
        var version = FileVersion(contentHash: hash, size: UInt64(content.count), base: nil, depth: 0, chainBytes: 0,
                                  keyframeSize: UInt64(fullPayload.count), leafHashes: leaves.count > 1 ? leaves : [],
                                  encoding: fullEncoding, storedSize: UInt64(fullPayload.count),
                                  payloadSize: UInt64(content.count), storage: .inline([]))
        var payload = fullPayload
        // A base that cannot be rebuilt (damaged history) just means a keyframe: never block the backup.
        for previous in bases where content.count >= 64 {
            // A big file's chunk list is never a base: it would be rebuilt whole in memory, at every read.
            guard let prior = try? await objects.fileVersion(previous), prior.chunks == nil, prior.depth < policy.maxDepth,
                  prior.size > 0, let base = try? await self.content(of: previous) else { continue }
            let delta = VCDIFF.encode(source: base, target: content)
            let (deltaEncoding, deltaPayload) = Self.pack(delta)
            let (chain, overflow) = prior.chainBytes.addingReportingOverflow(UInt64(deltaPayload.count))
            if !overflow, Double(deltaPayload.count) <= Double(fullPayload.count) * Self.deltaRatio,
               Double(chain) <= Double(fullPayload.count) * policy.chainFraction,
               prior.keyframeSize / Self.keyframeFactor <= UInt64(fullPayload.count) {
                version.base = previous
                version.depth = prior.depth + 1
                version.chainBytes = chain
                version.keyframeSize = prior.keyframeSize
                version.encoding = deltaEncoding
                version.storedSize = UInt64(deltaPayload.count)
                version.payloadSize = UInt64(delta.count)
                payload = deltaPayload
                break
            }
        }
        version.storage = payload.count <= inlineLimit ? .inline(payload) : .cap(try await objects.putLarge(payload))
        let encoded = version.encoded
        let id = try await objects.put(encoded, id: ObjectCoding.id(of: encoded))
        try await objects.recordContent(hash, version: id, depth: version.depth)
        if remembersStored && inlineLimit == ObjectStore.inlineLimit { await recent.remember(id, content) }
        return version.depth
    }

    /// The bytes whose content hash is `hash` (a file's or a symlink target's), rebuilt and checked.
    public func content(forHash hash: [UInt8]) async throws -> [UInt8] {
        guard let version = await objects.version(forContent: hash) else {
            throw StoreError.missingContent(hash)
        }
        return try await content(of: version)
    }

    /// Whether the repository holds `hash`'s bytes.
    public func has(_ hash: [UInt8]) async -> Bool { await objects.version(forContent: hash) != nil }

    /// Rebuilds a version's content, walking its delta chain, and checks it against the content hash.
    public func content(of id: ObjectID) async throws -> [UInt8] {
        try await content(of: id, byRange: false)
    }

    /// `budget` bounds the chain walked, whatever a damaged object claims about its depth. `byRange`: read
    /// the version objects out of their packs by byte ranges (a ranged read of a big file).
    /// `verify: false` skips the check against the content hash, for a caller that checks the bytes
    /// itself (a big file's chunks, whose bytes are checked against the file's leaves): the result is
    /// then not kept for other callers.
    func content(of id: ObjectID, budget: Int = Int(ContentStore.readableDepth) + 1, byRange: Bool, verify: Bool = true,
                 chunkList: Bool = true) async throws -> [UInt8] {
        if let cached = await recent.get(id) { return cached }
        guard budget > 0 else { throw StoreError.damaged("version \(id.short): delta chain longer than \(Self.readableDepth)") }
        // Unverified bytes are checked by the caller; so is the record they come from.
        let record = byRange ? try await objects.getByRange(id, checkID: verify)
            : verify ? try await objects.get(id) : try await objects.getUnchecked(id)
        let version = try FileVersion(decoding: record)
        if version.chunks != nil {
            // Where a payload belongs (a delta's base, a big file's chunk), a chunk list is damage: followed,
            // a list naming itself would recurse without end.
            guard chunkList && verify else { throw StoreError.damaged("version \(id.short): a chunk list where a payload belongs") }
            // A big file whole in memory: only for callers that need it so (a diff); others stream.
            var whole: [UInt8] = []
            try await write(version.contentHash) { _, piece in whole.append(contentsOf: piece) }
            return whole
        }
        // zlib cannot expand more than about 1032:1; a larger claim is damage, not a reason to allocate.
        guard version.encoding == .raw ? version.payloadSize == version.storedSize
                : version.payloadSize <= version.storedSize &* 1100 &+ 1024,
              version.size < 1 << 40, version.payloadSize < 1 << 40 else {
            throw StoreError.damaged("version \(id.short) claims impossible sizes")
        }
        let stored: [UInt8]
        switch version.storage {
        case .inline(let b): stored = b
        case .cap(let cap): stored = try await objects.getLarge(cap)
        case .chunks: throw StoreError.damaged("version \(id.short): a chunk list where a payload belongs")
        }
        guard UInt64(stored.count) == version.storedSize else { throw StoreError.damaged("version \(id.short) has the wrong stored size") }
        let payload = version.encoding == .zlib ? try Zlib.decompress(stored, expectedSize: Int(version.payloadSize)) : stored
        let content: [UInt8]
        if let base = version.base {
            content = try VCDIFF.apply(payload, to: try await self.content(of: base, budget: budget - 1, byRange: byRange, chunkList: false))
        } else {
            content = payload
        }
        guard UInt64(content.count) == version.size else { throw StoreError.damaged("version \(id.short) rebuilds to the wrong size") }
        if !verify { return content }
        let leaves = ContentHash.leaves(of: content)
        guard ContentHash.root(leaves: leaves, size: version.size) == version.contentHash,
              version.leafHashes.isEmpty || version.leafHashes == leaves else {
            throw StoreError.damaged("version \(id.short) does not rebuild to its content hash")
        }
        if version.depth > 0 || content.count <= 4 << 20 { await recent.remember(id, content) }
        return content
    }

    /// zlib level for file contents and deltas: level 1 is about three times faster than the default 6
    /// and costs a few percent of size (Performance.md), which the grid's bytes goal leaves room for.
    static let compressionLevel: Int32 = 1

    /// zlib when the probe says it pays and it really is smaller.
    static func pack(_ bytes: [UInt8]) -> (FileVersion.Encoding, [UInt8]) {
        if let z = Zlib.compressedIfWorth(bytes, level: compressionLevel) { return (.zlib, z) }
        return (.raw, bytes)
    }
}

/// A small cache of file contents by version id, bounded in bytes, each entry counted with its
/// bookkeeping (a checkout of a million small files once kept 600,000 of them, 450 MB, and trimmed the
/// oldest by shifting the whole list each time).
actor RecentContents {
    private var items: [ObjectID: [UInt8]] = [:]
    /// Oldest first from `head` on.
    private var order: [ObjectID] = []
    private var head = 0
    private var bytes = 0
    let limit: Int
    init(limit: Int = 32 << 20) { self.limit = limit }
    static let overhead = 128

    func get(_ id: ObjectID) -> [UInt8]? { items[id] }

    func remember(_ id: ObjectID, _ content: [UInt8]) {
        guard content.count <= limit / 4, items[id] == nil else { return }
        items[id] = content
        order.append(id)
        bytes += content.count + Self.overhead
        while bytes > limit, head < order.count {
            let old = order[head]
            head += 1
            if let gone = items.removeValue(forKey: old) { bytes -= gone.count + Self.overhead }
        }
        if head > 4096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
