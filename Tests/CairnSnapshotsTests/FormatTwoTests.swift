import CairnFiles
import CairnFormats
import CairnGrid
import Foundation
import Testing
@testable import CairnSnapshots

/// Snapshot format 2: identities as bytes, annotated tags, missing entries, refs by full name, the
/// content hash tree, index segments.
@Suite struct FormatTwoObjectTests {
    @Test func identitiesAreBytes() throws {
        // "Jörg" in Latin-1 (not UTF-8) and git's "-0000" zone: kept byte for byte.
        let latin1: [UInt8] = [0x4A, 0xF6, 0x72, 0x67]
        let author = Signature(nameBytes: latin1, emailBytes: Array("j@example.org".utf8), time: 1_100_000_000, zone: Array("-0000".utf8))
        let committer = Signature(nameBytes: latin1, emailBytes: [0xE9], time: -5, zone: Array("+0530".utf8))
        let s = Snapshot(tree: ObjectID([UInt8](repeating: 7, count: 32))!, parents: [], author: author, committer: committer,
                         message: [0xFF, 0x00, 0x0A],
                         extraHeaders: [ExtraHeader(key: Array("encoding".utf8), value: Array("ISO-8859-1".utf8)),
                                        ExtraHeader(key: [0x67, 0x70, 0x67, 0x73, 0x69, 0x67], value: Array(" line1\n line2".utf8))])
        let back = try Snapshot(decoding: s.encoded)
        #expect(back == s && back.encoded == s.encoded)
        #expect(back.author.nameBytes == latin1 && back.author.zone == Array("-0000".utf8))
        #expect(back.extraHeaders.map(\.key) == [Array("encoding".utf8), Array("gpgsig".utf8)], "headers keep their order")
        #expect(back.author.zoneOffset == 0 && back.committer.zoneOffset == 330)
        // "-0000" and "+0000" are different bytes, so different snapshots.
        var plus = s
        plus.author.zone = Array("+0000".utf8)
        #expect(plus.id != s.id)
        #expect(Signature(name: "A", email: "a", time: 0, zoneOffset: -90).zone == Array("-0130".utf8))
    }

    @Test func annotatedTagsAndMissingEntriesRoundTrip() throws {
        let tagger = Signature(name: "T", email: "t@x", time: 1, zoneOffset: 60)
        for target in [RefTarget.snapshot(ObjectID([UInt8](repeating: 1, count: 32))!), RefTarget(kind: .tree, hash: [UInt8](repeating: 2, count: 32)),
                       RefTarget(kind: .content, hash: [UInt8](repeating: 3, count: 32)), RefTarget(kind: .tag, hash: [UInt8](repeating: 4, count: 32))] {
            for who in [tagger, nil] {
                let tag = AnnotatedTag(target: target, name: Array("v1.0".utf8), tagger: who, message: Array("release\n-----BEGIN PGP SIGNATURE-----\n".utf8),
                                       extraHeaders: [ExtraHeader(key: Array("x".utf8), value: [])])
                #expect(try AnnotatedTag(decoding: tag.encoded) == tag)
            }
        }
        // A blob missing from a partial clone: its git id (20 bytes) and size, nothing stored.
        let missing = TreeEntry(name: Array("huge.iso".utf8), kind: .missing, mode: 0o100644, size: 4_000_000_000,
                                mtimeSeconds: 0, mtimeNanoseconds: 0, hash: [UInt8](repeating: 0xAB, count: 20))
        let tree = try Tree(entries: [missing])
        #expect(try Tree(decoding: tree.encoded).entries == [missing])
        #expect(!missing.hasContent)
        // A size no file has is refused, not a crash (it overflowed counting leaves).
        var huge = FileVersion(contentHash: [UInt8](repeating: 1, count: 32), size: 10, base: nil, depth: 0, chainBytes: 0,
                               keyframeSize: 1, leafHashes: [], encoding: .raw, storedSize: 1, payloadSize: 1, storage: .inline([0]))
        huge.size = .max
        #expect(throws: ObjectError.self) { try FileVersion(decoding: huge.encoded) }
        huge.leafHashes = [[UInt8](repeating: 3, count: 32)]
        #expect(throws: ObjectError.self) { try FileVersion(decoding: huge.encoded) }
        #expect(SegmentPolicy.foldStart(sizes: Array(repeating: .max, count: 17)) != nil)
        // A delta record claiming more than a tree could be is refused before anything is allocated.
        var claim = PackBuilder()
        claim.addDelta(ObjectID([UInt8](repeating: 4, count: 32))!, rawLength: PackBuilder.maxDeltaTarget + 1,
                       base: ObjectID([UInt8](repeating: 5, count: 32))!, depth: 1, delta: [0xD6, 0xC3, 0xC4, 0])
        #expect(throws: ObjectError.self) { try PackReader(claim.build()) }
        // A file entry must carry a 32-byte content hash.
        var bad = missing
        bad.kind = .file
        #expect(throws: ObjectError.self) { try Tree(decoding: try Tree(entries: [bad]).encoded) }
    }

