import CairnGrid
import Testing
@testable import CairnSnapshots

@Suite struct ContentStoreTests {
    /// 100 successive small edits of a 1 MB file: chains stay within the depth bound, every version
    /// comes back exactly, and storage is far below 100 full copies.
    @Test func deltaChainsAreBoundedAndExact() async throws {
        let scratch = try Scratch()
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        let store = ContentStore(objects: objects)
        var content = textBytes(1_000_000, seed: 3)
        var versions: [(ObjectID, [UInt8])] = []
        var previous: [UInt8]?
        var s: UInt64 = 9
        for i in 0..<100 {
            if i > 0 {
                // Edit a few bytes somewhere, sometimes insert.
                s = s &* 6364136223846793005 &+ 1442695040888963407
                let at = Int(s >> 44) % (content.count - 100)
                if i % 3 == 0 { content.insert(contentsOf: Array("inserted line \(i)\n".utf8), at: at) } else {
                    for j in 0..<8 { content[at + j] = UInt8(65 + (i + j) % 26) }
                }
            }
            let hash = try await store.store(content, previous: previous)
            #expect(hash == ContentHash.of(content))
            versions.append((await objects.version(forContent: hash)!, content))
            previous = hash
        }
        // Read everything back through a fresh store (no cache), from the grid.
        let fresh = ContentStore(objects: try await reopened(objects, grid: try scratch.grid()))
        var maxDepth: UInt16 = 0
        var keyframes = 0
        var stored: UInt64 = 0
        for (id, expected) in versions {
            let v = try await objects.fileVersion(id)
            maxDepth = max(maxDepth, v.depth)
            if v.depth == 0 { keyframes += 1 }
            stored += v.storedSize
            #expect(try await fresh.content(of: id) == expected)
        }
        let fullCompressed = UInt64(ContentStore.pack(versions[0].1).1.count)
        #expect(maxDepth <= ContentStore.maxDepth)
        #expect(maxDepth > 0, "no deltas were made")
        // Each chain costs at most one keyframe plus chainFraction of it: the documented bound.
        let bound = UInt64(Double(fullCompressed) * (1 + ContentStore.chainFraction)) * UInt64(keyframes)
        #expect(stored <= bound, "stored \(stored) > bound \(bound)")
        #expect(stored < 100 * fullCompressed / 10, "stored \(stored) bytes for 100 versions of \(fullCompressed)")
        // Identical content is stored once.
        let again = try await store.store(versions[5].1, previous: previous)
        #expect(await objects.version(forContent: again) == versions[5].0)
    }
}
