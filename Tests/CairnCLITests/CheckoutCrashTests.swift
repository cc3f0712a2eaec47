import Foundation
import Glibc
import Testing

/// SIGKILLs `cairn checkout` and `cairn restore` at random moments. After each kill every file in the
/// worktree holds the old bytes or the new ones under its real name (a half-written file may exist only
/// under the temporary name Snapshots.md documents); the same command run again completes (no
/// `--force` needed) and gives the exact tree; the repository still checks.
@Suite struct CheckoutCrashTests {
    /// Files that hold neither side's bytes, for one kill.
    static func mixups(_ work: String, _ old: [String: Data], _ new: [String: Data]) -> [String] {
        worktreeFiles(work).compactMap { path, bytes in
            if isCheckoutTemporary(path) { return nil }
            if bytes == old[path] || bytes == new[path] { return nil }
            return "\(path) (\(bytes.count) bytes; old \(old[path]?.count ?? -1), new \(new[path]?.count ?? -1))"
        }.sorted()
    }

    @Test func killedCheckoutsLeaveOldOrNewBytesAndRerunCompletes() throws {
        let f = try RepoFixture()
        var s: UInt64 = 7
        func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 33 }
        func put(_ rel: String, _ bytes: [UInt8]) throws {
            let path = f.work + "/" + rel
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        // Side A: 60 small files in 6 folders, 4 large ones, a symlink, a file where B has a folder.
        for i in 0..<60 { try put("d\(i % 6)/f\(i).txt", testBytes(200 + Int(next() % 20_000), seed: next())) }
        for i in 0..<4 { try put("large\(i).bin", testBytes(1_200_000, seed: next())) }
        symlink("d0/f0.txt", f.work + "/link")
        try put("shape", Array("a file in A\n".utf8))
        #expect(try f.run(["commit", "-m", "A"]).code == 0)
        #expect(try f.run(["branch", "old"]).code == 0)
        let sideA = worktreeFiles(f.work), treeA = try snapshotOfTree(f.work)
        // Side B: most files changed, some deleted, some added, the symlink retargeted, shape a folder.
        for i in 0..<60 where next() % 4 != 0 { try put("d\(i % 6)/f\(i).txt", testBytes(200 + Int(next() % 20_000), seed: next())) }
        for i in stride(from: 1, to: 60, by: 7) { try FileManager.default.removeItem(atPath: f.work + "/d\(i % 6)/f\(i).txt") }
        for i in 0..<15 { try put("new/n\(i).txt", testBytes(100 + Int(next() % 5000), seed: next())) }
        for i in 0..<4 { try put("large\(i).bin", testBytes(1_200_000, seed: next())) }
        try FileManager.default.removeItem(atPath: f.work + "/link")
        symlink("new/n0.txt", f.work + "/link")
        try FileManager.default.removeItem(atPath: f.work + "/shape")
        try put("shape/inner.txt", Array("a folder in B\n".utf8))
        #expect(try f.run(["commit", "-m", "B"]).code == 0)
        let sideB = worktreeFiles(f.work), treeB = try snapshotOfTree(f.work)

        // How long a whole checkout takes here, to spread the kills over it.
        var t0 = timespec(), t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        #expect(try f.run(["checkout", "old"]).code == 0)
        clock_gettime(CLOCK_MONOTONIC, &t1)
        let duration = max(50_000, (t1.tv_sec - t0.tv_sec) * 1_000_000 + (t1.tv_nsec - t0.tv_nsec) / 1000)
        #expect(try snapshotOfTree(f.work) == treeA)

        var atA = true, kills = 0, halfway = 0, leftovers = 0
        for trial in 0..<14 {
            let (target, old, new, tree) = atA ? ("main", sideA, sideB, treeB) : ("old", sideB, sideA, treeA)
            let delay = UInt32(Int(next() % UInt64(duration * 6 / 5)))
            if try runAndKill(["checkout", target], environment: f.env, in: f.work, after: delay) { kills += 1 }
            let bad = Self.mixups(f.work, old, new)
            #expect(bad.isEmpty, "trial \(trial) (killed after \(delay) µs): \(bad)")
            let now = worktreeFiles(f.work)
            let changed = Set(old.keys).union(new.keys).filter { old[$0] != new[$0] }
            let newer = changed.filter { now[$0] != nil && now[$0] == new[$0] }.count
            let older = changed.filter { now[$0] != nil && now[$0] == old[$0] }.count
            if newer > 0 && older > 0 { halfway += 1 }
            if now.keys.contains(where: isCheckoutTemporary) { leftovers += 1 }
            let again = try f.run(["checkout", target])
            #expect(again.code == 0, "trial \(trial): re-running 'checkout \(target)' failed: \(again.stderr)")
            let got = try snapshotOfTree(f.work)
            #expect(got == tree, "trial \(trial): the re-run did not give the exact tree: \(listingDifference(tree, got))")
            atA.toggle()
        }
        #expect(kills >= 5, "only \(kills) of 14 checkouts were killed mid-way")
        #expect(halfway >= 1, "no kill left a worktree half old, half new; the test tested little")
        _ = leftovers  // how many kills left a temporary file (each removed by the re-run, as checked above)

        // A dead process's temporary file is never stored, and the next checkout writing its folder removes it.
        try put("d0/f0.txt.cairn-tmp-999999999", [1, 2, 3])
        #expect(try f.run(["status"]).stdout.hasSuffix("nothing to commit, worktree clean\n"))
        // (The folder's mtime did change, so this is a snapshot; the file is not in it.)
        #expect(try f.run(["commit", "-m", "C"]).code == 0)
        let ls = try f.run(["ls", "HEAD:d0"])
        #expect(ls.code == 0 && ls.stdout.contains("f0.txt") && !ls.stdout.contains("cairn-tmp"), "\(ls.stdout)")
        #expect(try f.run(["checkout", "main"]).code == 0)
        #expect(!FileManager.default.fileExists(atPath: f.work + "/d0/f0.txt.cairn-tmp-999999999"))
        let check = try f.run(["check"])
        #expect(check.code == 0, "\(check.stdout) \(check.stderr)")
    }

