import Foundation
import Glibc
import Testing

/// Index segments through the real binary: a commit adds one small segment, the list stays short, two
/// writers' segments are both kept, and a damaged segment is named by `check` and repaired first.
@Suite struct IndexSegmentCLITests {
    /// Bytes of every file under `path`.
    func treeBytes(_ path: String) -> Int {
        var total = 0
        if let e = FileManager.default.enumerator(atPath: path) {
            for case let rel as String in e {
                if let a = try? FileManager.default.attributesOfItem(atPath: path + "/" + rel), (a[.type] as? FileAttributeType) == .typeRegular {
                    total += (a[.size] as? Int) ?? 0
                }
            }
        }
        return total
    }

    /// A one-file commit into a repository of 2,000 files grows the grid by what changed (a tree or
    /// two, a snapshot, a small segment), not by the size of the index; many commits keep at most 16
    /// segments.
    @Test func aOneFileCommitGrowsTheGridByWhatChanged() throws {
        let f = try RepoFixture()
        for i in 0..<2_000 { try f.write("d\(i % 20)/f\(i).txt", "file number \(i) " + String(repeating: "x", count: 80) + "\n") }
        #expect(try f.run(["commit", "-m", "base"]).code == 0)
        var growth: [Int] = []
        for round in 0..<20 {
            try f.write("d3/f\(3 + 20 * round).txt", "changed in round \(round)\n")
            let before = treeBytes(f.grid)
            let r = try f.run(["commit", "-m", "round \(round)"])
            #expect(r.code == 0, "\(r.stderr)")
            growth.append(treeBytes(f.grid) - before)
            // Opening the repository drops cached segments the refs no longer name, once they are an hour
            // old (a commit running meanwhile may have just cached the segment it is about to publish).
            let cacheDir = f.work + "/.cairn/segments"
            try Data("fresh".utf8).write(to: URL(fileURLWithPath: cacheDir + "/not-yet-published"))
            for name in try FileManager.default.contentsOfDirectory(atPath: cacheDir) where name != "not-yet-published" {
                try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: cacheDir + "/" + name)
            }
            #expect(try f.run(["status"]).code == 0)
            #expect(FileManager.default.fileExists(atPath: cacheDir + "/not-yet-published"))
            try FileManager.default.removeItem(atPath: cacheDir + "/not-yet-published")
            let cached = try FileManager.default.contentsOfDirectory(atPath: f.work + "/.cairn/segments").count
            #expect(cached <= 16, "round \(round): \(cached) segments")
        }
        // Format 1 rewrote the whole index (2,000 entries) each time: about 400 KB of shares here.
        let typical = growth.sorted()[growth.count / 2]
        #expect(typical < 150_000, "grid growth per one-file commit: \(growth)")
        let check = try f.run(["check", "--read-data"])
        #expect(check.code == 0, "\(check.stdout)")
    }

    /// Two worktrees commit to different branches at once, many times: every commit lands (the loser
    /// of the race retries on the latest refs) and every segment survives: each branch has all its files.
    @Test func twoWritersSegmentsAreBothKept() async throws {
        let f = try RepoFixture()
        try f.write("base.txt", "base\n")
        #expect(try f.run(["commit", "-m", "base"]).code == 0)
        #expect(try f.run(["branch", "other"]).code == 0)
        let other = f.dir.file("other")
        #expect(try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, other]).code == 0)
        #expect(try CairnProcess.run(["checkout", "other"], environment: f.env, currentDirectory: other).code == 0)
        let env = f.env, work = f.work
        for round in 0..<12 {
            try f.write("a-\(round).txt", "from a \(round)\n")
            try Data("from b \(round)\n".utf8).write(to: URL(fileURLWithPath: other + "/b-\(round).txt"))
            async let a = Task.detached { try CairnProcess.run(["commit", "-m", "a\(round)"], environment: env, currentDirectory: work) }.value
            async let b = Task.detached { try CairnProcess.run(["commit", "-m", "b\(round)"], environment: env, currentDirectory: other) }.value
            for r in try await [a, b] { #expect(r.code == 0, "round \(round): \(r.stderr)") }
        }
        let check = try f.run(["check", "--read-data"])
        #expect(check.code == 0, "\(check.stdout)")
        let fresh = f.dir.file("fresh")
        #expect(try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, fresh]).code == 0)
        #expect(try CairnProcess.run(["checkout", "other"], environment: env, currentDirectory: fresh).code == 0)
        for round in 0..<12 {
            #expect(try f.run(["cat", "main:a-\(round).txt"]).stdout == "from a \(round)\n")
            #expect(FileManager.default.contents(atPath: fresh + "/b-\(round).txt") == Data("from b \(round)\n".utf8))
        }
    }

    /// Shares lost on 8 of 10 servers: opening fails in one line naming the segment. Lost on 5: `check`
    /// names the segments first, `repair` (no cap, inside the repository) repairs them first, and
    /// everything is healthy again.
    @Test func aDamagedSegmentIsNamedAndRepairedFirst() throws {
        let f = try RepoFixture()
        for i in 0..<30 { try f.write("f\(i).txt", "file \(i)\n") }
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        try f.write("f1.txt", "changed\n")
        #expect(try f.run(["commit", "-m", "two"]).code == 0)
        let fm = FileManager.default
        func wipe(_ servers: Range<Int>) throws {
            for s in servers {
                for sub in ["packs", "large"] {
                    let p = f.grid + String(format: "/servers/%02d/", s) + sub
                    try fm.removeItem(atPath: p)
                    try fm.createDirectory(atPath: p, withIntermediateDirectories: false)
                }
            }
            try? fm.removeItem(atPath: f.work + "/.cairn/segments")  // read the segments from the grid
        }
        let backup = f.dir.file("grid-backup")
        try fm.copyItem(atPath: f.grid, toPath: backup)
        try wipe(0..<8)
        let gone = try f.run(["log"])
        #expect(isOneLineFailure(gone) && gone.code == 2 && gone.stderr.contains("index segment"), "\(gone.code) \(gone.stderr)")
        try fm.removeItem(atPath: f.grid)
        try fm.moveItem(atPath: backup, toPath: f.grid)

        try wipe(0..<5)
        let check = try f.run(["check"])
        #expect(check.code == 1)
        let problems = check.lines.filter { $0.hasPrefix("problem:") }
        #expect(problems.count >= 4 && problems[0].contains("index segment") && problems[1].contains("index segment"), "\(check.stdout)")
        let repair = try f.run(["repair"])
        #expect(repair.code == 0, "\(repair.stdout) \(repair.stderr)")
        let repaired = repair.lines.filter { $0.hasPrefix("repaired") }
        #expect(repaired.count == problems.count && repaired[0].contains("index segment") && repaired[1].contains("index segment"), "\(repair.stdout)")
        let after = try f.run(["check", "--read-data"])
        #expect(after.code == 0, "\(after.stdout)")
        let clone = f.dir.file("clone")
        #expect(try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, clone]).code == 0)
        #expect(worktreeFiles(clone) == worktreeFiles(f.work))
    }
}

