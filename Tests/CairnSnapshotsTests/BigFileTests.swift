import CairnFiles
import CairnGrid
import Foundation
import Testing
@testable import CairnSnapshots

@Suite struct BigFileTests {
    /// Writes `bytes` to a file in `scratch` and stores it chunked.
    func storeChunked(_ bytes: [UInt8], _ store: ContentStore, _ scratch: Scratch, name: String = "input") async throws -> [UInt8] {
        let path = scratch.path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try FileSystem.openForReading(FSPath(path))
        defer { try? file.close() }
        let stored = try await store.storeChunked(file, previous: nil)
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
        // Identical chunks in two different files are stored once: a file made of the original's second
        // half shares its chunks (after the first cut) with the original.
        let half = try await add(Array(original[(10 << 20)...]))
        #expect(half.filter { base.contains($0) }.count >= half.count - 3)

        let fresh = ContentStore(objects: try await reopened(objects, grid: grid))
        for (hash, bytes) in versions {
            #expect(try await restored(hash, fresh) == bytes)
        }
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
