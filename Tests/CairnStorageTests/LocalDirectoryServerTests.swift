@testable import CairnStorage
import Foundation
import Testing

@Suite struct LocalDirectoryServerTests {
    @Test func manySmallSharesAndALargeShareRoundTrip() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        var expected: [(StorageIndex, Int, [UInt8])] = []
        for i in 0..<500 {
            let data = shareData(i, size: 1 + (i * 37) % 8192)
            try await put(server, storageIndex(i), share: i % 10, data)
            expected.append((storageIndex(i), i % 10, data))
        }
        // A 5 MiB large share written in 64 KiB chunks in a scrambled order.
        let big = shareData(9999, size: 5 << 20 + 123)
        let bigIndex = storageIndex(9999)
        let a = try await server.allocate(bigIndex, shares: [3, 4], shareSize: UInt64(big.count), secrets: testSecrets)
        #expect(a.allocated == [3, 4] && a.alreadyHave.isEmpty)
        let chunk = 64 << 10
        var order = Array(stride(from: 0, to: big.count, by: chunk))
        var g = DeterministicBytes(seed: 7)
        for i in order.indices.reversed() { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        for start in order {
            try await server.write(ShareUpload(index: bigIndex, share: 3, secret: testSecrets.upload), offset: UInt64(start), data: Array(big[start..<min(start + chunk, big.count)]))
        }
        try await server.finish(ShareUpload(index: bigIndex, share: 3, secret: testSecrets.upload))
        try await server.abort(ShareUpload(index: bigIndex, share: 4, secret: testSecrets.upload))
        try await server.sync()

        for (index, share, data) in expected {
            #expect(try await readAll(server, index, share: share) == data)
        }
        #expect(try await readAll(server, bigIndex, share: 3) == big)
        #expect(try await server.shares(of: bigIndex) == [3])

        // A fresh instance (another process, after a restart) reads the same.
        let again = try tmp.server()
        for (index, share, data) in expected {
            #expect(try await again.shares(of: index) == [share])
            #expect(try await readAll(again, index, share: share) == data)
        }
        #expect(try await readAll(again, bigIndex, share: 3) == big)
        let where3 = try #require(try again.location(of: bigIndex, share: 3))
        #expect(where3.path.hasSuffix("/large/\(bigIndex.hex.prefix(2))/\(bigIndex.hex)/3"))
        #expect(where3.length == UInt64(big.count))
        // Small shares went into one pack, not into files of their own.
        #expect(try packFiles(tmp.path + "/server", suffix: ".pack").count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path + "/server/tmp").isEmpty)
    }