    @Test func refsHoldAnyNamespaceAndManyRefs() throws {
        var refs = Refs(secret: [UInt8](repeating: 5, count: 32), defaultBranch: Array("refs/heads/trunk".utf8))
        let snap = ObjectID([UInt8](repeating: 1, count: 32))!
        refs.branches["trunk"] = snap
        refs.branches["feature/x"] = snap
        refs.tags["tree-tag"] = RefTarget(kind: .tree, hash: [UInt8](repeating: 2, count: 32))
        refs.tags["content-tag"] = RefTarget(kind: .content, hash: [UInt8](repeating: 3, count: 32))
        refs.tags["annotated"] = RefTarget(kind: .tag, hash: [UInt8](repeating: 4, count: 32))
        refs.all[Array("refs/remotes/origin/main".utf8)] = .snapshot(snap)
        refs.all[Array("refs/notes/commits".utf8)] = .snapshot(snap)
        // Beyond format 1's u16 counts.
        for i in 0..<70_000 { refs.all[Array("refs/pull/\(i)/head".utf8)] = .snapshot(snap) }
        refs.segments = (0..<16).map { "cairn:chk:segment\($0)" }
        let back = try Refs(decoding: refs.encoded)
        #expect(back == refs)
        #expect(back.defaultBranchName == "trunk")
        #expect(back.branches == ["trunk": snap, "feature/x": snap])
        #expect(back.tags["tree-tag"]?.kind == .tree && back.tags["content-tag"]?.kind == .content && back.tags["annotated"]?.kind == .tag)
        #expect(back.all.count == 70_007)
        // Deleting through the short-name view removes only that ref.
        var fewer = back
        fewer.branches["feature/x"] = nil
        #expect(fewer.all.count == 70_006 && fewer.branches == ["trunk": snap])

        // Setting a branch through the short-name view touches nothing it does not show: a branch ref
        // aimed at a tree, a name that is not UTF-8 (they came from another writer or an import).
        var mixed = Refs(secret: [UInt8](repeating: 5, count: 32))
        mixed.all[Array("refs/heads/odd".utf8)] = RefTarget(kind: .tree, hash: [UInt8](repeating: 2, count: 32))
        mixed.all[Refs.headsPrefix + [0x63, 0x61, 0x66, 0xE9]] = .snapshot(snap)
        mixed.all[Array("refs/heads/main".utf8)] = .snapshot(snap)
        let before = mixed.all
        mixed.branches["main"] = ObjectID([UInt8](repeating: 9, count: 32))!
        mixed.branches["new"] = snap
        mixed.branches["new"] = nil
        #expect(mixed.all.count == 3 && mixed.all[Array("refs/heads/odd".utf8)] == before[Array("refs/heads/odd".utf8)])
        #expect(mixed.all[Refs.headsPrefix + [0x63, 0x61, 0x66, 0xE9]] == .snapshot(snap))
        #expect(mixed.branches.keys.sorted() == ["main"])

        // Format 1 refs are refused with a clear message.
        let v1 = Array("CRNREFS1".utf8) + [UInt8](repeating: 0, count: 38)
        #expect(throws: RepositoryError.self) { try Refs(decoding: v1) }

        for good in ["refs/heads/main", "refs/tags/v1.0", "refs/remotes/origin/HEAD", "refs/heads/ü"] {
            #expect(Refs.isValidFullName(Array(good.utf8)), "\(good)")
        }
        for bad in ["heads/main", "refs/", "refs/heads/a..b", "refs/heads/.hidden", "refs/heads/x.lock", "refs/heads/a b",
                    "refs/heads/a@{1}", "refs//x", "refs/heads/x/"] {
            #expect(!Refs.isValidFullName(Array(bad.utf8)), "\(bad)")
        }
    }
}

