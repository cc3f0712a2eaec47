import Foundation
import Glibc
import Testing

/// A grid on a small tmpfs that fills up: the failed command says so in one line and leaves the grid
/// (every file under servers/, its size, and the free space) and the repository exactly as they were.
@Suite struct FullDiskFaultTests {
    /// Allowed difference in free space: tmpfs counts whole pages, directories cost none.
    static let slack: Int64 = 16 << 10

    /// A put of a pack-sized file (shares ≤ 1 MiB, buffered and written to packs at sync) and of a
    /// large-share file (shares in tmp/ files), each on a fresh 4 MiB grid.
    @Test(arguments: [("packed", 2_500_000), ("large", 5_000_000)])
    func failedPutLeavesTheGridAsItWas(name: String, size: Int) throws {
        let disk = try TmpfsMount(size: "4m")
        let dir = TemporaryDirectory()
        let grid = disk.path + "/grid"
        #expect(try CairnProcess.run(["grid", "create", grid]).code == 0)
        let small = Data(testBytes(100_000, seed: 1))
        try small.write(to: URL(fileURLWithPath: dir.file("small")))
        let cap = try CairnProcess.run(["put", "--grid", grid, dir.file("small")]).lines.first ?? ""

        try Data(testBytes(size, seed: UInt64(size))).write(to: URL(fileURLWithPath: dir.file(name)))
        let before = listing(grid + "/servers"), free = disk.freeBytes
        let r = try CairnProcess.run(["put", "--grid", grid, dir.file(name)])
        #expect(isOneLineFailure(r) && r.code == 74 && r.stderr.contains("full"), "\(r.code) \(r.stderr)")
        // Refused at allocation (the servers' shared space budget), so nothing was written anywhere.
        let after = listing(grid + "/servers")
        #expect(after == before, "\(listingDifference(before, after))")
        #expect(abs(disk.freeBytes - free) <= Self.slack, "free space \(free) before, \(disk.freeBytes) after")
        #expect(try CairnProcess.run(["get", "--grid", grid, cap]).stdoutData == small)

        // With room again the same put succeeds and verifies.
        try disk.resize("40m")
        let again = try CairnProcess.run(["put", "--grid", grid, dir.file(name)])
        #expect(again.code == 0, "\(again.stderr)")
        #expect(try CairnProcess.run(["check", "--grid", grid, "--verify", again.lines.first ?? ""]).code == 0)
    }

    /// Commits that do not fit fail in one line; grid, log and local state are as before; once the big
    /// file is gone (and, later, the disk is larger) commits work and the repository checks.
    @Test func failedCommitsLeaveTheRepositoryAsItWas() throws {
        let disk = try TmpfsMount(size: "4m")
        let dir = TemporaryDirectory()
        let grid = disk.path + "/grid", work = dir.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let env = ["CAIRN_GRID": grid, "CAIRN_AUTHOR_NAME": "Tester", "CAIRN_AUTHOR_EMAIL": "t@example.org"]
        func run(_ args: [String]) throws -> CairnProcess.Result {
            try CairnProcess.run(args, environment: env, currentDirectory: work)
        }
        #expect(try CairnProcess.run(["grid", "create", grid]).code == 0)
        #expect(try run(["init"]).code == 0)
        for i in 0..<5 { try Data(testBytes(3000 + i, seed: UInt64(i))).write(to: URL(fileURLWithPath: work + "/f\(i)")) }
        #expect(try run(["commit", "-m", "small"]).code == 0)

        func stateFiles() -> [String: Data] {
            var out: [String: Data] = [:]
            for name in ["HEAD", "base", "seen", "config", "pending"] { out[name] = FileManager.default.contents(atPath: work + "/.cairn/" + name) }
            return out
        }
        func attempt(_ what: String) throws {
            let before = listing(grid + "/servers"), free = disk.freeBytes
            let log = try run(["log", "--oneline"]).stdout, state = stateFiles()
            let r = try run(["commit", "-m", "too big"])
            #expect(isOneLineFailure(r) && (r.stderr.contains("full") || r.stderr.contains("space")), "\(what): \(r.code) \(r.stderr)")
            let after = listing(grid + "/servers")
            #expect(after == before, "\(what): \(listingDifference(before, after))")
            #expect(abs(disk.freeBytes - free) <= Self.slack, "\(what): free space \(free) before, \(disk.freeBytes) after")
            #expect(try run(["log", "--oneline"]).stdout == log, "\(what): the log changed")
            #expect(stateFiles() == state, "\(what): the local state changed")
        }
        // A file of large shares (each in a tmp/ file of its own).
        try Data(testBytes(5_000_000, seed: 5)).write(to: URL(fileURLWithPath: work + "/large.bin"))
        try attempt("large shares")
        try FileManager.default.removeItem(atPath: work + "/large.bin")
        // A disk already full (a filler beside the grid): even a small commit cannot be stored.
        try Data(testBytes(20_000, seed: 6)).write(to: URL(fileURLWithPath: work + "/small.bin"))
        let filler = disk.path + "/filler"
        FileManager.default.createFile(atPath: filler, contents: nil)
        if let h = FileHandle(forWritingAtPath: filler) {
            let chunk = Data(count: 64 << 10)
            while (try? h.write(contentsOf: chunk)) != nil {}
            try? h.close()
        }
        #expect(disk.freeBytes < 64 << 10)
        try attempt("full disk")  // the failing sync cuts its pack tails back (PackWriter.discardUnsynced)
        try FileManager.default.removeItem(atPath: filler)
        try FileManager.default.removeItem(atPath: work + "/small.bin")
        // A file of pack-sized shares (buffered, written to packs at sync).
        try Data(testBytes(2_500_000, seed: 7)).write(to: URL(fileURLWithPath: work + "/packed.bin"))
        try attempt("pack shares")
        try FileManager.default.removeItem(atPath: work + "/packed.bin")

        // Space freed (the big file left out): the next commit works and the repository checks.
        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: work + "/f0"))
        let next = try run(["commit", "-m", "after"])
        #expect(next.code == 0, "\(next.stderr)")
        let check = try run(["check", "--read-data"])
        #expect(check.code == 0, "\(check.stdout) \(check.stderr)")

        // A larger disk takes the big file too, and a clone gives the worktree back.
        try disk.resize("40m")
        try Data(testBytes(5_000_000, seed: 5)).write(to: URL(fileURLWithPath: work + "/large.bin"))
        let big = try run(["commit", "-m", "big"])
        #expect(big.code == 0, "\(big.stderr)")
        #expect(try run(["log", "--oneline"]).lines.count == 3)
        #expect(try run(["check"]).code == 0)
        let clone = dir.file("clone")
        let cap = try run(["cap"]).lines.first.map { String($0.dropFirst("write: ".count)) } ?? ""
        #expect(try CairnProcess.run(["clone", "--grid", grid, cap, clone]).code == 0)
        #expect(worktreeFiles(clone) == worktreeFiles(work))
    }
}
