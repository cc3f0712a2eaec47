import CairnStorage
import CairnTahoe
import TahoeTestGrid
import Foundation
import Testing

// One conformance suite for every `StorageServer` backend. Each test is written once against
// `any StorageServer` and asserts only what the protocol's doc comments (StorageServer.swift,
// MutableShares.swift) promise; where backends may differ it branches on `capabilities`, never on a
// backend's name. A new backend (e.g. a Tahoe HTTP client) is one more entry in `ConformanceBackend.all`.

// MARK: - Backends

/// A backend under test: how to make a fresh, empty server, and the conformance defects it is known to have.
struct ConformanceBackend: Sendable, CustomTestStringConvertible {
    let name: String
    /// A fresh, empty server and what removes it afterwards.
    let make: @Sendable () async throws -> ConformanceFixture

    var testDescription: String { name }

    static func named(_ name: String) -> ConformanceBackend? { all.first { $0.name == name } }

    static let all: [ConformanceBackend] = [
        ConformanceBackend(name: "LocalDirectoryServer", make: {
            let path = NSTemporaryDirectory() + "cairn-conformance-" + UUID().uuidString
            let server = try LocalDirectoryServer(directory: path, id: ServerID([UInt8](repeating: 0xC1, count: 32)),
                                                  name: "local")
            return ConformanceFixture(server) { try? FileManager.default.removeItem(atPath: path) }
        }),
        ConformanceBackend(name: "MemoryServer", make: { ConformanceFixture(MemoryServer(number: 1)) }),
        ConformanceBackend(name: "FaultyServer(MemoryServer), no fault",
                           make: { ConformanceFixture(FaultyServer(MemoryServer(number: 2))) }),
        ConformanceBackend(name: "LimitedServer(MemoryServer)",
                           make: { ConformanceFixture(LimitedServer(MemoryServer(number: 4), deadline: .seconds(30), connections: 2)) }),
        // Covers the `supersedesShares == false` branches (as a Tahoe storage node answers).
        ConformanceBackend(name: "MemoryServer(supersedes: false)",
                           make: { ConformanceFixture(MemoryServer(number: 3, supersedes: false)) }),
        // A real Tahoe-LAFS 1.20 storage node on loopback, over its HTTP storage protocol.
        ConformanceBackend(name: "TahoeServer", make: {
            let grid = try await TahoeTestGrid.shared()
            let node = grid.nodes[Int.random(in: 0..<grid.nodes.count)]
            let server = TahoeServer(nurl: try NURL(parsing: node.nurl), id: ServerID(TahoeNodeKey.bytes(node.key)!),
                                     name: node.nickname, slotLease: { _ in testSecrets.lease })
            return ConformanceFixture(server)
        }),
    ]
}

struct ConformanceFixture: Sendable {
    let server: any StorageServer
    let cleanup: @Sendable () -> Void
    init(_ server: any StorageServer, cleanup: @escaping @Sendable () -> Void = {}) {
        self.server = server
        self.cleanup = cleanup
    }
}

// MARK: - Helpers

/// A mismatch found where `#expect` cannot be used (inside an exit test's child process).
struct ConformanceFailure: Error, CustomStringConvertible {
    let description: String
}

enum Conformance {
    /// Runs `body` with a fresh server of `backend`, removing it afterwards.
    static func withServer<R>(_ backend: ConformanceBackend, _ body: (any StorageServer) async throws -> R) async throws -> R {
        let fixture = try await backend.make()
        defer { fixture.cleanup() }
        return try await body(fixture.server)
    }

    static func randomIndex() -> StorageIndex {
        var g = SystemRandomNumberGenerator()
        return StorageIndex((0..<StorageIndex.size).map { _ in UInt8.random(in: 0...255, using: &g) })!
    }

