import CairnFormats
import CairnStorage
import Foundation
import Testing
@testable import CairnGrid

/// A real local grid in a temporary folder.
final class TestGrid {
    let path: String
    init(servers: Int = 10, k: Int = 3, n: Int = 10, happy: Int = 7, segment: Int = 1 << 20) throws {
        path = NSTemporaryDirectory() + "cairn-grid-" + UUID().uuidString
        try LocalGrid.create(at: path, servers: servers, parameters: try EncodingParameters(k: k, n: n, happy: happy, maximumSegmentSize: segment))
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func open() throws -> Grid { try LocalGrid.open(at: path) }
    func serverFolder(_ i: Int) -> String { path + "/servers/" + String(format: "%02d", i) }
}

@Suite struct LocalGridRoundTrips {
    static let segment = 1_048_578  // 1 MiB rounded up to a multiple of 3

    @Test(arguments: [0, 1, Cap.literalLimit, Cap.literalLimit + 1, segment - 1, segment, segment + 1, 3 * segment + 12_345])
    func putGet(size: Int) async throws {
        let tg = try TestGrid()
        let grid = try tg.open()
        let data = testBytes(size, seed: UInt64(size) + 11)
        let cap = try await Uploader(grid: grid).put(MemorySource(data))
        if size <= Cap.literalLimit {
            guard case .literal = cap else { Issue.record("\(size) bytes should give a literal cap"); return }
        } else {
            guard case .read(let rc) = cap else { Issue.record("expected a read cap"); return }
            #expect(rc.size == UInt64(size) && rc.k == 3 && rc.n == 10)
        }
        // A second process's view: a fresh open of the grid.
        #expect(try await Downloader(grid: try tg.open()).bytes(cap) == data)
        // Same bytes, same cap; the second put stores nothing new.
        #expect(try await Uploader(grid: grid).put(MemorySource(data)) == cap)
    }

    @Test func convergenceSecretsAndRandomKeys() async throws {
        let a = try TestGrid(), b = try TestGrid()
        // The secret is private: the file 0600, its folder 0700.
        let secret = try FileManager.default.attributesOfItem(atPath: a.path + "/private/convergence")
        #expect((secret[.posixPermissions] as? Int) == 0o600)
        #expect((try FileManager.default.attributesOfItem(atPath: a.path + "/private")[.posixPermissions] as? Int) == 0o700)
        let data = testBytes(100_000)
        let capA = try await Uploader(grid: try a.open()).put(MemorySource(data))
        let capB = try await Uploader(grid: try b.open()).put(MemorySource(data))
        #expect(capA != capB)
        let random = try await Uploader(grid: try a.open()).put(MemorySource(data), keyMode: .random)
        #expect(random != capA)
        #expect(try await Downloader(grid: try a.open()).bytes(random) == data)
    }

    @Test func rangedReads() async throws {
        let tg = try TestGrid(segment: 4096)
        let data = testBytes(5 * 4098 + 777)
        let cap = try await Uploader(grid: try tg.open()).put(MemorySource(data))
        let grid = try tg.open()
        let ranges: [(Int, Int)] = [(0, 1), (5, 4000), (4090, 4200), (100, 3 * 4098 + 5), (data.count - 10, data.count), (0, data.count)]
        for (lo, hi) in ranges {
            #expect(try await Downloader(grid: grid).bytes(cap, range: UInt64(lo)..<UInt64(hi)) == Array(data[lo..<hi]), "\(lo)..<\(hi)")
        }
    }
}

@Suite struct LocalGridLosses {
    /// Every way of losing 7 of 10 server folders still gives the file back; losing 8 does not.
    @Test func anySevenServersCanGo() async throws {
        let tg = try TestGrid()
        let data = testBytes(10_000, seed: 99)
        let cap = try await Uploader(grid: try tg.open()).put(MemorySource(data))
        var subsets = 0
        for mask in 0..<(1 << 10) where mask.nonzeroBitCount == 7 {
            let gone = (0..<10).filter { mask & (1 << $0) != 0 }
            for s in gone { try FileManager.default.moveItem(atPath: tg.serverFolder(s), toPath: tg.serverFolder(s) + ".gone") }
            let got = try await Downloader(grid: try tg.open()).bytes(cap)
            #expect(got == data, "servers \(gone) removed")
            for s in gone { try FileManager.default.moveItem(atPath: tg.serverFolder(s) + ".gone", toPath: tg.serverFolder(s)) }
            subsets += 1
        }
        #expect(subsets == 120)

        for s in [1, 2, 3, 4, 5, 6, 7, 9] { try FileManager.default.removeItem(atPath: tg.serverFolder(s)) }
        do {
            _ = try await Downloader(grid: try tg.open()).bytes(cap)
            Issue.record("got the file from 2 servers")
        } catch let e as GridError {
            #expect(e.description.hasPrefix("found 2 of the 3 shares needed; servers "), "\(e)")
            #expect(e.description.contains("1, 2, 3, 4, 5, 6, 7, 9 unreachable or missing"), "\(e)")
        }
    }

