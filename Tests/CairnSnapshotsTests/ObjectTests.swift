import Testing
@testable import CairnSnapshots

@Suite struct ObjectEncodingTests {
    func entry(_ name: String, _ kind: TreeEntry.Kind = .file, mode: UInt32 = 0o100644) -> TreeEntry {
        TreeEntry(name: Array(name.utf8), kind: kind, mode: mode, size: 3, mtimeSeconds: 1_700_000_000, mtimeNanoseconds: 5,
                  hash: [UInt8](repeating: 1, count: 32))
    }

    @Test func treesAreCanonical() throws {
        let a = try Tree(entries: [entry("b"), entry("a", .directory, mode: 0o040000), entry("c", .symlink, mode: 0o120000)])
        let b = try Tree(entries: [entry("c", .symlink, mode: 0o120000), entry("a", .directory, mode: 0o040000), entry("b")])
        #expect(a.encoded == b.encoded && a.id == b.id)
        #expect(try Tree(decoding: a.encoded) == a)
        #expect(a.entry(named: Array("b".utf8))?.mode == 0o100644)
        // Raw git modes and odd legacy ones survive.
        let odd = try Tree(entries: [entry("x", mode: 0o100664), entry("sub", .gitlink, mode: 0o160000)])
        #expect(try Tree(decoding: odd.encoded).entries.map(\.mode) == [0o160000, 0o100664])
        #expect(throws: ObjectError.self) { try Tree(entries: [entry("a"), entry("a")]) }
        #expect(throws: ObjectError.self) { try Tree(entries: [entry("a/b")]) }
        #expect(throws: ObjectError.self) { try Tree(entries: [entry("..")]) }
        let nonUTF8 = TreeEntry(name: [0x66, 0xFF, 0x20], kind: .file, mode: 0o100600, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0,
                                hash: [UInt8](repeating: 0, count: 32))
        #expect(try Tree(decoding: Tree(entries: [nonUTF8]).encoded).entries[0].name == [0x66, 0xFF, 0x20])
        var damaged = a.encoded
        damaged.removeLast()
        #expect(throws: ObjectError.self) { try Tree(decoding: damaged) }
    }

    @Test func snapshotsAndVersionsRoundTrip() throws {
        let sig = Signature(name: "Ada", email: "ada@example.org", time: 1_700_000_000, zoneOffset: -300)
        let s = Snapshot(tree: ObjectID([UInt8](repeating: 3, count: 32))!, parents: [ObjectID([UInt8](repeating: 4, count: 32))!],
                         author: sig, committer: sig, message: Array("hello\n".utf8), extraHeaders: [ExtraHeader(key: Array("encoding".utf8), value: Array("latin1".utf8))])
        #expect(try Snapshot(decoding: s.encoded) == s)
        #expect(throws: ObjectError.self) { try Tree(decoding: s.encoded) }
        let v = FileVersion(contentHash: [UInt8](repeating: 9, count: 32), size: 10, base: s.tree, depth: 2, chainBytes: 40,
                            keyframeSize: 90, leafHashes: [], encoding: .zlib, storedSize: 3, payloadSize: 12, storage: .inline([1, 2, 3]))
        #expect(try FileVersion(decoding: v.encoded) == v)
        let c = FileVersion(contentHash: [UInt8](repeating: 9, count: 32), size: 3 << 20, base: nil, depth: 0, chainBytes: 0,
                            keyframeSize: 10, leafHashes: (0..<3).map { [UInt8](repeating: UInt8($0), count: 32) }, encoding: .raw, storedSize: 10, payloadSize: 10, storage: .cap("cairn:chk:x"))
        #expect(try FileVersion(decoding: c.encoded) == c)
        #expect(c.id != v.id)
    }