    /// Deterministic bytes (SplitMix64), different per seed.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 1)
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count {
            withUnsafeBytes(of: rng.next()) { out.append(contentsOf: $0) }
        }
        return Array(out.prefix(count))
    }

    /// Reads `ranges`, never asking for more ranges per call than `capabilities.rangesPerRead` allows;
    /// checks that every call answers one byte array per range asked.
    static func read(_ server: any StorageServer, _ index: StorageIndex, share: ShareNumber,
                     _ ranges: [Range<UInt64>]) async throws -> [[UInt8]] {
        let step = max(1, server.capabilities.rangesPerRead ?? max(1, ranges.count))
        var out: [[UInt8]] = []
        for start in stride(from: 0, to: ranges.count, by: step) {
            let chunk = Array(ranges[start..<min(start + step, ranges.count)])
            let answer = try await server.read(index, share: share, ranges: chunk)
            guard answer.count == chunk.count else {
                throw ConformanceFailure(description: "read of \(chunk.count) range(s) answered \(answer.count) byte arrays")
            }
            out += answer
        }
        return out
    }

    /// The whole share, in one range.
    static func readAll(_ server: any StorageServer, _ index: StorageIndex, share: ShareNumber) async throws -> [UInt8] {
        let size = try await server.shareSize(index, share: share)
        return try await read(server, index, share: share, [0..<size])[0]
    }

    /// `readMutable`, respecting `rangesPerRead` the same way (answers merged per share).
    static func readMutable(_ server: any StorageServer, _ index: StorageIndex, shares: Set<ShareNumber>?,
                            _ ranges: [Range<UInt64>]) async throws -> [ShareNumber: [[UInt8]]] {
        let step = max(1, server.capabilities.rangesPerRead ?? max(1, ranges.count))
        var out: [ShareNumber: [[UInt8]]] = [:]
        for start in stride(from: 0, to: max(ranges.count, 1), by: step) {
            let chunk = Array(ranges[min(start, ranges.count)..<min(start + step, ranges.count)])
            let answer = try await server.readMutable(index, shares: shares, ranges: chunk)
            for (share, parts) in answer { out[share, default: []] += parts }
        }
        return out
    }

    /// Allocates, writes (in the chunk order given), finishes and syncs whole shares; expects every share allocated.
    static func upload(_ server: any StorageServer, _ index: StorageIndex, _ shares: [ShareNumber: [UInt8]],
                       chunk: Int = 1_000) async throws {
        let size = UInt64(shares.first!.value.count)
        let allocation = try await server.allocate(index, shares: Set(shares.keys), shareSize: size, secrets: testSecrets)
        guard allocation.allocated == Set(shares.keys), allocation.alreadyHave.isEmpty else {
            throw ConformanceFailure(description: "allocate of fresh shares \(shares.keys.sorted()) answered \(allocation)")
        }
        for (share, data) in shares {
            for offset in stride(from: 0, to: data.count, by: chunk).reversed() {
                try await server.write(ShareUpload(index: index, share: share, secret: testSecrets.upload), offset: UInt64(offset), data: Array(data[offset..<min(offset + chunk, data.count)]))
            }
            try await server.finish(ShareUpload(index: index, share: share, secret: testSecrets.upload))
        }
        try await server.sync()
    }

    /// Runs `body` and checks it throws a `StorageError` of `kind` (and, if given, satisfying `matches`).
    static func expectError(_ kind: StorageErrorKind, _ what: String,
                            matching matches: ((StorageError) -> Bool)? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation,
                            _ body: () async throws -> Void) async {
        if let problem = await errorProblem(kind, what, matching: matches, body) {
            Issue.record(Comment(rawValue: problem), sourceLocation: sourceLocation)
        }
    }

    /// What is wrong with the outcome of `body` given that it must throw a `StorageError` of `kind`; nil if nothing.
    static func errorProblem(_ kind: StorageErrorKind, _ what: String,
                             matching matches: ((StorageError) -> Bool)? = nil,
                             _ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return "\(what): succeeded; expected a StorageError of kind .\(kind)"
        } catch let e as StorageError {
            if e.kind != kind { return "\(what): threw \(e) of kind .\(e.kind); expected kind .\(kind)" }
            if let matches, !matches(e) { return "\(what): threw \(e), not the documented case" }
            return nil
        } catch {
            return "\(what): threw \(type(of: error)) (\(error)), not a StorageError"
        }
    }

    /// The exit-test child of `writePastAllocatedSizeIsRefused`: a backend that traps there kills only this process.
    static func writesPastAllocatedSize(backendNamed name: String) async throws {
        guard let backend = ConformanceBackend.named(name) else { throw ConformanceFailure(description: "no backend \(name)") }
        try await withServer(backend) { server in
            let index = randomIndex()
            let a = try await server.allocate(index, shares: [0], shareSize: 100, secrets: testSecrets)
            guard a.allocated == [0] else { throw ConformanceFailure(description: "allocate answered \(a)") }
            try await server.write(ShareUpload(index: index, share: 0, secret: testSecrets.upload), offset: 0, data: bytes(100, seed: 1))  // exactly fills it
            let attempts: [(UInt64, Int, String)] = [
                (90, 20, "write of 20 bytes at offset 90 of a 100-byte share"),
                (100, 1, "write of 1 byte at offset 100 of a 100-byte share"),
                (1_000, 10, "write at offset 1000 of a 100-byte share"),
                (UInt64.max - 1, 4, "write whose end overflows UInt64"),
            ]
            for (offset, count, what) in attempts {
                if let problem = await errorProblem(.refused, what, {
                    try await server.write(ShareUpload(index: index, share: 0, secret: testSecrets.upload), offset: offset, data: bytes(count, seed: 2))
                }) {
                    throw ConformanceFailure(description: problem)
                }
            }
        }
    }
}

