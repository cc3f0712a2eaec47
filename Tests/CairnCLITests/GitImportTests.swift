import Foundation
import Testing

/// `import-git`, `--verify` and `export-git` against repositories made by the real git, compared as raw
/// objects (ids are SHA-1s of the bytes: equal object sets are equal bytes).
@Suite(.serialized) struct GitImportTests {
    let tmp = TemporaryDirectory()
    var grid: [String: String] { ["CAIRN_GRID": tmp.file("grid")] }

    @discardableResult
    func cairn(_ args: [String], in dir: String, expect code: Int32 = 0) throws -> CairnProcess.Result {
        let r = try CairnProcess.run(args, environment: grid, currentDirectory: dir)
        #expect(r.code == code, "cairn \(args.joined(separator: " ")): \(r.stderr)")
        return r
    }

    /// A history with the oddities real repositories have (research notes §6).
    func oddSource() throws -> (Git, [String: String]) {
        let g = try Git.make(tmp.file("src"))
        var ids: [String: String] = [:]
        let v1 = try g.literal("blob", "version one\n"), v2 = try g.literal("blob", "version two\n")
        let exec = try g.literal("blob", "#!/bin/sh\necho hi\n")
        let binary = try g.literal("blob", (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let target = try g.literal("blob", "f")
        let latinName: [UInt8] = [0x63, 0x61, 0x66, 0xE9]
        func mktree(_ lines: [(String, String, String, [UInt8])]) throws -> String {
            var input: [UInt8] = []
            for (mode, type, id, name) in lines { input += Array("\(mode) \(type) \(id)\t".utf8) + name + [0] }
            return try g.text(["mktree", "-z", "--missing"], stdin: Data(input))
        }
        let empty = try mktree([])
        let sub = try mktree([("100644", "blob", v1, Array("inner.txt".utf8))])
        func normal(_ f: String) throws -> String {
            try mktree([("100644", "blob", f, Array("f".utf8)), ("100755", "blob", exec, Array("run.sh".utf8)),
                        ("120000", "blob", target, Array("link".utf8)), ("100644", "blob", binary, Array("A".utf8)),
                        ("100644", "blob", v1, Array("a".utf8)), ("100644", "blob", v1, latinName),
                        ("160000", "commit", "1234567890123456789012345678901234567890", Array("module".utf8)),
                        ("040000", "tree", sub, Array("dir".utf8)), ("040000", "tree", empty, Array("empty".utf8)),
                        ("100644", "blob", v1, Array("same-blob-again".utf8))])
        }
        let t1 = try normal(v1), t2 = try normal(v2)
        // Odd trees, as only hash-object --literally writes them.
        let legacy = try g.literal("tree", Git.treeBytes([("100664", Array("legacy".utf8), v1)]))
        let padded = try g.literal("tree", Git.treeBytes([("040000", Array("d".utf8), sub), ("40000", Array("e".utf8), sub)]))
        let unsorted = try g.literal("tree", Git.treeBytes([("100644", Array("b".utf8), v1), ("100644", Array("a".utf8), v2)]))
        let duplicate = try g.literal("tree", Git.treeBytes([("100644", Array("a".utf8), v1), ("100644", Array("a".utf8), v2)]))
        let badNames = try g.literal("tree", Git.treeBytes([("100644", Array(".".utf8), v1), ("100644", Array("..".utf8), v1),
                                                            ("100644", Array("x/y".utf8), v2)]))
        let dotGit = try g.literal("tree", Git.treeBytes([("100644", Array(".git".utf8), v1), ("100644", Array("ok".utf8), v2)]))
        let blobAsDir = try g.literal("tree", Git.treeBytes([("40000", Array("notadir".utf8), exec)]))
        let setuid = try g.literal("tree", Git.treeBytes([("104755", Array("setuid".utf8), exec), ("100000", Array("noperms".utf8), v1)]))
        let odd = try mktree([("040000", "tree", legacy, Array("legacy".utf8)), ("040000", "tree", padded, Array("padded".utf8)),
                              ("040000", "tree", unsorted, Array("unsorted".utf8)), ("040000", "tree", duplicate, Array("duplicate".utf8)),
                              ("040000", "tree", badNames, Array("badnames".utf8)), ("040000", "tree", dotGit, Array("dotgit".utf8)),
                              ("040000", "tree", blobAsDir, Array("blobasdir".utf8)), ("040000", "tree", setuid, Array("modes".utf8))])
        ids["t1"] = t1; ids["odd"] = odd

        let c1 = try g.text(["commit-tree", t1, "-m", "first"])
        let root2 = try g.text(["commit-tree", odd, "-m", "a second root with odd trees"])
        func lit(_ text: [UInt8]) throws -> String { try g.literal("commit", text) }
        func u(_ s: String) -> [UInt8] { Array(s.utf8) }
        let who = "C O Mitter <c@example.com>"
        let latin = try lit(u("tree \(t2)\nparent \(c1)\nauthor Ren") + [0xE9] + u(" <r@example.com> 1700000100 +0100\ncommitter \(who) 1700000100 +0100\nencoding ISO-8859-1\n\ncaf") + [0xE9, 0x0A])
        let signed = try lit(u("tree \(t2)\nparent \(latin)\nauthor \(who) 1700000200 -0000\ncommitter \(who) 1700000200 +1500\nmergetag object \(c1)\n type commit\n tag v0\n tagger \(who) 1700000000 +0000\n \n merged tag\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned\n"))
        let nul = try lit(u("tree \(t2)\nparent \(signed)\nauthor \(who) 1700000300 +0000\ncommitter \(who) 1700000300 +0000\n\nbefore") + [0] + u("after\n"))
        let emptyMessage = try lit(u("tree \(t1)\nparent \(nul)\nauthor \(who) 1700000400 +0000\ncommitter \(who) 1700000400 +0000\n\n"))
        let noNewline = try lit(u("tree \(t1)\nparent \(emptyMessage)\nauthor \(who) 1700000500 +0000\ncommitter \(who) 1700000500 +0000\n\nno newline"))
        let side = try g.text(["commit-tree", t2, "-p", c1, "-m", "side"])
        let octopus = try g.text(["commit-tree", t1, "-p", noNewline, "-p", root2, "-p", side, "-m", "octopus"],
                                 env: ["GIT_COMMITTER_DATE": "1700001000 +0100"])
        // Idents that do not parse, off the main line.
        let noEmail = try lit(u("tree \(t1)\nparent \(c1)\nauthor Nobody 1700000600 +0000\ncommitter \(who) 1700000600 +0000\n\nno email\n"))
        let twoAuthors = try lit(u("tree \(t1)\nparent \(noEmail)\nauthor \(who) 1700000700 +0000\nauthor Other <o@e> 1700000700 +0000\ncommitter \(who) 1700000700 +0000\n\ntwo authors\n"))
        let noBlank = try lit(u("tree \(t1)\nparent \(twoAuthors)\nauthor \(who) 1700000800 +0000\ncommitter \(who) 1700000800 +0000\n"))
        ids["c1"] = c1; ids["octopus"] = octopus; ids["root2"] = root2

        try g.run(["update-ref", "refs/heads/main", octopus])
        try g.run(["update-ref", "refs/heads/odd-idents", noBlank])
        try g.run(["update-ref", "refs/pull/1/head", signed])
        try g.run(["tag", "-a", "v1", "-m", "release one", c1])
        try g.run(["tag", "light", latin])
        let tagOfTag = try g.literal("tag", "object \(try g.text(["rev-parse", "v1"]))\ntype tag\ntag v1-again\ntagger \(who) 1700000000 +0000\n\nof a tag\n-----BEGIN PGP SIGNATURE-----\nfake\n-----END PGP SIGNATURE-----\n")
        let tagOfTree = try g.literal("tag", "object \(t1)\ntype tree\ntag tree-tag\ntagger \(who) 1700000000 +0000\n\nof a tree\n")
        let tagOfBlob = try g.literal("tag", "object \(binary)\ntype blob\ntag blob-tag\n\nno tagger, of a blob\n")
        let tagOfOddTree = try g.literal("tag", "object \(padded)\ntype tree\ntag odd-tree-tag\ntagger \(who) 1700000000 +0000\n\nof a raw tree\n")
        try g.run(["update-ref", "refs/tags/v1-again", tagOfTag])
        try g.run(["update-ref", "refs/tags/tree-tag", tagOfTree])
        try g.run(["update-ref", "refs/tags/blob-tag", tagOfBlob])
        try g.run(["update-ref", "refs/tags/odd-tree-tag", tagOfOddTree])
        try g.run(["update-ref", "refs/tags/light-tree", t2])
        try g.run(["notes", "add", "-m", "a note", c1])
        try g.run(["pack-refs", "--all"])
        try g.run(["update-ref", "refs/heads/loose", side])  // a loose ref beside the packed ones
        return (g, ids)
    }

    @Test func oddHistoryRoundTripsObjectForObject() throws {
        let (g, ids) = try oddSource()
        let repo = tmp.file("repo")
        let imported = try cairn(["import-git", g.dir, "--all", "--init", repo], in: tmp.path)
        #expect(imported.stdout.contains("imported 13 commits"), "\(imported.stdout)")
        try cairn(["import-git", g.dir, "--all", "--verify"], in: repo)
        let out = tmp.file("out")
        try cairn(["export-git", out], in: repo)
        let exported = Git(dir: out)
        #expect(try exported.objectSet() == g.objectSet())
        #expect(try exported.refSet() == g.refSet())
        // git fsck says the same of both (the source holds trees fsck rejects).
        #expect(try fsckStatus(exported) == fsckStatus(g))

        // The checked-out default branch equals the commit's tree, byte for byte and mode for mode.
        try expectWorktree(repo, equals: ids["t1"]!, in: g)
        // An odd tree checks out what Cairn can hold, never `.git`, `.`, `..` or `x/y`.
        try cairn(["checkout", "--force", "main^2"], in: repo)
        #expect(FileManager.default.fileExists(atPath: repo + "/dotgit/ok"))
        #expect(!FileManager.default.fileExists(atPath: repo + "/dotgit/.git"))
        #expect(FileManager.default.fileExists(atPath: repo + "/legacy/legacy"))
        // Odd modes check out as 755 or 644: never setuid, never unreadable.
        #expect(try RawFile.status(Data((repo + "/modes/setuid").utf8)).st_mode & 0o7777 == 0o755)
        #expect(try RawFile.status(Data((repo + "/modes/noperms").utf8)).st_mode & 0o7777 == 0o644)
        let oddStatus = try cairn(["status"], in: repo)
        #expect(oddStatus.stdout.contains("nothing to commit"), "\(oddStatus.stdout)")
        try cairn(["checkout", "--force", "main"], in: repo)

        // Restore at a date on the imported first-parent line: f was "version one" until 1700000100.
        let before = try cairn(["restore", "f", "--at", "@1700000050", "-o", "-"], in: repo)
        #expect(before.stdout == "version one\n")
        let after = try cairn(["restore", "f", "--at", "@1700000150", "-o", "-"], in: repo)
        #expect(after.stdout == "version two\n")
        // Nothing changed by a checkout: status is clean and a commit has nothing to do.
        let status = try cairn(["status"], in: repo)
        #expect(status.stdout.contains("nothing to commit"), "\(status.stdout)")
        #expect(try cairn(["commit", "-m", "x"], in: repo).stdout.contains("nothing to commit"))
    }

    /// A plain history made with porcelain commands: commits on `main`, a branch, a tag.
    func plainSource(_ name: String = "plain") throws -> Git {
        let g = try Git.make(tmp.file(name))
        // A Git LFS pointer file (kept as the pointer it is) and several packs beside loose objects.
        try Data("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n".utf8)
            .write(to: URL(fileURLWithPath: g.dir + "/video.mp4"))
        try g.run(["config", "extensions.worktreeConfig", "true"])
        try g.run(["config", "core.repositoryformatversion", "1"])
        for i in 0..<5 {
            if i == 2 || i == 4 { try g.run(["repack", "-q"]) }
            try Data("line \(i)\n".utf8).write(to: URL(fileURLWithPath: g.dir + "/file.txt"), options: .atomic)
            try Data(repeating: UInt8(i), count: 600_000 - i * 100_000).write(to: URL(fileURLWithPath: g.dir + "/shrinking.bin"))
            try g.run(["add", "-A"])
            try g.run(["commit", "-q", "-m", "commit \(i)"], env: ["GIT_COMMITTER_DATE": "\(1700000000 + i * 100) +0000",
                                                                 "GIT_AUTHOR_DATE": "\(1700000000 + i * 100) +0000"])
        }
        try g.run(["tag", "-a", "v1", "-m", "one"])
        try g.run(["branch", "feature", "HEAD~2"])
        try g.run(["symbolic-ref", "refs/heads/alias", "refs/heads/main"])
        return g
    }

    @Test func reimportBringsOnlyWhatIsNewAndKeepsForcePushedCommits() throws {
        let g = try plainSource()
        let repo = tmp.file("repo")
        let first = try cairn(["import-git", g.dir, "--init", repo, "--json"], in: tmp.path)
        #expect(first.stdout.contains("\"commits\":5"), "\(first.stdout)")
        #expect(first.stdout.contains("\"lfs_pointers\":1"), "\(first.stdout)")
        #expect(try g.text(["count-objects", "-v"]).contains("packs: 2"))
        // Nothing new: reads only the refs.
        #expect(try cairn(["import-git", g.dir], in: repo).stdout.contains("nothing new"))
        // The state is on the grid: another machine (a clone from the write cap) goes on from it.
        let writeCap = try #require(try cairn(["cap"], in: repo).lines.first { $0.hasPrefix("write: ") }).dropFirst(7)
        let elsewhere = tmp.file("elsewhere")
        try cairn(["clone", String(writeCap), elsewhere], in: tmp.path)
        #expect(try cairn(["import-git", g.dir], in: elsewhere).stdout.contains("nothing new"))
        // Two new commits on main.
        for i in 5..<7 {
            try Data("line \(i)\n".utf8).write(to: URL(fileURLWithPath: g.dir + "/file.txt"))
            try g.run(["commit", "-q", "-am", "commit \(i)"])
        }
        // A snapshot made in Cairn on the imported branch is never dropped by the next import.
        try Data("cairn side\n".utf8).write(to: URL(fileURLWithPath: repo + "/cairn-only.txt"))
        try cairn(["commit", "-m", "made in cairn"], in: repo)
        let cairnTip = try cairn(["log", "--oneline", "-n", "1"], in: repo).stdout.prefix(12)
        let second = try cairn(["import-git", g.dir, "--json"], in: repo)
        #expect(second.stdout.contains("\"commits\":2"), "\(second.stdout)")
        let kept = try cairn(["log", "--oneline", "-n", "1", "refs/cairn-import/replaced/plain/cairn-\(cairnTip)/heads/main"], in: repo)
        #expect(kept.stdout.contains("made in cairn"), "\(kept.stdout) \(kept.stderr)")
        // A forced push: feature rewritten; its old tip stays reachable under refs/cairn-import/replaced/.
        let oldFeature = try g.text(["rev-parse", "feature"])
        try g.run(["checkout", "-q", "feature"])
        try g.run(["commit", "-q", "--amend", "-m", "rewritten"])
        try g.run(["checkout", "-q", "main"])
        let third = try cairn(["import-git", g.dir, "--json"], in: repo)
        #expect(third.stdout.contains("\"commits\":1"), "\(third.stdout)")
        #expect(third.stdout.contains("refs/cairn-import/replaced/plain/\(oldFeature.prefix(12))/heads/feature"), "\(third.stdout)")
        try cairn(["import-git", g.dir, "--verify"], in: repo)
        // A deleted branch leaves the repository too, and stays reachable.
        try g.run(["branch", "-D", "feature"])
        try cairn(["import-git", g.dir], in: repo)
        #expect(!(try cairn(["branch"], in: repo).stdout.contains("feature")))
        let out = tmp.file("out")
        try cairn(["export-git", out], in: repo)
        #expect(try Git(dir: out).refSet() == g.refSet())
        // The new branch head is checked out as git has it.
        try cairn(["checkout", "--force", "main"], in: repo)
        try expectWorktree(repo, equals: "main^{tree}", in: g)
    }

    @Test func shallowAndPartialClonesImport() throws {
        let g = try plainSource()
        try g.run(["config", "uploadpack.allowFilter", "true"])
        let shallow = tmp.file("shallow"), partial = tmp.file("partial")
        try Git(dir: tmp.path).run(["clone", "-q", "--bare", "--depth", "2", "file://" + g.dir, shallow])
        try Git(dir: tmp.path).run(["clone", "-q", "--bare", "--filter=blob:none", "file://" + g.dir, partial])
        let a = try cairn(["import-git", shallow, "--init", tmp.file("a"), "--json"], in: tmp.path)
        #expect(a.stdout.contains("\"shallow_boundary\":"), "\(a.stdout)")
        try cairn(["import-git", shallow, "--verify"], in: tmp.file("a"))
        // Exported with its boundary in `shallow`: git reads the history and fsck passes, as on the source.
        let out = tmp.file("shallow-out")
        try cairn(["export-git", out], in: tmp.file("a"))
        #expect(try Git(dir: out).objectSet() == Git(dir: shallow).objectSet())
        #expect(try String(contentsOfFile: out + "/shallow", encoding: .utf8) == String(contentsOfFile: shallow + "/shallow", encoding: .utf8))
        #expect(try fsckStatus(Git(dir: out)) == 0)
        let b = try cairn(["import-git", partial, "--init", tmp.file("b"), "--json"], in: tmp.path)
        // The partial clone fetched only main's tip's blobs at checkout-less clone: older ones are missing.
        #expect(b.stdout.contains("\"missing\":[{"), "\(b.stdout)")
        try cairn(["import-git", partial, "--verify"], in: tmp.file("b"))
        let ls = try cairn(["ls", "main~4"], in: tmp.file("b"))
        #expect(ls.stdout.contains("missing"), "\(ls.stdout)")
    }

    /// Snapshots made by Cairn, not imported, export as ordinary git commits git accepts.
    @Test func nativeSnapshotsExportAsGitCommits() throws {
        let repo = tmp.file("native")
        try FileManager.default.createDirectory(atPath: repo + "/dir", withIntermediateDirectories: true)
        try cairn(["init", repo], in: tmp.path)
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: repo + "/a.txt"))
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: repo + "/dir/run.sh"))
        chmod(repo + "/dir/run.sh", 0o775)
        chmod(repo + "/a.txt", 0o664)
        try FileManager.default.createSymbolicLink(atPath: repo + "/link", withDestinationPath: "a.txt")
        try cairn(["commit", "-m", "first"], in: repo)
        try Data("hello again\n".utf8).write(to: URL(fileURLWithPath: repo + "/a.txt"))
        try cairn(["commit", "-m", "second"], in: repo)
        try cairn(["tag", "-m", "release", "v1"], in: repo)
        let out = tmp.file("native.git")
        // Into a folder that is not empty: refused, and nothing there touched.
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: out + "/keep.txt"))
        let refused = try cairn(["export-git", out], in: repo, expect: 64)
        #expect(refused.stderr.contains("is not empty"))
        #expect(try String(contentsOfFile: out + "/keep.txt", encoding: .utf8) == "mine\n")
        try FileManager.default.removeItem(atPath: out + "/keep.txt")
        try cairn(["export-git", out], in: repo)
        let g = Git(dir: out)
        #expect(try fsckStatus(g) == 0)
        #expect(try g.text(["log", "--format=%s", "main"]) == "second\nfirst")
        #expect(try g.text(["ls-tree", "-r", "main"]).split(separator: "\n").map { String($0.prefix(6)) } == ["100644", "100755", "120000"])
        #expect(try g.text(["cat-file", "blob", "main:a.txt"]) == "hello again")
        #expect(try g.text(["cat-file", "-t", "v1"]) == "tag")
        #expect(try g.text(["symbolic-ref", "HEAD"]) == "refs/heads/main")
    }

    @Test func badSourcesGetOneLineErrors() throws {
        let repo = tmp.file("repo")
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        let url = try cairn(["import-git", "https://example.com/x.git", "--init", repo], in: tmp.path, expect: 64)
        #expect(url.stderr.contains("clone it first"))
        let none = try cairn(["import-git", tmp.file("nothing-here"), "--init", repo], in: tmp.path, expect: 66)
        #expect(none.stderr.contains("is not a git repository"))
        let sha = try Git.make(tmp.file("sha256"))
        try FileManager.default.removeItem(atPath: sha.dir)
        try Git(dir: tmp.path).run(["init", "-q", "--object-format=sha256", sha.dir])
        let refused = try cairn(["import-git", sha.dir, "--init", repo], in: tmp.path, expect: 64)
        #expect(refused.stderr.contains("SHA-256"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
        // An import that fails half-way leaves no half-made repository behind.
        let broken = try Git.make(tmp.file("broken"))
        let who = "A <a@example.com> 1700000000 +0000"
        let commit = try broken.literal("commit", "tree 0123456789012345678901234567890123456789\nauthor \(who)\ncommitter \(who)\n\nnames a tree git lacks\n")
        try broken.run(["update-ref", "refs/heads/main", commit])
        let fresh = tmp.file("fresh")
        let failed = try cairn(["import-git", broken.dir, "--init", fresh], in: tmp.path, expect: 3)
        #expect(failed.stderr.contains("is not in the source repository"), "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fresh))
    }

    /// Cairn's own history, from the checkout these tests run in.
    @Test func importsCairnsOwnHistory() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: root + "/.git") else {
            throw GitTestError("\(root) has no .git: this test imports the checkout's own history")
        }
        let repo = tmp.file("self")
        try cairn(["import-git", root, "--branches", "main", "--init", repo], in: tmp.path)
        try cairn(["import-git", root, "--branches", "main", "--verify"], in: repo)
        let out = tmp.file("self.git")
        try cairn(["export-git", out], in: repo)
        let source = Git(dir: root)
        #expect(try Git(dir: out).text(["rev-parse", "refs/heads/main"]) == source.text(["rev-parse", "refs/heads/main"]))
        #expect(try Git(dir: out).text(["rev-list", "--objects", "--all"]).split(separator: "\n").count
                == source.text(["rev-list", "--objects", "refs/heads/main"]).split(separator: "\n").count)
    }

    func fsckStatus(_ g: Git) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        p.arguments = ["fsck", "--no-dangling"]
        p.currentDirectoryURL = URL(fileURLWithPath: g.dir)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// `git ls-tree -r -z TREE` against the worktree: every blob's bytes, exec bits, symlink targets,
    /// gitlinks as empty folders, and no other file. Paths are bytes (one is Latin-1).
    func expectWorktree(_ dir: String, equals tree: String, in g: Git) throws {
        let listing = try g.run(["ls-tree", "-r", "-z", tree])
        var expected: Set<Data> = []
        for record in listing.split(separator: 0) where !record.isEmpty {
            let tab = record.firstIndex(of: 0x09)!
            let meta = String(decoding: record[..<tab], as: UTF8.self).split(separator: " ")
            let path = Data((dir + "/").utf8) + Data(record[(tab + 1)...])
            let mode = String(meta[0]), id = String(meta[2])
            let st = try RawFile.status(path)
            switch mode {
            case "160000":
                #expect(st.st_mode & S_IFMT == S_IFDIR)
            case "120000":
                #expect(st.st_mode & S_IFMT == S_IFLNK)
                #expect(try RawFile.readLink(path) == g.run(["cat-file", "blob", id]))
                expected.insert(path)
            default:
                #expect(try RawFile.read(path) == g.run(["cat-file", "blob", id]), "\(String(decoding: path, as: UTF8.self))")
                #expect((st.st_mode & 0o100 != 0) == (mode == "100755"), "\(String(decoding: path, as: UTF8.self)) mode \(mode)")
                expected.insert(path)
            }
        }
        // No file or symlink the tree does not have.
        let found = try RawFile.filesAndLinks(under: dir)
        #expect(Set(found) == expected)
    }
}

