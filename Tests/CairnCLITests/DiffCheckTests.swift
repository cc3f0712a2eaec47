import Foundation
import Testing

@Suite struct DiffCheckTests {
    @Test func diffShowsUnifiedTextAndBinarySummaries() throws {
        let f = try RepoFixture()
        try f.write("a.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n")
        try Data([0, 1, 2, 3]).write(to: URL(fileURLWithPath: f.work + "/b.bin"))
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        try f.write("a.txt", "one\ntwo\nTHREE\nfour\nfive\nsix\nseven\neight\nnine\n")
        try Data([0, 1, 2, 4]).write(to: URL(fileURLWithPath: f.work + "/b.bin"))
        try f.write("new.txt", "fresh\n")
        let d = try f.run(["diff"])
        #expect(d.code == 0)
        #expect(d.stdout.contains("""
        diff --cairn a/a.txt b/a.txt
        --- a/a.txt
        +++ b/a.txt
        @@ -1,8 +1,9 @@
         one
         two
        -three
        +THREE
         four
        """), "\(d.stdout)")
        #expect(d.stdout.contains(" eight\n+nine\n"))
        #expect(d.stdout.contains("Binary files a/b.bin and b/b.bin differ"))
        #expect(d.stdout.contains("new file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+fresh\n"), "\(d.stdout)")
        #expect(try f.run(["commit", "-m", "two"]).code == 0)
        let between = try f.run(["diff", "HEAD~1", "HEAD", "--", "a.txt"])
        #expect(between.stdout.contains("+THREE") && !between.stdout.contains("b.bin"))
        #expect(try f.run(["diff"]).stdout.isEmpty)
    }

    @Test func repositoryCheckFindsLostShares() throws {
        let f = try RepoFixture()
        try Data(testBytes(2_000_000, seed: 8)).write(to: URL(fileURLWithPath: f.work + "/big.bin"))
        try f.write("small.txt", "small\n")
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        let ok = try f.run(["check", "--read-data"])
        #expect(ok.code == 0 && ok.stdout.contains("no problems"), "\(ok.stdout)\(ok.stderr)")
        try FileManager.default.removeItem(atPath: f.grid + "/servers/03")
        let sick = try f.run(["check"])
        #expect(sick.code == 1 && sick.stdout.contains("problem:"), "\(sick.stdout)")
        // Still readable from the remaining servers.
        #expect(try f.run(["cat", "HEAD:small.txt"]).stdout == "small\n")
    }

    @Test func separateWorkTree() throws {
        let dir = TemporaryDirectory()
        let tree = dir.file("photos"), stateDir = dir.file("state")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        try Data("pic".utf8).write(to: URL(fileURLWithPath: tree + "/p.jpg"))
        let env = ["CAIRN_GRID": dir.file("grid")]
        #expect(try CairnProcess.run(["init", "--work-tree", tree], environment: env, currentDirectory: stateDir).code == 0)
        let c = try CairnProcess.run(["commit", "-m", "photos"], environment: env, currentDirectory: stateDir)
        #expect(c.code == 0, "\(c.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tree + "/.cairn"))
        #expect(try CairnProcess.run(["cat", "HEAD:p.jpg"], environment: env, currentDirectory: stateDir).stdout == "pic")
    }
}
