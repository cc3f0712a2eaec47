import CairnFormats
import CairnPrimitives
import CairnStorage
import Foundation
import Testing
@testable import CairnGrid

extension TestGrid {
    /// Server i's folder for one slot.
    func slotFolder(_ i: Int, _ cap: SlotWriteCap) -> String {
        let si = StorageIndex(cap.storageIndex)!
        return serverFolder(i) + "/slots/" + String(si.hex.prefix(2)) + "/" + si.hex
    }

    /// The share files server i holds of a slot.
    func slotShareFiles(_ i: Int, _ cap: SlotWriteCap) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: slotFolder(i, cap)).filter { Int($0) != nil }.sorted()
            .map { slotFolder(i, cap) + "/" + $0 }
    }

    /// The seqnum stored in every share file of server i.
    func seqnums(_ i: Int, _ cap: SlotWriteCap) throws -> [UInt64] {
        try slotShareFiles(i, cap).map { path in
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            return bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        }
    }
}

@Suite struct SlotRoundTrips {
    @Test(arguments: [0, 1, 5000, (1 << 20) + 7])
    func createPublishRead(size: Int) async throws {
        let tg = try TestGrid()
        let client = SlotClient(grid: try tg.open())
        let first = testBytes(size, seed: 5)
        let cap = try await client.create(payload: first)
        // Another process's view: a fresh grid, only the read cap.
        let v1 = try await SlotClient(grid: try tg.open()).read(cap.readCap)
        #expect(v1.seqnum == 1 && v1.payload == first && v1.storageIndex == cap.storageIndex)
        for i in 0..<10 { #expect(try tg.seqnums(i, cap) == [1], "server \(i)") }

        let second = testBytes(size + 3, seed: 6)
        let v2 = try await client.publish(cap, payload: second, replacing: v1)
        #expect(v2.seqnum == 2 && v2.root != v1.root)
        let back = try await SlotClient(grid: try tg.open()).read(Cap.slotRead(cap.readCap))
        #expect(back == v2 && back.payload == second)
        #expect(try await SlotClient(grid: try tg.open()).read(cap) == v2)
    }

    @Test func sameBytesTwiceGetFreshNonces() async throws {
        let (grid, servers) = try memoryGrid()
        let client = SlotClient(grid: grid)
        let cap = try await client.create(payload: Array("same".utf8))
        let si = StorageIndex(cap.storageIndex)!
        func anyShare() -> [UInt8] { servers[0].slotShare(si, (0..<10).first { servers[0].slotShare(si, $0) != nil }!)! }
        let before = anyShare()
        let v1 = try await client.read(cap)
        let v2 = try await client.publish(cap, payload: Array("same".utf8), replacing: v1)
        let after = anyShare()
        // Same payload, new version: another nonce, so another ciphertext and root.
        #expect(Array(before[48..<72]) != Array(after[48..<72]) && v1.root != v2.root)
        #expect(try await client.read(cap.readCap).payload == Array("same".utf8))
    }

    @Test func refusesUnsafeGridsAndForeignVersions() async throws {
        let (unsafe, _) = try memoryGrid(happy: 5)
        await #expect(throws: SlotError.unsafeGrid(n: 10, happy: 5)) { try await SlotClient(grid: unsafe).create(payload: [1]) }
        #expect(SlotError.unsafeGrid(n: 10, happy: 5).description.contains("use happy ≥ 6"))

        let (grid, _) = try memoryGrid()
        let client = SlotClient(grid: grid)
        let a = try await client.create(payload: [1]), b = try await client.create(payload: [2])
        let va = try await client.read(a)
        do {
            _ = try await client.publish(b, payload: [3], replacing: va)
            Issue.record("published on top of another slot's version")
        } catch let e as SlotError {
            guard case .wrongSlot(let m) = e else { Issue.record("\(e)"); return }
            #expect(m.contains("the write cap is for slot"))
        }
        #expect(try await client.read(b).payload == [2])
        await #expect(throws: SlotError.self) { try await client.read(SlotWriteCap.generate().readCap) }
        do {
            _ = try await client.read(SlotWriteCap.generate())
        } catch let e as SlotError {
            #expect(e.description.hasPrefix("no server holds the slot"), "\(e)")
        }
        await #expect(throws: SlotError.self) { try await client.read(Cap.slotVerify(a.verifyCap)) }
        await #expect(throws: SlotError.tooLarge(size: SlotHeader.maximumPayload + 1, limit: SlotHeader.maximumPayload)) {
            try await client.create(payload: [UInt8](repeating: 0, count: Int(SlotHeader.maximumPayload) + 1))
        }
    }
}

