import Foundation
import Testing

/// Defects a new user met (issue "Hardening", section 3), each kept as a test.
@Suite struct NewUserDefectTests {
    /// A name that is not UTF-8 can be named on the command line: the argument's bytes (raw argv, not
    /// `CommandLine.arguments`, which turns them into U+FFFD) reach the trees and the file system.
    @Test func nonUTF8NamesCanBeNamedOnTheCommandLine() throws {
        let f = try RepoFixture()
        writeRaw(f.work, name: [0x63, 0x61, 0x66, 0xE9], bytes: Array("latin-1\n".utf8), mode: 0o644)
        writeRaw(f.work, name: [0x63, 0x61, 0x66, 0xC3, 0xA9], bytes: Array("utf-8\n".utf8), mode: 0o644)
        #expect(try f.run(["commit", "-m", "names"]).code == 0)
        // The shell passes the bytes as they are ($0 is cairn).
        func raw(_ script: String) throws -> CairnProcess.Result {
            try CairnProcess.run([], environment: f.env, currentDirectory: f.work, launcher: ["/bin/sh", "-c", script])
        }
        let cat = try raw("exec \"$0\" cat \"HEAD:$(printf 'caf\\351')\"")
        #expect(cat.code == 0 && cat.stdout == "latin-1\n", "\(cat.stderr)")
        #expect(try raw("exec \"$0\" cat HEAD:café").stdout == "utf-8\n", "the UTF-8 name is another file")
        let ls = try raw("exec \"$0\" ls \"HEAD:$(printf 'caf\\351')\"")
        #expect(ls.code == 0 && ls.stdout.contains("\"caf\\351\""), "\(ls.stdout)\(ls.stderr)")
        unlink(f.work + "/caf\u{E9}")  // the UTF-8 one
        var latin = Array(f.work.utf8) + [0x2F, 0x63, 0x61, 0x66, 0xE9, 0]
        _ = latin.withUnsafeMutableBytes { unlink($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        let checkout = try raw("exec \"$0\" checkout HEAD -- \"$(printf 'caf\\351')\"")
        #expect(checkout.code == 0, "\(checkout.stderr)")
        let fd = latin.withUnsafeMutableBytes { open($0.baseAddress!.assumingMemoryBound(to: CChar.self), O_RDONLY) }
        #expect(fd >= 0, "the Latin-1 file is back under its own bytes")
        if fd >= 0 { close(fd) }
        #expect(!FileManager.default.fileExists(atPath: f.work + "/caf\u{E9}"), "only the path named was checked out")
        let out = f.dir.file("out")
        let restore = try raw("exec \"$0\" restore \"$(printf 'caf\\351')\" --at now -o \"\(out)\"")
        #expect(restore.code == 0 && (try? String(contentsOfFile: out, encoding: .utf8)) == "latin-1\n", "\(restore.stderr)")
    }

    /// A 255-byte name (the most Linux allows) commits, checks out, restores in place and clones: the
    /// temporary name a checkout writes under must fit too.
    @Test func theLongestNameChecksOutAndClones() throws {
        let f = try RepoFixture()
        let long = String(repeating: "n", count: 251) + ".txt"
        let longer = String(repeating: "n", count: 251) + ".dat"  // same first bytes: temporary names must differ
        try f.write(long, "first\n")
        try f.write(longer, "other\n")
        #expect(try f.run(["commit", "-m", "long names"]).code == 0)
        try f.write(long, "second\n")
        #expect(try f.run(["commit", "-m", "changed"]).code == 0)
        let back = try f.run(["checkout", "HEAD~1", "--", long])
        #expect(back.code == 0, "\(back.stderr)")
        #expect(FileManager.default.contents(atPath: f.work + "/" + long) == Data("first\n".utf8))
        let clone = f.dir.file("clone")
        let r = try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, clone])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(FileManager.default.contents(atPath: clone + "/" + long) == Data("second\n".utf8))
        #expect(FileManager.default.contents(atPath: clone + "/" + longer) == Data("other\n".utf8))
        // Nothing temporary left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: clone)
        #expect(!names.contains { $0.contains(".cairn-tmp-") }, "\(names)")
    }
}

