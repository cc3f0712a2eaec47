import ArgumentParser
import CairnFormats
import CairnGrid

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
            case .bad: return "\(s.share) (bad)"
            }
        }.joined(separator: ", ")
        Terminal.writeOut("server \(name): share\(shares.count == 1 ? "" : "s") \(list)\n")
    }
    for bad in report.badShares {
        if case .bad(let why) = bad.state { Terminal.writeOut("bad share \(bad.share) on server \(bad.server): \(why)\n") }
    }
    let state = report.isHealthy ? "healthy" : "not healthy"
    let kind = verified ? "good" : "found"
    Terminal.writeOut("\(state): \(report.distinctShares) of \(report.n) shares \(kind) on \(report.serversWithShares) servers (need \(report.n) on at least \(report.happy); \(report.k) to read)\n")
}

struct Repair: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regenerate missing or corrupt shares onto servers that lack them.")

    @OptionGroup var gridOptions: GridOptions
    @Argument(help: "A read or verify cap.") var cap: String

    func run() async throws {
        let parsed = try parseCap(cap)
        try rejectSlotCap(parsed, "repair")
        guard let verifyCap = parsed.verifyCap else {
            Terminal.writeOut("literal cap: nothing to repair\n")
            return
        }
        let grid = try gridOptions.open()
        let outcome = try await Repairer(grid: grid).repair(verifyCap)
        for bad in outcome.dropped {
            Terminal.writeOut("dropped bad share \(bad.share) on server \(bad.server)\n")
        }
        for (share, server) in outcome.written.sorted(by: { $0.key < $1.key }) {
            Terminal.writeOut("wrote share \(share) to server \(server)\n")
        }
        printReport(outcome.after, verified: true)
        if !outcome.after.isHealthy { throw ExitCode(Code.unhealthy) }
    }
}
