import CairnFiles
import CairnPrimitives

/// Big files (Documentation/Snapshots.md, "Big files"): above `chunkThreshold` a file is cut into
/// content-defined chunks as it is read, each chunk a content of its own (stored once, however many files
/// and versions share it), and the file's version is the list of its chunks. Nothing holds the whole
/// file: reading, chunking and hashing run ahead while a few chunks are compressed, encrypted and
/// coded on the other core.
extension ContentStore {
    /// Files larger than this are chunked. Below it a file is one version (a keyframe or a whole-file
    /// delta): one VCDIFF window (≤ 8 MiB, Delta.md) finds every change, and the bytes held per file stay small.
    public static let chunkThreshold: UInt64 = 8 << 20
    /// Chunks being stored at once (each holds at most `Chunker.maxSize` bytes and its encoding).
    static let chunksInFlight = 3
    /// Chunks fetched ahead of the one being written out.
    static let chunksAhead = 2
    static let readSize = 1 << 20

    public struct StreamedFile: Sendable {
        public let hash: [UInt8]
        /// Bytes read (the file may have changed size since it was listed).
        public let size: UInt64
    }

    /// Reads `file` from its current position to its end, storing it chunked; returns its content hash.
    /// `previous`: the same path's content in the parent snapshot.
    public func storeChunked(_ file: FileDescriptor, previous: [UInt8]?) async throws -> StreamedFile {
        var leaves = LeafAccumulator()
        var chunks: [FileVersion.Chunk?] = []
        var buffer = [UInt8](repeating: 0, count: 2 * Chunker.maxSize)
        var start = 0, end = 0, atEnd = false
        let chunker = self.chunker
        try await withThrowingTaskGroup(of: (Int, FileVersion.Chunk).self) { group in
            var running = 0
            while true {
                // Keep at least one whole chunk's worth ahead, so cuts do not depend on read sizes.
                while !atEnd && end - start < Chunker.maxSize {
                    if buffer.count - end < Self.readSize {
                        buffer.withUnsafeMutableBytes { raw in
                            raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
                        }
                        end -= start
                        start = 0
                    }
                    let n = try buffer.withUnsafeMutableBytes { raw in
                        try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end..<min(end + Self.readSize, raw.count)]))
                    }
                    if n == 0 { atEnd = true }
                    end += n
                }
                if start == end { break }
                let length = buffer.withUnsafeBytes { chunker.cut(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
                let chunk = Array(buffer[start..<start + length])
                start += length
                leaves.add(chunk)
                let n = chunks.count
                chunks.append(nil)
                if running == Self.chunksInFlight, let (i, c) = try await group.next() {
                    chunks[i] = c
                    running -= 1
                }
                running += 1
                group.addTask {
                    let leaves = ContentHash.leaves(of: chunk)
                    let hash = ContentHash.root(leaves: leaves, size: UInt64(chunk.count))
                    if await !self.has(hash) {
                        try await self.storeWhole(chunk, hash: hash, leaves: leaves, previous: nil, inlineLimit: Chunker.maxSize)
                    }
                    return (n, FileVersion.Chunk(hash: hash, size: UInt32(chunk.count)))
                }
            }
            while let (i, c) = try await group.next() { chunks[i] = c }
        }
        let (fileLeaves, size) = leaves.finish()
        let hash = ContentHash.root(leaves: fileLeaves, size: size)
        if await has(hash) { return StreamedFile(hash: hash, size: size) }
        let list = chunks.map { $0! }
        if list.count <= 1 {
            // A file that shrank below one chunk while it was read: store it whole.
            let bytes = list.isEmpty ? [] : try await content(forHash: list[0].hash)
            try await storeWhole(bytes, hash: hash, leaves: fileLeaves, previous: nil, inlineLimit: ObjectStore.inlineLimit)
            return StreamedFile(hash: hash, size: size)
        }
        let version = FileVersion(contentHash: hash, size: size, base: nil, depth: 0, chainBytes: 0, keyframeSize: 0,
                                  leafHashes: fileLeaves.count > 1 ? fileLeaves : [], encoding: .raw, storedSize: 0,
                                  payloadSize: 0, storage: .chunks(list))
        let id = try await objects.put(version.encoded, metadata: true)
        try await objects.recordContent(hash, version: id, depth: 0)
        return StreamedFile(hash: hash, size: size)
    }

    /// Writes the content `hash` to `sink` in order, in pieces of at most a leaf, each checked against the
    /// content hash tree before it is handed over; a big file is fetched a few chunks at a time.
    /// `sink` gets the offset of each piece.
    public func write(_ hash: [UInt8], to sink: (UInt64, UnsafeRawBufferPointer) throws -> Void) async throws {
        guard let id = await objects.version(forContent: hash) else { throw StoreError.missingContent(hash) }
        try await write(version: id, hash: hash, to: sink)
    }

    func write(version id: ObjectID, hash: [UInt8], to sink: (UInt64, UnsafeRawBufferPointer) throws -> Void) async throws {
        let version = try await objects.fileVersion(id)
        guard version.contentHash == hash else { throw StoreError.damaged("version \(id.short) is not of the content it is filed under") }
        guard let chunks = version.chunks else {
            let bytes = try await content(of: id)
            try bytes.withUnsafeBytes { try sink(0, $0) }
            return
        }
        let verifier = try LeafVerifier(contentHash: hash, size: version.size,
                                        leaves: version.leafHashes.isEmpty ? [] : version.leafHashes)
        var pending: [Task<[UInt8], Error>] = []
        defer { for t in pending { t.cancel() } }
        var next = 0
        func fetchMore() {
            while pending.count < Self.chunksAhead + 1, next < chunks.count {
                let c = chunks[next]
                next += 1
                pending.append(Task {
                    let bytes = try await self.content(forHash: c.hash)
                    guard bytes.count == Int(c.size) else { throw StoreError.damaged("chunk \(Hex.encode(Array(c.hash.prefix(6)))) has the wrong size") }
                    return bytes
                })
            }
        }
        var leaf: [UInt8] = []
        leaf.reserveCapacity(ContentHash.leafSize)
        var leafIndex = 0
        func emit() throws {
            guard verifier.check(leaf: leafIndex, leaf[...]) else {
                throw StoreError.damaged("content \(Hex.encode(Array(hash.prefix(6)))): bytes \(verifier.range(ofLeaf: leafIndex)) do not match their leaf hash")
            }
            try leaf.withUnsafeBytes { try sink(verifier.range(ofLeaf: leafIndex).lowerBound, $0) }
            leafIndex += 1
            leaf.removeAll(keepingCapacity: true)
        }
        fetchMore()
        while !pending.isEmpty {
            let bytes = try await pending.removeFirst().value
            fetchMore()
            var at = 0
            while at < bytes.count {
                let want = verifier.range(ofLeaf: leafIndex).count - leaf.count
                let take = min(want, bytes.count - at)
                leaf.append(contentsOf: bytes[at..<at + take])
                at += take
                if leaf.count == verifier.range(ofLeaf: leafIndex).count { try emit() }
            }
        }
        guard leafIndex == verifier.leaves.count, leaf.isEmpty else {
            throw StoreError.damaged("content \(Hex.encode(Array(hash.prefix(6)))): its chunks do not add up to its size")
        }
    }

    /// Rebuilds a version and checks every byte without keeping them (`check --read-data`).
    public func verify(version id: ObjectID) async throws {
        let version = try await objects.fileVersion(id)
        if version.chunks == nil {
            _ = try await content(of: id)
        } else {
            try await write(version: id, hash: version.contentHash) { _, _ in }
        }
    }
}