extension IndexSegmentCLITests {
    /// The local copy of a segment is trusted without being re-read whole (so a command's cost does not
    /// grow with history); damaged, it gives a clear error, never a crash, and removing `.cairn/segments`
    /// makes the next command read the segments from the grid again.
    @Test func aDamagedCachedSegmentNeverCrashes() throws {
        let f = try RepoFixture()
        for i in 0..<5 { try f.write("f\(i).txt", "file \(i)\n") }
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        let cache = f.work + "/.cairn/segments"
        for name in try FileManager.default.contentsOfDirectory(atPath: cache) {
            let path = cache + "/" + name
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            // Every object's pack number (the 4 bytes after each 32-byte id) made huge; the layout still fits.
            let caps = Int(bytes[8]) << 24 | Int(bytes[9]) << 16 | Int(bytes[10]) << 8 | Int(bytes[11])
            var at = 12
            for _ in 0..<caps { at += 2 + (Int(bytes[at]) << 8 | Int(bytes[at + 1])) }
            let objects = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            for i in 0..<objects { for j in 0..<4 { bytes[at + 4 + i * 36 + 32 + j] = 0xFF } }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let damaged = try f.run(["log", "--oneline"])
        #expect(damaged.code != 0 && isOneLineFailure(damaged) && !damaged.stderr.contains("Signal"), "\(damaged.code) \(damaged.stderr)")
        try FileManager.default.removeItem(atPath: cache)
        let again = try f.run(["log", "--oneline"])
        #expect(again.code == 0 && again.stdout.hasSuffix(" one\n"), "\(again.stderr)")
    }
}
