import Foundation
import Testing
@testable import CairnGit
import CairnSnapshots

/// The git import's own bytes — the import state's three files, the git bytes written back from Cairn objects,
/// a raw-bytes header — for fixed inputs, kept in Fixtures/git-import/known-answers.json: an accidental change
/// fails here (a deliberate one changes Documentation/Git.md and that file in the same commit). Ids written
/// back are checked by libgit2's hash of the same bytes, as git computes them.
@Suite struct GitKnownAnswerTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/git-import/known-answers.json")

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    static func oid(_ byte: UInt8) -> GitOID { GitOID([UInt8](repeating: byte, count: 20))! }
    static func id(_ byte: UInt8) -> ObjectID { ObjectID([UInt8](repeating: byte, count: 32))! }

    static func computed() throws -> [String: String] {
        var out: [String: String] = [:]
        var state = ImportState()
        state.refs = [GitRef(name: Array("refs/heads/main".utf8), target: .object(oid(1))),
                      GitRef(name: Array("refs/heads/alias".utf8), target: .symbolic(Array("refs/heads/main".utf8)))]
        state.head = .symbolic(Array("refs/heads/main".utf8))
        state.map = [oid(1): .init(kind: .commit, hash: id(0x11), size: 0), oid(2): .init(kind: .tree, hash: id(0x22), size: 0),
                     oid(3): .init(kind: .blob, hash: id(0x33), size: 12_345), oid(4): .init(kind: .tag, hash: id(0x44), size: 0),
                     oid(5): .init(kind: .missingBlob, hash: ImportState.zeroID, size: 0)]
        state.rawTrees = [oid(2): Array("040000 d\0".utf8) + oid(6).bytes]
        out["state refs"] = hex(ImportState.encodeRefs(state.refs, head: state.head))
        out["state map"] = hex(state.encodeMap())
        out["state raw"] = hex(state.encodeRaw())

        // Cairn objects written back as git objects, and the ids git gives them.
        let tree = try Tree(entries: [
            TreeEntry(name: Array("a.c".utf8), kind: .file, mode: 0o100644, size: 1, mtimeSeconds: 0, mtimeNanoseconds: 0, hash: id(7).bytes),
            TreeEntry(name: Array("a".utf8), kind: .directory, mode: 0o040755, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0, hash: id(8).bytes),
            TreeEntry(name: Array("run".utf8), kind: .file, mode: 0o100775, size: 1, mtimeSeconds: 9, mtimeNanoseconds: 0, hash: id(9).bytes),
            TreeEntry(name: Array("link".utf8), kind: .symlink, mode: 0o120777, size: 1, mtimeSeconds: 0, mtimeNanoseconds: 0, hash: id(10).bytes),
            TreeEntry(name: Array("sub".utf8), kind: .gitlink, mode: 0o160000, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0, hash: oid(11).bytes),
        ])
        let ids: [String: GitOID] = ["a.c": oid(12), "a": oid(13), "run": oid(14), "link": oid(15), "sub": oid(11)]
        let treeBytes = try #require(GitMapping.treeBytes(tree) { ids[$0.nameString] })
        out["git tree"] = hex(treeBytes)
        out["git tree id"] = try GitRepository.hash(.tree, treeBytes).description

        let author = Signature(nameBytes: [0x52, 0x65, 0x6E, 0xE9], emailBytes: Array("r@example.org".utf8), time: 1_100_000_000,
                               zone: Array("-0000".utf8))
        let committer = Signature(name: "Ada", email: "ada@example.org", time: 1_700_000_000, zoneOffset: 90)
        let snapshot = Snapshot(tree: tree.id, parents: [id(1), id(2)], author: author, committer: committer,
                                message: Array("two parents\n".utf8),
                                extraHeaders: [ExtraHeader(key: Array("encoding".utf8), value: Array("ISO-8859-1".utf8)),
                                               ExtraHeader(key: Array("gpgsig".utf8), value: Array("-----BEGIN-----\n\nsig\n-----END-----".utf8))])
        let commitBytes = try #require(GitMapping.commitBytes(snapshot, tree: oid(16), parents: [oid(17), oid(18)]))
        out["git commit"] = hex(commitBytes)
        out["git commit id"] = try GitRepository.hash(.commit, commitBytes).description

        let tag = AnnotatedTag(target: .snapshot(id(1)), name: Array("v1".utf8), tagger: committer, message: Array("release\n".utf8))
        let tagBytes = try #require(GitMapping.tagBytes(tag, target: oid(19)))
        out["git tag"] = hex(tagBytes)
        out["git tag id"] = try GitRepository.hash(.tag, tagBytes).description

        // A commit kept raw: its bytes are the last header's value, whatever the snapshot's fields say.
        var raw = snapshot
        raw.extraHeaders.append(ExtraHeader(key: GitMapping.rawKey, value: Array("raw git bytes".utf8)))
        out["raw header key"] = String(decoding: GitMapping.rawKey, as: UTF8.self)
        out["raw commit written back"] = hex(try #require(GitMapping.commitBytes(raw, tree: nil, parents: [])))
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

    /// The recorded files decode to what was encoded.
    @Test func stateFilesRoundTrip() throws {
        let values = try Self.computed()
        func bytes(_ hex: String) -> [UInt8] {
            var out: [UInt8] = []
            var i = hex.startIndex
            while i < hex.endIndex { let j = hex.index(i, offsetBy: 2); out.append(UInt8(hex[i..<j], radix: 16)!); i = j }
            return out
        }
        let (refs, head) = try ImportState.decodeRefs(bytes(values["state refs"]!))
        #expect(refs.count == 2 && head == .symbolic(Array("refs/heads/main".utf8)))
        let map = try ImportState.decodeMap(bytes(values["state map"]!))
        #expect(map.count == 5 && map[Self.oid(3)]?.size == 12_345 && map[Self.oid(5)]?.kind == .missingBlob)
        let raw = try ImportState.decodeRaw(bytes(values["state raw"]!))
        #expect(raw[Self.oid(2)] == Array("040000 d\0".utf8) + Self.oid(6).bytes)
        // Damaged files are refused with a message, never a crash.
        #expect(throws: GitError.self) { try ImportState.decodeMap(Array(bytes(values["state map"]!).dropLast())) }
        #expect(throws: GitError.self) { try ImportState.decodeRefs(Array(bytes(values["state refs"]!).dropLast(3))) }
        #expect(throws: GitError.self) { try ImportState.decodeRaw(Array(bytes(values["state raw"]!).prefix(14))) }
    }
}
