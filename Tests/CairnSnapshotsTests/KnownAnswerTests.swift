import Foundation
import Testing
@testable import CairnSnapshots

/// Format 2 known answers: fixed inputs give fixed content hashes, object ids and bytes, kept in
/// Fixtures/snapshot-format2/known-answers.json, so an accidental format change fails here (a deliberate
/// one changes Snapshots.md and that file in the same commit).
@Suite struct KnownAnswerTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/snapshot-format2/known-answers.json")

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    static func id(_ byte: UInt8) -> ObjectID { ObjectID([UInt8](repeating: byte, count: 32))! }

    /// Every value, computed by this build.
    static func computed() throws -> [String: String] {
        var out: [String: String] = [:]
        let pattern = (0..<(2 * ContentHash.leafSize + 3)).map { UInt8($0 % 251) }
        out["content hash, empty"] = hex(ContentHash.of([]))
        out["content hash, abc"] = hex(ContentHash.of(Array("abc".utf8)))
        out["content hash, 2 MiB + 3 bytes of i mod 251"] = hex(ContentHash.of(pattern))
        out["leaf hashes, 2 MiB + 3 bytes of i mod 251"] = ContentHash.leaves(of: pattern).map(hex).joined(separator: " ")

        let tree = try Tree(entries: [
            TreeEntry(name: Array("file.txt".utf8), kind: .file, mode: 0o100644, size: 3, mtimeSeconds: 1_700_000_000,
                      mtimeNanoseconds: 123, hash: ContentHash.of(Array("abc".utf8))),
            TreeEntry(name: Array("dir".utf8), kind: .directory, mode: 0o040755, size: 0, mtimeSeconds: -1,
                      mtimeNanoseconds: 0, hash: id(1).bytes),
            TreeEntry(name: Array("link".utf8), kind: .symlink, mode: 0o120777, size: 8, mtimeSeconds: 0,
                      mtimeNanoseconds: 999_999_999, hash: ContentHash.of(Array("file.txt".utf8))),
            TreeEntry(name: Array("sub".utf8), kind: .gitlink, mode: 0o160000, size: 0, mtimeSeconds: 0,
                      mtimeNanoseconds: 0, hash: [UInt8](repeating: 0xAB, count: 20)),
            TreeEntry(name: [0x63, 0x61, 0x66, 0xE9], kind: .missing, mode: 0o100664, size: 1 << 33, mtimeSeconds: 5,
                      mtimeNanoseconds: 6, hash: [UInt8](repeating: 0xCD, count: 20)),
        ])
        out["tree"] = hex(tree.encoded)
        out["tree id"] = tree.id.hex

        let author = Signature(nameBytes: [0x4A, 0xF6, 0x72, 0x67], emailBytes: Array("j@example.org".utf8), time: 1_100_000_000,
                               zone: Array("-0000".utf8))
        let committer = Signature(name: "Ada", email: "ada@example.org", time: 1_700_000_000, zoneOffset: 90)
        let snapshot = Snapshot(tree: tree.id, parents: [id(2), id(3)], author: author, committer: committer,
                                message: Array("two parents\n".utf8),
                                extraHeaders: [ExtraHeader(key: Array("encoding".utf8), value: Array("ISO-8859-1".utf8))])
        out["snapshot"] = hex(snapshot.encoded)
        out["snapshot id"] = snapshot.id.hex

        let tag = AnnotatedTag(target: .snapshot(snapshot.id), name: Array("v1.0".utf8), tagger: committer,
                               message: Array("release\n".utf8))
        out["annotated tag"] = hex(tag.encoded)
        out["annotated tag id"] = tag.id.hex

        let version = FileVersion(contentHash: ContentHash.of(pattern), size: UInt64(pattern.count), base: id(4), depth: 2,
                                  chainBytes: 40, keyframeSize: 90_000, leafHashes: ContentHash.leaves(of: pattern),
                                  encoding: .zlib, storedSize: 3, payloadSize: 12, storage: .inline([1, 2, 3]))
        out["file version"] = hex(version.encoded)
        out["file version id"] = version.id.hex

        let chunkHashes = [ContentHash.of(Array("first chunk".utf8)), ContentHash.of(Array("second".utf8))]
        let chunked = FileVersion(contentHash: ContentHash.of(pattern), size: UInt64(pattern.count), base: nil, depth: 0,
                                  chainBytes: 0, keyframeSize: 0, leafHashes: ContentHash.leaves(of: pattern), encoding: .raw,
                                  storedSize: 0, payloadSize: 0,
                                  storage: .chunks([FileVersion.Chunk(hash: chunkHashes[0], size: UInt32(pattern.count - 1000)),
                                                    FileVersion.Chunk(hash: chunkHashes[1], size: 1000)]))
        out["chunked file version"] = hex(chunked.encoded)
        out["chunked file version id"] = hex(chunked.id.bytes)

        // The gear table and the cuts it makes, for a fixed secret (the chunker is part of the format: other
        // cuts would store every big file again).
        let chunker = Chunker(secret: [UInt8](repeating: 7, count: 32))
        out["gear table, secret 07 x 32, first 4 words"] = chunker.gear.prefix(4).map { String($0, radix: 16) }.joined(separator: " ")
        var x: UInt64 = 1
        let stream = (0..<(12 << 20)).map { _ -> UInt8 in x = x &* 6364136223846793005 &+ 1442695040888963407; return UInt8(x >> 56) }
        out["chunk lengths, secret 07 x 32, 12 MiB of the LCG bytes"] = chunker.lengths(of: stream).map(String.init).joined(separator: " ")

        var refs = Refs(secret: [UInt8](repeating: 7, count: 32), defaultBranch: Array("refs/heads/main".utf8),
                        segments: ["cairn:chk:one", "cairn:chk:two"])
        refs.branches["main"] = snapshot.id
        refs.tags["v1.0"] = RefTarget(kind: .tag, hash: tag.id.bytes)
        refs.all[Array("refs/notes/commits".utf8)] = RefTarget(kind: .content, hash: ContentHash.of([]))
        out["refs"] = hex(refs.encoded)

        var segment = IndexSegment()
        segment.packs = [IndexSegment.Pack(cap: "cairn:chk:pack", ids: [id(9), id(8)])]
        segment.contents = [IndexSegment.Content(hash: ContentHash.of([]), version: id(9), depth: 0),
                            IndexSegment.Content(hash: ContentHash.of(Array("abc".utf8)), version: id(8), depth: 3)]
        out["index segment"] = hex(segment.encoded)

        var pack = PackBuilder()
        pack.add(tree.id, tree.encoded, compress: false)
        pack.addDelta(snapshot.id, rawLength: snapshot.encoded.count, base: id(5), depth: 1, delta: [0xD6, 0xC3, 0xC4])
        out["pack (uncompressed records)"] = hex(pack.build())
        return out
    }

    @Test func everyValueIsAsRecorded() throws {
        let values = try Self.computed()
        guard let data = FileManager.default.contents(atPath: Self.fixture.path) else {
            let json = try JSONSerialization.data(withJSONObject: values, options: [.prettyPrinted, .sortedKeys])
            Issue.record("no fixture at \(Self.fixture.path); this build computes:\n\(String(decoding: json, as: UTF8.self))")
            return
        }
        let recorded = try #require(try JSONSerialization.jsonObject(with: data) as? [String: String])
        #expect(Set(recorded.keys) == Set(values.keys))
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            #expect(recorded[name] == value, "\(name): recorded \(recorded[name] ?? "nothing"), computed \(value)")
        }
    }
}