extension NewUserDefectTests {
    /// `-o -` means standard output (it wrote a file named "-"); help texts say their default once and
    /// describe `branch` and `tag` arguments; `check` names whole caps.
    @Test func smallSurprises() throws {
        let f = try RepoFixture()
        let data = Data(testBytes(70_000, seed: 3))
        let file = f.dir.file("in.bin")
        try data.write(to: URL(fileURLWithPath: file))
        let cap = try f.run(["put", file]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let got = try CairnProcess.run(["get", cap, "-o", "-"], environment: f.env, currentDirectory: f.dir.file(""))
        #expect(got.code == 0 && got.stdoutData == data)
        #expect(!FileManager.default.fileExists(atPath: f.dir.file("-")))
        for command in ["show", "ls", "log"] {
            let help = try f.run([command, "--help"]).stdout
            #expect(!help.contains("(default HEAD) (default: HEAD)") && !help.contains("(default HEAD)"), "\(command): \(help)")
        }
        for command in ["branch", "tag"] {
            let help = try f.run([command, "--help"]).stdout
            #expect(help.contains("none lists the") && help.contains("(default: HEAD)"), "\(command): \(help)")
        }
    }
}

extension NewUserDefectTests {
    /// `clone` of a file's cap is a usage error (it said "is damaged", exit 78); a failed clone leaves no
    /// folder behind (or an empty one as it was); revision and date messages quote what was given.
    @Test func clearClonesAndDates() throws {
        let f = try RepoFixture()
        try f.write("a.txt", "a\n")
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        let file = f.dir.file("plain")
        try Data("plain\n".utf8).write(to: URL(fileURLWithPath: file))
        let fileCap = try f.run(["put", file]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let target = f.dir.file("target")
        let wrong = try CairnProcess.run(["clone", "--grid", f.grid, fileCap, target])
        #expect(wrong.code == 64 && isOneLineFailure(wrong) && wrong.stderr.contains("not a repository's cap"), "\(wrong.code) \(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))

        let before = try f.run(["log", "HEAD@{1990-01-01}"])
        #expect(before.code == 64 && before.stderr.hasPrefix("cairn: unknown revision 'HEAD@{1990-01-01}': nothing was committed at or before 1990-01-01"),
                "\(before.stderr)")
        try f.write("a.txt", "b\n")
        let far = try f.run(["commit", "-m", "far", "--date", "@99999999999999"])
        #expect(far.code == 64 && far.stderr.contains("malformed date"), "\(far.code) \(far.stderr)")

        // Too few shares left: the clone fails and takes back what it made.
        for s in 0..<8 {
            for sub in ["packs", "large"] {
                let p = f.grid + String(format: "/servers/%02d/", s) + sub
                try FileManager.default.removeItem(atPath: p)
                try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: false)
            }
        }
        let failed = try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, target])
        #expect(failed.code != 0 && isOneLineFailure(failed), "\(failed.code) \(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target), "a failed clone left \(target)")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        #expect(try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, target]).code != 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty, "a failed clone left files in a folder that was empty")

    }
}

extension NewUserDefectTests {
    /// A `.cairn` that is a file: init stops in one line before creating anything (it failed on
    /// "…/HEAD.cairn-tmp-NNN: open: Not a directory", after making a grid and a slot).
    @Test func aStateFolderThatIsAFileStopsInit() throws {
        let dir = TemporaryDirectory()
        let work = dir.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: work + "/.cairn"))
        let r = try CairnProcess.run(["init"], environment: ["CAIRN_GRID": dir.file("grid")], currentDirectory: work)
        #expect(r.code == 78 && isOneLineFailure(r) && r.stderr.contains(".cairn exists and is not a folder"), "\(r.code) \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("grid")), "init made a grid before refusing")
    }
}

