import CairnFormats
import CairnPrimitives
import Foundation
import Testing
import TahoeTestGrid

/// Every command on a grid of real Tahoe-LAFS 1.20 storage nodes (started on loopback by TahoeTestGrid).
@Suite struct TahoeCLITests {
    /// A Cairn grid of the shared Tahoe grid's five nodes, 3-of-5, happy 4, found through the gateway's
    /// announcements (`grid import-tahoe`).
    static func tahoeGrid(_ dir: TemporaryDirectory, encoding: String = "3-of-5", happy: Int = 4) async throws -> (String, TahoeTestGrid) {
        let tahoe = try await TahoeTestGrid.shared()
        let grid = dir.file("grid")
        let create = try CairnProcess.run(["grid", "create", grid, "--servers", "0", "--encoding", encoding, "--happy", String(happy)])
        #expect(create.code == 0, "\(create.stderr)")
        let imported = try CairnProcess.run(["grid", "import-tahoe", tahoe.gatewayDirectory, "--grid", grid])
        #expect(imported.code == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("5 nodes added"), "\(imported.stdout)")
        return (grid, tahoe)
    }

    @Test func statusListsEveryNode() async throws {
        let dir = TemporaryDirectory()
        let (grid, tahoe) = try await Self.tahoeGrid(dir)
        let status = try CairnProcess.run(["grid", "status", "--json", "--grid", grid])
        #expect(status.code == 0, "\(status.stderr)")
        let rows = try JSONSerialization.jsonObject(with: status.stdoutData) as? [[String: Any]] ?? []
        #expect(rows.count == 5)
        for row in rows {
            #expect(row["kind"] as? String == "tahoe")
            #expect(row["reachable"] as? Bool == true, "\(row)")
            #expect((row["version"] as? String)?.contains("tahoe-lafs/1.20") == true)
            #expect((row["availableSpace"] as? UInt64 ?? 0) > 0)
            #expect(row["latencyMilliseconds"] is Double)
            #expect(!(row["location"] as? String ?? "").contains("/" + (tahoe.nodes.first?.nurl.split(separator: "/").last ?? "x")),
                    "the swissnum is never printed")
        }
        #expect(Set(rows.compactMap { $0["nickname"] as? String }) == Set(tahoe.nodes.map(\.nickname)))
        // The configuration holds swissnums: only its owner may read it.
        let mode = try FileManager.default.attributesOfItem(atPath: grid + "/cairn-grid.conf")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func putGetAndRangesOfSmallAndMultiSegmentFiles() async throws {
        let dir = TemporaryDirectory()
        let (grid, _) = try await Self.tahoeGrid(dir)
        for (size, seed) in [(10_000, 1 as UInt64), (3_500_000, 2)] {
            let data = Data(testBytes(size, seed: seed &+ UInt64(getpid())))
            try data.write(to: URL(fileURLWithPath: dir.file("f")))
            let put = try CairnProcess.run(["put", "--grid", grid, dir.file("f")])
            #expect(put.code == 0, "\(put.stderr)")
            let cap = put.lines.first ?? ""
            let get = try CairnProcess.run(["get", "--grid", grid, cap])
            #expect(get.code == 0 && get.stdoutData == data, "\(size): \(get.stderr)")
            for (range, slice) in [("0-0", 0..<1), ("1000-5000", 1000..<5001), ("\(size - 10)-", size - 10..<size)] {
                let r = try CairnProcess.run(["get", "--grid", grid, cap, "--range", range])
                #expect(r.code == 0 && r.stdoutData == data[slice], "\(size) \(range): \(r.stderr)")
            }
            if size > 2_100_000 {
                let r = try CairnProcess.run(["get", "--grid", grid, cap, "--range", "2097150-2097160"])  // across a segment boundary
                #expect(r.stdoutData == data[2_097_150..<2_097_161])
            }
            let check = try CairnProcess.run(["check", "--verify", "--grid", grid, cap])
            #expect(check.code == 0, "\(check.stdout) \(check.stderr)")
        }
    }