    @Test func uploadNeedsHappyServers() async throws {
        let tg = try TestGrid()
        for s in 0..<4 { try FileManager.default.removeItem(atPath: tg.serverFolder(s)) }
        do {
            _ = try await Uploader(grid: try tg.open()).put(MemorySource(testBytes(1000)))
            Issue.record("upload succeeded on 6 servers with happy 7")
        } catch let e as GridError {
            #expect(e.description.hasPrefix("could place shares on only 6 servers, but 7 are needed"), "\(e)")
        }
        // With 7 servers left the upload works, and each share still lands somewhere.
        try FileManager.default.createDirectory(atPath: tg.serverFolder(0), withIntermediateDirectories: false)
        let data = testBytes(1000)
        let cap = try await Uploader(grid: try tg.open()).put(MemorySource(data))
        let report = try await Checker(grid: try tg.open()).check(cap.verifyCap!, verify: true)
        #expect(report.distinctShares == 10 && report.serversWithShares == 7 && report.isHealthy)
    }
}

@Suite struct LocalGridCorruption {
    /// Flips one byte in a region of one share on disk; get still works from other shares, check
    /// --verify names the share, repair makes the file healthy again.
    @Test(arguments: ["header", "ueb", "data-first", "data-middle", "data-last", "block-tree", "crypttext-tree", "share-chain"])
    func flipAndRepair(region: String) async throws {
        let tg = try TestGrid(segment: 3000)
        let data = testBytes(7 * 3000 + 500, seed: 5)
        let cap = try await Uploader(grid: try tg.open()).put(MemorySource(data))
        guard case .read(let rc) = cap else { Issue.record("expected a read cap"); return }
        let index = StorageIndex(rc.storageIndex)!
        let layout = ShareLayout(geometry: SegmentGeometry(k: 3, n: 10, maximumSegmentSize: 3000, dataSize: rc.size))
        let offset: UInt64 = switch region {
        case "header": 10
        case "ueb": UInt64(ShareLayout.uebOffset + 50)
        case "data-first": layout.blocksOffset
        case "data-middle": layout.blockOffset(segment: 4) + 17
        case "data-last": layout.blockTreeOffset - 1
        case "block-tree": layout.blockTreeOffset + 40
        case "crypttext-tree": layout.crypttextTreeOffset + 5
        default: layout.shareChainOffset + 3
        }
        // Damage share 1 (a primary) wherever it lives.
        let damagedServer = try #require(try flipShareByte(try tg.open(), index, share: 1, at: offset).first)
        #expect(try await Downloader(grid: try tg.open()).bytes(cap) == data)
        let report = try await Checker(grid: try tg.open()).check(rc.verifyCap, verify: true)
        #expect(!report.isHealthy)
        #expect(report.corruptShares.map { "\($0.server)/\($0.share)" } == ["\(damagedServer)/1"])
        let outcome = try await Repairer(grid: try tg.open()).repair(rc.verifyCap)
        #expect(outcome.written.keys.sorted() == [1])
        #expect(outcome.after.isHealthy)
        let again = try await Checker(grid: try tg.open()).check(rc.verifyCap, verify: true)
        #expect(again.isHealthy && again.corruptShares.isEmpty)
        #expect(try await Downloader(grid: try tg.open()).bytes(cap) == data)
    }

    @Test func repairAfterLostServers() async throws {
        let tg = try TestGrid()
        let data = testBytes(50_000, seed: 8)
        let cap = try await Uploader(grid: try tg.open()).put(MemorySource(data))
        for s in [2, 5, 8] { try FileManager.default.removeItem(atPath: tg.serverFolder(s)) }
        let vc = cap.verifyCap!
        #expect(try await !Checker(grid: try tg.open()).check(vc, verify: false).isHealthy)
        let outcome = try await Repairer(grid: try tg.open()).repair(vc)
        #expect(outcome.written.count == 3)
        #expect(outcome.after.isHealthy && outcome.after.serversWithShares == 7)
        #expect(try await Downloader(grid: try tg.open()).bytes(cap) == data)
    }
}
