import CairnFormats
import CairnGrid
import CairnPrimitives
import CairnStorage
import Foundation
import Testing

/// Flips one byte at `offset` inside share `share` wherever it lives on a local grid; returns the servers.
@discardableResult
func flipShareByte(_ grid: Grid, _ index: StorageIndex, share: ShareNumber, at offset: UInt64) throws -> [String] {
    var damaged: [String] = []
    for server in grid.servers {
        guard let local = server as? LocalDirectoryServer, let loc = try local.location(of: index, share: share) else { continue }
        let fh = try #require(FileHandle(forUpdatingAtPath: loc.path))
        try fh.seek(toOffset: loc.offset + offset)
        var byte = try #require(try fh.read(upToCount: 1))
        byte[0] ^= 0x5a
        try fh.seek(toOffset: loc.offset + offset)
        try fh.write(contentsOf: byte)
        try fh.close()
        damaged.append(server.name)
    }
    return damaged
}

func quarantined(_ tg: TestGrid) -> [String] {
    (0..<10).flatMap { i -> [String] in
        let q = tg.serverFolder(i) + "/quarantine"
        return ((try? FileManager.default.contentsOfDirectory(atPath: q)) ?? []).map { "\(i)/\($0)" }
    }
}

@Suite struct BlockLevelRepair {
    static let segment = 3000
    static let size = 7 * 3000 + 500  // 8 segments

    func setUp() async throws -> (TestGrid, Cap, ReadCap, [UInt8], ShareLayout) {
        let tg = try TestGrid(segment: Self.segment)
        let data = testBytes(Self.size, seed: 21)
        let cap = try await Uploader(grid: try tg.open()).put(MemorySource(data))
        guard case .read(let rc) = cap else { throw GridError.usage("expected a read cap") }
        let layout = ShareLayout(geometry: SegmentGeometry(k: 3, n: 10, maximumSegmentSize: Self.segment, dataSize: rc.size))
        return (tg, cap, rc, data, layout)
    }

    /// Reproduction (b) of the issue: one flipped byte in 8 shares, two per segment. Repair must rebuild the 8
    /// shares in place (old bytes to quarantine), never delete them first.
    @Test func eightDamagedSharesTwoPerSegmentAreReplacedInPlace() async throws {
        let (tg, cap, rc, data, layout) = try await setUp()
        let index = StorageIndex(rc.storageIndex)!
        let grid = try tg.open()
        for share in 0..<8 {
            try flipShareByte(grid, index, share: share, at: layout.blockOffset(segment: share / 2) + 7)
        }
        #expect(try await Downloader(grid: try tg.open()).bytes(cap) == data)
        let before = try await Checker(grid: try tg.open()).check(rc.verifyCap, verify: true)
        #expect(before.corruptShares.map(\.share).sorted() == Array(0..<8) && before.unreadableShares.isEmpty)

        let outcome = try await Repairer(grid: try tg.open()).repair(rc.verifyCap)
        #expect(outcome.written.keys.sorted() == Array(0..<8))
        #expect(outcome.superseded.map(\.share).sorted() == Array(0..<8))
        #expect(outcome.reported.count == 8)
        #expect(outcome.after.isHealthy && outcome.after.corruptShares.isEmpty)
        #expect(quarantined(tg).count == 8)
        let again = try await Checker(grid: try tg.open()).check(rc.verifyCap, verify: true)
        #expect(again.isHealthy && again.distinctShares == 10 && again.serversWithShares == 10)
        #expect(try await Downloader(grid: try tg.open()).bytes(cap) == data)
    }

    /// No share is intact: every share has one bad block, at most two per segment. Repair decodes each segment
    /// from the blocks that verify and rebuilds all ten shares.
    @Test func noIntactShareIsStillRepairable() async throws {
        let (tg, cap, rc, data, layout) = try await setUp()
        let index = StorageIndex(rc.storageIndex)!
        let grid = try tg.open()
        for share in 0..<10 {
            try flipShareByte(grid, index, share: share, at: layout.blockOffset(segment: share % 8) + 11)
        }
        let outcome = try await Repairer(grid: try tg.open()).repair(rc.verifyCap)
        #expect(outcome.written.count == 10 && outcome.superseded.count == 10)
        #expect(outcome.after.isHealthy)
        #expect(try await Downloader(grid: try tg.open()).bytes(cap) == data)
    }

