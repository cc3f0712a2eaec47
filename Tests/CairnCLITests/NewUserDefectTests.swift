import Foundation
import Testing

/// Defects a new user met (issue "Hardening", section 3), each kept as a test.
@Suite struct NewUserDefectTests {
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