// MARK: - The suite

@Suite("StorageConformance") struct StorageConformanceTests {
    typealias C = Conformance

    /// allocate → write (several chunks, out of order) → finish → sync → listed → size → ranged reads.
    @Test(arguments: ConformanceBackend.all, [3_001, 1_300_000])
    func roundTrip(_ backend: ConformanceBackend, size: Int) async throws {
        try await C.withServer(backend) { server in
            let info = try await server.info()
            guard UInt64(size) <= info.maximumShareSize else { return }
            let index = C.randomIndex()
            let data: [ShareNumber: [UInt8]] = [0: C.bytes(size, seed: 10), 3: C.bytes(size, seed: 13)]

            let a = try await server.allocate(index, shares: [0, 3], shareSize: UInt64(size), secrets: testSecrets)
            #expect(a == Allocation(alreadyHave: [], allocated: [0, 3]))
            #expect(try await server.shares(of: index).isEmpty, "allocated shares are not held in full yet")

            // Chunks of uneven sizes, written out of order, interleaved between the two shares.
            let cuts = [0, size / 7, size / 3, size / 2 + 1, (size * 4) / 5, size]
            let order = [3, 0, 4, 2, 1]
            for (n, i) in order.enumerated() {
                for share in (n % 2 == 0 ? [0, 3] : [3, 0]) {
                    try await server.write(ShareUpload(index: index, share: share, secret: testSecrets.upload), offset: UInt64(cuts[i]), data: Array(data[share]![cuts[i]..<cuts[i + 1]]))
                }
            }
            try await server.finish(ShareUpload(index: index, share: 3, secret: testSecrets.upload))
            try await server.finish(ShareUpload(index: index, share: 0, secret: testSecrets.upload))
            try await server.sync()

            #expect(try await server.shares(of: index) == [0, 3])
            #expect(try await server.shares(of: C.randomIndex()).isEmpty)
            let n = UInt64(size)
            for share in [0, 3] {
                #expect(try await server.shareSize(index, share: share) == n)
                let d = data[share]!
                let ranges: [Range<UInt64>] = [
                    0..<n,
                    0..<17,
                    n / 2..<n / 2 + 4_096,
                    n - 5..<n + 100,        // past the end: truncated
                    n + 10..<n + 20,        // wholly past the end: empty
                    7..<7,                  // empty
                    n..<n,
                    1..<n - 1,
                ]
                let got = try await C.read(server, index, share: share, ranges)
                let want: [[UInt8]] = ranges.map { r in
                    let lo = Int(min(r.lowerBound, n)), hi = Int(min(r.upperBound, n))
                    return lo < hi ? Array(d[lo..<hi]) : []
                }
                #expect(got.count == want.count)
                for (i, (g, w)) in zip(got, want).enumerated() {
                    #expect(g == w, "share \(share), range \(ranges[i]): \(g.count) bytes, expected \(w.count)")
                }
            }
        }
    }