    /// Damaged headers, UEBs and block trees do not disqualify good blocks: with every share's block tree
    /// broken, and seven headers, blocks are checked through the crypttext tree instead.
    @Test(arguments: ["block-tree", "header"])
    func damagedTreesAndHeadersDoNotDisqualifyBlocks(region: String) async throws {
        let (tg, cap, rc, data, layout) = try await setUp()
        let index = StorageIndex(rc.storageIndex)!
        let grid = try tg.open()
        for share in 0..<(region == "header" ? 7 : 10) {
            let offset = region == "header" ? UInt64(3) : layout.blockTreeOffset + 33
            try flipShareByte(grid, index, share: share, at: offset)
        }
        let outcome = try await Repairer(grid: try tg.open()).repair(rc.verifyCap)
        #expect(outcome.after.isHealthy, "\(outcome.after.shares.map { "\($0.share):\($0.state)" })")
        #expect(outcome.superseded.count == (region == "header" ? 7 : 10))
        #expect(try await Downloader(grid: try tg.open()).bytes(cap) == data)
    }

    /// Too much damage: a segment with 8 bad blocks cannot be rebuilt. Repair says so, writes and reports
    /// nothing, and every share stays where it was.
    @Test func unrepairableDamageChangesNothing() async throws {
        let (tg, _, rc, _, layout) = try await setUp()
        let index = StorageIndex(rc.storageIndex)!
        let grid = try tg.open()
        for share in 0..<8 { try flipShareByte(grid, index, share: share, at: layout.blockOffset(segment: 3) + 1) }
        await #expect(throws: GridError.self) { _ = try await Repairer(grid: try tg.open()).repair(rc.verifyCap) }
        #expect(quarantined(tg).isEmpty)
        let after = try await Checker(grid: try tg.open()).check(rc.verifyCap, verify: false)
        #expect(after.distinctShares == 10)
        for i in 0..<10 {
            #expect(!FileManager.default.fileExists(atPath: tg.serverFolder(i) + "/corruption-reports"))
        }
    }
}

@Suite struct RepairNeverTakesUnreadableForCorrupt {
    /// Reproduction (a) of the issue at the grid level: reads fail on 8 of 10 servers for a moment (permission,
    /// too many open files). Repair fails with a clear error, reports nothing, writes nothing; once the servers
    /// read again, the file is whole.
    @Test func transientReadErrorsLeaveEverythingInPlace() async throws {
        let (grid, servers) = try memoryGrid(segment: 3000)
        let data = testBytes(5 * 3000 + 10, seed: 4)
        let cap = try await Uploader(grid: grid).put(MemorySource(data))
        let vc = cap.verifyCap!
        for s in servers.prefix(8) { s.setFailingReads(true) }
        let check = try await Checker(grid: grid).check(vc, verify: true)
        #expect(check.unreadableShares.count == 8 && check.corruptShares.isEmpty && !check.isHealthy)
        do {
            _ = try await Repairer(grid: grid).repair(vc)
            Issue.record("repair succeeded with only 2 readable shares")
        } catch let e as GridError {
            #expect(e.description.contains("could not be read"), "\(e)")
        }
        #expect(servers.allSatisfy { $0.reports.isEmpty })
        for s in servers { s.setFailingReads(false) }
        #expect(try await Downloader(grid: grid).bytes(cap) == data)
        #expect(try await Checker(grid: grid).check(vc, verify: true).isHealthy)
    }