    @Test func killedRestoresLeaveOldOrNewBytesAndRerunCompletes() throws {
        let f = try RepoFixture()
        let v1 = Data(testBytes(3_000_000, seed: 11)), v2 = Data(testBytes(3_000_000, seed: 12))
        let path = f.work + "/docs/plan.bin"
        try FileManager.default.createDirectory(atPath: f.work + "/docs", withIntermediateDirectories: true)
        try v1.write(to: URL(fileURLWithPath: path))
        #expect(try f.run(["commit", "-m", "one", "--date", "2026-03-01T00:00:00Z"]).code == 0)
        try v2.write(to: URL(fileURLWithPath: path))
        #expect(try f.run(["commit", "-m", "two", "--date", "2026-03-05T00:00:00Z"]).code == 0)

        var t0 = timespec(), t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        #expect(try f.run(["restore", "docs/plan.bin", "--at", "2026-03-02 00:00:00 +0000"]).code == 0)
        clock_gettime(CLOCK_MONOTONIC, &t1)
        let duration = max(50_000, (t1.tv_sec - t0.tv_sec) * 1_000_000 + (t1.tv_nsec - t0.tv_nsec) / 1000)
        #expect(FileManager.default.contents(atPath: path) == v1)

        var s: UInt64 = 3, kills = 0
        for trial in 0..<10 {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let delay = UInt32(Int((s >> 33) % UInt64(duration * 6 / 5)))
            // Back to v2 (an uncommitted change now, hence --force), then forward to v1.
            let (args, want): ([String], Data) = trial % 2 == 0
                ? (["restore", "docs/plan.bin", "--at", "2026-03-06 00:00:00 +0000", "--force"], v2)
                : (["restore", "docs/plan.bin", "--at", "2026-03-02 00:00:00 +0000"], v1)
            if try runAndKill(args, environment: f.env, in: f.work, after: delay) { kills += 1 }
            let bad = Self.mixups(f.work, ["docs/plan.bin": v1], ["docs/plan.bin": v2])
            #expect(bad.isEmpty, "trial \(trial) (killed after \(delay) µs): \(bad)")
            let again = try f.run(args)
            #expect(again.code == 0, "trial \(trial): re-running the restore failed: \(again.stderr)")
            #expect(worktreeFiles(f.work) == ["docs/plan.bin": want], "trial \(trial): \(worktreeFiles(f.work).keys.sorted())")
        }
        #expect(kills >= 3, "only \(kills) of 10 restores were killed mid-way")
        let check = try f.run(["check"])
        #expect(check.code == 0, "\(check.stdout) \(check.stderr)")
    }
}
