import Foundation
import Glibc
import Testing

/// A grid nobody may write (chmod -R a-w; cairn runs as `nobody` through setpriv so the permissions
/// apply): writes fail in one line and change nothing; everything that only reads still works.
@Suite struct ReadOnlyGridTests {
    @Test func writesFailInOneLineAndReadsWork() throws {
        try #require(getuid() == 0, "this test needs root (to run cairn as nobody); CI runs as root")
        let dir = TemporaryDirectory()
        let grid = dir.file("grid"), work = dir.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let env = ["CAIRN_GRID": grid, "HOME": dir.path, "CAIRN_AUTHOR_NAME": "Tester", "CAIRN_AUTHOR_EMAIL": "t@example.org"]
        func asNobody(_ args: [String], in cwd: String? = nil) throws -> CairnProcess.Result {
            try CairnProcess.run(args, environment: env, currentDirectory: cwd ?? work,
                                 launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        }
        // Everything (grid, worktree, its state) belongs to nobody; made by nobody from the start.
        chmod(dir.path, 0o755)
        chown(dir.path, 65534, 65534)
        chown(work, 65534, 65534)
        func write(_ name: String, _ bytes: Data) throws {
            try bytes.write(to: URL(fileURLWithPath: work + "/" + name))
            chown(work + "/" + name, 65534, 65534)
        }
        #expect(try asNobody(["grid", "create", grid]).code == 0)
        #expect(try asNobody(["init"]).code == 0)
        try write("a.txt", Data("one\n".utf8))
        try write("big.bin", Data(testBytes(1_200_000, seed: 3)))
        #expect(try asNobody(["commit", "-m", "one"]).code == 0)
        let first = worktreeFiles(work)
        try write("a.txt", Data("two\n".utf8))
        try write("b.txt", Data("added\n".utf8))
        #expect(try asNobody(["commit", "-m", "two"]).code == 0)
        let second = worktreeFiles(work)
        try write("stored", Data(testBytes(50_000, seed: 4)))
        let cap = try asNobody(["put", dir.file("work/stored")]).lines.first ?? ""
        #expect(cap.hasPrefix("cairn:"))

        #expect(TmpfsMount.tool("/bin/chmod", ["-R", "a-w", grid]) == 0)
        defer { _ = TmpfsMount.tool("/bin/chmod", ["-R", "u+w", grid]) }
        let before = listing(grid)

        // Writes: one line, a non-zero exit, nothing changed.
        try write("new", Data(testBytes(30_000, seed: 5)))
        let put = try asNobody(["put", work + "/new"])
        #expect(isOneLineFailure(put), "put: \(put.code) \(put.stderr)")
        try write("a.txt", Data("three\n".utf8))
        let commit = try asNobody(["commit", "-m", "three"])
        #expect(isOneLineFailure(commit), "commit: \(commit.code) \(commit.stderr)")
        let after = listing(grid)
        #expect(after == before, "\(listingDifference(before, after))")
        try write("a.txt", Data("two\n".utf8))
        try FileManager.default.removeItem(atPath: work + "/new")

        // Reads: get, log, cat, ls, checkout of both snapshots, restore, check.
        let get = try asNobody(["get", cap])
        #expect(get.code == 0 && get.stdoutData == Data(testBytes(50_000, seed: 4)), "get: \(get.stderr)")
        let log = try asNobody(["log", "--oneline"])
        #expect(log.code == 0 && log.lines.map { String($0.dropFirst(13)) } == ["two", "one"], "log: \(log.stderr)")
        let cat = try asNobody(["cat", "HEAD~1:a.txt"])
        #expect(cat.code == 0 && cat.stdout == "one\n", "cat: \(cat.stderr)")
        #expect(try asNobody(["ls"]).stdout.contains("b.txt"))
        try FileManager.default.removeItem(atPath: work + "/stored")
        let back = try asNobody(["checkout", "HEAD~1"])
        #expect(back.code == 0, "checkout HEAD~1: \(back.stderr)")
        #expect(worktreeFiles(work) == first)
        let forward = try asNobody(["checkout", "main"])
        #expect(forward.code == 0, "checkout main: \(forward.stderr)")
        #expect(worktreeFiles(work) == second)
        let restore = try asNobody(["restore", "a.txt", "--at", "now", "-o", "-"])
        #expect(restore.code == 0 && restore.stdout == "two\n", "restore: \(restore.stderr)")
        let check = try asNobody(["check"])
        #expect(check.code == 0, "check: \(check.stdout) \(check.stderr)")
        let after2 = listing(grid)
        #expect(after2 == before, "the reads changed the grid: \(listingDifference(before, after2))")
    }
}
