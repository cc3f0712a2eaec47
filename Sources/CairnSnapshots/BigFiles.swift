import CairnFiles
import CairnPrimitives
import Synchronization

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
    /// Chunks fetched ahead of the one being written out: about four data packs' worth, so the next packs
    /// download (several reads in flight on a cold disk) while this one's chunks are checked and written.
    static let chunksAhead = 16
    /// ...and at most this many bytes of them.
    static let bytesAhead = 24 << 20
    static let readSize = 1 << 20

    public struct StreamedFile: Sendable {
        public let hash: [UInt8]
        /// Bytes read (the file may have changed size since it was listed).
        public let size: UInt64
    }

    /// Reads `file` from its current position to its end, storing it chunked; returns its content hash.
    /// `previous`: the same path's content in the parent snapshot.
    /// Reads at most `readLimit` bytes (the caller passes one more than the size it saw, so a file that
    /// grows while it is read ends the read, and shows as changed, rather than keep it going).
    /// `progress` hears the bytes read so far, every 16 MiB.
    public func storeChunked(_ file: FileDescriptor, previous: [UInt8]?, readLimit: UInt64 = .max,
                             progress: ((UInt64) -> Void)? = nil) async throws -> StreamedFile {
        var aligner = ChunkAligner(old: await oldChunks(previous))
        let deltaBudget = DeltaBudget()
        var leaves = LeafAccumulator()
        var chunks: [FileVersion.Chunk] = []
        var launched = Set<ByteKey>()
        var buffer = [UInt8](repeating: 0, count: 2 * Chunker.maxSize)
        var start = 0, end = 0, atEnd = false, total: UInt64 = 0
        let chunker = self.chunker
        try await withThrowingTaskGroup(of: Void.self) { group in
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
                    let want = Int(min(UInt64(Self.readSize), readLimit - total))
                    let n = want == 0 ? 0 : try buffer.withUnsafeMutableBytes { raw in
                        try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end..<min(end + want, raw.count)]))
                    }
                    if n == 0 { atEnd = true }
                    end += n
                    total += UInt64(n)
                    if let progress, n > 0, total % (16 << 20) < UInt64(n) { progress(total) }
                }
                if start == end { break }
                let length = buffer.withUnsafeBytes { chunker.cut(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
                let chunk = Array(buffer[start..<start + length])
                start += length
                // The chunk's own leaves on another core while this one adds the file's.
                async let ownLeaves = ContentHash.leaves(of: chunk)
                leaves.add(chunk)
                let chunkLeaves = await ownLeaves
                let hash = ContentHash.root(leaves: chunkLeaves, size: UInt64(chunk.count))
                chunks.append(FileVersion.Chunk(hash: hash, size: UInt32(chunk.count)))
                // The old chunks this one may have replaced, if it is new: its delta bases.
                let replaced = aligner.next(hash)
                // Stored already, or being stored by this file (a chunk it repeats).
                if launched.contains(ByteKey(hash)) { continue }
                if await has(hash) { continue }
                launched.insert(ByteKey(hash))
                let bases = deltaBudget.allows(replaced.first) ? replaced.map { aligner.old[$0] } : []
                if running == Self.chunksInFlight, try await group.next() != nil { running -= 1 }
                running += 1
                group.addTask {
                    var versions: [ObjectID] = []
                    for b in bases { if let v = await self.objects.version(forContent: b.hash) { versions.append(v) } }
                    let depth = try await self.storeWhole(chunk, hash: hash, leaves: chunkLeaves, bases: versions,
                                                          inlineLimit: Chunker.maxSize)
                    if !versions.isEmpty { deltaBudget.record(fetched: bases.reduce(0) { $0 + Int($1.size) }, paid: depth > 0) }
                }
            }
            while try await group.next() != nil {}
        }
        let (fileLeaves, size) = leaves.finish()
        let hash = ContentHash.root(leaves: fileLeaves, size: size)
        if await has(hash) { return StreamedFile(hash: hash, size: size) }
        if chunks.count <= 1 {
            // A file that shrank below one chunk while it was read: store it whole.
            let bytes = chunks.isEmpty ? [] : try await content(forHash: chunks[0].hash)
            try await storeWhole(bytes, hash: hash, leaves: fileLeaves, previous: nil, inlineLimit: ObjectStore.inlineLimit)
            return StreamedFile(hash: hash, size: size)
        }
        let version = FileVersion(contentHash: hash, size: size, base: nil, depth: 0, chainBytes: 0, keyframeSize: 0,
                                  leafHashes: fileLeaves, encoding: .raw, storedSize: 0,
                                  payloadSize: 0, storage: .chunks(chunks))
        let id = try await objects.put(version.encoded, metadata: true)
        try await objects.recordContent(hash, version: id, depth: 0)
        return StreamedFile(hash: hash, size: size)
    }

    /// The chunks of `previous`'s version, if it is a chunk list (a file that was small has none). An error
    /// reading it (transient or not) only means no delta bases: chunks are stored whole, nothing is lost.
    func oldChunks(_ previous: [UInt8]?) async -> [FileVersion.Chunk] {
        guard let previous, let id = await objects.version(forContent: previous),
              let version = try? await objects.fileVersion(id) else { return [] }
        return version.chunks ?? []
    }

    /// Writes the content `hash` (or bytes `range` of it) to `sink` in order, in pieces of at most a leaf,
    /// each checked against the content hash tree before it is handed over; a big file is fetched a few
    /// chunks at a time, and for a range only the chunks covering its leaves, read out of their packs by
    /// byte ranges. `sink` gets the file offset of each piece. `range` must lie within the content.
    public func write(_ hash: [UInt8], range: Range<UInt64>? = nil, to sink: (UInt64, UnsafeRawBufferPointer) throws -> Void) async throws {
        guard let id = await objects.version(forContent: hash) else { throw StoreError.missingContent(hash) }
        try await write(version: id, hash: hash, range: range, to: sink)
    }

    func write(version id: ObjectID, hash: [UInt8], range wanted: Range<UInt64>? = nil,
               to sink: (UInt64, UnsafeRawBufferPointer) throws -> Void) async throws {
        let version = try await objects.fileVersion(id)
        guard version.contentHash == hash else { throw StoreError.damaged("version \(id.short) is not of the content it is filed under") }
        let range = wanted ?? 0..<version.size
        guard range.upperBound <= version.size else {
            throw StoreError.outOfRange("bytes \(range.lowerBound)-\(range.upperBound - 1) are not all inside a file of \(version.size) bytes")
        }
        guard let chunks = version.chunks else {
            let bytes = try await content(of: id)
            try bytes[Int(range.lowerBound)..<Int(range.upperBound)].withUnsafeBytes { try sink(range.lowerBound, $0) }
            return
        }
        if range.isEmpty { return }
        let verifier = try LeafVerifier(contentHash: hash, size: version.size, leaves: version.leafHashes)
        let leafSize = UInt64(ContentHash.leafSize)
        let firstLeaf = Int(range.lowerBound / leafSize), lastLeaf = Int((range.upperBound - 1) / leafSize)
        let from = verifier.range(ofLeaf: firstLeaf).lowerBound, to = verifier.range(ofLeaf: lastLeaf).upperBound
        // The chunk holding the first leaf's first byte, and where it starts.
        var first = 0, position: UInt64 = 0
        while first < chunks.count && position + UInt64(chunks[first].size) <= from {
            position += UInt64(chunks[first].size)
            first += 1
        }
        let byRange = wanted != nil
        var pending: [(task: Task<[UInt8], Error>, size: Int)] = []
        var pendingBytes = 0
        var next = first, nextStart = position
        func fetchMore() {
            while pending.count < Self.chunksAhead + 1, next < chunks.count, nextStart < to,
                  pending.isEmpty || pendingBytes + Int(chunks[next].size) <= Self.bytesAhead {
                let c = chunks[next]
                next += 1
                nextStart += UInt64(c.size)
                pendingBytes += Int(c.size)
                pending.append((Task {
                    guard let v = await self.objects.version(forContent: c.hash) else { throw StoreError.missingContent(c.hash) }
                    // Checked below against the file's leaves, which the content hash vouches for.
                    let bytes = try await self.content(of: v, byRange: byRange, verify: false)
                    guard bytes.count == Int(c.size) else { throw StoreError.damaged("chunk \(Hex.encode(Array(c.hash.prefix(6)))) has the wrong size") }
                    return bytes
                }, Int(c.size)))
            }
        }
        var leaf: [UInt8] = []
        leaf.reserveCapacity(ContentHash.leafSize)
        var leafIndex = firstLeaf
        func emit() throws {
            let lr = verifier.range(ofLeaf: leafIndex)
            guard verifier.check(leaf: leafIndex, leaf[...]) else {
                throw StoreError.damaged("content \(Hex.encode(Array(hash.prefix(6)))): bytes \(lr.lowerBound)-\(lr.upperBound - 1) do not match their leaf hash")
            }
            let lo = max(lr.lowerBound, range.lowerBound), hi = min(lr.upperBound, range.upperBound)
            try leaf[Int(lo - lr.lowerBound)..<Int(hi - lr.lowerBound)].withUnsafeBytes { try sink(lo, $0) }
            leafIndex += 1
            leaf.removeAll(keepingCapacity: true)
        }
        fetchMore()
        do {
            while !pending.isEmpty && leafIndex <= lastLeaf {
                let (task, size) = pending.removeFirst()
                pendingBytes -= size
                let bytes = try await task.value
                fetchMore()
                // The first chunk may start before the first leaf.
                var at = position < from ? Int(min(from - position, UInt64(bytes.count))) : 0
                position += UInt64(bytes.count)
                while at < bytes.count && leafIndex <= lastLeaf {
                    let take = min(verifier.range(ofLeaf: leafIndex).count - leaf.count, bytes.count - at)
                    leaf.append(contentsOf: bytes[at..<at + take])
                    at += take
                    if leaf.count == verifier.range(ofLeaf: leafIndex).count { try emit() }
                }
            }
        } catch {
            // The fetches ahead stop with this one (a closed pipe, damage), not later.
            for p in pending { p.task.cancel() }
            for p in pending { _ = try? await p.task.value }
            throw error
        }
        guard leafIndex == lastLeaf + 1 else {
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

/// Pairs each new chunk of a file with the old chunk it replaced, by aligning the two chunk lists rather
/// than offsets (an insertion shifts every later offset): after a chunk the old list also has, the next
/// new chunks that it lacks pair with the old chunks that follow that one, in order; before any such
/// chunk, with the old list's first chunks (a prepend). The old chunk the previous new chunk paired with
/// comes second: an edit that made a new cut splits one old chunk into two new ones, and the second half
/// rests on the same old chunk as the first.
struct ChunkAligner {
    let old: [FileVersion.Chunk]
    /// Where each old chunk occurs, in order (a disk image repeats its zero chunks many times).
    private let positions: [ByteKey: [Int]]
    private var candidate = 0
    private var lastPaired: Int?

    init(old: [FileVersion.Chunk]) {
        self.old = old
        var positions: [ByteKey: [Int]] = [:]
        for (i, c) in old.enumerated() { positions[ByteKey(c.hash), default: []].append(i) }
        self.positions = positions
    }

    /// The old list's occurrence of `hash` at or after the current place, else its first.
    private func position(of hash: [UInt8]) -> Int? {
        guard let all = positions[ByteKey(hash)] else { return nil }
        var lo = 0, hi = all.count
        while lo < hi { let mid = (lo + hi) / 2; if all[mid] < candidate { lo = mid + 1 } else { hi = mid } }
        return lo < all.count ? all[lo] : all[0]
    }

    /// For the next new chunk: none if the old list has it (unchanged), else the indices of the old chunks
    /// it may have replaced, likeliest first.
    mutating func next(_ hash: [UInt8]) -> [Int] {
        if let i = position(of: hash) {
            candidate = i + 1
            lastPaired = nil
            return []
        }
        var out: [Int] = []
        if candidate < old.count {
            out.append(candidate)
            candidate += 1
        }
        if let last = lastPaired, !out.contains(last) { out.append(last) }
        lastPaired = out.first ?? lastPaired
        return out
    }
}

/// How many old chunks one file may fetch as delta bases at commit: none once `giveUpAfter` chunks in a
/// row found no base that paid (a file rewritten through, such as a re-encoded video), and at most `maxBytes` in all.
final class DeltaBudget: @unchecked Sendable {
    static let giveUpAfter = 4
    static let maxBytes = 256 << 20
    private let state = Mutex((failedInARow: 0, fetched: 0))

    func allows(_ first: Int?) -> Bool {
        guard first != nil else { return false }
        return state.withLock { $0.failedInARow < Self.giveUpAfter && $0.fetched < Self.maxBytes }
    }

    func record(fetched: Int, paid: Bool) {
        state.withLock {
            $0.fetched += fetched
            $0.failedInARow = paid ? 0 : $0.failedInARow + 1
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