@Suite struct ContentHashTreeTests {
    @Test func everyLeafIsCheckedAlone() throws {
        let leaf = ContentHash.leafSize
        let data = testBytes(3 * leaf + leaf / 2, seed: 11)
        let leaves = ContentHash.leaves(of: data)
        #expect(leaves.count == 4 && ContentHash.leafCount(size: UInt64(data.count)) == 4)
        let hash = ContentHash.of(data)
        let verifier = try LeafVerifier(contentHash: hash, size: UInt64(data.count), leaves: leaves)
        for i in 0..<4 {
            let r = verifier.range(ofLeaf: i)
            let bytes = data[Int(r.lowerBound)..<Int(r.upperBound)]
            #expect(verifier.check(leaf: i, bytes))
            // One flipped byte anywhere in the leaf (first, middle, last) is rejected, and changes the content hash.
            for at in [0, bytes.count / 2, bytes.count - 1] {
                var flipped = Array(bytes)
                flipped[at] ^= 0x01
                #expect(!verifier.check(leaf: i, flipped[...]), "leaf \(i) byte \(at)")
                var whole = data
                whole[Int(r.lowerBound) + at] ^= 0x01
                #expect(ContentHash.of(whole) != hash)
            }
            #expect(!verifier.check(leaf: i, bytes.dropLast()))
        }
        // Leaf hashes that do not rebuild the content hash are refused as a whole.
        var wrong = leaves
        wrong.swapAt(0, 1)
        #expect(throws: StoreError.self) { try LeafVerifier(contentHash: hash, size: UInt64(data.count), leaves: wrong) }
        #expect(throws: StoreError.self) { try LeafVerifier(contentHash: hash, size: UInt64(data.count) + 1, leaves: leaves) }
        // Size is bound in: the empty file and small files have one leaf.
        #expect(ContentHash.leaves(of: []).count == 1 && ContentHash.of([]) != ContentHash.of([0]))
        #expect(ContentHash.leaves(of: [UInt8](repeating: 1, count: leaf)).count == 1)
        #expect(ContentHash.leaves(of: [UInt8](repeating: 1, count: leaf + 1)).count == 2)
    }

    /// A stored version whose bytes do not match its leaf hashes is refused when rebuilt.
    @Test func aDamagedLeafIsRefusedOnRestore() async throws {
        let scratch = try Scratch()
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        let store = ContentStore(objects: objects)
        let data = testBytes(2 * ContentHash.leafSize + 10, seed: 3)
        let hash = try await store.store(data, previous: nil)
        let id = await objects.version(forContent: hash)!
        var version = try await objects.fileVersion(id)
        #expect(version.leafHashes == ContentHash.leaves(of: data))
        // The same record with one leaf hash altered no longer verifies.
        version.leafHashes[1][0] ^= 1
        let forged = try await objects.put(version.encoded)
        await #expect(throws: StoreError.self) { _ = try await store.content(of: forged) }
        #expect(try await store.content(forHash: hash) == data)
    }
}