    @Test func rangedReadsAreTruncatedAtTheEnd() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let data = shareData(1, size: 1000)
        let si = storageIndex(1)
        try await put(server, si, share: 2, data)
        let ranges: [Range<UInt64>] = [0..<10, 990..<2000, 1500..<1600, 0..<1000, 500..<500, 999..<1000]
        let expect: [[UInt8]] = [Array(data[0..<10]), Array(data[990..<1000]), [], data, [], [data[999]]]
        // Before sync (from memory), after sync (from the pack), and from another instance.
        #expect(try await server.read(si, share: 2, ranges: ranges) == expect)
        try await server.sync()
        #expect(try await server.read(si, share: 2, ranges: ranges) == expect)
        #expect(try await tmp.server().read(si, share: 2, ranges: ranges) == expect)
        #expect(try await server.shareSize(si, share: 2) == 1000)
    }

    @Test func reallocationReportsSharesAlreadyHeld() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let si = storageIndex(5)
        try await put(server, si, share: 0, shareData(5, size: 300))
        try await server.sync()
        let a = try await server.allocate(si, shares: [0, 1], shareSize: 300, secrets: testSecrets)
        #expect(a == Allocation(alreadyHave: [0], allocated: [1]))
        let b = try await tmp.server().allocate(si, shares: [0, 1], shareSize: 300, secrets: testSecrets)
        #expect(b == Allocation(alreadyHave: [0], allocated: [1]))
    }

    @Test func sharesBecomeVisibleToOtherInstancesOnlyAfterSync() async throws {
        let tmp = try TemporaryDirectory()
        let a = try tmp.server()
        let b = try tmp.server()
        let si = storageIndex(8)
        let data = shareData(8, size: 4096)
        let bigIndex = storageIndex(88)
        let big = shareData(88, size: 2 << 20)
        try await put(a, si, share: 1, data)
        try await put(a, bigIndex, share: 0, big)
        // The writing instance sees its finished shares at once; nobody else does.
        #expect(try await a.shares(of: si) == [1])
        #expect(try await readAll(a, bigIndex) == big)
        #expect(try await b.shares(of: si).isEmpty)
        #expect(try await b.shares(of: bigIndex).isEmpty)
        await #expect(throws: StorageError.noSuchShare(server: b.label, index: si, share: 1)) {
            _ = try await b.read(si, share: 1, ranges: [0..<10])
        }
        #expect(try a.location(of: si, share: 1) == nil)  // not on disk yet
        try await a.sync()
        #expect(try await b.shares(of: si) == [1])
        #expect(try await readAll(b, si, share: 1) == data)
        #expect(try await readAll(b, bigIndex) == big)
    }

    @Test func twoInstancesWriteConcurrentlyIntoTheirOwnPacks() async throws {
        let tmp = try TemporaryDirectory()
        let a = try tmp.server()
        let b = try tmp.server()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (w, server) in [a, b].enumerated() {
                group.addTask {
                    for i in 0..<300 {
                        let n = w * 1000 + i
                        try await put(server, storageIndex(n), share: w, shareData(n, size: 100 + i * 7))
                        if i % 100 == 99 { try await server.sync() }
                    }
                    try await server.sync()
                }
            }
            try await group.waitForAll()
        }
        #expect(try packFiles(tmp.path + "/server", suffix: ".pack").count == 2)
        for server in [a, b, try tmp.server()] {
            for w in 0..<2 {
                for i in 0..<300 {
                    let n = w * 1000 + i
                    #expect(try await readAll(server, storageIndex(n), share: w) == shareData(n, size: 100 + i * 7))
                }
            }
        }
    }

    /// Writes `count` shares with a short-lived instance, synced, and closes it (releasing its pack).
    private func writeSynced(_ tmp: TemporaryDirectory, count: Int, from: Int = 0) async throws {
        let server = try tmp.server()
        for i in from..<(from + count) { try await put(server, storageIndex(i), share: 0, shareData(i, size: 500 + i)) }
        try await server.sync()
    }

    private func checkAll(_ server: LocalDirectoryServer, count: Int) async throws {
        for i in 0..<count {
            #expect(try await readAll(server, storageIndex(i)) == shareData(i, size: 500 + i))
        }
    }

    @Test func tornPackTailIsTruncatedOnRecovery() async throws {
        let tmp = try TemporaryDirectory()
        try await writeSynced(tmp, count: 50)
        let pack = try #require(try packFiles(tmp.path + "/server", suffix: ".pack").first)
        let goodSize = try fileSize(pack)
        // A torn append: half a record header and some data that no index entry covers.
        try appendBytes(Array("CSHR".utf8) + [UInt8](repeating: 0xAB, count: 777), to: pack)

        let reader = try tmp.server()  // readers ignore the tail
        try await checkAll(reader, count: 50)
        let writer = try tmp.server()
        try await put(writer, storageIndex(50), share: 0, shareData(50, size: 550))
        try await writer.sync()
        #expect(writer.recoveredTailBytes.pack == 781)
        #expect(try packFiles(tmp.path + "/server", suffix: ".pack") == [pack])  // it reused the pack
        #expect(try fileSize(pack) == goodSize + 40 + 550)
        try await checkAll(try tmp.server(), count: 51)
        try await checkAll(reader, count: 51)
    }

    @Test func tornIndexTailIsIgnoredAndTruncated() async throws {
        let tmp = try TemporaryDirectory()
        try await writeSynced(tmp, count: 40)
        let index = try #require(try packFiles(tmp.path + "/server", suffix: ".idx").first)
        let goodSize = try fileSize(index)
        // An entry with a bad CRC (for a share that was never written), then a partial entry.
        var entry = PackFormat.encode([.init(key: ShareKey(storageIndex(77), 0), flags: 0, recordOffset: 16, length: 10,
                                             sequence: UInt64.max - 1, dataCRC: 0)])
        entry[63] ^= 0xFF
        try appendBytes(entry + [UInt8](repeating: 7, count: 30), to: index)

        let reader = try tmp.server()
        try await checkAll(reader, count: 40)
        #expect(try await reader.shares(of: storageIndex(77)).isEmpty)
        let writer = try tmp.server()
        try await put(writer, storageIndex(40), share: 0, shareData(40, size: 540))
        try await writer.sync()
        #expect(writer.recoveredTailBytes.index == 64 + 30)
        #expect(try fileSize(index) == goodSize + 64)
        try await checkAll(try tmp.server(), count: 41)
        try await checkAll(reader, count: 41)  // the reader picks up the entry written over the torn one
    }

    @Test func badIndexEntryInTheMiddleIsSkippedNotTruncated() async throws {
        let tmp = try TemporaryDirectory()
        try await writeSynced(tmp, count: 10)
        let index = try #require(try packFiles(tmp.path + "/server", suffix: ".idx").first)
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: index))
        try h.seek(toOffset: 16 + 3 * 64 + 20)  // entry 3's flags
        try h.write(contentsOf: Data([0x55]))
        try h.close()
        let size = try fileSize(index)

        let reader = try tmp.server()
        #expect(try await reader.shares(of: storageIndex(3)).isEmpty)
        for i in 0..<10 where i != 3 {
            #expect(try await readAll(reader, storageIndex(i)) == shareData(i, size: 500 + i))
        }
        let writer = try tmp.server()
        try await put(writer, storageIndex(10), share: 0, shareData(10, size: 510))
        try await writer.sync()
        #expect(writer.recoveredTailBytes == (0, 0))
        #expect(try fileSize(index) == size + 64)  // good entries after the bad one were kept
        #expect(try await readAll(reader, storageIndex(10)) == shareData(10, size: 510))
        #expect(try await readAll(try tmp.server(), storageIndex(9)) == shareData(9, size: 509))
    }

    @Test func sharesWrittenButNeverSyncedVanishAndTheirRecordsAreTruncated() async throws {
        let tmp = try TemporaryDirectory()
        try await writeSynced(tmp, count: 5)
        let pack = try #require(try packFiles(tmp.path + "/server", suffix: ".pack").first)
        let syncedSize = try fileSize(pack)
        do {
            // More than the 32 MiB flush threshold: records reach the pack, but no sync indexes them
            // (as if the process were killed before its sync).
            let server = try tmp.server()
            for i in 100..<(100 + 9000) { try await put(server, storageIndex(i), share: 0, shareData(i % 7, size: 4096)) }
            #expect(try fileSize(pack) > syncedSize + (32 << 20))
        }
        let reader = try tmp.server()
        #expect(try await reader.shares(of: storageIndex(100)).isEmpty)
        try await checkAll(reader, count: 5)
        let writer = try tmp.server()
        try await put(writer, storageIndex(5), share: 0, shareData(5, size: 505))
        try await writer.sync()
        #expect(try fileSize(pack) == syncedSize + 40 + 505)
        try await checkAll(try tmp.server(), count: 6)
    }

    @Test func reportsAreRecordedAndOnlyADurableReplacementSupersedes() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let si = storageIndex(3), bigIndex = storageIndex(4)
        let data = shareData(3, size: 2000), big = shareData(4, size: 3 << 20)
        try await put(server, si, share: 0, data)
        try await put(server, bigIndex, share: 1, big)
        try await server.sync()

        for (index, share) in [(si, 0), (bigIndex, 1)] {
            let loc = try #require(try server.location(of: index, share: share))
            let h = try FileHandle(forUpdating: URL(fileURLWithPath: loc.path))
            try h.seek(toOffset: loc.offset + 100)
            let old = try #require(try h.read(upToCount: 1))
            try h.seek(toOffset: loc.offset + 100)
            try h.write(contentsOf: Data([old[0] ^ 0x40]))
            try h.close()
        }
        var bad = data
        bad[100] ^= 0x40
        var badBig = big
        badBig[100] ^= 0x40
        #expect(try await readAll(server, si) == bad)  // returned as stored: the grid's hash trees catch it
        #expect(try await readAll(server, bigIndex, share: 1) == badBig)

        // A report is recorded, durably, and hides nothing: a mistaken report cannot lose data.
        try await server.reportCorrupt(si, share: 0, reason: "block hash mismatch")
        try await server.reportCorrupt(bigIndex, share: 1, reason: "block\nhash mismatch")
        let reports = try String(contentsOfFile: tmp.path + "/server/corruption-reports", encoding: .utf8)
        #expect(reports.split(separator: "\n").count == 2)
        #expect(reports.contains("\(si.hex) 0 block hash mismatch") && reports.contains("\(bigIndex.hex) 1 block hash mismatch"))
        #expect(try await server.shares(of: si) == [0])
        #expect(try await readAll(try tmp.server(), bigIndex, share: 1) == badBig)

        // A normal allocation answers "already have"; a replacement allocation supersedes at sync.
        #expect(try await server.allocate(si, shares: [0], shareSize: UInt64(data.count), secrets: testSecrets).alreadyHave == [0])
        for (index, share, bytes) in [(si, 0, data), (bigIndex, 1, big)] {
            #expect(try await server.allocateReplacements(index, shares: [share], shareSize: UInt64(bytes.count), secrets: testSecrets) == [share])
            try await server.write(ShareUpload(index: index, share: share, secret: testSecrets.upload), offset: 0, data: bytes)
            try await server.finish(ShareUpload(index: index, share: share, secret: testSecrets.upload))
        }
        // Before the sync other instances still see the old copies.
        #expect(try await readAll(try tmp.server(), si) == bad)
        #expect(try await readAll(try tmp.server(), bigIndex, share: 1) == badBig)
        try await server.sync()
        #expect(try await readAll(server, si) == data)
        let other = try tmp.server()
        #expect(try await readAll(other, si) == data)
        #expect(try await readAll(other, bigIndex, share: 1) == big)
        // The superseded bytes sit in quarantine, never deleted.
        let quarantine = tmp.path + "/server/quarantine"
        let kept = try FileManager.default.contentsOfDirectory(atPath: quarantine).sorted()
        #expect(kept.count == 2 && kept[0].hasPrefix(si.hex + ".0.") && kept[1].hasPrefix(bigIndex.hex + ".1.")
                || kept.count == 2 && kept[1].hasPrefix(si.hex + ".0.") && kept[0].hasPrefix(bigIndex.hex + ".1."))
        let keptBytes = Set(try kept.map { Array(try Data(contentsOf: URL(fileURLWithPath: quarantine + "/" + $0))) })
        #expect(keptBytes == [bad, badBig])
    }

    @Test func aShareBeingWrittenIsNeitherHeldNorAllocatedTwice() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let si = storageIndex(9)
        let data = shareData(9, size: 600_000)
        #expect(try await server.allocate(si, shares: [0, 1], shareSize: UInt64(data.count), secrets: testSecrets).allocated == [0, 1])
        let second = try await server.allocate(si, shares: [0, 1, 2], shareSize: UInt64(data.count), secrets: testSecrets)
        #expect(second.allocated == [2] && second.alreadyHave.isEmpty)
        for share in [0, 1, 2] {
            try await server.write(ShareUpload(index: si, share: share, secret: testSecrets.upload), offset: 0, data: data)
            try await server.finish(ShareUpload(index: si, share: share, secret: testSecrets.upload))
        }
        try await server.sync()
        #expect(try await tmp.server().shares(of: si) == [0, 1, 2])
    }

    /// A lost index and a damaged record early in the pack: the rebuild steps over the damaged record and
    /// keeps every later share (it used to stop there and cut the pack, losing the rest).
    @Test func aRebuildStepsOverADamagedRecordAndCutsNothing() async throws {
        let tmp = try TemporaryDirectory()
        do {
            let server = try tmp.server()
            for i in 0..<30 { try await put(server, storageIndex(300 + i), share: 0, shareData(i, size: 2000 + i)) }
            try await server.sync()
        }
        let pack = try #require(try packFiles(tmp.path + "/server", suffix: ".pack").first)
        let sizeBefore = try fileSize(pack)
        // Flip a byte inside the third record's data (records: 40-byte header, then the data).
        let firstTwo: UInt64 = (40 + 2000) + (40 + 2001)
        let third: UInt64 = 16 + firstTwo + 40 + 100
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: pack))
        try h.seek(toOffset: third)
        let old = try #require(try h.read(upToCount: 1))
        try h.seek(toOffset: third)
        try h.write(contentsOf: Data([old[0] ^ 0x01]))
        try h.close()
        for idx in try packFiles(tmp.path + "/server", suffix: ".idx") { try FileManager.default.removeItem(atPath: idx) }

        let reopened = try tmp.server()
        #expect(try fileSize(pack) == sizeBefore)
        #expect(try await reopened.shares(of: storageIndex(302)).isEmpty)  // the damaged one
        for i in 0..<30 where i != 2 {
            #expect(try await readAll(reopened, storageIndex(300 + i)) == shareData(i, size: 2000 + i), "share \(i)")
        }
        // Writing goes on as usual, and every share is still there for another instance.
        try await put(reopened, storageIndex(400), share: 0, shareData(99, size: 500))
        try await reopened.sync()
        let other = try tmp.server()
        #expect(try await readAll(other, storageIndex(400)) == shareData(99, size: 500))
        #expect(try await readAll(other, storageIndex(329)) == shareData(29, size: 2029))
    }

    @Test func aLostIndexIsRebuiltWhenTheServerOpens() async throws {
        let tmp = try TemporaryDirectory()
        do {
            let server = try tmp.server()
            for i in 0..<20 { try await put(server, storageIndex(200 + i), share: i % 3, shareData(i, size: 1000 + i)) }
            try await server.sync()
        }
        for idx in try packFiles(tmp.path + "/server", suffix: ".idx") { try FileManager.default.removeItem(atPath: idx) }
        let reopened = try tmp.server()
        for i in 0..<20 {
            #expect(try await reopened.shares(of: storageIndex(200 + i)) == [i % 3])
            #expect(try await readAll(reopened, storageIndex(200 + i), share: i % 3) == shareData(i, size: 1000 + i))
        }
        #expect(try packFiles(tmp.path + "/server", suffix: ".idx").count == 1)
    }

    @Test func misuseFailsWithClearErrors() async throws {
        let tmp = try TemporaryDirectory()
        let server = try LocalDirectoryServer(directory: tmp.path + "/s", id: ServerID([1]), name: "s", maximumShareSize: 10 << 20)
        let si = storageIndex(1)
        _ = try await server.allocate(si, shares: [0], shareSize: 100, secrets: testSecrets)
        try await server.write(ShareUpload(index: si, share: 0, secret: testSecrets.upload), offset: 0, data: [UInt8](repeating: 1, count: 50))
        try await server.write(ShareUpload(index: si, share: 0, secret: testSecrets.upload), offset: 60, data: [UInt8](repeating: 1, count: 40))
        do {
            try await server.finish(ShareUpload(index: si, share: 0, secret: testSecrets.upload))
            Issue.record("finish of an incomplete share succeeded")
        } catch let StorageError.outOfRange(_, reason) {
            #expect(reason.contains("50..<60") && reason.contains("90 of 100"))
        }
        await #expect(throws: StorageError.self) {
            try await server.write(ShareUpload(index: si, share: 0, secret: testSecrets.upload), offset: 90, data: [UInt8](repeating: 1, count: 11))
        }
        await #expect(throws: StorageError.notAllocated(server: server.label, index: si, share: 1)) {
            try await server.write(ShareUpload(index: si, share: 1, secret: testSecrets.upload), offset: 0, data: [1])
        }
        await #expect(throws: StorageError.notAllocated(server: server.label, index: si, share: 1)) {
            try await server.finish(ShareUpload(index: si, share: 1, secret: testSecrets.upload))
        }
        await #expect(throws: StorageError.self) {
            _ = try await server.allocate(si, shares: [2], shareSize: 11 << 20, secrets: testSecrets)
        }
        // Filling the gap makes it finishable.
        try await server.write(ShareUpload(index: si, share: 0, secret: testSecrets.upload), offset: 50, data: [UInt8](repeating: 1, count: 10))
        try await server.finish(ShareUpload(index: si, share: 0, secret: testSecrets.upload))
        #expect(try await readAll(server, si) == [UInt8](repeating: 1, count: 100))
        let info = try await server.info()
        #expect(info.maximumShareSize == 10 << 20 && (info.availableSpace ?? 0) > 0)
    }

    @Test func unknownSharesThrowNoSuchShare() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let si = storageIndex(42)
        await #expect(throws: StorageError.noSuchShare(server: server.label, index: si, share: 0)) {
            _ = try await server.read(si, share: 0, ranges: [0..<1])
        }
        await #expect(throws: StorageError.noSuchShare(server: server.label, index: si, share: 3)) {
            _ = try await server.shareSize(si, share: 3)
        }
        #expect(try await server.shares(of: si).isEmpty)
        #expect(try server.location(of: si, share: 0) == nil)
    }

    @Test func missingIndexIsRebuiltFromThePack() async throws {
        let tmp = try TemporaryDirectory()
        try await writeSynced(tmp, count: 20)
        let index = try #require(try packFiles(tmp.path + "/server", suffix: ".idx").first)
        try FileManager.default.removeItem(atPath: index)
        let writer = try tmp.server()
        try await put(writer, storageIndex(20), share: 0, shareData(20, size: 520))
        try await writer.sync()
        try await checkAll(try tmp.server(), count: 21)
    }

    @Test func writtenRangesMerge() {
        var w = WrittenRanges()
        w.insert(10..<20)
        w.insert(30..<40)
        w.insert(0..<5)
        #expect(w.firstGap(in: 40) == 5..<10)
        w.insert(5..<30)
        #expect(w.ranges == [0..<40])
        #expect(w.firstGap(in: 40) == nil)
        #expect(w.firstGap(in: 41) == 40..<41)
    }
}
