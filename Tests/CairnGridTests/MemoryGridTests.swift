import CairnFormats
import CairnGrid
import CairnPrimitives
import CairnStorage
import Testing

func memoryGrid(k: Int = 3, n: Int = 10, happy: Int = 7, servers: Int = 10, segment: Int = 1 << 20,
                secret: [UInt8] = [UInt8](repeating: 7, count: 32)) throws -> (Grid, [MemoryServer]) {
    let s = (0..<servers).map { MemoryServer(number: $0) }
    let p = try EncodingParameters(k: k, n: n, happy: happy, maximumSegmentSize: segment)
    return (Grid(parameters: p, convergenceSecret: secret, servers: s), s)
}

/// Deterministic test data (the zfec vectors' PRNG).
func testBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var s = seed
    return (0..<count).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(s >> 56)
    }
}

@Suite struct MemoryGridTests {
    @Test(arguments: [0, 1, 55, 56, 3 * 1000 - 1, 3 * 1000, 3 * 1000 + 1, 7 * 3000 + 17])
    func roundTrip(size: Int) async throws {
        let (grid, _) = try memoryGrid(segment: 3000)
        let data = testBytes(size, seed: UInt64(size))
        let cap = try await Uploader(grid: grid).put(MemorySource(data))
        if size <= Cap.literalLimit {
            guard case .literal = cap else { Issue.record("expected a literal cap"); return }
        }
        #expect(try await Downloader(grid: grid).bytes(cap) == data)
        #expect(try Cap(parsing: cap.string) == cap)
    }

    @Test func ranges() async throws {
        let (grid, _) = try memoryGrid(segment: 999)
        let data = testBytes(5000)
        let cap = try await Uploader(grid: grid).put(MemorySource(data))
        for (a, b) in [(0, 1), (10, 500), (990, 1010), (0, 5000), (4999, 5000), (1000, 3998), (2500, 2500)] {
            #expect(try await Downloader(grid: grid).bytes(cap, range: UInt64(a)..<UInt64(b)) == Array(data[a..<b]), "\(a)-\(b)")
        }
    }

    @Test func convergence() async throws {
        let (g1, _) = try memoryGrid()
        let (g2, _) = try memoryGrid(secret: [UInt8](repeating: 8, count: 32))
        let data = testBytes(10_000)
        let a = try await Uploader(grid: g1).put(MemorySource(data))
        let b = try await Uploader(grid: g1).put(MemorySource(data))
        let c = try await Uploader(grid: g2).put(MemorySource(data))
        let d = try await Uploader(grid: g1).put(MemorySource(data), keyMode: .random)
        #expect(a == b)
        #expect(a != c)
        #expect(a != d)
        #expect(try await Downloader(grid: g1).bytes(d) == data)
    }

    @Test func survivesDownAndCorruptServers() async throws {
        let (grid, servers) = try memoryGrid(segment: 1000)
        let data = testBytes(4000)
        let cap = try await Uploader(grid: grid).put(MemorySource(data))
        guard case .read(let rc) = cap else { Issue.record("expected chk"); return }
        let si = StorageIndex(rc.storageIndex)!
        // Corrupt a data block of every primary share, and take two servers down.
        for s in servers {
            for share in try await s.shares(of: si) where share < 3 { s.corrupt(si, share, at: ShareLayout.prefixSize + 5) }
        }
        servers[0].setDown(true); servers[1].setDown(true)
        #expect(try await Downloader(grid: grid).bytes(cap) == data)
        for s in servers.dropFirst(2) { s.setDown(true) }
        await #expect(throws: GridError.self) { try await Downloader(grid: grid).bytes(cap) }
    }
}