@Suite struct IndexSegmentTests {
    @Test func segmentsRoundTripAndTheShortestChainWins() throws {
        let v = (0..<4).map { ObjectID([UInt8](repeating: UInt8($0 + 1), count: 32))! }
        let hash = [UInt8](repeating: 9, count: 32)
        var deep = IndexSegment()
        deep.packs = [IndexSegment.Pack(cap: "cairn:chk:a", ids: [v[0], v[1]])]
        deep.contents = [IndexSegment.Content(hash: hash, version: v[0], depth: 5)]
        var shallow = IndexSegment()
        shallow.packs = [IndexSegment.Pack(cap: "cairn:chk:b", ids: [v[2]]), IndexSegment.Pack(cap: "cairn:chk:a", ids: [v[0], v[1]])]
        shallow.contents = [IndexSegment.Content(hash: hash, version: v[2], depth: 1)]
        #expect(try IndexSegment(decoding: deep.encoded).encoded == deep.encoded)
        // Damage is refused: out-of-order tables, an object in a pack the segment does not name, a cut.
        var swapped = shallow
        swapped.packs = [IndexSegment.Pack(cap: "cairn:chk:b", ids: [v[2], v[0]])]
        var bytes = swapped.encoded
        let table = bytes.count - 4 - 66 - 2 * 36
        bytes.replaceSubrange(table..<(table + 72), with: Array(bytes[(table + 36)..<(table + 72)]) + Array(bytes[table..<(table + 36)]))
        #expect(throws: ObjectError.self) { try IndexSegment(decoding: bytes) }
        var badPack = deep.encoded
        badPack[badPack.count - 4 - 66 - 1] = 9
        #expect(throws: ObjectError.self) { try IndexSegment(decoding: badPack) }
        #expect(throws: ObjectError.self) { try IndexSegment(decoding: Array(deep.encoded.dropLast())) }
        for order in [[deep, shallow], [shallow, deep]] {
            let index = try RepoIndex(segments: order)
            #expect(index.version(forContent: hash) == v[2], "two writers: the shorter chain is taken")
            #expect(index.location(of: v[0]) != nil && index.location(of: v[2]) != nil && index.location(of: v[3]) == nil)
            #expect(index.packs.count == 2, "a pack named by two segments counts once")
            #expect(!index.hasAdditions, "merged segments are not this command's additions")
        }
        #expect(throws: ObjectError.self) { try IndexSegment(decoding: Array("CRNIDX01".utf8) + [0, 0, 0, 0]) }
    }

    @Test func foldingKeepsTheListShortAndTheBaseUntouched() {
        #expect(SegmentPolicy.foldStart(sizes: Array(repeating: 100, count: 16)) == nil)
        // A big base and small recent segments: only the small ones fold.
        let sizes: [UInt64] = [10_000_000] + Array(repeating: 2_000, count: 16)
        let start = SegmentPolicy.foldStart(sizes: sizes)!
        #expect(start >= 1, "the base was folded")
        #expect(start + 1 <= SegmentPolicy.maxSegments)
        // Whatever the sizes, the list after folding fits.
        var s: UInt64 = 7
        for _ in 0..<500 {
            var list: [UInt64] = []
            for _ in 0..<(17 + Int(s % 20)) {
                s = s &* 6364136223846793005 &+ 1442695040888963407
                list.append(1 + s >> 40)
            }
            let start = SegmentPolicy.foldStart(sizes: list)!
            #expect(start + 1 <= SegmentPolicy.maxSegments && start < list.count - 1)
        }
        // Simulated history: a commit's segment is small; the total rewritten per commit stays small.
        var list: [UInt64] = [5_000_000]
        var rewritten: UInt64 = 0
        for _ in 0..<2_000 {
            list.append(3_000)
            if let start = SegmentPolicy.foldStart(sizes: list) {
                let run = list[start...].reduce(0, +)
                rewritten += run
                list = Array(list[..<start]) + [run]
            }
        }
        #expect(list.count <= SegmentPolicy.maxSegments)
        #expect(rewritten / 2_000 < 100_000, "average bytes rewritten per commit: \(rewritten / 2_000)")
    }
}

