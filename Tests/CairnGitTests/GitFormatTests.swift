import Testing
@testable import CairnGit
import CairnSnapshots

@Suite struct GitFormatTests {
    @Test func commitParsesAndWritesBackExactly() throws {
        let raw = Array("""
            tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904
            parent 1111111111111111111111111111111111111111
            author A U Thor <a@example.com> 1700000000 +0100
            committer C O Mitter <c@example.com> 1700000001 -0000
            gpgsig -----BEGIN PGP SIGNATURE-----
             
             abc
             -----END PGP SIGNATURE-----

            message

            """.utf8)
        let c = GitFormat.commit(raw)
        #expect(c.tree?.description == "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
        #expect(c.parents.count == 1)
        #expect(c.committer?.zone == Array("-0000".utf8))
        #expect(c.extra.count == 1 && c.extra[0].value == Array("-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----".utf8))
        let back = GitFormat.commitBytes(tree: c.tree!, parents: c.parents, author: c.author!, committer: c.committer!, extra: c.extra, message: c.message)
        #expect(back == raw)
    }

    @Test func identsThatDoNotParseAreNil() {
        #expect(GitFormat.ident(Array("Name 1700000000 +0000".utf8)) == nil)
        #expect(GitFormat.ident(Array("Name <e> notadate +0000".utf8)) == nil)
        let s = GitFormat.ident(Array("Name <e> 12 +1500".utf8))
        #expect(s?.zone == Array("+1500".utf8))
    }

    @Test func treeOrderIsGits() throws {
        let blob = GitOID([UInt8](repeating: 1, count: 20))!
        let items = [GitFormat.TreeItem(mode: 0o040000, name: Array("a".utf8), id: blob),
                     GitFormat.TreeItem(mode: 0o100644, name: Array("a.c".utf8), id: blob)]
        let bytes = GitFormat.treeBytes(items)
        let parsed = try GitFormat.tree(bytes, id: blob)
        // "a.c" sorts before "a/" ('.' < '/').
        #expect(parsed.map { String(decoding: $0.name, as: UTF8.self) } == ["a.c", "a"])
        #expect(parsed[1].mode == 0o040000)
        #expect(Array(bytes.prefix(6)) == Array("100644".utf8))
    }
}

@Suite struct CanonicalTreeTests {
    let a = GitOID([UInt8](repeating: 0xAB, count: 20))!

    /// What the import takes as exact without writing the tree back must be what `treeBytes` writes.
    @Test func canonicalMeansTreeBytesWritesItBack() throws {
        let names = ["a", "a.c", "a-b", "b", "dir", "z", "\u{e9}t\u{e9}"]
        let modes: [UInt32] = [0o100644, 0o040000, 0o100755, 0o120000, 0o160000, 0o100644, 0o040000]
        let items = zip(names, modes).map { GitFormat.TreeItem(mode: $1, name: Array($0.utf8), id: a) }
        let bytes = GitFormat.treeBytes(items)
        var canonical = false
        let parsed = try GitFormat.tree(bytes, id: a, canonical: &canonical)
        #expect(canonical)
        #expect(GitFormat.treeBytes(parsed) == bytes)
    }

    @Test func oddTreesAreNotCanonical() throws {
        func check(_ entries: [(String, String)]) throws -> Bool {
            var raw: [UInt8] = []
            for (mode, name) in entries { raw += Array("\(mode) \(name)".utf8) + [0] + a.bytes }
            var canonical = true
            let parsed = try GitFormat.tree(raw, id: a, canonical: &canonical)
            // Whenever it says canonical, writing back gives the same bytes.
            if canonical { #expect(GitFormat.treeBytes(parsed) == raw) }
            return canonical
        }
        #expect(try check([("100644", "a"), ("40000", "b")]))
        #expect(try !check([("040000", "b")]))                       // zero-padded
        #expect(try !check([("100664", "a")]))                       // legacy mode
        #expect(try !check([("40000100644", "a")]))                  // wraps to 100644 in 32 bits
        #expect(try !check([("40000040000", "a")]))
        #expect(try !check([("100644", "b"), ("100644", "a")]))      // unsorted
        #expect(try !check([("100644", "a"), ("100644", "a")]))      // a name twice
        #expect(try !check([("40000", "a"), ("100644", "a.c")]))     // "a/" sorts after "a.c"
        #expect(try check([("100644", "a.c"), ("40000", "a")]))
    }
}
