import CairnFiles
import CairnGrid
import Foundation
import Testing
@testable import CairnSnapshots

@Suite struct BigFileTests {
    /// Writes `bytes` to a file in `scratch` and stores it chunked.
    func storeChunked(_ bytes: [UInt8], _ store: ContentStore, _ scratch: Scratch, name: String = "input",
                      previous: [UInt8]? = nil) async throws -> [UInt8] {
        let path = scratch.path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try FileSystem.openForReading(FSPath(path))
        defer { try? file.close() }
        let stored = try await store.storeChunked(file, previous: previous)
        #expect(stored.size == UInt64(bytes.count))
        #expect(stored.hash == ContentHash.of(bytes), "a chunked file's content hash is the whole file's")
        return stored.hash
    }

    func restored(_ hash: [UInt8], _ store: ContentStore) async throws -> [UInt8] {
        var out: [UInt8] = []
        try await store.write(hash) { offset, piece in
            #expect(offset == UInt64(out.count), "pieces come in order")
            out.append(contentsOf: piece)
        }
        return out
    }

    func chunkHashes(_ hash: [UInt8], _ objects: ObjectStore) async throws -> [[UInt8]] {
        let v = try await objects.fileVersion(try #require(await objects.version(forContent: hash)))
        return try #require(v.chunks).map(\.hash)
    }

    @Test func chunkBoundariesAreContentDefinedKeyedAndBounded() {
        let data = testBytes(24 << 20, seed: 5)
        let chunker = Chunker(secret: Array(repeating: 7, count: 32))
        let lengths = chunker.lengths(of: data)
        #expect(lengths.reduce(0, +) == data.count)
        #expect(lengths.dropLast().allSatisfy { $0 >= Chunker.minSize && $0 <= Chunker.maxSize })
        let average = data.count / lengths.count
        #expect(average > 600 << 10 && average < 2 << 20, "average chunk \(average)")

        // An insertion in the middle changes the chunks around it only.
        func chunks(_ d: [UInt8]) -> [[UInt8]] {
            var out: [[UInt8]] = [], at = 0
            for n in chunker.lengths(of: d) { out.append(Array(d[at..<at + n])); at += n }
            return out
        }
        var inserted = data
        inserted.insert(contentsOf: Array("ninety-two bytes of something new ".utf8), at: 12 << 20)
        let before = Set(chunks(data).map { ContentHash.of($0) }), after = chunks(inserted).map { ContentHash.of($0) }
        let shared = after.filter { before.contains($0) }.count
        #expect(shared >= after.count - 2, "\(shared) of \(after.count) chunks shared after an insertion")

        // Another repository's secret cuts elsewhere: chunk sizes fingerprint nothing across repositories.
        let other = Chunker(secret: Array(repeating: 8, count: 32)).lengths(of: data)
        #expect(other != lengths)
    }

    /// Every kind of edit of a 20 MB file: each version comes back byte for byte through a fresh store,
    /// and an edit stores only the chunks it touched.
    @Test func editsStoreFewChunksAndEveryVersionRestores() async throws {
        let scratch = try Scratch()
        let grid = try scratch.grid()
        let objects = ObjectStore(grid: grid, index: RepoIndex())
        let store = ContentStore(objects: objects)
        let original = testBytes(20 << 20, seed: 11)
        var versions: [([UInt8], [UInt8])] = []
        func add(_ bytes: [UInt8]) async throws -> [[UInt8]] {
            let hash = try await storeChunked(bytes, store, scratch)
            versions.append((hash, bytes))
            return try await chunkHashes(hash, objects)
        }
        let base = try await add(original)
        #expect(base.count >= 8)
        var edits: [(String, [UInt8])] = [
            ("append", original + Array("nine byte".utf8)),
            ("prepend", Array("a prefix of some bytes".utf8) + original),
            ("insert", Array(original[..<(9 << 20)]) + testBytes(92, seed: 3) + Array(original[(9 << 20)...])),
            ("truncate", Array(original[..<(15 << 20 + 123)])),
        ]
        var scattered = original
        for i in 0..<6 { for j in 0..<4096 { scattered[(i * 3 + 1) << 20 + j] ^= 0x5A } }
        edits.append(("scattered", scattered))
        for (name, bytes) in edits {
            let chunks = try await add(bytes)
            let new = chunks.filter { !base.contains($0) }.count
            let limit = name == "scattered" ? 6 * 2 : 2
            #expect(new <= limit, "\(name): \(new) of \(chunks.count) chunks new")
        }
        // Identical chunks in two different files are stored once: another file that starts with the
        // original's first 12 MiB shares those chunks.
        let other = Set(try await add(Array(original[..<(12 << 20)]) + testBytes(3 << 20, seed: 99)).map(ByteKey.init))
        let originalID = try #require(await objects.version(forContent: versions[0].0))
        let originalChunks = try #require(try await objects.fileVersion(originalID).chunks)
        var end = 0
        for c in originalChunks {
            end += Int(c.size)
            if end > 12 << 20 { break }
            #expect(other.contains(ByteKey(c.hash)), "a chunk of the shared first 12 MiB is stored again")
        }

        let fresh = ContentStore(objects: try await reopened(objects, grid: grid))
        for (hash, bytes) in versions {
            #expect(try await restored(hash, fresh) == bytes)
        }
    }

    /// A changed chunk is stored as a delta on the old chunk it replaced, found by aligning the chunk
    /// lists: in place for overwrites, and after an insertion (which shifts every later offset) still
    /// the old chunk that held the insertion point.
    @Test func changedChunksAreDeltasOnTheChunksTheyReplaced() async throws {
        let scratch = try Scratch()
        let grid = try scratch.grid()
        let objects = ObjectStore(grid: grid, index: RepoIndex())
        let store = ContentStore(objects: objects)
        let original = testBytes(20 << 20, seed: 31)
        let first = try await storeChunked(original, store, scratch)
        func version(_ hash: [UInt8]) async throws -> (ObjectID, FileVersion) {
            let id = try #require(await objects.version(forContent: hash))
            return (id, try await objects.fileVersion(id))
        }
        let old = try #require(try await version(first).1.chunks)
        let oldHashes = Set(old.map { ByteKey($0.hash) })

        // Overwrites in the middle of two chunks, far from their cuts (an overwrite next to a cut moves it,
        // and the neighbours' deltas then carry bytes of each other: true, but not what this checks).
        var overwritten = original
        var starts: [Int] = [0]
        for c in old { starts.append(starts.last! + Int(c.size)) }
        for i in [2, old.count - 3] {
            let at = starts[i] + Int(old[i].size) / 2
            for j in 0..<4096 { overwritten[at + j] ^= 0xA5 }
        }
        let second = try await storeChunked(overwritten, store, scratch, previous: first)
        let new = try #require(try await version(second).1.chunks)
        #expect(new.count == old.count, "overwrites keep the cuts away from them")
        var deltas = 0
        for (i, c) in new.enumerated() where !oldHashes.contains(ByteKey(c.hash)) {
            let (_, v) = try await version(c.hash)
            #expect(v.depth == 1)
            #expect(v.base == (try await version(old[i].hash)).0, "chunk \(i) rests on old chunk \(i)")
            #expect(v.storedSize < 16 << 10, "a 4 KiB overwrite stored as \(v.storedSize) bytes")
            deltas += 1
        }
        #expect(deltas == 2)

        let point = 9 << 20
        let inserted = Array(original[..<point]) + testBytes(92, seed: 8) + Array(original[point...])
        let third = try await storeChunked(inserted, store, scratch, previous: first)
        let after = try #require(try await version(third).1.chunks)
        var offset = 0
        let holder = try #require(old.firstIndex { c in defer { offset += Int(c.size) }; return offset + Int(c.size) > point })
        let changed = after.filter { !oldHashes.contains(ByteKey($0.hash)) }
        #expect(changed.count >= 1 && changed.count <= 2)
        let (_, firstChanged) = try await version(try #require(changed.first).hash)
        #expect(firstChanged.base == (try await version(old[holder].hash)).0, "the insertion's chunk rests on the old chunk that held the point")
        #expect(firstChanged.storedSize < 8 << 10)

        let fresh = ContentStore(objects: try await reopened(objects, grid: grid))
        #expect(try await restored(second, fresh) == overwritten)
        #expect(try await restored(third, fresh) == inserted)
        #expect(try await restored(first, fresh) == original)
    }

    /// The aligner's candidates: after an unchanged chunk, the old chunks that follow it, in order; the one
    /// the previous new chunk paired with comes second (an edit that made a new cut splits one old chunk
    /// into two new ones, and the second half resembles the old chunk the first half paired with).
    @Test func alignmentPairsChangedChunksWithTheOldOnesBetweenTheSameNeighbours() {
        func chunk(_ name: String) -> FileVersion.Chunk { FileVersion.Chunk(hash: ContentHash.of(Array(name.utf8)), size: 1) }
        let (a, b, c, d, e) = (chunk("a"), chunk("b"), chunk("c"), chunk("d"), chunk("e"))
        var aligner = ChunkAligner(old: [a, b, c, d, e])
        #expect(aligner.next(a.hash) == [])
        #expect(aligner.next(chunk("b'").hash) == [1], "an overwrite in place rests on the old chunk at its place")
        #expect(aligner.next(chunk("b''").hash) == [2, 1], "a split's second half: the next old chunk, then the one split")
        #expect(aligner.next(d.hash) == [])
        #expect(aligner.next(chunk("e'").hash) == [4])
        #expect(aligner.next(chunk("tail").hash) == [4], "past the old list's end: the last pairing")
        var prepend = ChunkAligner(old: [a, b])
        #expect(prepend.next(chunk("new start").hash) == [0], "a prepend rests on the old first chunk")
        #expect(prepend.next(a.hash) == [])
    }

    /// Repeated old chunks (a disk image's zero chunks) do not send the alignment back to the first one.
    @Test func alignmentFollowsRepeatedChunksInPlace() {
        func chunk(_ name: String) -> FileVersion.Chunk { FileVersion.Chunk(hash: ContentHash.of(Array(name.utf8)), size: 1) }
        let (z, a, b, c) = (chunk("zeros"), chunk("a"), chunk("b"), chunk("c"))
        var aligner = ChunkAligner(old: [z, a, z, b, z, c])
        #expect(aligner.next(z.hash) == [])
        #expect(aligner.next(a.hash) == [])
        #expect(aligner.next(z.hash) == [])
        #expect(aligner.next(chunk("b'").hash) == [3], "the b after the second zero chunk, not the first")
    }

    /// A big file that shrank below the threshold is stored whole, never as a delta on its chunk list
    /// (which would rebuild the whole big file at every read).
    @Test func aShrunkBigFileDoesNotRestOnItsChunkList() async throws {
        let scratch = try Scratch()
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        let store = ContentStore(objects: objects)
        let big = testBytes(12 << 20, seed: 71)
        let bigHash = try await storeChunked(big, store, scratch)
        let small = Array(big[..<(5 << 20)])
        let hash = try await store.store(small, previous: bigHash)
        let v = try await objects.fileVersion(try #require(await objects.version(forContent: hash)))
        #expect(v.base == nil && v.chunks == nil)
        #expect(try await store.content(forHash: hash) == small)
    }

    /// Several big files stored at once into one store (as a commit does, four files at a time): every
    /// background pack upload is waited for, nothing hangs, and everything reads back from the grid.
    // A hang guard, not a speed test: generous, since the suite runs a Tahoe grid and 300 other tests beside it.
    @Test(.timeLimit(.minutes(10))) func severalBigFilesAtOnce() async throws {
        let scratch = try Scratch()
        let grid = try scratch.grid()
        let objects = ObjectStore(grid: grid, index: RepoIndex())
        let store = ContentStore(objects: objects)
        let files = (0..<4).map { testBytes((10 << 20) + $0 * 333_333, seed: 80 + UInt64($0)) }
        let paths = try files.enumerated().map { i, f in
            let path = scratch.path + "/f\(i)"
            try Data(f).write(to: URL(fileURLWithPath: path))
            return path
        }
        let hashes = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for (i, path) in paths.enumerated() {
                group.addTask {
                    let file = try FileSystem.openForReading(FSPath(path))
                    defer { try? file.close() }
                    return (i, try await store.storeChunked(file, previous: nil).hash)
                }
            }
            var out = [[UInt8]](repeating: [], count: files.count)
            for try await (i, h) in group { out[i] = h }
            return out
        }
        let fresh = ContentStore(objects: try await reopened(objects, grid: grid))
        for (h, f) in zip(hashes, files) { #expect(try await restored(h, fresh) == f) }
    }

    /// Progress inside one big file: reading it (commit) and writing it (checkout, clone, restore) report
    /// every 16 MiB.
    @Test func progressInsideABigFile() async throws {
        let scratch = try Scratch()
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        let store = ContentStore(objects: objects)
        let bytes = testBytes(40 << 20, seed: 90)
        let path = scratch.path + "/big"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let reads = Box<[UInt64]>([])
        let file = try FileSystem.openForReading(FSPath(path))
        let stored = try await store.storeChunked(file, previous: nil) { reads.value.append($0) }
        try file.close()
        #expect(reads.value == [16 << 20, 32 << 20], "\(reads.value)")
        let lines = Box<[String]>([])
        let checkout = Checkout(content: store) { line in lines.withLock { $0.append(line) } }
        let entry = TreeEntry(name: Array("big".utf8), kind: .file, mode: 0o100644, size: UInt64(bytes.count), mtimeSeconds: 0,
                              mtimeNanoseconds: 0, hash: stored.hash)
        let out = try scratch.dir("out")
        try await checkout.write(entry: entry, at: FSPath(out + "/big"))
        #expect(lines.withLock { $0 } == ["writing big: 16 of 40 MiB", "writing big: 32 of 40 MiB"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/big")) == Data(bytes))
    }

    /// A version tries its bases in order and rests on the first whose delta pays.
    @Test func aVersionRestsOnTheFirstBaseThatPays() async throws {
        let scratch = try Scratch()
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        let store = ContentStore(objects: objects)
        let unrelated = testBytes(1 << 20, seed: 61), related = testBytes(1 << 20, seed: 62)
        var edited = related
        for j in 0..<4096 { edited[300_000 + j] ^= 0x77 }
        let u = try await store.store(unrelated, previous: nil), r = try await store.store(related, previous: nil)
        let uv = try #require(await objects.version(forContent: u)), rv = try #require(await objects.version(forContent: r))
        let hash = ContentHash.of(edited)
        let depth = try await store.storeWhole(edited, hash: hash, leaves: ContentHash.leaves(of: edited), bases: [uv, rv],
                                               inlineLimit: Chunker.maxSize)
        #expect(depth == 1)
        let v = try await objects.fileVersion(try #require(await objects.version(forContent: hash)))
        #expect(v.base == rv)
        #expect(v.storedSize < 16 << 10)
        #expect(try await store.content(forHash: hash) == edited)
    }

    /// Any byte range of any version: at the start, the end, across chunk and leaf boundaries, of an
    /// old version, each equal to the slice of the file; a range reads its chunks out of their packs by
    /// byte ranges (no data pack is downloaded whole).
    @Test func rangesOfAnyVersion() async throws {
        let scratch = try Scratch()
        let grid = try scratch.grid()
        let objects = ObjectStore(grid: grid, index: RepoIndex())
        let store = ContentStore(objects: objects)
        let v1 = testBytes(18 << 20 + 777, seed: 41)
        var v2 = v1
        for j in 0..<5000 { v2[(6 << 20) + j] ^= 0x33 }
        let h1 = try await storeChunked(v1, store, scratch)
        let h2 = try await storeChunked(v2, store, scratch, previous: h1)
        let v2ID = try #require(await objects.version(forContent: h2))
        let chunks = try #require(try await objects.fileVersion(v2ID).chunks)
        let boundary = UInt64(chunks[0].size + chunks[1].size)
        let size = UInt64(v1.count)
        let ranges: [Range<UInt64>] = [0..<1, 0..<100_000, size - 1..<size, size - 3_000_000..<size, boundary - 10..<boundary + 10,
                                       (1 << 20) - 1..<(1 << 20) + 1, 5 << 20..<(7 << 20) + 5, 0..<size]
        let fresh = try await reopened(objects, grid: grid)
        let reader = ContentStore(objects: fresh)
        for (hash, bytes) in [(h1, v1), (h2, v2)] {
            for r in ranges {
                var out: [UInt8] = []
                var next = r.lowerBound
                try await reader.write(hash, range: r) { offset, piece in
                    #expect(offset == next)
                    next += UInt64(piece.count)
                    out.append(contentsOf: piece)
                }
                #expect(out == Array(bytes[Int(r.lowerBound)..<Int(r.upperBound)]), "range \(r)")
            }
        }
        #expect(await fresh.packsInMemory <= 1, "only the metadata pack with the chunk lists is held")
        await #expect(throws: StoreError.self) { try await reader.write(h1, range: size - 1..<size + 1) { _, _ in } }
    }

    /// A chunk list whose chunks do not rebuild the file's leaves is refused at the first bad leaf, and
    /// nothing of that leaf or after it is handed out.
    @Test func aWrongChunkIsRejectedBeforeOutput() async throws {
        let scratch = try Scratch()
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        let store = ContentStore(objects: objects)
        let good = testBytes(12 << 20, seed: 21)
        var bad = good
        bad[7 << 20 + 5] ^= 1
        let goodHash = try await storeChunked(good, store, scratch, name: "good")
        let badHash = try await storeChunked(bad, store, scratch, name: "bad")
        let goodVersion = try await objects.fileVersion(try #require(await objects.version(forContent: goodHash)))
        let badVersion = try await objects.fileVersion(try #require(await objects.version(forContent: badHash)))
        // The good file's identity and leaf hashes over the flipped file's chunks (a tampered chunk list).
        var forged = goodVersion
        forged.storage = badVersion.storage
        let forgedID = try await objects.put(forged.encoded, metadata: true)
        var out: [UInt8] = []
        await #expect(throws: StoreError.self) {
            try await store.write(version: forgedID, hash: goodHash) { offset, piece in
                #expect(offset == UInt64(out.count))
                out.append(contentsOf: piece)
            }
        }
        #expect(out.count == 7 << 20, "the leaves before the flipped one, and nothing after")
        // A range inside the flipped byte's leaf is refused; one before it reads.
        await #expect(throws: StoreError.self) {
            try await store.write(version: forgedID, hash: goodHash, range: (7 << 20) + 5..<(7 << 20) + 6) { _, _ in }
        }
        var early: [UInt8] = []
        try await store.write(version: forgedID, hash: goodHash, range: 100..<200) { _, piece in early.append(contentsOf: piece) }
        #expect(early == Array(good[100..<200]))
        #expect(out == Array(good[..<(7 << 20)]))
        await #expect(throws: StoreError.self) { try await store.verify(version: forgedID) }
    }

    /// A whole-file version goes through `write` too (small files, symlinks).
    @Test func smallContentsStreamAsOnePiece() async throws {
        let scratch = try Scratch()
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        let store = ContentStore(objects: objects)
        let bytes = textBytes(300_000, seed: 2)
        let hash = try await store.store(bytes, previous: nil)
        #expect(try await restored(hash, store) == bytes)
    }
}

/// A value shared with a callback (tests).
final class Box<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    func withLock<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&stored) } }
}
