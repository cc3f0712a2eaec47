import CairnFiles
import CairnPrimitives
import Foundation
import Testing

@testable import CairnSnapshots

/// A command's index additions spill to disk in sorted runs; lookups and the segment written from them
/// must be exactly what the in-memory encoding gives.
@Suite struct AddedIndexTests {
    func randomID() -> ObjectID { ObjectID(SecureRandom.bytes(32))! }

    @Test func spilledAdditionsAnswerAndWriteTheSameSegment() throws {
        let scratch = try Scratch()
        let folder = try scratch.dir("spill")
        // Runs of 100 records: 2,500 objects and contents make 25 runs each, plus a partly filled buffer.
        var index = RepoIndex(folder: folder, bufferRecords: 100)
        var expected = IndexSegment()
        var ids: [ObjectID] = []
        for p in 0..<5 {
            let pack = (0..<500).map { _ in randomID() }
            ids += pack
            let cap = "URI:CHK:pack-\(p)"
            try index.addPack(cap: cap, ids: pack)
            expected.packs.append(IndexSegment.Pack(cap: cap, ids: pack.sorted()))
        }
        // A pack whose objects are all known already adds no object records.
        try index.addPack(cap: "URI:CHK:again", ids: Array(ids.prefix(10)))
        expected.packs.append(IndexSegment.Pack(cap: "URI:CHK:again", ids: []))
        var hashes: [[UInt8]] = []
        for i in 0..<2_500 {
            let hash = SecureRandom.bytes(32), version = ids[i]
            try index.recordContent(hash, version: version, depth: 5)
            hashes.append(hash)
        }
        // A shorter chain found later replaces the entry; a longer one is ignored.
        try index.recordContent(hashes[7], version: ids[9], depth: 1)
        try index.recordContent(hashes[8], version: ids[9], depth: 9)
        for (i, h) in hashes.enumerated() {
            let depth: UInt16 = i == 7 ? 1 : 5
            expected.contents.append(IndexSegment.Content(hash: h, version: i == 7 ? ids[9] : ids[i], depth: depth))
        }
        for (n, id) in ids.enumerated() { #expect(index.location(of: id) == n / 500) }
        #expect(index.location(of: randomID()) == nil)
        #expect(index.content(hashes[7])?.depth == 1 && index.version(forContent: hashes[7]) == ids[9])
        #expect(index.version(forContent: hashes[8]) == ids[8] && index.content(SecureRandom.bytes(32)) == nil)
        #expect(index.objects(withHexPrefix: String(ids[42].hex.prefix(9))) == [ids[42]])

        let (path, size) = try #require(try index.writeAddedSegment())
        let bytes = try FileSystem.readFile(path)
        #expect(UInt64(bytes.count) == size)
        #expect(bytes == expected.encoded, "the streamed segment differs from the in-memory encoding")
        #expect(try IndexSegment(decoding: bytes) == IndexSegment(decoding: expected.encoded))
        try FileSystem.remove(path)
        #expect(try FileSystem.names(in: FSPath(folder)).isEmpty, "the spill file outlived its use")
    }

    @Test func nothingAddedWritesNothing() throws {
        let scratch = try Scratch()
        let index = RepoIndex(folder: try scratch.dir("spill"), bufferRecords: 4)
        #expect(!index.hasAdditions)
        #expect(try index.writeAddedSegment() == nil)
    }

    /// Folding merges the mapped tables into a file: the same bytes as folding the decoded values.
    @Test func streamedFoldEqualsTheFoldOfValues() throws {
        let scratch = try Scratch()
        let folder = try scratch.dir("segments")
        let shared = (0..<50).map { _ in randomID() }
        let hash = SecureRandom.bytes(32)
        var segments: [IndexSegment] = []
        for s in 0..<4 {
            var seg = IndexSegment()
            seg.packs.append(IndexSegment.Pack(cap: "URI:CHK:own-\(s)", ids: (0..<300).map { _ in randomID() }.sorted()))
            // A pack two segments name (two writers' convergent packs): counted once.
            seg.packs.append(IndexSegment.Pack(cap: "URI:CHK:shared", ids: shared.sorted()))
            seg.contents = (0..<400).map { _ in IndexSegment.Content(hash: SecureRandom.bytes(32), version: randomID(), depth: 3) }
            // One content every segment knows, at another depth each: the shortest chain survives.
            seg.contents.append(IndexSegment.Content(hash: hash, version: randomID(), depth: UInt16([7, 2, 9, 2][s])))
            segments.append(seg)
        }
        var values = IndexSegment()
        var seen: Set<String> = []
        for seg in segments {
            values.packs += seg.packs.filter { seen.insert($0.cap).inserted }
            values.contents += seg.contents
        }
        let views = try segments.map { try SegmentView(MappedBytes(copying: $0.encoded)) }
        let (path, size) = try IndexSegment.fold(views, folder: folder)
        let bytes = try FileSystem.readFile(path)
        #expect(UInt64(bytes.count) == size)
        #expect(bytes == values.encoded, "the streamed fold differs from the fold of values")
        #expect(try SegmentView(MappedBytes(copying: bytes)).content(hash)?.version == segments[1].contents.last!.version)
    }

    /// Additions that cannot be kept on disk fail the command as a store error: a file-system error
    /// from storing a file would be taken for that file being unreadable, and the snapshot would lack it.
    @Test func additionsThatCannotBeKeptFailTheCommit() async throws {
        let scratch = try Scratch()
        let source = try scratch.dir("source")
        for f in 0..<5 { try "file \(f)\n".write(toFile: source + "/f\(f)", atomically: false, encoding: .utf8) }
        var index = RepoIndex(folder: scratch.path + "/no-such-folder", bufferRecords: 2)
        #expect(throws: StoreError.self) {
            for _ in 0..<3 { try index.recordContent(SecureRandom.bytes(32), version: randomID(), depth: 0) }
        }
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex(folder: scratch.path + "/no-such-folder", bufferRecords: 2))
        let builder = TreeBuilder(root: FSPath(source), content: ContentStore(objects: objects), rules: IgnoreRules(), cache: .empty)
        await #expect(throws: StoreError.self) { try await builder.build(previousTreeID: nil) }
        #expect(builder.unreadable.isEmpty, "\(builder.unreadable)")
    }
}

