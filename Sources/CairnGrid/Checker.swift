import CairnFormats
import CairnPrimitives
import CairnStorage

/// What `check` found for one file.
public struct CheckReport: Sendable {
    public enum State: Sendable, Equatable {
        /// Listed by the server; not read (check without --verify).
        case found
        case good
        case bad(String)
    }
    public struct ShareReport: Sendable {
        public let server: String
        public let share: ShareNumber
        public let state: State
    }

    public let k: Int
    public let n: Int
    public let happy: Int
    public var shares: [ShareReport]
    /// Servers that could not be asked, with the reason.
    public var unreachable: [String: String]

    /// Shares that count: good ones, or (without verification) every one found.
    var usable: [ShareReport] { shares.filter { $0.state == .good || $0.state == .found } }
    public var distinctShares: Int { Set(usable.map(\.share)).count }
    public var serversWithShares: Int { Set(usable.map(\.server)).count }
    /// N distinct good shares on at least `happy` servers.
    public var isHealthy: Bool { distinctShares == n && serversWithShares >= happy }
    public var badShares: [ShareReport] { shares.filter { if case .bad = $0.state { return true } else { return false } } }
}

/// Counts shares, and with `verify` reads every block of every share and checks it.
public struct Checker: Sendable {
    public let grid: Grid
    public init(grid: Grid) { self.grid = grid }

    public func check(_ cap: VerifyCap, verify: Bool) async throws -> CheckReport {
        let index = StorageIndex(cap.storageIndex)!
        let (holders, failures) = await grid.locate(index)
        var report = CheckReport(k: cap.k, n: cap.n, happy: grid.parameters.happy, shares: [], unreachable: failures)
        var pairs: [(ShareNumber, any StorageServer)] = []
        for (share, servers) in holders { for s in servers { pairs.append((share, s)) } }
        pairs.sort { a, b in a.1.name != b.1.name ? a.1.name.localizedStandardLess(b.1.name) : a.0 < b.0 }
        if !verify {
            report.shares = pairs.map { CheckReport.ShareReport(server: $0.1.name, share: $0.0, state: .found) }
            return report
        }
        let results = await withTaskGroup(of: CheckReport.ShareReport.self) { group in
            var next = 0
            var out: [CheckReport.ShareReport] = []
            func launch(_ i: Int) {
                let (share, server) = pairs[i]
                group.addTask {
                    let state = await Self.verifyShare(server: server, share: share, index: index, cap: cap)
                    return CheckReport.ShareReport(server: server.name, share: share, state: state)
                }
            }
            while next < min(2, pairs.count) { launch(next); next += 1 }
            while let r = await group.next() {
                out.append(r)
                if next < pairs.count { launch(next); next += 1 }
            }
            return out
        }
        report.shares = results.sorted { a, b in
            a.server != b.server ? a.server.localizedStandardLess(b.server) : a.share < b.share
        }
        return report
    }

    static func verifyShare(server: any StorageServer, share: ShareNumber, index: StorageIndex, cap: VerifyCap) async -> CheckReport.State {
        let opened: VerifiedShare
        do {
            opened = try await VerifiedShare.open(server: server, index: index, number: share, uebHash: cap.uebHash,
                                                  expectedSize: cap.size, k: cap.k, n: cap.n)
        } catch {
            return .bad(Self.reason(error))
        }
        var badSegments: [Int] = []
        for segment in 0..<opened.ueb.segmentCount {
            do { _ = try await opened.block(segment, index: index) } catch { badSegments.append(segment) }
        }
        if badSegments.isEmpty { return .good }
        let list = badSegments.prefix(10).map(String.init).joined(separator: ", ") + (badSegments.count > 10 ? ", …" : "")
        return .bad("bad block\(badSegments.count == 1 ? "" : "s") in segment\(badSegments.count == 1 ? "" : "s") \(list)")
    }

    static func reason(_ error: Error) -> String {
        if let f = error as? FormatError { return f.description }
        return describe(error)
    }
}

/// Regenerates missing or corrupt share numbers onto servers that lack them.
public struct Repairer: Sendable {
    public let grid: Grid
    public init(grid: Grid) { self.grid = grid }

    public struct Outcome: Sendable {
        public let before: CheckReport
        public let after: CheckReport
        /// Share number → server name for every share written.
        public let written: [ShareNumber: String]
        public let dropped: [CheckReport.ShareReport]
    }

    public func repair(_ cap: VerifyCap) async throws -> Outcome {
        let checker = Checker(grid: grid)
        let before = try await checker.check(cap, verify: true)
        if before.isHealthy {
            return Outcome(before: before, after: before, written: [:], dropped: [])
        }
        let index = StorageIndex(cap.storageIndex)!
        let byName = Dictionary(uniqueKeysWithValues: grid.servers.map { ($0.name, $0) })
        // Tell servers about bad copies: the local grid drops them so good ones can take their place.
        for bad in before.badShares {
            if case .bad(let why) = bad.state { try? await byName[bad.server]?.reportCorrupt(index, share: bad.share, reason: why) }
        }
        _ = await grid.syncAll()
        var existing: [ShareNumber: [any StorageServer]] = [:]
        for s in before.shares where s.state == .good { existing[s.share, default: []].append(byName[s.server]!) }
        guard existing.count >= cap.k else {
            throw GridError.notEnoughShares(found: existing.count, needed: cap.k,
                                            servers: before.unreachable.keys.sorted { $0.localizedStandardLess($1) })
        }
        let missing = (0..<cap.n).filter { existing[$0] == nil }
        var written: [ShareNumber: String] = [:]
        if !missing.isEmpty {
            let set = try await ShareSet.open(grid: grid, index: index, uebHash: cap.uebHash, size: cap.size, k: cap.k, n: cap.n)
            let encoder = try ShareEncoder(geometry: set.geometry)
            let placement = try await Placement.place(index, shareSize: encoder.layout.shareSize, wanted: missing,
                                                      existing: existing, failures: before.unreachable, grid: grid)
            let ueb = try await encoder.encode(index: index, targets: placement.targets) { i in try await set.segment(i) }
            guard ueb.hash == cap.uebHash else {
                throw GridError.integrity("regenerated shares do not match the cap; nothing was made durable")
            }
            let failures = await grid.syncAll()
            if !failures.isEmpty {
                throw GridError.io(path: "grid", reason: "could not make repaired shares durable: " + failures.values.sorted().joined(separator: "; "))
            }
            for (share, server) in placement.targets { written[share] = server.name }
        }
        let after = try await checker.check(cap, verify: true)
        return Outcome(before: before, after: after, written: written, dropped: before.badShares)
    }
}