    @Test func packsRoundTripAndCheckIds() throws {
        var builder = PackBuilder()
        let objects = (0..<50).map { i in Array(String(repeating: "object \(i) ", count: i + 1).utf8) }
        let ids = objects.map { ObjectCoding.id(of: $0) }
        for (id, o) in zip(ids, objects) { builder.add(id, o) }
        builder.add(ids[0], objects[0])  // duplicates are stored once
        #expect(builder.count == 50)
        let bytes = builder.build()
        let reader = try PackReader(bytes)
        for (id, o) in zip(ids, objects) { #expect(try reader.object(id) == o) }
        var damaged = bytes
        damaged[damaged.count - 3] ^= 1
        let bad = try PackReader(damaged)
        #expect(throws: (any Error).self) { _ = try ids.map { try bad.object($0) } }
    }
}

@Suite struct IgnoreRuleTests {
    func rules(_ text: String, base: String = "") -> IgnoreRules {
        var r = IgnoreRules()
        r.add(fileContents: Array(text.utf8), base: Array(base.utf8))
        return r
    }

    @Test func gitignoreSemantics() {
        let r = rules("""
        # comment
        *.o
        build/
        /top.txt
        docs/**/*.tmp
        !keep.o
        \\#hash
        a?c
        [0-9]*.log
        """)
        #expect(r.isIgnored(Array("x.o".utf8), isDirectory: false))
        #expect(r.isIgnored(Array("deep/dir/x.o".utf8), isDirectory: false))
        #expect(!r.isIgnored(Array("keep.o".utf8), isDirectory: false))
        #expect(r.isIgnored(Array("src/build".utf8), isDirectory: true))
        #expect(!r.isIgnored(Array("src/build".utf8), isDirectory: false))
        #expect(r.isIgnored(Array("top.txt".utf8), isDirectory: false))
        #expect(!r.isIgnored(Array("sub/top.txt".utf8), isDirectory: false))
        #expect(r.isIgnored(Array("docs/a.tmp".utf8), isDirectory: false))
        #expect(r.isIgnored(Array("docs/x/y/a.tmp".utf8), isDirectory: false))
        #expect(!r.isIgnored(Array("other/a.tmp".utf8), isDirectory: false))
        #expect(r.isIgnored(Array("#hash".utf8), isDirectory: false))
        #expect(r.isIgnored(Array("abc".utf8), isDirectory: false) && !r.isIgnored(Array("ac".utf8), isDirectory: false))
        #expect(r.isIgnored(Array("7days.log".utf8), isDirectory: false) && !r.isIgnored(Array("x.log".utf8), isDirectory: false))
        let nested = rules("*.txt\n", base: "sub")
        #expect(nested.isIgnored(Array("sub/a.txt".utf8), isDirectory: false))
        #expect(!nested.isIgnored(Array("a.txt".utf8), isDirectory: false))
        #expect(rules("logs/**").isIgnored(Array("logs/a/b".utf8), isDirectory: false))
    }
}

@Suite struct TextDiffTests {
    @Test func hunksAndLimits() {
        let a = Array("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n".utf8), b = Array("a\nb\nC\nd\ne\nf\ng\nh\ni\nj\nk\n".utf8)
        let d = TextDiff.unified(a, b, oldName: "a/x", newName: "b/x")
        #expect(d == "--- a/x\n+++ b/x\n@@ -1,6 +1,6 @@\n a\n b\n-c\n+C\n d\n e\n f\n@@ -8,3 +8,4 @@\n h\n i\n j\n+k\n")
        #expect(TextDiff.unified(a, a, oldName: "a", newName: "b").isEmpty)
        // A complete rewrite of a large file stays bounded in time and memory.
        let big1 = Array((0..<30_000).map { "line \($0)\n" }.joined().utf8)
        let big2 = Array((0..<30_000).map { "other \($0)\n" }.joined().utf8)
        let out = TextDiff.unified(big1, big2, oldName: "a", newName: "b")
        #expect(out.hasPrefix("--- a\n+++ b\n@@ -1,30000 +1,30000 @@\n-line 0\n"))
    }
}

@Suite struct DateParserTests {
    @Test func formatsRoundTrip() throws {
        let (t, z) = try DateParser.parse("2026-03-02 10:20:30 +0130", now: 0)
        #expect(z == 90 && DateParser.format(t, zone: z) == "2026-03-02 10:20:30 +0130")
        #expect(try DateParser.parse("2026-03-02T10:20:30Z", now: 0).time == t + 90 * 60)
        #expect(throws: DateParser.Error.self) { try DateParser.parse("2026-02-30", now: 0) }
        #expect(try DateParser.parse("3 days ago", now: 1_000_000).time == 1_000_000 - 3 * 86_400)
    }
}
