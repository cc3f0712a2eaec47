import CairnStorage
import Foundation
import Testing

@Suite struct ThroughputTests {
    /// The grid's hot path: 20,000 shares of 4 KiB through one server, then one sync. Prints the time (speed
    /// is judged by the benchmark, not here: the parallel suite can stall this test for minutes); asserts
    /// that every share is back and that the sync wrote one pack, not a file per share.
    @Test func twentyThousandSmallSharesWriteAndSync() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let data = shareData(1, size: 4096)
        let indexes = (0..<20_000).map { storageIndex($0) }
        let clock = ContinuousClock()
        let start = clock.now
        for si in indexes {
            _ = try await server.allocate(si, shares: [0], shareSize: 4096, secrets: testSecrets)
            try await server.write(ShareUpload(index: si, share: 0, secret: testSecrets.upload), offset: 0, data: data)
            try await server.finish(ShareUpload(index: si, share: 0, secret: testSecrets.upload))
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
        #expect(try packFiles(tmp.path + "/server", suffix: ".pack").count == 1)
    }
}

extension ThroughputTests {
    /// An 85 MiB large share written in 1 MiB chunks (page-cache speed), then synced and read back.
    @Test func largeShareWriteAndSync() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let chunk = shareData(2, size: 1 << 20)
        let si = storageIndex(2)
        let size = 85 << 20
        let clock = ContinuousClock()
        let start = clock.now
        _ = try await server.allocate(si, shares: [0], shareSize: UInt64(size), secrets: testSecrets)
        for i in 0..<85 { try await server.write(ShareUpload(index: si, share: 0, secret: testSecrets.upload), offset: UInt64(i << 20), data: chunk) }
        try await server.finish(ShareUpload(index: si, share: 0, secret: testSecrets.upload))
        let written = clock.now
        try await server.sync()
        let synced = clock.now
        let back = try await server.read(si, share: 0, ranges: [UInt64(84 << 20)..<UInt64(size + 10)])
        print("85 MiB large share: write \(written - start), sync \(synced - written)")
        #expect(back == [chunk])
        #expect(try await server.shareSize(si, share: 0) == UInt64(size))
    }
}
