import Foundation
import Glibc
import Testing

/// The three reproductions, through the real binary: each used to lose the file or block a commit.
@Suite struct NothingLostTests {
    static let size = 5_000_000
    /// 1 MiB segments rounded for K = 3, so each share's block is a third of it (Formats.md).
    static let blockSize: UInt64 = 1_048_578 / 3
    static let prefixSize: UInt64 = 16 + 110

    /// Share files of one cap on a grid: server folder number → share number → path (all large shares here).
    static func shareFiles(_ grid: String) throws -> [(server: String, share: Int, path: String)] {
        var out: [(String, Int, String)] = []
        for server in try FileManager.default.contentsOfDirectory(atPath: grid + "/servers").sorted() {
            let large = grid + "/servers/" + server + "/large"
            guard let paths = FileManager.default.enumerator(atPath: large) else { continue }
            for case let rel as String in paths {
                let full = large + "/" + rel
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue,
                   rel.split(separator: "/").count == 3, let share = Int(rel.split(separator: "/").last!) {
                    out.append((server, share, full))
                }
            }
        }
        return out
    }

    static func flip(_ path: String, at offset: UInt64) throws {
        let fh = try #require(FileHandle(forUpdatingAtPath: path))
        try fh.seek(toOffset: offset)
        var b = try #require(try fh.read(upToCount: 1))
        b[0] ^= 0x21
        try fh.seek(toOffset: offset)
        try fh.write(contentsOf: b)
        try fh.close()
    }

    /// Flips one byte in each of shares 0–7, two shares per segment.
    static func damageEightShares(_ grid: String) throws {
        for f in try shareFiles(grid) where f.share < 8 {
            try flip(f.path, at: prefixSize + UInt64(f.share / 2) * blockSize + 9)
        }
    }

    func makeGridAndFile(_ dir: TemporaryDirectory, launcher: [String] = []) throws -> (grid: String, file: String, cap: String) {
        let grid = dir.file("g")
        let create = try CairnProcess.run(["grid", "create", grid, "--servers", "10", "--encoding", "3-of-10", "--happy", "7"],
                                          launcher: launcher)
        try #require(create.code == 0, "\(create.stderr)")
        let file = dir.file("five-megabytes.bin")
        try Data(testBytes(Self.size, seed: 77)).write(to: URL(fileURLWithPath: file))
        let put = try CairnProcess.run(["put", "--grid", grid, file], launcher: launcher)
        try #require(put.code == 0 && put.lines.count == 1, "\(put.stderr)")
        return (grid, file, put.lines[0])
    }

    /// (a) Shares unreadable on 8 servers for a moment: repair fails and changes nothing; afterwards the file
    /// is whole. Root reads everything, so cairn runs as `nobody` (setpriv; CI runs as root).
    @Test func unreadableSharesAreNeverTakenForCorrupt() throws {
        try #require(getuid() == 0, "this test needs root (to run cairn as nobody); CI runs as root")
        let dir = TemporaryDirectory()
        chmod(dir.path, 0o777)
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        let (grid, file, cap) = try makeGridAndFile(dir, launcher: nobody)
        let files = try Self.shareFiles(grid)
        #expect(files.count == 10)
        for f in files where Int(f.server)! < 8 { chmod(f.path, 0) }
        let repair = try CairnProcess.run(["repair", "--grid", grid, cap], launcher: nobody)
        #expect(repair.code != 0 && repair.stderr.contains("could not be read"), "\(repair.code) \(repair.stdout) \(repair.stderr)")
        #expect(!repair.stderr.contains("Fatal") && repair.stderr.split(separator: "\n").count == 1)
        for f in files { chmod(f.path, 0o600) }
        #expect(try Self.shareFiles(grid).count == 10)
        let out = dir.file("back")
        let get = try CairnProcess.run(["get", "--grid", grid, cap, "-o", out], launcher: nobody)
        #expect(get.code == 0, "\(get.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: file)))
    }

    /// (a') Running out of file descriptors during a repair of a healthy file deletes nothing.
    @Test func tooFewFileDescriptorsLoseNothing() throws {
        let dir = TemporaryDirectory()
        let (grid, _, cap) = try makeGridAndFile(dir)
        for limit in [12, 14, 18, 24] {
            _ = try CairnProcess.run(["repair", "--grid", grid, cap],
                                     launcher: ["/bin/sh", "-c", "ulimit -n \(limit); exec \"$0\" \"$@\""])
            let check = try CairnProcess.run(["check", "--grid", grid, "--verify", cap])
            #expect(check.code == 0 && check.stdout.contains("healthy: 10 of 10"), "ulimit \(limit): \(check.stdout)")
        }
    }