extension NewUserDefectTests {
    /// Seven of ten server folders lost for good: repair says what to do, `grid replace-server` makes
    /// empty folders (never over a folder holding data), and repair then brings the file back to health.
    @Test func lostServerFoldersAreReplacedThenRepaired() throws {
        let dir = TemporaryDirectory()
        let grid = dir.file("grid")
        #expect(try CairnProcess.run(["grid", "create", grid]).code == 0)
        let data = Data(testBytes(300_000, seed: 8))
        try data.write(to: URL(fileURLWithPath: dir.file("f")))
        let cap = try CairnProcess.run(["put", "--grid", grid, dir.file("f")]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        for s in 0..<7 { try FileManager.default.removeItem(atPath: grid + String(format: "/servers/%02d", s)) }
        let stuck = try CairnProcess.run(["repair", "--grid", grid, cap])
        #expect(stuck.code == 2 && stuck.stderr.contains("'cairn grid replace-server 0'"), "\(stuck.code) \(stuck.stderr)")
        for s in 0..<7 { #expect(try CairnProcess.run(["grid", "replace-server", "--grid", grid, String(s)]).code == 0) }
        let refused = try CairnProcess.run(["grid", "replace-server", "--grid", grid, "8"])
        #expect(refused.code == 64 && refused.stderr.contains("not an empty folder"), "\(refused.stderr)")
        #expect(try CairnProcess.run(["grid", "replace-server", "--grid", grid, "10"]).code == 64)
        let repaired = try CairnProcess.run(["repair", "--grid", grid, cap])
        #expect(repaired.code == 0, "\(repaired.stdout) \(repaired.stderr)")
        #expect(try CairnProcess.run(["check", "--grid", grid, "--verify", cap]).code == 0)
        #expect(try CairnProcess.run(["get", "--grid", grid, cap]).stdoutData == data)
    }
}

extension NewUserDefectTests {
    /// Names are printed as git prints them (`core.quotePath`): a newline in a name no longer breaks
    /// `status` into two lines, and bytes outside ASCII are octal escapes in quotes, so every name is one
    /// unambiguous line in status, show, ls and diff.
    @Test func namesArePrintedQuotedAsGitDoes() throws {
        let f = try RepoFixture()
        try f.write("plain.txt", "p\n")
        try f.write("two\nlines.txt", "t\n")
        try f.write("café.txt", "c\n")
        try f.write("quote\"d", "q\n")
        let status = try f.run(["status"]).stdout
        for line in ["A plain.txt", "A \"two\\nlines.txt\"", "A \"caf\\303\\251.txt\"", "A \"quote\\\"d\""] {
            #expect(status.split(separator: "\n").contains(Substring(line)), "\(line) not in \(status)")
        }
        #expect(try f.run(["commit", "-m", "names"]).code == 0)
        let ls = try f.run(["ls"]).stdout
        #expect(ls.contains("\t\"two\\nlines.txt\"\n") && ls.contains("\t\"caf\\303\\251.txt\"\n") && ls.contains("\tplain.txt\n"), "\(ls)")
        #expect(try f.run(["show", "HEAD"]).stdout.contains("\nA \"caf\\303\\251.txt\"\n"))
        try f.write("café.txt", "changed\n")
        let diff = try f.run(["diff"]).stdout
        #expect(diff.contains("diff --cairn \"a/caf\\303\\251.txt\" \"b/caf\\303\\251.txt\"\n"), "\(diff)")
    }
}

extension NewUserDefectTests {
    /// Success is said plainly; only errors and warnings start with "cairn:" (init and clone looked like
    /// failures).
    @Test func successLinesAreNotErrors() throws {
        let f = try RepoFixture()
        try f.write("a.txt", "a\n")
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        let clone = f.dir.file("clone")
        let r = try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, clone])
        #expect(r.code == 0 && r.stderr.hasPrefix("Cloned into ") && !r.stderr.contains("cairn: "), "\(r.stderr)")
        let fresh = f.dir.file("fresh")
        try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        let i = try CairnProcess.run(["init", "--grid", f.grid], environment: f.env, currentDirectory: fresh)
        #expect(i.code == 0 && i.stderr.hasPrefix("Initialized a repository in ") && !i.stderr.contains("cairn: "), "\(i.stderr)")
    }
}