/// Tree and snapshot ids name content only: the same worktree history stored twice — once with delta
/// chains on a 3-of-10 grid, once all keyframes on a 2-of-5 grid, in other packs — has the same ids.
@Suite struct IdentityApartFromStorageTests {
    @Test func rebuiltStorageKeepsEveryId() async throws {
        let scratch = try Scratch()
        let source = try scratch.dir("source")
        try makeSampleTree(at: source)
        let gridA = try scratch.grid()
        let pathB = scratch.path + "/gridB"
        try LocalGrid.create(at: pathB, servers: 5, parameters: try EncodingParameters(k: 2, n: 5, happy: 4))
        let gridB = try LocalGrid.open(at: pathB)
        let storeA = ObjectStore(grid: gridA, index: RepoIndex()), storeB = ObjectStore(grid: gridB, index: RepoIndex())
        let sig = Signature(name: "T", email: "t@x", time: 1_700_000_000, zoneOffset: 0)
        var idsA: [ObjectID] = [], idsB: [ObjectID] = []
        var parentA: ObjectID?, parentB: ObjectID?
        var previousTree: ObjectID?
        for round in 0..<3 {
            if round > 0 {
                // Small edits of the big files, so that A stores deltas.
                var big = try FileSystem.readFile(FSPath(source + "/nested/text.md"))
                big.replaceSubrange(1000..<1010, with: Array("round \(round)!".utf8))
                try Checkout.writeFile(FSPath(source + "/nested/text.md"), big, mode: 0o600, mtime: (1_600_000_100 + Int64(round), 0))
                try Checkout.writeFile(FSPath(source + "/a.txt"), Array("hello \(round)\n".utf8), mode: 0o644, mtime: (1_600_000_000, 0))
            }
            let a = TreeBuilder(root: FSPath(source), content: ContentStore(objects: storeA), rules: IgnoreRules(), cache: .empty)
            let treeA = try await a.build(previousTreeID: previousTree)
            // B: no previous tree, so every version is a keyframe.
            let b = TreeBuilder(root: FSPath(source), content: ContentStore(objects: storeB), rules: IgnoreRules(), cache: .empty)
            let treeB = try await b.build(previousTreeID: nil)
            #expect(treeA == treeB, "round \(round): tree ids differ with the storage")
            previousTree = treeA
            let snapA = Snapshot(tree: treeA, parents: parentA.map { [$0] } ?? [], author: sig, committer: sig, message: Array("r\(round)".utf8))
            let snapB = Snapshot(tree: treeB, parents: parentB.map { [$0] } ?? [], author: sig, committer: sig, message: Array("r\(round)".utf8))
            parentA = try await storeA.put(snapA.encoded)
            parentB = try await storeB.put(snapB.encoded)
            idsA.append(parentA!); idsB.append(parentB!)
        }
        #expect(idsA == idsB)
        // The storage really differs: A holds deltas, B only keyframes, in packs of other grids.
        let hash = ContentHash.of(try FileSystem.readFile(FSPath(source + "/nested/text.md")))
        let depthA = try await storeA.fileVersion(await storeA.version(forContent: hash)!).depth
        let depthB = try await storeB.fileVersion(await storeB.version(forContent: hash)!).depth
        #expect(depthA > 0 && depthB == 0)
        let capsA = Set(await storeA.index.packs), capsB = Set(await storeB.index.packs)
        _ = try await storeA.saveSegment(); _ = try await storeB.saveSegment()
        let afterA = await storeA.index.packs, afterB = await storeB.index.packs
        #expect(capsA.isDisjoint(with: afterB) && capsB.isDisjoint(with: afterA))
        // And both restore the same worktree.
        for (store, grid) in [(storeA, gridA), (storeB, gridB)] {
            let target = try scratch.dir("target-\(grid.parameters.n)")
            let fresh = try await reopened(store, grid: grid)
            try await Checkout(content: ContentStore(objects: fresh)).write(tree: previousTree!, into: FSPath(target))
            #expect(try describeTree(target) == describeTree(source))
        }
    }

    /// A tree with a missing entry checks out everything else and reports the missing path.
    @Test func missingEntriesAreReportedNotFatal() async throws {
        let scratch = try Scratch()
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        let content = ContentStore(objects: objects)
        let hash = try await content.store(Array("present\n".utf8), previous: nil)
        let tree = try Tree(entries: [
            TreeEntry(name: Array("here.txt".utf8), kind: .file, mode: 0o100644, size: 8, mtimeSeconds: 0, mtimeNanoseconds: 0, hash: hash),
            TreeEntry(name: Array("gone.bin".utf8), kind: .missing, mode: 0o100644, size: 123, mtimeSeconds: 0, mtimeNanoseconds: 0,
                      hash: [UInt8](repeating: 0xCD, count: 20)),
        ])
        let id = try await objects.put(tree.encoded)
        let target = try scratch.dir("out")
        // Whatever stands at a missing entry's path is the user's (perhaps the only copy): it stays.
        try Checkout.writeFile(FSPath(target + "/gone.bin"), Array("mine\n".utf8), mode: 0o644, mtime: nil)
        let checkout = Checkout(content: content)
        try await checkout.write(tree: id, into: FSPath(target))
        #expect(try FileSystem.readFile(FSPath(target + "/here.txt")) == Array("present\n".utf8))
        #expect(try FileSystem.readFile(FSPath(target + "/gone.bin")) == Array("mine\n".utf8))
        #expect(checkout.missing.paths.map(\.description) == [target + "/gone.bin"])
        // Status does not call it deleted.
        let flat = try await Repository.flatten(id, objects: objects)
        #expect(flat[Array("gone.bin".utf8)]?.kind == .missing)
        var worktree = flat
        worktree[Array("gone.bin".utf8)] = nil
        #expect(Repository.changes(from: flat, to: worktree).isEmpty)
    }
}