    @Test func slotPublishedReadBackAndStalePublishRefused() async throws {
        let dir = TemporaryDirectory()
        let (grid, _) = try await Self.tahoeGrid(dir)
        try Data("one".utf8).write(to: URL(fileURLWithPath: dir.file("v1")))
        try Data("two".utf8).write(to: URL(fileURLWithPath: dir.file("v2")))
        try Data("three".utf8).write(to: URL(fileURLWithPath: dir.file("v3")))
        let created = try CairnProcess.run(["slot", "create", "--grid", grid, dir.file("v1")])
        #expect(created.code == 0, "\(created.stderr)")
        let cap = created.lines.first ?? ""
        #expect(try CairnProcess.run(["slot", "publish", "--grid", grid, cap, dir.file("v2")]).lines == ["2"])
        #expect(try CairnProcess.run(["slot", "read", "--grid", grid, cap]).stdout == "two")
        let stale = try CairnProcess.run(["slot", "publish", "--grid", grid, "--if-version", "1", cap, dir.file("v3")])
        #expect(stale.code == 4, "\(stale.stderr)")
        #expect(try CairnProcess.run(["slot", "read", "--grid", grid, cap]).stdout == "two")
    }

    @Test func snapshotCommittedAndRestoredAsOfADate() async throws {
        let dir = TemporaryDirectory()
        let (grid, _) = try await Self.tahoeGrid(dir)
        let work = dir.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let env = ["CAIRN_GRID": grid, "CAIRN_AUTHOR_NAME": "Tester", "CAIRN_AUTHOR_EMAIL": "t@example.org"]
        func run(_ args: [String]) throws -> CairnProcess.Result { try CairnProcess.run(args, environment: env, currentDirectory: work) }
        #expect(try run(["init"]).code == 0)
        let v1 = Data(testBytes(1_500_000, seed: 31)), v2 = Data(testBytes(1_500_000, seed: 32))
        try v1.write(to: URL(fileURLWithPath: work + "/plan.bin"))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: work + "/notes.txt"))
        #expect(try run(["commit", "-m", "one", "--date", "2026-03-01T00:00:00Z"]).code == 0)
        try v2.write(to: URL(fileURLWithPath: work + "/plan.bin"))
        #expect(try run(["commit", "-m", "two", "--date", "2026-03-05T00:00:00Z"]).code == 0)
        let restored = try run(["restore", "plan.bin", "--at", "2026-03-02 00:00:00 +0000", "-o", dir.file("old")])
        #expect(restored.code == 0, "\(restored.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("old"))) == v1)
        let log = try run(["log"])
        #expect(log.stdout.contains("one") && log.stdout.contains("two"))
        let leased = try run(["check", "--add-lease"])
        #expect(leased.code == 0 && leased.stdout.contains("leases renewed on") && leased.stdout.contains("no problems"),
                "\(leased.stdout) \(leased.stderr)")
    }

    /// A wrong pin is refused during the TLS handshake, before the swissnum is sent; a wrong swissnum is
    /// refused by the node. Both say so in one line and never print the swissnum.
    @Test func wrongPinAndWrongSwissnumAreRefusedClearly() async throws {
        let dir = TemporaryDirectory()
        let tahoe = try await TahoeTestGrid.shared()
        let good = tahoe.nodes[0].nurl
        let parts = good.split(separator: "@", maxSplits: 1)
        let spki = parts[0].dropFirst("pb://".count)
        let flipped = (spki.first == "A" ? "B" : "A") + spki.dropFirst()
        let wrongPin = "pb://\(flipped)@\(parts[1])"
        let swiss = String(good.split(separator: "/").last!.split(separator: "#").first!)
        let wrongSwiss = good.replacingOccurrences(of: swiss, with: String(swiss.reversed()))
        for (nurl, words) in [(wrongPin, "does not match the pin"), (wrongSwiss, "does not accept the swissnum")] {
            let grid = dir.file("grid-\(words.count)")
            #expect(try CairnProcess.run(["grid", "create", grid, "--servers", "0", "--encoding", "1-of-1", "--happy", "1"]).code == 0)
            let added = try CairnProcess.run(["grid", "add-server", nurl, "--grid", grid])
            #expect(added.code == 0, "\(added.stderr)")
            let status = try CairnProcess.run(["grid", "status", "--grid", grid])
            #expect(status.stdout.contains("UNREACHABLE") && status.stdout.contains(words), "\(status.stdout)")
            try Data("x".utf8 + testBytes(5_000, seed: 5)).write(to: URL(fileURLWithPath: dir.file("f")))
            let put = try CairnProcess.run(["put", "--grid", grid, dir.file("f")])
            #expect(put.code != 0)
            #expect(put.stderr.contains(words), "\(put.stderr)")
            #expect(!put.stderr.contains(swiss) && !status.stdout.contains(swiss), "the swissnum is never printed")
        }
    }

    /// "K shares on mom's machine": a near node with primaries gets shares 0…K−1 of every upload besides
    /// the normal spread, and serves a whole read alone (every other node unreachable).
    @Test func nearServerWithPrimariesServesAWholeRead() async throws {
        let dir = TemporaryDirectory()
        let tahoe = try await TahoeTestGrid.shared()
        let grid = dir.file("grid")
        #expect(try CairnProcess.run(["grid", "create", grid, "--servers", "0", "--encoding", "3-of-5", "--happy", "4"]).code == 0)
        let mom = tahoe.nodes[2]
        for node in tahoe.nodes where node.nickname != mom.nickname {
            let r = try CairnProcess.run(["grid", "add-server", node.nurl, "--key", node.key, "--nickname", node.nickname, "--grid", grid])
            #expect(r.code == 0, "\(r.stderr)")
        }
        let added = try CairnProcess.run(["grid", "add-server", mom.nurl, "--key", mom.key, "--near", "--primaries", "--nickname", "mom", "--grid", grid])
        #expect(added.code == 0 && added.stdout.contains("near, with primaries"), "\(added.stdout) \(added.stderr)")

        let data = Data(testBytes(2_500_000, seed: 77 &+ UInt64(getpid())))
        try data.write(to: URL(fileURLWithPath: dir.file("f")))
        let put = try CairnProcess.run(["put", "--grid", grid, dir.file("f")])
        #expect(put.code == 0, "\(put.stderr)")
        let cap = put.lines.first ?? ""

        // The share files on mom's disk: shares 0, 1 and 2 are there (and perhaps one more of the spread).
        let check = try CairnProcess.run(["check", "--grid", grid, cap])
        #expect(check.code == 0, "\(check.stdout)")
        let momLine = check.lines.first { $0.contains("mom") } ?? ""
        for share in ["0", "1", "2"] { #expect(momLine.contains(share), "\(check.stdout)") }

        // Every other node unreachable (same ids, a closed port): the read still succeeds, from mom alone.
        var config = try String(contentsOfFile: grid + "/cairn-grid.conf", encoding: .utf8)
        for node in tahoe.nodes where node.nickname != mom.nickname {
            let spki = node.nurl.split(separator: "@")[0]
            config = config.replacingOccurrences(of: node.nurl, with: "\(spki)@127.0.0.1:1/closed#v=1")
        }
        try config.write(toFile: grid + "/cairn-grid.conf", atomically: true, encoding: .utf8)
        let status = try CairnProcess.run(["grid", "status", "--grid", grid])
        #expect(status.stdout.components(separatedBy: "UNREACHABLE").count == 5, "\(status.stdout)")
        let get = try CairnProcess.run(["get", "--grid", grid, cap])
        #expect(get.code == 0 && get.stdoutData == data, "\(get.stderr)")
    }

    @Test func badRatesAreRefused() async throws {
        let dir = TemporaryDirectory()
        for args in [["--limit-upload", "fast"], ["--limit-download=-3M"]] {
            let r = try CairnProcess.run(["put", "--grid", dir.file("g"), "-"] + args, stdin: Data("x".utf8))
            #expect(r.code == 64 && r.stderr.contains("is not a rate"), "\(r.stderr)")
        }
        let env = try CairnProcess.run(["put", "--grid", dir.file("g"), "-"], stdin: Data("x".utf8), environment: ["CAIRN_LIMIT_UPLOAD": "slow"])
        #expect(env.code == 64 && env.stderr.contains("is not a rate"), "\(env.stderr)")
    }

    /// Leases as the nodes keep them (Tahoe's share file: the lease count at offset 8, 72-byte lease records
    /// at the end, each ending with its expiry time): the upload adds one; `check --add-lease` renews it
    /// (same secrets: still one, later expiry); another client's grid (other secrets) adds a second.
    @Test func leasesAddedAndRenewed() async throws {
        let dir = TemporaryDirectory()
        let (grid, tahoe) = try await Self.tahoeGrid(dir)
        try Data(testBytes(200_000, seed: 91 &+ UInt64(getpid()))).write(to: URL(fileURLWithPath: dir.file("f")))
        let cap = try CairnProcess.run(["put", "--grid", grid, dir.file("f")]).lines.first ?? ""
        let si = Base32.encode(try #require(try Cap(parsing: cap).verifyCap).storageIndex)
        func shareFiles() throws -> [String] {
            tahoe.nodes.flatMap { node -> [String] in
                let folder = node.directory + "/storage/shares/" + si.prefix(2) + "/" + si
                return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).map { folder + "/" + $0 }
            }
        }
        func leases(_ path: String) throws -> (count: UInt32, lastExpiry: UInt32) {
            let d = try Data(contentsOf: URL(fileURLWithPath: path))
            func be32(_ at: Int) -> UInt32 { d[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
            return (be32(8), be32(d.count - 4))
        }
        let files = try shareFiles()
        #expect(files.count == 5, "one share per node: \(files)")
        let before = try files.map(leases)
        #expect(before.allSatisfy { $0.count == 1 }, "\(before)")
        sleep(2)
        let renewed = try CairnProcess.run(["check", "--add-lease", "--grid", grid, cap])
        #expect(renewed.code == 0 && renewed.stdout.contains("lease renewed on 5 servers"), "\(renewed.stdout)")
        let after = try files.map(leases)
        for (b, a) in zip(before, after) {
            #expect(a.count == 1 && a.lastExpiry >= b.lastExpiry + 1, "renewed in place: \(b) → \(a)")
        }
        // Another client (its own grid configuration and secrets) adds a lease of its own.
        let other = dir.file("other")
        #expect(try CairnProcess.run(["grid", "create", other, "--servers", "0", "--encoding", "3-of-5", "--happy", "4"]).code == 0)
        #expect(try CairnProcess.run(["grid", "import-tahoe", tahoe.gatewayDirectory, "--grid", other]).code == 0)
        #expect(try CairnProcess.run(["check", "--add-lease", "--grid", other, cap]).code == 0)
        #expect(try files.map(leases).allSatisfy { $0.count == 2 })
    }

    /// A share damaged on a node's own disk: `check --verify` names it corrupt, `repair` writes that share
    /// number to another node (a Tahoe node never replaces a share it holds) and tells the node, which keeps
    /// its advisory; the file is healthy and reads back.
    @Test func shareCorruptedOnANodesDiskIsDetectedAndRepaired() async throws {
        let dir = TemporaryDirectory()
        let (grid, tahoe) = try await Self.tahoeGrid(dir)
        let data = Data(testBytes(1_200_000, seed: 55 &+ UInt64(getpid())))
        try data.write(to: URL(fileURLWithPath: dir.file("f")))
        let cap = try CairnProcess.run(["put", "--grid", grid, dir.file("f")]).lines.first ?? ""
        let si = Base32.encode(try #require(try Cap(parsing: cap).verifyCap).storageIndex)
        let node = tahoe.nodes[1]
        let folder = node.directory + "/storage/shares/" + si.prefix(2) + "/" + si
        let share = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first)
        // Tahoe's share file: a 12-byte header, the share bytes, then leases. Flip a byte well inside the blocks.
        let path = folder + "/" + share
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let at = 12 + 200_000
        bytes[at] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))

        let check = try CairnProcess.run(["check", "--verify", "--grid", grid, cap])
        #expect(check.code == 1 && check.stdout.contains("corrupt"), "\(check.stdout)")
        let repair = try CairnProcess.run(["repair", "--grid", grid, cap])
        #expect(repair.code == 0, "\(repair.stdout) \(repair.stderr)")
        #expect(repair.stdout.contains("wrote share \(share) to server") && repair.stdout.contains("reported corrupt share \(share)"), "\(repair.stdout)")
        let advisories = (try? FileManager.default.contentsOfDirectory(atPath: node.directory + "/storage/corruption-advisories")) ?? []
        #expect(!advisories.isEmpty, "the node keeps the report")
        let get = try CairnProcess.run(["get", "--grid", grid, cap])
        #expect(get.code == 0 && get.stdoutData == data)
    }

    /// A node killed (SIGKILL) while an upload writes to it: the upload goes on with the others (happy 4 of
    /// the 4 left), the lost share number is placed on another node, and the file reads back. With too few
    /// nodes left the put fails naming the dead node, and nothing is claimed.
    @Test func nodeKilledMidUpload() async throws {
        let tahoe = try await TahoeTestGrid.startPrivate()
        defer { tahoe.stop() }
        let dir = TemporaryDirectory()
        let grid = dir.file("grid")
        #expect(try CairnProcess.run(["grid", "create", grid, "--servers", "0", "--encoding", "3-of-5", "--happy", "4"]).code == 0)
        #expect(try CairnProcess.run(["grid", "import-tahoe", tahoe.gatewayDirectory, "--grid", grid]).code == 0)
        let data = Data(testBytes(24_000_000, seed: 4242))
        try data.write(to: URL(fileURLWithPath: dir.file("big")))
        let victim = try #require(tahoe.pids()["storage3"])
        // 40 MB of shares at 8 MiB/s: about 5 s of upload; the node dies 1.5 s into it. The killer is a process
        // of its own, started just before the put: a task here could wake up late (the test process's
        // cooperative threads are busy with other tests) and kill the node only after the upload.
        let killer = Process()
        killer.executableURL = URL(fileURLWithPath: "/bin/sh")
        killer.arguments = ["-c", "sleep 1.5; kill -9 \(victim)"]
        try killer.run()
        let put = try CairnProcess.run(["put", "--grid", grid, "--limit-upload", "8M", dir.file("big")])
        #expect(put.code == 0, "\(put.stderr)")
        let cap = put.lines.first ?? ""
        let check = try CairnProcess.run(["check", "--grid", grid, cap])
        #expect(check.stdout.contains("storage3: unreachable") || check.stdout.contains("server storage3: unreachable"), "\(check.stdout)")
        #expect(check.code == 0, "all 5 share numbers on 4 live nodes: \(check.stdout)")
        let get = try CairnProcess.run(["get", "--grid", grid, cap])
        #expect(get.code == 0 && get.stdoutData == data)

        // Two more nodes gone: 2 of 5 left cannot make 4 happy.
        for name in ["storage4", "storage5"] { if let pid = tahoe.pids()[name] { kill(pid, SIGKILL) } }
        try Data(testBytes(3_000_000, seed: 4343)).write(to: URL(fileURLWithPath: dir.file("small")))
        let refused = try CairnProcess.run(["put", "--grid", grid, dir.file("small")])
        #expect(refused.code != 0 && refused.stderr.contains("happy"), "\(refused.stderr)")
        #expect(refused.stderr.contains("storage4") || refused.stderr.contains("unreachable"), "\(refused.stderr)")
    }
}
