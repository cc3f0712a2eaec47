import Foundation
import Glibc
import Testing

@Suite struct CommitCrashTests {
    /// Two worktrees of one repository commit to main at once: each commit either lands or is refused
    /// with the non-fast-forward message, and no landed snapshot is lost.
    @Test func concurrentCommitsLoseNothing() async throws {
        let f = try RepoFixture()
        try f.write("base.txt", "base\n")
        #expect(try f.run(["commit", "-m", "base"]).code == 0)
        let other = f.dir.file("other")
        #expect(try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, other]).code == 0)
        var landed: [String] = []
        for round in 0..<4 {
            try f.write("a-\(round).txt", "from a \(round)\n")
            try Data("from b \(round)\n".utf8).write(to: URL(fileURLWithPath: other + "/b-\(round).txt"))
            let env = f.env, work = f.work
            async let a = Task.detached { try CairnProcess.run(["commit", "-m", "a\(round)"], environment: env, currentDirectory: work) }.value
            async let b = Task.detached { try CairnProcess.run(["commit", "-m", "b\(round)"], environment: env, currentDirectory: other) }.value
            let results = try await [("a\(round)", a), ("b\(round)", b)]
            for (name, r) in results {
                if r.code == 0 { landed.append(name) } else {
                    #expect(r.code == 4 && r.stderr.contains("non-fast-forward"), "\(name): \(r.code) \(r.stderr)")
                }
            }
            #expect(results.contains { $0.1.code == 0 }, "neither commit landed in round \(round)")
            // Bring both worktrees up to date (keeping their uncommitted files aside), as a user would.
            for dir in [f.work, other] {
                let r = try CairnProcess.run(["checkout", "--force", "main"], environment: env, currentDirectory: dir)
                #expect(r.code == 0, "\(r.stderr)")
            }
        }
        let log = try f.run(["log", "--oneline"]).lines.map { String($0.dropFirst(13)) }
        #expect(Set(landed).isSubset(of: Set(log)), "landed \(landed), log \(log)")
        #expect(log.last == "base" && log.count == landed.count + 1)
    }

    /// SIGKILLs a commit at random moments (≥ 50 trials); after each, the repository is exactly the
    /// old snapshot or the new one, checks out byte for byte, and re-running the commit succeeds.
    @Test func killedCommitsLeaveTheRepositoryWhole() throws {
        let f = try RepoFixture()
        var s: UInt64 = 42
        func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 33 }
        for i in 0..<12 { try Data(testBytes(20_000 + i * 3000, seed: UInt64(i))).write(to: URL(fileURLWithPath: f.work + "/f\(i).bin")) }
        try Data(testBytes(1_500_000, seed: 99)).write(to: URL(fileURLWithPath: f.work + "/large.bin"))
        #expect(try f.run(["commit", "-m", "trial -1"]).code == 0)
        var committed = try snapshotOfTree(f.work, mtimes: false)
        var kills = 0, landedBeforeKill = 0
        for trial in 0..<50 {
            // Change a few files (one large one now and then, to widen the window).
            for _ in 0..<3 {
                let i = Int(next() % 12)
                try Data(testBytes(20_000 + Int(next() % 50_000), seed: next())).write(to: URL(fileURLWithPath: f.work + "/f\(i).bin"))
            }
            if trial % 5 == 0 { try Data(testBytes(1_500_000, seed: next())).write(to: URL(fileURLWithPath: f.work + "/large.bin")) }
            let wanted = try snapshotOfTree(f.work, mtimes: false)

            let p = Process()
            p.executableURL = URL(fileURLWithPath: CairnProcess.binary)
            p.arguments = ["commit", "-m", "trial \(trial)"]
            p.environment = ProcessInfo.processInfo.environment.merging(f.env) { $1 }
            p.currentDirectoryURL = URL(fileURLWithPath: f.work)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32(next() % 250_000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal { kills += 1 }

            // The repository holds exactly the old snapshot or the new one.
            let head = try f.run(["log", "--oneline", "-n", "1"])
            #expect(head.code == 0, "trial \(trial): \(head.stderr)")
            let message = String(head.lines.first?.dropFirst(13) ?? "")
            let clone = f.dir.file("check-\(trial)")
            let c = try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, clone])
            #expect(c.code == 0, "trial \(trial): \(c.stderr)")
            let got = try snapshotOfTree(clone, mtimes: false)
            if message == "trial \(trial)" {
                landedBeforeKill += 1
                #expect(got == wanted, "trial \(trial): the new snapshot does not check out intact")
            } else {
                #expect(message == "trial \(trial - 1)", "trial \(trial): HEAD is '\(message)'")
                #expect(got == committed, "trial \(trial): the old snapshot does not check out intact")
                let again = try f.run(["commit", "-m", "trial \(trial)"])
                #expect(again.code == 0, "trial \(trial): re-running the commit failed: \(again.stderr)")
            }
            try? FileManager.default.removeItem(atPath: clone)
            committed = wanted
        }
        #expect(kills >= 10, "only \(kills) of 50 commits were killed mid-way; the test did not test much")
        #expect(try f.run(["log", "--oneline"]).lines.count == 51)
        // Whatever the kills left on the servers, every snapshot, tree, version and cap still checks.
        let check = try f.run(["check"])
        #expect(check.code == 0, "\(check.stdout) \(check.stderr)")
        _ = landedBeforeKill
    }
}
