import CairnFormats
import CairnGrid
import CairnPrimitives
import CairnStorage
import Foundation
import Glibc
import Testing

/// A server whose disk hangs: a share file replaced by a FIFO nobody writes, so `open` blocks its thread in
/// the kernel. The grid must carry on with the other servers within the deadline, and never take the stuck
/// share for a corrupt one.
@Suite struct StuckDiskTests {
    @Test func aShareThatBlocksInTheKernelIsWorkedAround() async throws {
        let tg = try TestGrid()
        let data = testBytes(5_000_000, seed: 31)
        let cap = try await Uploader(grid: try tg.open()).put(MemorySource(data))
        let index = StorageIndex(cap.verifyCap!.storageIndex)!
        var fifo: String?
        for server in try tg.open().servers {
            guard let local = server as? LocalDirectoryServer, let loc = try local.location(of: index, share: 0) else { continue }
            #expect(loc.offset == 0)  // a large share: a file of its own
            try FileManager.default.removeItem(atPath: loc.path)
            try #require(mkfifo(loc.path, 0o600) == 0)
            fifo = loc.path
        }
        let stuck = try #require(fifo)
        defer {
            // Release every thread still blocked opening the FIFO: a writer appears, then goes.
            let w = open(stuck, O_WRONLY | O_NONBLOCK)
            if w >= 0 { close(w) }
        }
        let grid = try LocalGrid.open(at: tg.path, deadline: .seconds(2))
        #expect(try await Downloader(grid: grid).bytes(cap) == data)  // without the deadline: never returns

        let report = try await Checker(grid: grid).check(cap.verifyCap!, verify: true)
        #expect(report.corruptShares.isEmpty)
        #expect(report.unreadableShares.map(\.share) == [0], "\(report.unreadableShares)")
        #expect(report.unreadableShares.first.map { if case .unreadable(let why) = $0.state { why.contains("no answer") } else { false } } == true)

        let outcome = try await Repairer(grid: grid).repair(cap.verifyCap!)
        #expect(outcome.reported.isEmpty && outcome.superseded.isEmpty && outcome.written.keys.sorted() == [0], "\(outcome.written) \(outcome.before.unreadableShares)")
        #expect(outcome.after.isHealthy)
        var st = stat()
        #expect(lstat(stuck, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)  // left alone
    }
}