    /// A held share is alreadyHave; a share another upload is writing is in neither set.
    @Test(arguments: ConformanceBackend.all)
    func allocateAnswersHeldAndBusyShares(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let index = C.randomIndex()
            let held = C.bytes(500, seed: 20)
            try await C.upload(server, index, [0: held])

            let first = try await server.allocate(index, shares: [1], shareSize: 500, secrets: testSecrets)  // upload A: share 1 open
            #expect(first == Allocation(alreadyHave: [], allocated: [1]))

            let second = try await server.allocate(index, shares: [0, 1, 2], shareSize: 500, secrets: testSecrets)  // upload B
            #expect(second.alreadyHave == [0])
            #expect(second.allocated == [2])
            #expect(!second.alreadyHave.contains(1) && !second.allocated.contains(1),
                    "a share being written by another upload is in neither set")

            // A finishes share 1; B aborts share 2. Now share 1 is held.
            try await server.write(ShareUpload(index: index, share: 1, secret: testSecrets.upload), offset: 0, data: C.bytes(500, seed: 21))
            try await server.finish(ShareUpload(index: index, share: 1, secret: testSecrets.upload))
            try await server.abort(ShareUpload(index: index, share: 2, secret: testSecrets.upload))
            try await server.sync()
            let third = try await server.allocate(index, shares: [0, 1], shareSize: 500, secrets: testSecrets)
            #expect(third == Allocation(alreadyHave: [0, 1], allocated: []))
            #expect(try await server.shares(of: index) == [0, 1])
            #expect(try await C.readAll(server, index, share: 0) == held)
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func finishWithUnwrittenBytesIsRefused(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let index = C.randomIndex()
            _ = try await server.allocate(index, shares: [0], shareSize: 100, secrets: testSecrets)
            try await server.write(ShareUpload(index: index, share: 0, secret: testSecrets.upload), offset: 0, data: C.bytes(40, seed: 30))
            try await server.write(ShareUpload(index: index, share: 0, secret: testSecrets.upload), offset: 60, data: C.bytes(40, seed: 31))
            do {
                await C.expectError(.refused, "finish of a share whose bytes 40..<60 were never written") {
                    try await server.finish(ShareUpload(index: index, share: 0, secret: testSecrets.upload))
                }
                try await server.sync()
                #expect(try await server.shares(of: index).isEmpty, "a share with unwritten bytes is not held in full")
            }
        }
    }

    /// Runs in a child process (an exit test): a backend that traps here must not take the suite down.
    @Test(arguments: ConformanceBackend.all)
    func writePastAllocatedSizeIsRefused(_ backend: ConformanceBackend) async throws {
        // Whatever the backend needs (a Tahoe grid) is started here, so the child attaches to it.
        try await backend.make().cleanup()
        do {
            // The child writes what it found wrong here (its output is not kept when it fails).
            let report = NSTemporaryDirectory() + "cairn-conformance-report-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: report) }
            await #expect(processExitsWith: .success, "writes past the allocated size throw .refused") {
                [name = backend.name as String, report = report as String] in
                do {
                    try await Conformance.writesPastAllocatedSize(backendNamed: name)
                } catch {
                    _ = FileManager.default.createFile(atPath: report, contents: Data("\(error)".utf8))
                    exit(EXIT_FAILURE)
                }
            }
            if let said = FileManager.default.contents(atPath: report) {
                Issue.record(Comment(rawValue: String(decoding: said, as: UTF8.self)))
            }
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func writeWithoutAllocationIsConflict(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let index = C.randomIndex()
            await C.expectError(.conflict, "write to a share never allocated") {
                try await server.write(ShareUpload(index: index, share: 0, secret: testSecrets.upload), offset: 0, data: [1, 2, 3])
            }
            let held = C.bytes(300, seed: 40)
            try await C.upload(server, index, [0: held])
            await C.expectError(.conflict, "write to a held share without an allocation") {
                try await server.write(ShareUpload(index: index, share: 0, secret: testSecrets.upload), offset: 0, data: [1, 2, 3])
            }
            try await server.sync()
            #expect(try await C.readAll(server, index, share: 0) == held)
        }
    }

    /// An allocation belongs to the upload secret that made it: another secret can neither write, finish nor
    /// abort it, and the owner's upload is not disturbed.
    @Test(arguments: ConformanceBackend.all)
    func anotherUploadsSecretIsRefused(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let index = C.randomIndex()
            let data = C.bytes(500, seed: 77)
            let a = try await server.allocate(index, shares: [0], shareSize: 500, secrets: testSecrets)
            #expect(a.allocated == [0])
            let mine = ShareUpload(index: index, share: 0, secret: testSecrets.upload)
            let theirs = ShareUpload(index: index, share: 0, secret: [UInt8](repeating: 0x5E, count: 32))
            try await server.write(mine, offset: 0, data: data)
            await C.expectError(.refused, "write with another upload's secret") { try await server.write(theirs, offset: 0, data: [9]) }
            await C.expectError(.refused, "finish with another upload's secret") { try await server.finish(theirs) }
            await C.expectError(.refused, "abort with another upload's secret") { try await server.abort(theirs) }
            try await server.finish(mine)
            try await server.sync()
            #expect(try await C.readAll(server, index, share: 0) == data)
        }
    }

    /// An error names the server by its stable id (from the grid configuration), not only its display name.
    @Test(arguments: ConformanceBackend.all)
    func errorsCarryTheServersID(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            do {
                _ = try await server.read(C.randomIndex(), share: 0, ranges: [0..<1])
                Issue.record("a read of a share never stored succeeded")
            } catch let e as StorageError {
                guard case .noSuchShare(let label, _, _) = e else { Issue.record("\(e)"); return }
                #expect(label.id == server.id && label.name == server.name)
            }
        }
    }

    /// Leases can be added and renewed on any backend (whether it keeps them is its own business).
    @Test(arguments: ConformanceBackend.all)
    func leasesAreAcceptedAndRenewed(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let index = C.randomIndex()
            try await C.upload(server, index, [0: C.bytes(100, seed: 78)])
            try await server.addLease(index, secrets: testSecrets.lease)
            try await server.addLease(index, secrets: testSecrets.lease)
            #expect(try await server.shares(of: index) == [0])
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func finishWithoutAllocationIsConflict(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let index = C.randomIndex()
            let held = C.bytes(300, seed: 41)
            try await C.upload(server, index, [0: held])
            do {
                await C.expectError(.conflict, "finish of a share never allocated") {
                    try await server.finish(ShareUpload(index: index, share: 5, secret: testSecrets.upload))
                }
                await C.expectError(.conflict, "finish of a held share without an allocation") {
                    try await server.finish(ShareUpload(index: index, share: 0, secret: testSecrets.upload))
                }
                try await server.sync()
                #expect(try await server.shares(of: index) == [0], "a stray finish neither adds nor removes shares")
            }
            if try await server.shares(of: index).contains(0) {
                #expect(try await C.readAll(server, index, share: 0) == held)
            }
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func abortDropsTheAllocation(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let index = C.randomIndex()
            #expect(try await server.allocate(index, shares: [0], shareSize: 64, secrets: testSecrets).allocated == [0])
            try await server.write(ShareUpload(index: index, share: 0, secret: testSecrets.upload), offset: 0, data: C.bytes(32, seed: 50))
            try await server.abort(ShareUpload(index: index, share: 0, secret: testSecrets.upload))
            await C.expectError(.conflict, "write after abort") {
                try await server.write(ShareUpload(index: index, share: 0, secret: testSecrets.upload), offset: 32, data: C.bytes(32, seed: 51))
            }
            try await server.sync()
            #expect(try await server.shares(of: index).isEmpty)
            // Nobody is writing it any more: a new upload gets it.
            #expect(try await server.allocate(index, shares: [0], shareSize: 64, secrets: testSecrets) == Allocation(alreadyHave: [], allocated: [0]))
            try await server.abort(ShareUpload(index: index, share: 0, secret: testSecrets.upload))
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func missingSharesAreMissing(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let unknown = C.randomIndex()
            #expect(try await server.shares(of: unknown).isEmpty)
            await C.expectError(.missing, "read of a share of an unknown index") {
                _ = try await server.read(unknown, share: 0, ranges: [0..<10])
            }
            await C.expectError(.missing, "shareSize of a share of an unknown index") {
                _ = try await server.shareSize(unknown, share: 0)
            }
            let index = C.randomIndex()
            try await C.upload(server, index, [0: C.bytes(200, seed: 60)])
            await C.expectError(.missing, "read of a share not held (another share of the index is)") {
                _ = try await server.read(index, share: 1, ranges: [0..<10])
            }
            await C.expectError(.missing, "shareSize of a share not held") {
                _ = try await server.shareSize(index, share: 1)
            }
            // Allocated but not finished: still not held.
            _ = try await server.allocate(index, shares: [2], shareSize: 200, secrets: testSecrets)
            await C.expectError(.missing, "read of a share allocated but not finished") {
                _ = try await server.read(index, share: 2, ranges: [0..<10])
            }
            try await server.abort(ShareUpload(index: index, share: 2, secret: testSecrets.upload))
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func reportCorruptNeverHidesOrDeletes(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let index = C.randomIndex()
            let data = C.bytes(2_000, seed: 70)
            try await C.upload(server, index, [0: data, 1: C.bytes(2_000, seed: 71)])
            try await server.reportCorrupt(index, share: 0, reason: "block 3 failed its hash\nsecond line")
            #expect(try await server.shares(of: index) == [0, 1])
            #expect(try await C.readAll(server, index, share: 0) == data)
            try await server.sync()
            #expect(try await server.shares(of: index) == [0, 1])
            #expect(try await server.shareSize(index, share: 0) == 2_000)
            #expect(try await C.readAll(server, index, share: 0) == data)
            #expect(try await server.allocate(index, shares: [0], shareSize: 2_000, secrets: testSecrets) == Allocation(alreadyHave: [0], allocated: []))
        }
    }

    @Test(arguments: ConformanceBackend.all, [2_500, 1_100_000])
    func replacementsFollowTheCapability(_ backend: ConformanceBackend, size: Int) async throws {
        try await C.withServer(backend) { server in
            guard UInt64(size) <= (try await server.info()).maximumShareSize else { return }
            let index = C.randomIndex()
            let old = C.bytes(size, seed: 80)
            try await C.upload(server, index, [0: old])
            if server.capabilities.supersedesShares {
                // Held (0) or not (1): both are allocated.
                let got = try await server.allocateReplacements(index, shares: [0, 1], shareSize: UInt64(size), secrets: testSecrets)
                #expect(got == [0, 1])
                let new: [ShareNumber: [UInt8]] = [0: C.bytes(size, seed: 81), 1: C.bytes(size, seed: 82)]
                for (share, bytes) in new {
                    let half = bytes.count / 2
                    try await server.write(ShareUpload(index: index, share: share, secret: testSecrets.upload), offset: UInt64(half), data: Array(bytes[half...]))
                    try await server.write(ShareUpload(index: index, share: share, secret: testSecrets.upload), offset: 0, data: Array(bytes[..<half]))
                    try await server.finish(ShareUpload(index: index, share: share, secret: testSecrets.upload))
                }
                try await server.sync()
                #expect(try await server.shares(of: index) == [0, 1])
                for (share, bytes) in new {
                    #expect(try await server.shareSize(index, share: share) == UInt64(size))
                    #expect(try await C.readAll(server, index, share: share) == bytes, "share \(share) serves the replacement")
                }
            } else {
                await C.expectError(.refused, "allocateReplacements on a server that does not supersede shares") {
                    _ = try await server.allocateReplacements(index, shares: [0], shareSize: UInt64(size), secrets: testSecrets)
                }
                #expect(try await server.shares(of: index) == [0])
                #expect(try await C.readAll(server, index, share: 0) == old)
            }
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func rangesPerReadIsHonouredAndAnswered(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let limit = server.capabilities.rangesPerRead
            if let limit { #expect(limit >= 1, "rangesPerRead is at least 1") }
            let index = C.randomIndex()
            let data = C.bytes(1_024, seed: 90)
            try await C.upload(server, index, [0: data])
            // As many ranges as the server allows in one call (up to 5), each answered in order.
            let ranges: [Range<UInt64>] = [0..<3, 1_000..<2_000, 10..<20, 5..<5, 512..<513]
            let count = min(ranges.count, limit ?? ranges.count)
            let answer = try await server.read(index, share: 0, ranges: Array(ranges.prefix(count)))
            #expect(answer.count == count)
            let want: [[UInt8]] = [Array(data[0..<3]), Array(data[1_000...]), Array(data[10..<20]), [], [data[512]]]
            #expect(answer == Array(want.prefix(count)))
        }
    }

    // MARK: Mutable slots

    @Test(arguments: ConformanceBackend.all)
    func unknownSlotReadsEmpty(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let slot = C.randomIndex()
            let every = try await C.readMutable(server, slot, shares: nil, [0..<100])
            let some = try await C.readMutable(server, slot, shares: [0, 1], [0..<100])
            #expect(every.isEmpty)
            #expect(some.isEmpty)
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func testAndWriteMutable(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let slot = C.randomIndex()
            let enabler = C.bytes(32, seed: 100)
            let a = C.bytes(120, seed: 101), b = C.bytes(80, seed: 102)

            // Passing tests (shares absent): both written.
            let created = try await server.testAndWriteMutable(slot, writeEnabler: enabler, vectors: [
                0: .replace(testing: [.absent], with: a),
                1: .replace(testing: [.absent], with: b),
            ])
            #expect(created == MutableWriteResult(success: true, data: [0: [[]], 1: [[]]]))
            #expect(try await C.readMutable(server, slot, shares: nil, [0..<1_000]) == [0: [a], 1: [b]])
            #expect(try await C.readMutable(server, slot, shares: [1, 7], [0..<5, 70..<1_000, 500..<600]) ==
                    [1: [Array(b[0..<5]), Array(b[70...]), []]], "ranges cut short; shares not held are absent")

            // A passing test on existing bytes; a write inside the share.
            let patch: [UInt8] = [9, 9, 9, 9]
            let updated = try await server.testAndWriteMutable(slot, writeEnabler: enabler, vectors: [
                0: MutableWrite(tests: [MutableTest(offset: 0, specimen: Array(a[0..<8]))], writes: [(10, patch)]),
            ])
            #expect(updated == MutableWriteResult(success: true, data: [0: [Array(a[0..<8])]]))
            var a2 = a
            a2.replaceSubrange(10..<14, with: patch)
            #expect(try await C.readMutable(server, slot, shares: [0], [0..<1_000]) == [0: [a2]])

            // A failing test writes nothing (not even the share whose test passed) and returns what is there.
            let lost = try await server.testAndWriteMutable(slot, writeEnabler: enabler, vectors: [
                0: .replace(testing: [MutableTest(offset: 0, specimen: Array(a2[0..<8]))], with: C.bytes(50, seed: 103)),
                1: .replace(testing: [MutableTest(offset: 4, specimen: [0xde, 0xad])], with: C.bytes(50, seed: 104)),
            ])
            #expect(lost == MutableWriteResult(success: false, data: [0: [Array(a2[0..<8])], 1: [Array(b[4..<6])]]))
            #expect(try await C.readMutable(server, slot, shares: nil, [0..<1_000]) == [0: [a2], 1: [b]])

            // A failing `absent` test on a held share returns its first byte.
            let notAbsent = try await server.testAndWriteMutable(slot, writeEnabler: enabler, vectors: [
                1: .replace(testing: [.absent], with: [1]),
            ])
            #expect(notAbsent == MutableWriteResult(success: false, data: [1: [[b[0]]]]))

            // New length 0 removes the share.
            let removed = try await server.testAndWriteMutable(slot, writeEnabler: enabler, vectors: [
                1: .remove(testing: [MutableTest(offset: 0, specimen: b)]),
            ])
            #expect(removed.success)
            #expect(try await C.readMutable(server, slot, shares: nil, [0..<1_000]) == [0: [a2]])
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func otherWriteEnablerIsRefused(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let slot = C.randomIndex()
            let data = C.bytes(64, seed: 110)
            let first = try await server.testAndWriteMutable(slot, writeEnabler: C.bytes(32, seed: 111),
                                                             vectors: [0: .replace(testing: [.absent], with: data)])
            #expect(first.success)
            await C.expectError(.refused, "testAndWriteMutable with another write enabler", matching: {
                if case .badWriteEnabler = $0 { return true } else { return false }
            }) {
                _ = try await server.testAndWriteMutable(slot, writeEnabler: C.bytes(32, seed: 112),
                                                         vectors: [0: .replace(testing: [], with: [1, 2, 3])])
            }
            #expect(try await C.readMutable(server, slot, shares: nil, [0..<1_000]) == [0: [data]])
        }
    }

    // MARK: Concurrency

    @Test(arguments: ConformanceBackend.all)
    func concurrentUploadsAllLand(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let uploads = (0..<20).map { i in
                (index: C.randomIndex(), shares: [0: C.bytes(3_000 + i, seed: UInt64(200 + 2 * i)),
                                                  1: C.bytes(3_000 + i, seed: UInt64(201 + 2 * i))] as [ShareNumber: [UInt8]])
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for u in uploads {
                    group.addTask { try await C.upload(server, u.index, u.shares, chunk: 700) }
                }
                try await group.waitForAll()
            }
            for u in uploads {
                #expect(try await server.shares(of: u.index) == [0, 1])
                for (share, bytes) in u.shares {
                    #expect(try await C.readAll(server, u.index, share: share) == bytes)
                }
            }
        }
    }

    /// 20 uploads allocate the same share at once: exactly one gets it while it is being written.
    @Test(arguments: ConformanceBackend.all)
    func concurrentAllocationsOfOneShare(_ backend: ConformanceBackend) async throws {
        try await C.withServer(backend) { server in
            let index = C.randomIndex()
            let answers = try await withThrowingTaskGroup(of: Allocation.self) { group in
                for _ in 0..<20 { group.addTask { try await server.allocate(index, shares: [0], shareSize: 100, secrets: testSecrets) } }
                return try await group.reduce(into: [Allocation]()) { $0.append($1) }
            }
            #expect(answers.filter { $0.allocated == [0] }.count == 1)
            #expect(answers.allSatisfy { $0.alreadyHave.isEmpty })
            let data = C.bytes(100, seed: 300)
            try await server.write(ShareUpload(index: index, share: 0, secret: testSecrets.upload), offset: 0, data: data)
            try await server.finish(ShareUpload(index: index, share: 0, secret: testSecrets.upload))
            try await server.sync()
            #expect(try await server.allocate(index, shares: [0], shareSize: 100, secrets: testSecrets) == Allocation(alreadyHave: [0], allocated: []))
            #expect(try await C.readAll(server, index, share: 0) == data)
        }
    }

    // MARK: Error kinds

    /// The kind of every StorageError case, as documented (StorageErrorKind; Documentation/Repair.md, "Error model").
    @Test func storageErrorKinds() {
        let i = StorageIndex([UInt8](repeating: 7, count: 16))!
        let table: [(StorageError, StorageErrorKind)] = [
            (.unreachable(server: "s", reason: "r"), .unavailable),
            (.io(server: "s", path: "p", reason: "r"), .unavailable),
            (.full(server: "s", reason: "r"), .unavailable),
            (.corruptStore(server: "s", path: "p", reason: "r"), .unavailable),
            (.noSuchShare(server: "s", index: i, share: 0), .missing),
            (.notAllocated(server: "s", index: i, share: 0), .conflict),
            (.outOfRange(server: "s", reason: "r"), .refused),
            (.badWriteEnabler(server: "s", index: i), .refused),
            (.badUploadSecret(server: "s", index: i, share: 0), .refused),
            (.refused(server: "s", reason: "r"), .refused),
        ]
        for (error, kind) in table { #expect(error.kind == kind, "\(error)") }
    }
}

/// `LimitedServer` under contention: many more calls than connections, none lost to a missed wake-up.
@Suite struct LimitedServerTests {
    @Test func everyCallGetsAConnection() async throws {
        let inner = MemoryServer(number: 9)
        let server = LimitedServer(inner, deadline: .seconds(60), connections: 2)
        let index = StorageIndex([UInt8](repeating: 5, count: 16))!
        _ = try await server.allocate(index, shares: [0], shareSize: 64, secrets: testSecrets)
        try await server.write(ShareUpload(index: index, share: 0, secret: testSecrets.upload), offset: 0, data: [UInt8](repeating: 7, count: 64))
        try await server.finish(ShareUpload(index: index, share: 0, secret: testSecrets.upload))
        let answers = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<2000 {
                group.addTask { (try? await server.read(index, share: 0, ranges: [0..<64]))?.first == [UInt8](repeating: 7, count: 64) }
            }
            var ok = 0
            for await a in group where a { ok += 1 }
            return ok
        }
        #expect(answers == 2000)
    }
}