    /// (b) One flipped byte in 8 shares, two per segment: repair rebuilds them block by block, in place.
    @Test func eightDamagedSharesAreRepairedNotDeleted() throws {
        let dir = TemporaryDirectory()
        let (grid, file, cap) = try makeGridAndFile(dir)
        try Self.damageEightShares(grid)
        let check = try CairnProcess.run(["check", "--grid", grid, "--verify", cap])
        #expect(check.code == 1 && check.stdout.contains("2 of 10 shares good"), "\(check.stdout)")
        #expect(check.stdout.components(separatedBy: "corrupt share").count - 1 == 8)
        let repair = try CairnProcess.run(["repair", "--grid", grid, cap])
        #expect(repair.code == 0, "\(repair.stdout)\(repair.stderr)")
        #expect(repair.stdout.components(separatedBy: "superseding its corrupt copy").count - 1 == 8, "\(repair.stdout)")
        #expect(try CairnProcess.run(["check", "--grid", grid, "--verify", cap]).code == 0)
        let out = dir.file("back")
        #expect(try CairnProcess.run(["get", "--grid", grid, cap, "-o", out]).code == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: file)))

        // The superseded copies wait in quarantine until reclaimed explicitly.
        let dry = try CairnProcess.run(["grid", "reclaim-quarantine", "--grid", grid, "--dry-run"])
        #expect(dry.code == 0 && dry.stdout.contains("would reclaim 8 quarantined files"), "\(dry.stdout)\(dry.stderr)")
        let reclaim = try CairnProcess.run(["grid", "reclaim-quarantine", "--grid", grid])
        #expect(reclaim.code == 0 && reclaim.stdout.contains("reclaimed 8 quarantined files"), "\(reclaim.stdout)\(reclaim.stderr)")
        #expect(try CairnProcess.run(["grid", "reclaim-quarantine", "--grid", grid]).stdout.contains("reclaimed 0 quarantined files"))
        #expect(try CairnProcess.run(["check", "--grid", grid, "--verify", cap]).code == 0)
    }

    /// (c) A folder holding two identical files over 512 KiB commits; `put f f` works.
    @Test func identicalFilesCommit() throws {
        let dir = TemporaryDirectory()
        let work = dir.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let bytes = Data(testBytes(600_000, seed: 3))
        try bytes.write(to: URL(fileURLWithPath: work + "/a"))
        try bytes.write(to: URL(fileURLWithPath: work + "/b"))
        let env = ["CAIRN_GRID": dir.file("grid"), "HOME": dir.path]
        #expect(try CairnProcess.run(["init"], environment: env, currentDirectory: work).code == 0)
        let commit = try CairnProcess.run(["commit", "-m", "twins"], environment: env, currentDirectory: work)
        #expect(commit.code == 0, "\(commit.stderr)")
        let put = try CairnProcess.run(["put", work + "/a", work + "/a", work + "/b"], environment: env)
        #expect(put.code == 0 && put.lines.count == 3 && Set(put.lines).count == 1, "\(put.stdout)\(put.stderr)")
    }

    /// A repair SIGKILLed at random moments never loses the file; a last repair finishes the job.
    @Test func killedRepairsLoseNothing() throws {
        let dir = TemporaryDirectory()
        let (grid, file, cap) = try makeGridAndFile(dir)
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        var rng = SystemRandomNumberGenerator()
        for round in 0..<8 {
            try Self.damageEightShares(grid)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CairnProcess.binary)
            p.arguments = ["repair", "--grid", grid, cap]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32.random(in: 5_000...400_000, using: &rng))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let out = dir.file("back\(round)")
            let get = try CairnProcess.run(["get", "--grid", grid, cap, "-o", out])
            #expect(get.code == 0, "round \(round): \(get.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == original, "round \(round)")
            // Repair now, so the next round's damage lands on good shares again.
            let repair = try CairnProcess.run(["repair", "--grid", grid, cap])
            #expect(repair.code == 0, "round \(round): \(repair.stdout)\(repair.stderr)")
        }
        #expect(try CairnProcess.run(["check", "--grid", grid, "--verify", cap]).code == 0)
    }
}
