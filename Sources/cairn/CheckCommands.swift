import ArgumentParser
import CairnFormats
import CairnGrid
import CairnSnapshots

func printReport(_ report: CheckReport, verified: Bool) {
    var byServer: [String: [CheckReport.ShareReport]] = [:]
    for s in report.shares { byServer[s.server, default: []].append(s) }
    var names = Set(byServer.keys).union(report.unreachable.keys).sorted { (Int($0) ?? 0, $0) < (Int($1) ?? 0, $1) }
    names = names.filter { !$0.isEmpty }
    for name in names {
        if let why = report.unreachable[name] {
            Terminal.writeOut("server \(name): unreachable (\(why))\n")
            continue
        }
        let shares = byServer[name] ?? []
        let list = shares.map { s -> String in
            switch s.state {
            case .found, .good: return "\(s.share)"
            case .corrupt: return "\(s.share) (corrupt)"
            case .unreadable: return "\(s.share) (unreadable)"
            }
        }.joined(separator: ", ")
        Terminal.writeOut("server \(name): share\(shares.count == 1 ? "" : "s") \(list)\n")
    }
    for s in report.shares {
        switch s.state {
        case .corrupt(let why): Terminal.writeOut("corrupt share \(s.share) on server \(s.server): \(why)\n")
        case .unreadable(let why): Terminal.writeOut("unreadable share \(s.share) on server \(s.server) (not counted, not condemned): \(why)\n")
        case .found, .good: break
        }
    }
    let state = report.isHealthy ? "healthy" : "not healthy"
    let kind = verified ? "good" : "found"
    Terminal.writeOut("\(state): \(report.distinctShares) of \(report.n) shares \(kind) on \(report.serversWithShares) servers (need \(report.n) on at least \(report.happy); \(report.k) to read)\n")
}

struct Repair: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regenerate missing or corrupt shares onto servers that lack them.")

    @OptionGroup var gridOptions: GridOptions
    @Argument(help: "A read or verify cap; omit it inside a repository to repair every cap it uses.") var cap: String?

    func run() async throws {
        guard let cap else {
            let repo = try openRepository()
            let session = try await repo.session()
            let report = await RepositoryCheck(session: session).run(readData: false, repair: true) { Terminal.progress($0) }
            Terminal.endProgress()
            for r in report.repaired { Terminal.writeOut("repaired \(r)\n") }
            for p in report.problems { Terminal.writeOut("problem: \(p)\n") }
            Terminal.writeOut("\(report.caps) caps checked, \(report.repaired.count) repaired: \(report.problems.isEmpty ? "healthy" : "\(report.problems.count) problems left")\n")
            if !report.problems.isEmpty { throw ExitCode(Code.unhealthy) }
            return
        }
        let parsed = try parseCap(cap)
        try rejectSlotCap(parsed, "repair")
        guard let verifyCap = parsed.verifyCap else {
            Terminal.writeOut("literal cap: nothing to repair\n")
            return
        }
        let grid = try gridOptions.open()
        let outcome = try await Repairer(grid: grid).repair(verifyCap)
        let inPlace = Set(outcome.superseded.map { "\($0.share)/\($0.server)" })
        for (share, server) in outcome.written.sorted(by: { $0.key < $1.key }) {
            if inPlace.contains("\(share)/\(server)") {
                Terminal.writeOut("wrote share \(share) to server \(server), superseding its corrupt copy (kept in quarantine)\n")
            } else {
                Terminal.writeOut("wrote share \(share) to server \(server)\n")
            }
        }
        for bad in outcome.reported {
            Terminal.writeOut("reported corrupt share \(bad.share) on server \(bad.server)\n")
        }
        for failure in outcome.reportFailures {
            Terminal.warning("could not report a corrupt share: \(failure)")
        }
        printReport(outcome.after, verified: true)
        if !outcome.after.isHealthy { throw ExitCode(Code.unhealthy) }
    }
}