    /// Some shares unreadable, enough readable: the unreadable ones are neither reported nor replaced in place;
    /// their share numbers get copies on servers that hold none.
    @Test func unreadableSharesGetCopiesElsewhere() async throws {
        let (grid, servers) = try memoryGrid(servers: 12, segment: 3000)
        let data = testBytes(4 * 3000, seed: 5)
        let cap = try await Uploader(grid: grid).put(MemorySource(data))
        let vc = cap.verifyCap!
        let index = StorageIndex(vc.storageIndex)!
        let holders = servers.filter { $0.shareBytes(index, 0) != nil || $0.shareBytes(index, 1) != nil }
        let held = Set(servers.flatMap { s in (0..<10).filter { s.shareBytes(index, $0) != nil }.map { "\($0)/\(s.name)" } })
        for s in holders { s.setFailingReads(true) }
        let outcome = try await Repairer(grid: grid).repair(vc)
        #expect(outcome.superseded.isEmpty && outcome.reported.isEmpty)
        #expect(Set(outcome.written.keys).isSuperset(of: [0, 1]))
        for (share, name) in outcome.written { #expect(!held.contains("\(share)/\(name)")) }
        for s in holders { s.setFailingReads(false) }
        #expect(servers.allSatisfy { $0.reports.isEmpty })
        #expect(try await Downloader(grid: grid).bytes(cap) == data)
    }

    /// A server that never replaces shares (as a Tahoe node): the replacement goes elsewhere and the bad copy
    /// is reported, after the replacement is durable.
    @Test func serversThatCannotSupersedeGetReplacementsElsewhere() async throws {
        let servers = (0..<11).map { MemoryServer(number: $0, supersedes: false) }
        let grid = Grid(parameters: try EncodingParameters(k: 3, n: 10, happy: 7, maximumSegmentSize: 3000),
                        convergenceSecret: [UInt8](repeating: 1, count: 32), servers: servers)
        let data = testBytes(3 * 3000 + 1, seed: 6)
        let cap = try await Uploader(grid: grid).put(MemorySource(data))
        let index = StorageIndex(cap.verifyCap!.storageIndex)!
        let holder = try #require(servers.first { $0.shareBytes(index, 2) != nil })
        holder.corrupt(index, 2, at: ShareLayout.prefixSize + 5)
        let outcome = try await Repairer(grid: grid).repair(cap.verifyCap!)
        #expect(outcome.written.keys.sorted() == [2] && outcome.written[2] != holder.name)
        #expect(outcome.superseded.isEmpty && holder.reports == ["\(index.hex)/2"])
        #expect(holder.shareBytes(index, 2) != nil)  // reported, never deleted
        #expect(outcome.after.distinctShares == 10)
    }
}

@Suite struct JoinedUploads {
    /// Reproduction (c) of the issue: two identical files over 512 KiB in one batch (a folder with a copy)
    /// used to fail with "no open allocation" on every retry.
    @Test func identicalFilesInOneBatchShareOneUpload() async throws {
        let tg = try TestGrid()
        let data = testBytes(600_000, seed: 9)
        let big = testBytes(3 << 20, seed: 10)
        let results = try await Uploader(grid: try tg.open()).putBatch(
            [MemorySource(data), MemorySource(data), MemorySource(big), MemorySource(data), MemorySource(big)])
        let caps = try results.map { try $0.get() }
        #expect(caps[0] == caps[1] && caps[1] == caps[3] && caps[2] == caps[4])
        #expect(try await Downloader(grid: try tg.open()).bytes(caps[0]) == data)
        #expect(try await Checker(grid: try tg.open()).check(caps[2].verifyCap!, verify: true).isHealthy)
    }

    /// Two grids in one process (two instances per server folder, as two processes would be) upload the same
    /// file at once: both succeed.
    @Test func twoInstancesUploadingTheSameFileBothSucceed() async throws {
        let tg = try TestGrid()
        let data = testBytes(2_500_000, seed: 12)
        let a = try tg.open(), b = try tg.open()
        async let first = Uploader(grid: a).put(MemorySource(data))
        async let second = Uploader(grid: b).put(MemorySource(data))
        let (c1, c2) = try await (first, second)
        #expect(c1 == c2)
        #expect(try await Checker(grid: try tg.open()).check(c1.verifyCap!, verify: true).isHealthy)
    }
}

@Suite struct LeasesAndSecrets {
    /// Every allocation carries the lease for that server and storage index, derived from the grid's secret:
    /// one per server, all different, the same again when the same content is put again (a renewal), and
    /// different under another secret.
    @Test func leaseSecretsArePerServerAndStorageIndex() async throws {
        let (grid, servers) = try memoryGrid(segment: 3000)
        let data = testBytes(4000, seed: 61)
        let cap = try await Uploader(grid: grid).put(MemorySource(data))
        let index = StorageIndex(cap.verifyCap!.storageIndex)!
        let renewals = servers.map { $0.leases(index) }
        #expect(renewals.allSatisfy { $0.count == 1 && $0[0].count == 32 })
        #expect(Set(renewals.map { $0[0] }).count == servers.count)
        _ = try await Uploader(grid: grid).put(MemorySource(data))
        #expect(servers.map { $0.leases(index) } == renewals)

        let (other, otherServers) = try memoryGrid(segment: 3000, secret: [UInt8](repeating: 9, count: 32))
        let otherCap = try await Uploader(grid: other).put(MemorySource(data))
        let otherIndex = StorageIndex(otherCap.verifyCap!.storageIndex)!
        #expect(Set(otherServers.flatMap { $0.leases(otherIndex) }).isDisjoint(with: Set(renewals.flatMap { $0 })))
    }
}