/// The leaf hashes of a file fed to it in pieces of any size.
struct LeafAccumulator {
    private var leaves: [Digest] = []
    private var partial: [UInt8] = []
    private var size: UInt64 = 0

    mutating func add(_ bytes: [UInt8]) {
        size += UInt64(bytes.count)
        var at = 0
        while at < bytes.count {
            if partial.isEmpty && bytes.count - at >= ContentHash.leafSize {
                leaves.append(ContentHash.leaf(bytes[at..<at + ContentHash.leafSize]))
                at += ContentHash.leafSize
                continue
            }
            let take = min(ContentHash.leafSize - partial.count, bytes.count - at)
            partial.append(contentsOf: bytes[at..<at + take])
            at += take
            if partial.count == ContentHash.leafSize {
                leaves.append(ContentHash.leaf(partial[...]))
                partial.removeAll(keepingCapacity: true)
            }
        }
    }

    /// The leaf hashes (one for an empty file) and the total size.
    mutating func finish() -> ([Digest], UInt64) {
        if !partial.isEmpty || leaves.isEmpty { leaves.append(ContentHash.leaf(partial[...])) }
        return (leaves, size)
    }
}

extension ContentHash {
    /// The content hash of a file read from its current position to its end, 1 MiB at a time.
    public static func of(file: FileDescriptor) throws -> (hash: [UInt8], size: UInt64) {
        var acc = LeafAccumulator()
        var buffer = [UInt8](repeating: 0, count: leafSize)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
            if n == 0 { break }
            acc.add(n == buffer.count ? buffer : Array(buffer[..<n]))
            if n < buffer.count { break }
        }
        let (leaves, size) = acc.finish()
        return (root(leaves: leaves, size: size), size)
    }
}
