import CairnFormats
import CairnGrid
import CairnStorage
import Testing

/// Every way to lose servers of a 3-of-10 grid (one share per server): any 7 lost leaves 3 shares and
/// the exact file; any 8 lost leaves 2 and a clear `notEnoughShares`.
@Suite struct ExhaustiveLossTests {
    enum Loss: String, Sendable, CaseIterable {
        /// The lost servers stay configured but are down (every call throws).
        case down
        /// The lost servers are gone from the grid's configuration.
        case removed
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let size: Int
        let loss: Loss
        var testDescription: String { "\(size) bytes, servers \(loss.rawValue)" }
    }

    /// A one-segment file and a multi-segment one (8 segments of 3000, the last short).
    static let cases = [1000, 7 * 3000 + 500].flatMap { size in Loss.allCases.map { Case(size: size, loss: $0) } }

    static func combinations(_ n: Int, _ r: Int) -> [[Int]] {
        guard r > 0 else { return [[]] }
        guard n >= r else { return [] }
        return combinations(n - 1, r) + combinations(n - 1, r - 1).map { $0 + [n - 1] }
    }

    /// Uploads the file to a healthy grid and checks every server holds exactly one share.
    static func upload(_ size: Int) async throws -> (Grid, [MemoryServer], Cap, [UInt8]) {
        let (grid, servers) = try memoryGrid(segment: 3000)
        let data = testBytes(size, seed: UInt64(size))
        let cap = try await Uploader(grid: grid).put(MemorySource(data))
        guard case .read(let rc) = cap else { throw GridError.usage("expected a chk cap") }
        let segments = SegmentGeometry(k: 3, n: 10, maximumSegmentSize: 3000, dataSize: UInt64(size)).segmentCount
        #expect(segments == (size <= 3000 ? 1 : 8))
        let index = StorageIndex(rc.storageIndex)!
        var all: [ShareNumber] = []
        for s in servers { all += try await s.shares(of: index) }
        try #require(all.sorted() == Array(0..<10), "expected one share per server, got \(all)")
        return (grid, servers, cap, data)
    }

    /// The grid with `lost` servers unusable (down ones are brought back by the caller).
    static func losing(_ lost: [Int], _ loss: Loss, grid: Grid, servers: [MemoryServer]) -> Grid {
        switch loss {
        case .down:
            for i in lost { servers[i].setDown(true) }
            return grid
        case .removed:
            let kept = servers.indices.filter { !lost.contains($0) }.map { servers[$0] as any StorageServer }
            return Grid(parameters: grid.parameters, convergenceSecret: grid.convergenceSecret, servers: kept)
        }
    }

    @Test(arguments: cases)
    func anySevenLostStillDownloads(c: Case) async throws {
        let (grid, servers, cap, data) = try await Self.upload(c.size)
        let ways = Self.combinations(10, 7)
        #expect(ways.count == 120)
        var failures: [String] = []
        for lost in ways {
            let g = Self.losing(lost, c.loss, grid: grid, servers: servers)
            let result = await captured { try await Downloader(grid: g).bytes(cap) }
            for s in servers { s.setDown(false) }
            switch result {
            case .success(let bytes) where bytes == data: continue
            case .success: failures.append("lost \(lost): WRONG BYTES")
            case .failure(let e): failures.append("lost \(lost): \(e)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of 120 failed, e.g.:\n\(failures.prefix(5).joined(separator: "\n"))")
    }

    @Test(arguments: cases)
    func anyEightLostFailsClearly(c: Case) async throws {
        let (grid, servers, cap, data) = try await Self.upload(c.size)
        let ways = Self.combinations(10, 8)
        #expect(ways.count == 45)
        for lost in ways {
            let g = Self.losing(lost, c.loss, grid: grid, servers: servers)
            let result = await captured { try await Downloader(grid: g).bytes(cap) }
            for s in servers { s.setDown(false) }
            guard case .failure(let error) = result, case GridError.notEnoughShares(let found, let needed, let named, _, _) = error else {
                Issue.record("lost \(lost): expected GridError.notEnoughShares, got \(result)")
                continue
            }
            #expect(found == 2 && needed == 3, "lost \(lost)")
            #expect("\(error)".hasPrefix("found 2 of the 3 shares needed"), "lost \(lost): \(error)")
            switch c.loss {
            case .down:
                // The message names exactly the servers that could not be asked.
                #expect(named == lost.map(String.init), "lost \(lost): named \(named)")
            case .removed:
                // Servers the grid no longer knows cannot be named.
                #expect(named.isEmpty, "lost \(lost): named \(named)")
            }
        }
        // And the file is intact once the servers are back.
        #expect(try await Downloader(grid: grid).bytes(cap) == data)
    }
}
