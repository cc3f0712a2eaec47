import CairnFormats
import CairnPrimitives
import CairnStorage

/// What `check` found for one file.
public struct CheckReport: Sendable {
    public enum State: Sendable, Equatable {
        /// Listed by the server; not read (check without --verify).
        case found
        case good
        /// Bytes were read in full and failed their hash: proven bad.
        case corrupt(String)
        /// Could not be read this time (I/O error, permission, too many open files, a short read): nothing is
        /// known about the stored bytes, so the share is neither counted nor condemned.
        case unreadable(String)
    }
    public struct ShareReport: Sendable {
        public let server: String
        public let serverID: ServerID
        public let share: ShareNumber
        public let state: State
    }

    public let k: Int
    public let n: Int
    public let happy: Int
    public var shares: [ShareReport]
    /// Servers that could not be asked, by display name (this is a report for people), with the reason.
    public var unreachable: [String: String]
    /// The same, by server id (what repair and placement go by).
    public var unreachableIDs: [ServerID: String]

    /// Shares that count: good ones, or (without verification) every one found.
    var usable: [ShareReport] { shares.filter { $0.state == .good || $0.state == .found } }
    public var distinctShares: Int { Set(usable.map(\.share)).count }
    public var serversWithShares: Int { Set(usable.map(\.server)).count }
    /// N distinct good shares on at least `happy` servers.
    public var isHealthy: Bool { distinctShares == n && serversWithShares >= happy }
    public var corruptShares: [ShareReport] { shares.filter { if case .corrupt = $0.state { return true } else { return false } } }
    public var unreadableShares: [ShareReport] { shares.filter { if case .unreadable = $0.state { return true } else { return false } } }
}

/// Counts shares, and with `verify` reads every block of every share and checks it.
public struct Checker: Sendable {
    public let grid: Grid
    public init(grid: Grid) { self.grid = grid }

    public func check(_ cap: VerifyCap, verify: Bool) async throws -> CheckReport {
        let index = StorageIndex(cap.storageIndex)!
        let (holders, failures) = await grid.locate(index)
        let byName = Dictionary(failures.map { (grid.name(of: $0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
        var report = CheckReport(k: cap.k, n: cap.n, happy: grid.parameters.happy, shares: [], unreachable: byName,
                                 unreachableIDs: failures)
        var pairs: [(ShareNumber, any StorageServer)] = []
        for (share, servers) in holders { for s in servers { pairs.append((share, s)) } }
        pairs.sort { a, b in a.1.name != b.1.name ? a.1.name.localizedStandardLess(b.1.name) : a.0 < b.0 }
        if !verify {
            report.shares = pairs.map { CheckReport.ShareReport(server: $0.1.name, serverID: $0.1.id, share: $0.0, state: .found) }
            return report
        }
        let results = await withTaskGroup(of: CheckReport.ShareReport.self) { group in
            var next = 0
            var out: [CheckReport.ShareReport] = []
            func launch(_ i: Int) {
                let (share, server) = pairs[i]
                group.addTask {
                    let state = await Self.verifyShare(server: server, share: share, index: index, cap: cap)
                    return CheckReport.ShareReport(server: server.name, serverID: server.id, share: share, state: state)
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

    /// Adds or renews this client's lease on every share of `index` on every server holding one (Tahoe nodes
    /// keep a share while a lease is younger than 31 days; local folders keep everything). Returns the
    /// servers renewed and, per server, why it could not be.
    public func addLeases(_ index: StorageIndex, slot: Bool = false) async -> (renewed: [String], failures: [String: String]) {
        var servers: [ServerID: any StorageServer] = [:]
        var failures: [String: String] = [:]
        if slot {
            // A slot's shares are listed by the mutable calls (an empty read says which shares a server holds).
            let held = await withTaskGroup(of: (any StorageServer, Result<Bool, Error>).self) { group in
                for server in grid.servers {
                    group.addTask { (server, await outcome { !(try await server.readMutable(index, shares: nil, ranges: [])).isEmpty }) }
                }
                var out: [(any StorageServer, Result<Bool, Error>)] = []
                for await r in group { out.append(r) }
                return out
            }
            for (server, result) in held {
                switch result {
                case .success(true): servers[server.id] = server
                case .success(false): break
                case .failure(let e): failures[server.name] = describe(e)
                }
            }
        } else {
            let (holders, locateFailures) = await grid.locate(index)
            for list in holders.values { for s in list { servers[s.id] = s } }
            failures = Dictionary(locateFailures.map { (grid.name(of: $0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
        }
        let results = await withTaskGroup(of: (String, String?).self) { group in
            for server in servers.values {
                let secrets = grid.leases.secrets(index, server.id)
                group.addTask {
                    do { try await server.addLease(index, secrets: secrets); return (server.name, nil) } catch { return (server.name, describe(error)) }
                }
            }
            var out: [(String, String?)] = []
            for await r in group { out.append(r) }
            return out
        }
        var renewed: [String] = []
        for (name, error) in results {
            if let error { failures[name] = error } else { renewed.append(name) }
        }
        return (renewed.sorted { $0.localizedStandardLess($1) }, failures)
    }

    /// Reads every block of one share. Only bytes that fail their hash make it `.corrupt`; a read that fails
    /// makes it `.unreadable` (a transient error is never taken for corruption).
    static func verifyShare(server: any StorageServer, share: ShareNumber, index: StorageIndex, cap: VerifyCap) async -> CheckReport.State {
        let opened: VerifiedShare
        do {
            opened = try await VerifiedShare.open(server: server, index: index, number: share, uebHash: cap.uebHash,
                                                  expectedSize: cap.size, k: cap.k, n: cap.n)
        } catch {
            return isProvenCorruption(error) ? .corrupt(Self.reason(error)) : .unreadable(Self.reason(error))
        }
        var badSegments: [Int] = []
        var unreadable: (segment: Int, error: Error)?
        for segment in 0..<opened.ueb.segmentCount {
            do { _ = try await opened.block(segment, index: index) } catch {
                if isProvenCorruption(error) { badSegments.append(segment) } else if unreadable == nil { unreadable = (segment, error) }
            }
        }
        if !badSegments.isEmpty {
            let list = badSegments.prefix(10).map(String.init).joined(separator: ", ") + (badSegments.count > 10 ? ", …" : "")
            return .corrupt("bad block\(badSegments.count == 1 ? "" : "s") in segment\(badSegments.count == 1 ? "" : "s") \(list)")
        }
        if let (segment, error) = unreadable { return .unreadable("segment \(segment): \(Self.reason(error))") }
        return .good
    }

    static func reason(_ error: Error) -> String {
        if let f = error as? FormatError { return f.description }
        return describe(error)
    }
}
