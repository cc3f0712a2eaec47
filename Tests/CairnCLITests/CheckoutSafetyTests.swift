import Foundation
import Glibc
import Testing

@Suite struct CheckoutSafetyTests {
    /// A symlink in the worktree where the target snapshot has a directory is replaced; nothing is
    /// written through it (outside the worktree).
    @Test func neverWritesThroughSymlinks() throws {
        let f = try RepoFixture()
        let outside = f.dir.file("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        symlink(outside, f.work + "/conf")
        #expect(try f.run(["commit", "-m", "link"]).code == 0)
        try FileManager.default.removeItem(atPath: f.work + "/conf")
        try f.write("conf/app.ini", "real\n")
        try f.write("notes", "a file first\n")
        #expect(try f.run(["commit", "-m", "dir"]).code == 0)
        try FileManager.default.removeItem(atPath: f.work + "/notes")
        try f.write("notes/inside.txt", "then a folder\n")
        #expect(try f.run(["commit", "-m", "file to folder"]).code == 0)
        #expect(try f.run(["checkout", "HEAD~2"]).code == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: f.work + "/conf") == outside)
        let back = try f.run(["checkout", "main"])
        #expect(back.code == 0, "\(back.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, "wrote through the symlink")
        #expect(try String(contentsOfFile: f.work + "/conf/app.ini", encoding: .utf8) == "real\n")
        #expect(try String(contentsOfFile: f.work + "/notes/inside.txt", encoding: .utf8) == "then a folder\n")
        #expect(try f.run(["checkout", "HEAD~1"]).code == 0)
        #expect(try String(contentsOfFile: f.work + "/notes", encoding: .utf8) == "a file first\n")
    }

    /// Untracked files neither block a checkout nor get deleted; one the checkout would overwrite does block it.
    /// `checkout REV -- DIR` overwrites what an earlier path checkout left there (git does; the bytes are
    /// in the repository, so nothing is lost), but still refuses to overwrite an edit only the worktree has.
    @Test func pathCheckoutsOverwriteWhatTheRepositoryHolds() throws {
        let f = try RepoFixture()
        try f.write("d/a", "one\n")
        try f.write("d/b", "same\n")
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        try f.write("d/a", "two\n")
        #expect(try f.run(["commit", "-m", "two"]).code == 0)
        #expect(try f.run(["checkout", "HEAD~1", "--", "d"]).code == 0)
        #expect(try String(contentsOfFile: f.work + "/d/a", encoding: .utf8) == "one\n")
        let back = try f.run(["checkout", "HEAD", "--", "d"])
        #expect(back.code == 0, "\(back.stderr)")
        #expect(try String(contentsOfFile: f.work + "/d/a", encoding: .utf8) == "two\n")
        try f.write("d/a", "an edit nobody committed\n")
        let refused = try f.run(["checkout", "HEAD~1", "--", "d"])
        #expect(refused.code != 0 && refused.stderr.contains("uncommitted changes would be overwritten (d/a)"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: f.work + "/d/a", encoding: .utf8) == "an edit nobody committed\n")
    }

    @Test func untrackedFilesAreLeftAlone() throws {
        let f = try RepoFixture()
        try f.write("a.txt", "1\n")
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        try f.write("a.txt", "2\n")
        try f.write("b.txt", "tracked later\n")
        #expect(try f.run(["commit", "-m", "two"]).code == 0)
        #expect(try f.run(["checkout", "HEAD~1"]).code == 0)
        try f.write("scratch.txt", "mine\n")
        #expect(try f.run(["checkout", "main"]).code == 0)
        #expect(try String(contentsOfFile: f.work + "/scratch.txt", encoding: .utf8) == "mine\n")
        #expect(try f.run(["checkout", "HEAD~1"]).code == 0)
        try f.write("b.txt", "untracked, in the way\n")
        let blocked = try f.run(["checkout", "main"])
        #expect(blocked.code == 1 && blocked.stderr.contains("b.txt"))
        #expect(try String(contentsOfFile: f.work + "/b.txt", encoding: .utf8) == "untracked, in the way\n")
    }

    @Test func restoreFromASubfolderAndOtherGuards() throws {
        let f = try RepoFixture()
        try f.write("docs/plan.txt", "v1\n")
        #expect(try f.run(["commit", "-m", "one", "--date", "2026-03-01T00:00:00Z"]).code == 0)
        try f.write("docs/plan.txt", "v2\n")
        #expect(try f.run(["commit", "-m", "two", "--date", "2026-03-05T00:00:00Z"]).code == 0)
        let r = try f.run(["restore", "plan.txt", "--at", "2026-03-02 00:00:00 +0000"], in: f.work + "/docs")
        #expect(r.code == 0, "\(r.stderr)")
        #expect(try String(contentsOfFile: f.work + "/docs/plan.txt", encoding: .utf8) == "v1\n")

        // A clone never goes over existing files.
        let busy = f.dir.file("busy")
        try FileManager.default.createDirectory(atPath: busy, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: busy + "/mine"))
        let clone = try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, busy])
        #expect(clone.code == 64 && clone.stderr.contains("not empty"))

        // A nested repository's state (with its write cap) is never stored.
        let nested = f.work + "/sub"
        try FileManager.default.createDirectory(atPath: nested, withIntermediateDirectories: true)
        #expect(try f.run(["init"], in: nested).code == 0)
        #expect(try f.run(["commit", "-m", "with nested"]).code == 0)
        #expect(!(try f.run(["ls", "HEAD:sub"]).stdout.contains(".cairn")))

        // The branch checked out cannot be deleted; a branch deleted elsewhere stops the next commit.
        #expect(try f.run(["branch", "-d", "main"]).code == 1)
        #expect(try f.run(["branch", "keep"]).code == 0)
        let other = f.dir.file("other")
        #expect(try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, other]).code == 0)
        #expect(try f.run(["checkout", "keep"], in: other).code == 0)
        #expect(try f.run(["branch", "-d", "main"], in: other).code == 0)
        try f.write("late.txt", "x\n")
        let gone = try f.run(["commit", "-m", "late"])
        #expect(gone.code == 4 && gone.stderr.contains("no longer exists"), "\(gone.stderr)")
    }
}