import Glibc

/// File access by raw path bytes (names need not be UTF-8).
enum RawFile {
    static func withPath<R>(_ path: Data, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (Array(path) + [0]).withUnsafeBufferPointer { b in try b.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }

    static func status(_ path: Data) throws -> stat {
        var st = stat()
        guard withPath(path, { lstat($0, &st) }) == 0 else { throw GitTestError("cannot stat \(String(decoding: path, as: UTF8.self))") }
        return st
    }

    static func read(_ path: Data) throws -> Data {
        let fd = withPath(path) { open($0, O_RDONLY) }
        guard fd >= 0 else { throw GitTestError("cannot open \(String(decoding: path, as: UTF8.self))") }
        defer { close(fd) }
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }

    static func readLink(_ path: Data) throws -> Data {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = withPath(path) { p in buffer.withUnsafeMutableBytes { readlink(p, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) } }
        guard n >= 0 else { throw GitTestError("cannot read link") }
        return Data(buffer[0..<n])
    }

    /// Every regular file and symlink under `dir` (`.cairn` left out), as full path bytes.
    static func filesAndLinks(under dir: String) throws -> [Data] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/find")
        p.arguments = [dir, "-path", dir + "/.cairn", "-prune", "-o", "(", "-type", "f", "-o", "-type", "l", ")", "-print0"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return data.split(separator: 0).map { Data($0) }
    }
}