@Suite struct SlotConflicts {
    @Test func staleWriterFailsClearlyAndChangesNothing() async throws {
        let tg = try TestGrid()
        let alice = SlotClient(grid: try tg.open()), bob = SlotClient(grid: try tg.open())
        let cap = try await alice.create(payload: Array("v1".utf8))
        let aliceBase = try await alice.read(cap)
        let bobBase = try await bob.read(cap)
        let newer = try await bob.publish(cap, payload: Array("bob's v2".utf8), replacing: bobBase)
        let newest = try await bob.publish(cap, payload: Array("bob's v3".utf8), replacing: newer)
        do {
            _ = try await alice.publish(cap, payload: Array("alice's v2".utf8), replacing: aliceBase)
            Issue.record("a stale publish succeeded")
        } catch let e as SlotError {
            #expect(e == .stale(current: 3, replacing: 1))
            #expect(e.description == "the slot moved: it is at version 3, you published on top of 1; read it again")
        }
        let now = try await SlotClient(grid: try tg.open()).read(cap.readCap)
        #expect(now == newest && now.payload == Array("bob's v3".utf8))
        for i in 0..<10 { #expect(try tg.seqnums(i, cap) == [3], "server \(i)") }
    }

    /// A conflict found only at write time (another writer's version lands between the read and the
    /// test-and-write on 4 of 10 servers): the 6 servers that accepted are rolled back byte for byte.
    @Test func loserIsRolledBack() async throws {
        let (grid, servers) = try memoryGrid()
        let client = SlotClient(grid: grid)
        let cap = try await client.create(payload: Array("v1".utf8))
        let si = StorageIndex(cap.storageIndex)!
        func snapshot() -> [[ShareNumber: [UInt8]]] {
            servers.map { s in Dictionary(uniqueKeysWithValues: (0..<10).compactMap { n in s.slotShare(si, n).map { (n, $0) } }) }
        }
        let v1 = try await client.read(cap)
        let original = snapshot()
        _ = try await client.publish(cap, payload: Array("other writer's v2".utf8), replacing: v1)
        let other = snapshot()
        for (i, s) in servers.enumerated() { for (n, b) in original[i] { s.setSlotShare(si, n, b) } }
        for i in 0..<4 { servers[i].interfereBeforeNextWrite(si, other[i]) }

        await #expect(throws: SlotError.stale(current: 2, replacing: 1)) {
            try await client.publish(cap, payload: Array("loser's v2".utf8), replacing: v1)
        }
        let after = snapshot()
        for i in 0..<4 { #expect(after[i] == other[i], "server \(i) keeps the other writer's version") }
        for i in 4..<10 { #expect(after[i] == original[i], "server \(i) is rolled back") }
    }

    /// Several writers race from the same versions: each version has exactly one winner, every winner's
    /// payload is what that version reads back, and no version number is skipped.
    @Test func concurrentPublishersNeverBothWin() async throws {
        let tg = try TestGrid()
        let cap = try await SlotClient(grid: try tg.open()).create(payload: Array("start".utf8))
        let writers = 4, perWriter = 3
        let wins = try await withThrowingTaskGroup(of: [(UInt64, [UInt8])].self) { group in
            for w in 0..<writers {
                let grid = try tg.open()  // its own server instances, as another process would have
                group.addTask {
                    let client = SlotClient(grid: grid)
                    var won: [(UInt64, [UInt8])] = []
                    var attempts = 0
                    while won.count < perWriter {
                        attempts += 1
                        if attempts > 300 { throw SlotError.usage("writer \(w) starved") }
                        let base = try await client.read(cap)
                        let payload = Array("writer \(w) win \(won.count) on \(base.seqnum)".utf8)
                        do {
                            let v = try await client.publish(cap, payload: payload, replacing: base)
                            won.append((v.seqnum, payload))
                        } catch SlotError.stale {
                            try await Task.sleep(nanoseconds: UInt64.random(in: 0..<3_000_000))
                        }
                    }
                    return won
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let seqnums = wins.map(\.0).sorted()
        #expect(seqnums == Array(2...UInt64(1 + writers * perWriter)), "\(seqnums)")
        let last = wins.max { $0.0 < $1.0 }!
        let final = try await SlotClient(grid: try tg.open()).read(cap)
        #expect(final.seqnum == last.0 && final.payload == last.1)
        // Each winner named the version it built on: the one just below it.
        for (seqnum, payload) in wins {
            #expect(String(decoding: payload, as: UTF8.self).hasSuffix(" on \(seqnum - 1)"))
        }
    }
}

extension SlotConflicts {
    /// Writers that all start from the same version publish at once, on servers shared through separate
    /// instances: at most one wins, and the slot then reads the winner (or, if they split the servers and
    /// all rolled back, the version they started from), never a mix.
    @Test func simultaneousPublishesFromOneVersion() async throws {
        let tg = try TestGrid()
        let cap = try await SlotClient(grid: try tg.open()).create(payload: Array("round 0".utf8))
        var winners = 0
        for round in 1...5 {
            let base = try await SlotClient(grid: try tg.open()).read(cap)
            let grids = try (0..<4).map { _ in try tg.open() }
            let results = await withTaskGroup(of: Result<SlotVersion, Error>.self) { group in
                for (w, grid) in grids.enumerated() {
                    group.addTask {
                        do {
                            return .success(try await SlotClient(grid: grid).publish(cap, payload: Array("round \(round) writer \(w)".utf8), replacing: base))
                        } catch { return .failure(error) }
                    }
                }
                var out: [Result<SlotVersion, Error>] = []
                for await r in group { out.append(r) }
                return out
            }
            let won = results.compactMap { try? $0.get() }
            for case .failure(let e) in results {
                guard case SlotError.stale(let current, let replacing)? = e as? SlotError else { Issue.record("\(e)"); continue }
                #expect(current == base.seqnum + 1 && replacing == base.seqnum)
            }
            #expect(won.count <= 1, "round \(round): \(won.count) winners")
            let now = try await SlotClient(grid: try tg.open()).read(cap)
            #expect(now == (won.first ?? base), "round \(round)")
            winners += won.count
        }
        let final = try await SlotClient(grid: try tg.open()).read(cap)
        #expect(final.seqnum == 1 + UInt64(winners))
    }
}

@Suite struct SlotDamage {
    @Test func readsWithNMinusKServersGone() async throws {
        let tg = try TestGrid()
        let data = testBytes(20_000, seed: 8)
        let cap = try await SlotClient(grid: try tg.open()).create(payload: data)
        for s in [0, 2, 3, 5, 6, 8, 9] { try FileManager.default.removeItem(atPath: tg.serverFolder(s)) }
        #expect(try await SlotClient(grid: try tg.open()).read(cap.readCap).payload == data)
        let v1 = try await SlotClient(grid: try tg.open()).read(cap)
        // 3 servers are fewer than happy: publishing refuses and changes nothing.
        do {
            _ = try await SlotClient(grid: try tg.open()).publish(cap, payload: [1], replacing: v1)
            Issue.record("published to 3 servers with happy 7")
        } catch let e as SlotError {
            guard case .notEnoughServers(let accepted, let happy, _) = e else { Issue.record("\(e)"); return }
            #expect(accepted == 0 && happy == 7)
            #expect(e.description.contains("nothing was changed") && e.description.contains("folder"))
        }
        try FileManager.default.removeItem(atPath: tg.serverFolder(1))
        do {
            _ = try await SlotClient(grid: try tg.open()).read(cap.readCap)
            Issue.record("read from 2 servers with K = 3")
        } catch let e as SlotError {
            guard case .unrecoverable(let needed, _) = e else { Issue.record("\(e)"); return }
            #expect(needed == 3)
        }
    }

    @Test func serverLeftBehindIsRepairedByTheNextRead() async throws {
        let tg = try TestGrid()
        let client = SlotClient(grid: try tg.open())
        let cap = try await client.create(payload: Array("v1".utf8))
        // Server 3 keeps an old copy (restored from a backup); server 6 is away during the publish.
        let backup = tg.slotFolder(3, cap) + ".old"
        try FileManager.default.copyItem(atPath: tg.slotFolder(3, cap), toPath: backup)
        try FileManager.default.moveItem(atPath: tg.serverFolder(6), toPath: tg.serverFolder(6) + ".away")
        let v2 = try await SlotClient(grid: try tg.open()).publish(cap, payload: Array("v2".utf8), replacing: try await client.read(cap))
        try FileManager.default.moveItem(atPath: tg.serverFolder(6) + ".away", toPath: tg.serverFolder(6))
        try FileManager.default.removeItem(atPath: tg.slotFolder(3, cap))
        try FileManager.default.moveItem(atPath: backup, toPath: tg.slotFolder(3, cap))
        #expect(try tg.seqnums(3, cap) == [1] && tg.seqnums(6, cap) == [1])

        // A read-cap reader sees the laggards but cannot repair them (no write enablers).
        let seen = try await SlotClient(grid: try tg.open()).readWithReport(cap.readCap)
        #expect(seen.version == v2 && seen.report.laggards == ["3", "6"] && seen.report.repaired.isEmpty)
        // The writer's read repairs them.
        let fixed = try await SlotClient(grid: try tg.open()).readWithReport(cap)
        #expect(fixed.version == v2 && fixed.report.repaired == ["3", "6"])
        // (The share server 6 missed went to another server during the publish, which now holds two.)
        for i in 0..<10 {
            let held = try tg.seqnums(i, cap)
            #expect(!held.isEmpty && held.allSatisfy { $0 == 2 }, "server \(i): \(held)")
        }
        let again = try await SlotClient(grid: try tg.open()).readWithReport(cap)
        #expect(again.report.laggards.isEmpty && again.report.problems.isEmpty)
        // Repaired shares are byte-identical to what a fresh publish would hold: a reader using only
        // servers 3 and 6 plus one other gets v2.
        for s in [0, 1, 2, 4, 5, 8, 9] { try FileManager.default.moveItem(atPath: tg.serverFolder(s), toPath: tg.serverFolder(s) + ".gone") }
        #expect(try await SlotClient(grid: try tg.open()).read(cap.readCap) == v2)
    }

    @Test func flippedBytesAreIgnoredAndRepaired() async throws {
        let tg = try TestGrid()
        let data = testBytes(30_000, seed: 9)
        let cap = try await SlotClient(grid: try tg.open()).create(payload: data)
        // One flip in a block, one in a signature, one in the seqnum, one in the share chain.
        for (server, offset) in [(0, -1), (1, 130), (2, 12), (4, 200)] {
            let path = try tg.slotShareFiles(server, cap)[0]
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[offset < 0 ? bytes.count + offset : offset] ^= 0x20
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let seen = try await SlotClient(grid: try tg.open()).readWithReport(cap.readCap)
        #expect(seen.version.payload == data && seen.version.seqnum == 1)
        #expect(seen.report.problems.count >= 3, "\(seen.report.problems)")
        #expect(seen.report.problems.contains { $0.contains("bad signature") }, "\(seen.report.problems)")
        #expect(seen.report.laggards == ["0", "1", "2", "4"], "\(seen.report.laggards)")
        let fixed = try await SlotClient(grid: try tg.open()).readWithReport(cap)
        #expect(fixed.report.repaired == ["0", "1", "2", "4"])
        let clean = try await SlotClient(grid: try tg.open()).readWithReport(cap.readCap)
        #expect(clean.report.problems.isEmpty && clean.version.payload == data)
    }
}