/// Trees are stored like file contents: a folder's tree that changed a little is a small VCDIFF delta on
/// the same folder's tree in the parent snapshot, chains stay within 16, and every tree reads back exactly.
@Suite struct CompactTreeTests {
    @Test func aTreeThatChangedALittleCostsALittle() async throws {
        let scratch = try Scratch()
        let source = try scratch.dir("source")
        try FileManager.default.createDirectory(atPath: source + "/wide", withIntermediateDirectories: true)
        for i in 0..<600 {
            try Checkout.writeFile(FSPath(source + "/wide/a-rather-long-file-name-\(i).txt"), Array("file \(i)\n".utf8), mode: 0o644, mtime: (1_600_000_000, 0))
        }
        let grid = try scratch.grid()
        var objects = ObjectStore(grid: grid, index: RepoIndex())
        var segments: [IndexSegment] = []
        func commit(previous: ObjectID?) async throws -> (tree: ObjectID, packBytes: UInt64) {
            let builder = TreeBuilder(root: FSPath(source), content: ContentStore(objects: objects), rules: IgnoreRules(), cache: .empty)
            let tree = try await builder.build(previousTreeID: previous)
            let saved = try await objects.saveSegment()!
            _ = try? FileSystem.unlink(saved.file)
            let cap = saved.cap
            let segment = try IndexSegment(decoding: try await ObjectStore.loadSegment(grid: grid, cap: cap))
            segments.append(segment)
            // The next commit starts from the segments, as a new command would (nothing cached).
            objects = ObjectStore(grid: grid, index: try RepoIndex(segments: segments))
            return (tree, segment.packs.map { (try? Cap(parsing: $0.cap))?.size ?? 0 }.reduce(0, +))
        }
        let first = try await commit(previous: nil)
        let wideEntry = try #require(try await objects.tree(first.tree).entry(named: Array("wide".utf8)))
        let wideTree = try await objects.tree(ObjectID(wideEntry.hash)!)
        #expect(wideTree.encoded.count > 45_000)
        var previous = first.tree
        var trees = [first.tree]
        var sizes: [UInt64] = []
        let rounds = Int(ObjectStore.maxTreeDepth) + 10
        for round in 0..<rounds {
            try Checkout.writeFile(FSPath(source + "/wide/a-rather-long-file-name-\(round * 7).txt"), Array("changed \(round)\n".utf8),
                                   mode: 0o644, mtime: (1_600_000_100 + Int64(round), 0))
            let next = try await commit(previous: previous)
            sizes.append(next.packBytes)
            previous = next.tree
            trees.append(next.tree)
        }
        // Most commits store the changed content (one tiny file version) and two small tree deltas, not
        // the folder's whole tree; a whole tree again once the chain is `maxTreeDepth` deep (once here).
        let whole = sizes.filter { $0 >= 8_000 }.count
        #expect(whole == 1, "pack bytes per commit: \(sizes)")
        #expect(sizes.sorted()[sizes.count / 2] < 8_000, "pack bytes per commit: \(sizes)")
        // Every tree reads back from a fresh store (a chain longer than the readers allow would be refused), and the
        // last one checks out exactly.
        let fresh = ObjectStore(grid: grid, index: try RepoIndex(segments: segments))
        for id in trees { #expect(try await fresh.tree(id).id == id) }
        let target = try scratch.dir("target")
        try await Checkout(content: ContentStore(objects: fresh)).write(tree: previous, into: FSPath(target))
        #expect(try describeTree(target) == describeTree(source))
    }
}
