import Foundation
import Glibc
import Testing

@Suite struct UnreadableTests {
    /// A file the committing user cannot read is reported and skipped, the snapshot is still made, and
    /// the exit code is 3 (as restic's). Root reads everything, so the commit runs as `nobody` through
    /// setpriv (util-linux; CI runs as root); the test fails loudly when that is impossible.
    @Test func unreadableFilesAreSkippedWithExitThree() throws {
        let dir = TemporaryDirectory()
        let work = dir.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Data("fine\n".utf8).write(to: URL(fileURLWithPath: work + "/ok.txt"))
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: work + "/locked.txt"))
        let nobody: uid_t = 65534
        // Everything belongs to nobody except the locked file, which only root may read.
        try #require(getuid() == 0, "this test needs root (to run cairn as nobody); CI runs as root")
        chmod(dir.path, 0o755)
        for path in [dir.path, work, work + "/ok.txt"] { chown(path, nobody, gid_t(nobody)) }
        chown(work + "/locked.txt", 0, 0)
        chmod(work + "/locked.txt", 0o600)
        let env = ["CAIRN_GRID": dir.file("grid"), "HOME": dir.path]
        func asNobody(_ args: [String]) throws -> CairnProcess.Result {
            try CairnProcess.run(args, environment: env, currentDirectory: work,
                                 launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        }
        let initResult = try asNobody(["init"])
        try #require(initResult.code == 0, "init as nobody failed: \(initResult.stderr)")
        let commit = try asNobody(["commit", "-m", "partial"])
        #expect(commit.code == 3, "\(commit.code): \(commit.stderr)")
        #expect(commit.stderr.contains("locked.txt") && commit.stderr.contains("cannot read"))
        let ls = try asNobody(["ls"])
        #expect(ls.stdout.contains("ok.txt") && !ls.stdout.contains("locked.txt"))
    }
}

extension UnreadableTests {
    /// 60 unreadable files: the first 20 are named, then one line says how many more (it printed one
    /// line per file, 2,000 for a vanished folder).
    @Test func manyUnreadableFilesAreSummed() throws {
        let dir = TemporaryDirectory()
        let work = dir.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Data("fine\n".utf8).write(to: URL(fileURLWithPath: work + "/ok.txt"))
        let nobody: uid_t = 65534
        try #require(getuid() == 0, "this test needs root (to run cairn as nobody); CI runs as root")
        chmod(dir.path, 0o755)
        for path in [dir.path, work, work + "/ok.txt"] { chown(path, nobody, gid_t(nobody)) }
        for i in 0..<60 {
            let p = work + "/locked-\(i).txt"
            try Data("secret \(i)\n".utf8).write(to: URL(fileURLWithPath: p))
            chown(p, 0, 0)
            chmod(p, 0o600)
        }
        let env = ["CAIRN_GRID": dir.file("grid"), "HOME": dir.path]
        func asNobody(_ args: [String]) throws -> CairnProcess.Result {
            try CairnProcess.run(args, environment: env, currentDirectory: work,
                                 launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        }
        try #require(try asNobody(["init"]).code == 0)
        let commit = try asNobody(["commit", "-m", "partial"])
        #expect(commit.code == 3)
        let lines = commit.stderr.split(separator: "\n")
        #expect(lines.filter { $0.contains("cannot read") }.count == 20, "\(commit.stderr)")
        #expect(lines.contains { $0.contains("and 40 more files could not be read (60 in all") }, "\(commit.stderr)")
    }
}
