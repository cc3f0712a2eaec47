@testable import CairnStorage
import Foundation
import Testing

@Suite struct ThroughputTests {
    /// The grid's hot path: 20,000 shares of 4 KiB through one server, then one sync. Prints the time; the
    /// bound only catches pathologies (a per-share fsync or file would take far longer).
    @Test func twentyThousandSmallSharesWriteAndSync() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let data = shareData(1, size: 4096)
        let indexes = (0..<20_000).map { storageIndex($0) }
        let clock = ContinuousClock()
        let start = clock.now
        for si in indexes {
            _ = try await server.allocate(si, shares: [0], shareSize: 4096)
            try await server.write(si, share: 0, offset: 0, data: data)
            try await server.finish(si, share: 0)
        }
        let written = clock.now
        try await server.sync()
        let synced = clock.now
        let other = try tmp.server()
        let loaded = clock.now
        var total = 0
        for si in indexes.prefix(2000) { total += try await readAll(other, si).count }
        let read = clock.now
        print("20,000 × 4 KiB: write \(written - start), sync \(synced - written); open another instance (load index) \(loaded - synced); 2,000 reads \(read - loaded)")
        #expect(total == 2000 * 4096)
        #expect(synced - start < .seconds(30))
    }
}
