@testable import CairnStorage
import Foundation
import Testing

@Suite struct SlotStoreTests {
    let enabler = [UInt8](repeating: 5, count: 32)

    @Test func absentTestCreatesThenEqualityTestReplaces() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let si = storageIndex(1)
        #expect(try await server.readMutable(si, shares: nil, ranges: [0..<10]).isEmpty)

        let v1 = Array("version one, share zero".utf8)
        let created = try await server.testAndWriteMutable(si, writeEnabler: enabler, vectors: [
            0: .replace(testing: [.absent], with: v1), 3: .replace(testing: [.absent], with: [1, 2, 3])])
        #expect(created.success && created.data == [0: [[]], 3: [[]]])
        #expect(try await server.readMutable(si, shares: nil, ranges: [0..<7, 8..<11, 100..<200]) ==
                [0: [Array("version".utf8), Array("one".utf8), []], 3: [[1, 2, 3], [], []]])
        #expect(try await server.readMutable(si, shares: [3, 4], ranges: [1..<UInt64.max]) == [3: [[2, 3]]])

        // Absent fails on an existing share and reports what is there; nothing is written.
        let again = try await server.testAndWriteMutable(si, writeEnabler: enabler, vectors: [0: .replace(testing: [.absent], with: [9])])
        #expect(!again.success && again.data == [0: [[Array("v".utf8)[0]]]])

        // Equality on the first bytes passes and replaces the whole share (shorter: truncated).
        let v2 = Array("v2".utf8)
        let ok = try await server.testAndWriteMutable(si, writeEnabler: enabler, vectors: [
            0: .replace(testing: [MutableTest(offset: 0, specimen: Array("version one".utf8))], with: v2)])
        #expect(ok.success && ok.data == [0: [Array("version one".utf8)]])
        #expect(try await server.readMutable(si, shares: [0], ranges: [0..<100]) == [0: [v2]])

        // Writes at offsets grow the share with zeros; new length 0 removes it.
        let grow = try await server.testAndWriteMutable(si, writeEnabler: enabler, vectors: [
            0: MutableWrite(tests: [MutableTest(offset: 0, specimen: v2)], writes: [(4, [7]), (0, [1])])])
        #expect(grow.success)
        #expect(try await server.readMutable(si, shares: [0], ranges: [0..<100]) == [0: [[1, Array("2".utf8)[0], 0, 0, 7]]])
        #expect(try await server.testAndWriteMutable(si, writeEnabler: enabler, vectors: [3: .remove(testing: [])]).success)
        #expect(try await server.readMutable(si, shares: nil, ranges: [0..<100]).keys.sorted() == [0])
    }

    @Test func allTestsOfACallPassOrNothingIsWritten() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let si = storageIndex(2)
        _ = try await server.testAndWriteMutable(si, writeEnabler: enabler, vectors: [
            0: .replace(testing: [.absent], with: [0, 0]), 1: .replace(testing: [.absent], with: [1, 1])])
        // Share 0's test passes, share 1's fails: neither changes.
        let r = try await server.testAndWriteMutable(si, writeEnabler: enabler, vectors: [
            0: .replace(testing: [MutableTest(offset: 0, specimen: [0, 0])], with: [5]),
            1: .replace(testing: [MutableTest(offset: 0, specimen: [9, 9])], with: [5]),
            2: .replace(testing: [.absent], with: [5])])
        #expect(!r.success && r.data == [0: [[0, 0]], 1: [[1, 1]], 2: [[]]])
        #expect(try await server.readMutable(si, shares: nil, ranges: [0..<10]) == [0: [[0, 0]], 1: [[1, 1]]])
    }

    @Test func writeEnablerIsKeptFromTheFirstWrite() async throws {
        let tmp = try TemporaryDirectory()
        let server = try tmp.server()
        let si = storageIndex(3)
        _ = try await server.testAndWriteMutable(si, writeEnabler: enabler, vectors: [0: .replace(testing: [.absent], with: [1])])
        do {
            _ = try await server.testAndWriteMutable(si, writeEnabler: [UInt8](repeating: 6, count: 32),
                                                     vectors: [0: .replace(testing: [], with: [2])])
            Issue.record("another write enabler was accepted")
        } catch let e as StorageError {
            #expect(e == .badWriteEnabler(server: server.label, index: si))
            #expect(e.kind == .refused && { if case .badWriteEnabler(let label, _) = e { label.id == server.id } else { false } }())
            #expect(e.description.contains("wrong write enabler"))
        }
        // A second instance (another process's view) sees the share and the same enabler rule.
        let other = try LocalDirectoryServer(directory: tmp.path + "/server", id: ServerID([UInt8](repeating: 1, count: 32)), name: "s2")
        #expect(try await other.readMutable(si, shares: nil, ranges: [0..<10]) == [0: [[1]]])
        await #expect(throws: StorageError.self) {
            try await other.testAndWriteMutable(si, writeEnabler: [9], vectors: [0: .replace(testing: [], with: [2])])
        }
        let dir = server.slotDirectory(si)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["0", "lock", "write-enabler"])
        #expect(dir.hasSuffix("/slots/" + String(si.hex.prefix(2)) + "/" + si.hex))
    }

    /// Many writers in two server instances race a compare-and-swap counter: every increment lands once.
    @Test func testAndSetIsAtomicAcrossInstances() async throws {
        let tmp = try TemporaryDirectory()
        let a = try tmp.server(), b = try LocalDirectoryServer(directory: tmp.path + "/server", id: ServerID([UInt8](repeating: 1, count: 32)), name: "b")
        let si = storageIndex(4)
        let enabler = self.enabler
        _ = try await a.testAndWriteMutable(si, writeEnabler: enabler, vectors: [0: .replace(testing: [.absent], with: [0, 0])])
        let wins = try await withThrowingTaskGroup(of: Int.self) { group in
            for w in 0..<8 {
                let server = w % 2 == 0 ? a : b
                group.addTask {
                    var won = 0
                    while won < 10 {
                        let now = try await server.readMutable(si, shares: [0], ranges: [0..<2])[0]![0]
                        let value = Int(now[0]) << 8 | Int(now[1])
                        let next = [UInt8((value + 1) >> 8), UInt8((value + 1) & 0xff)]
                        let r = try await server.testAndWriteMutable(si, writeEnabler: enabler,
                                                                     vectors: [0: .replace(testing: [MutableTest(offset: 0, specimen: now)], with: next)])
                        if r.success { won += 1 }
                    }
                    return won
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(wins == 80)
        #expect(try await a.readMutable(si, shares: [0], ranges: [0..<2]) == [0: [[0, 80]]])
    }
}
