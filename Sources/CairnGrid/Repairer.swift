import CairnFormats
import CairnPrimitives
import CairnStorage

/// Regenerates share numbers that have no good copy, block by block, replacements first.
///
/// Nothing is lost whatever happens (Documentation/Repair.md): replacements are decoded from every block that
/// verifies, written and synced before anything is reported; a server that supersedes shares keeps the bad
/// copy in quarantine; only bytes that failed their hash are reported corrupt, and only after the
/// replacements are durable. A share that could not be read is never replaced in place nor reported.
public struct Repairer: Sendable {
    public let grid: Grid
    public init(grid: Grid) { self.grid = grid }

    public struct Outcome: Sendable {
        public let before: CheckReport
        public let after: CheckReport
        /// Share number → name of the server that received a replacement.
        public let written: [ShareNumber: String]
        /// Copies replaced in place (the server keeps the old bytes in quarantine).
        public let superseded: [CheckReport.ShareReport]
        /// Proven-corrupt copies reported to their servers (after the replacements were durable).
        public let reported: [CheckReport.ShareReport]
        /// Reports that could not be delivered (the replacements are durable regardless).
        public let reportFailures: [String]
    }

    public func repair(_ cap: VerifyCap) async throws -> Outcome {
        let checker = Checker(grid: grid)
        let before = try await checker.check(cap, verify: true)
        if before.isHealthy {
            return Outcome(before: before, after: before, written: [:], superseded: [], reported: [], reportFailures: [])
        }
        let index = StorageIndex(cap.storageIndex)!
        let byID = Dictionary(grid.servers.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

        var good: [ShareNumber: [any StorageServer]] = [:]
        var holders: [ShareNumber: [any StorageServer]] = [:]
        var avoid: [ShareNumber: Set<ServerID>] = [:]
        for s in before.shares {
            guard let server = byID[s.serverID] else { continue }
            holders[s.share, default: []].append(server)
            if s.state == .good { good[s.share, default: []].append(server) } else { avoid[s.share, default: []].insert(s.serverID) }
        }
        let needed = (0..<cap.n).filter { good[$0] == nil }
        var written: [ShareNumber: String] = [:]
        var superseded: [CheckReport.ShareReport] = []
        if !needed.isEmpty {
            let recovery = try await BlockRecovery.open(index: index, cap: cap, holders: holders)
            let encoder = try ShareEncoder(geometry: recovery.geometry)
            let shareSize = encoder.layout.shareSize

            // A proven-bad copy on a server that can supersede it is replaced where it is.
            // One upload secret for every replacement of this repair, in place or elsewhere.
            let secret = SecureRandom.bytes(32)
            var targets: [ShareNumber: any StorageServer] = [:]
            var inPlace: [ShareNumber: CheckReport.ShareReport] = [:]
            for bad in before.corruptShares where needed.contains(bad.share) && targets[bad.share] == nil {
                guard let server = byID[bad.serverID], server.capabilities.supersedesShares else { continue }
                let r = await outcome {
                    try await server.allocateReplacements(index, shares: [bad.share], shareSize: shareSize,
                                                          secrets: grid.uploadSecrets(index, server, upload: secret))
                }
                if case .success(let got) = r, got.contains(bad.share) {
                    targets[bad.share] = server
                    inPlace[bad.share] = bad
                }
            }
            // The rest go to servers that hold no copy of that share number.
            let elsewhere = needed.filter { targets[$0] == nil }
            var placement = Placement()
            if !elsewhere.isEmpty {
                var existing = good
                for (share, server) in targets { existing[share, default: []].append(server) }
                do {
                    placement = try await Placement.place(index, shareSize: shareSize, wanted: elsewhere, existing: existing,
                                                          failures: before.unreachableIDs, avoid: avoid, secret: secret, grid: grid)
                } catch {
                    await abort(index, targets, secret)
                    throw error
                }
            }
            targets.merge(placement.targets) { a, _ in a }

            do {
                _ = try await encoder.encode(index: index, targets: targets, secret: secret, accept: { ueb in
                    guard ueb.hash == cap.uebHash else {
                        throw GridError.integrity("regenerated shares do not match the cap; nothing was written in place of anything")
                    }
                }) { i in try await recovery.segment(i) }
            } catch {
                await abort(index, targets, secret)
                throw error
            }
            var receivers: [ServerID: any StorageServer] = [:]
            for server in targets.values { receivers[server.id] = server }
            let failures = await grid.syncAll(only: Array(receivers.values))
            if !failures.isEmpty {
                throw GridError.io(path: "grid", reason: "could not make every repaired share durable (nothing was reported; replacements that did become durable are verified copies): "
                    + failures.values.sorted().joined(separator: "; "))
            }
            for (share, server) in targets { written[share] = server.name }
            superseded = inPlace.values.sorted { $0.share < $1.share }
        }

        // Replacements are durable: only now tell servers about proven corruption.
        var reported: [CheckReport.ShareReport] = []
        var reportFailures: [String] = []
        for bad in before.corruptShares {
            guard let server = byID[bad.serverID], case .corrupt(let why) = bad.state else { continue }
            switch await outcome({ try await server.reportCorrupt(index, share: bad.share, reason: why) }) {
            case .success: reported.append(bad)
            case .failure(let e): reportFailures.append(describe(e))
            }
        }
        let after = try await checker.check(cap, verify: true)
        return Outcome(before: before, after: after, written: written, superseded: superseded,
                       reported: reported, reportFailures: reportFailures)
    }

    private func abort(_ index: StorageIndex, _ targets: [ShareNumber: any StorageServer], _ secret: [UInt8]) async {
        for (share, server) in targets {
            _ = await outcome { try await server.abort(ShareUpload(index: index, share: share, secret: secret)) }
        }
    }
}
