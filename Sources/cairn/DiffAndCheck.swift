import CairnFiles
import ArgumentParser
import CairnFormats
import CairnGrid
import CairnSnapshots
import CairnStorage

struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show changes: worktree vs HEAD, worktree vs REV, or REV vs REV (unified diff for text, a line for binary).")
    @Argument(help: "Compare from this revision (default: the worktree's snapshot).") var from: String?
    @Argument(help: "Compare to this revision (default: the worktree).") var to: String?
    @Argument(parsing: .postTerminator, help: "Only paths under these.") var paths: [String] = []

    func run() async throws {
        let revisions = [from, to].compactMap { $0 }
        let repo = try openRepository()
        let session = try await repo.session()
        let prefixes = try paths.map { try repo.relativePath($0) }
        func wanted(_ p: String) -> Bool { prefixes.isEmpty || prefixes.contains { $0.isEmpty || p == $0 || p.hasPrefix($0 + "/") } }

        let oldID: ObjectID? = revisions.isEmpty ? try repo.base() ?? repo.headSnapshot(session.refs) : try await session.resolve(revisions[0])
        let oldTree: ObjectID? = if let oldID { try await session.objects.snapshot(oldID).tree } else { nil }
        let fromWorktree = revisions.count < 2
        // Changes come one at a time, in path order, and only the folders being compared are held.
        let show: TreeDiff.Visit = { d in
            let change = d.change, o = d.old, n = d.new
            guard wanted(change.pathString), o?.kind != .directory, n?.kind != .directory else { return }
            func bytes(_ e: FlatEntry?, worktree: Bool) async throws -> [UInt8] {
                guard let e else { return [] }
                if worktree {
                    let full = repo.workTree.appending(change.path)
                    return e.kind == .symlink ? try readLinkBytes(full) : try readFileBytes(full)
                }
                guard e.kind == .file || e.kind == .symlink else { return [] }
                return try await session.content.content(forHash: e.hash)
            }
            // A big file is shown as binary without being read (as git's core.bigFileThreshold).
            let big = [o, n].contains { ($0?.size ?? 0) > ContentStore.chunkThreshold }
            let before = big ? [] : try await bytes(o, worktree: false)
            let after = big ? [] : try await bytes(n, worktree: fromWorktree)
            let a = PathQuoting.quoted(Array("a/".utf8) + change.path), b = PathQuoting.quoted(Array("b/".utf8) + change.path)
            var header = "diff --cairn \(a) \(b)\n"
            if o == nil { header += "new file mode \(modeString(n!.mode))\n" }
            if n == nil { header += "deleted file mode \(modeString(o!.mode))\n" }
            if let o, let n, o.mode != n.mode { header += "old mode \(modeString(o.mode))\nnew mode \(modeString(n.mode))\n" }
            Terminal.writeOut(header)
            if big && o?.hash != n?.hash {
                Terminal.writeOut("Binary files \(o == nil ? "/dev/null" : a) and \(n == nil ? "/dev/null" : b) differ\n")
            } else if before != after {
                if TextDiff.isBinary(before) || TextDiff.isBinary(after) {
                    Terminal.writeOut("Binary files \(o == nil ? "/dev/null" : a) and \(n == nil ? "/dev/null" : b) differ\n")
                } else {
                    Terminal.writeOut(TextDiff.unified(before, after, oldName: o == nil ? "/dev/null" : a, newName: n == nil ? "/dev/null" : b))
                }
            }
        }
        if fromWorktree {
            _ = try FileSystem.names(in: repo.workTree)
            try await TreeDiff(objects: session.objects).worktree(oldTree, root: repo.workTree, rules: IgnoreRules(), cache: repo.statCache(),
                                                                  stateFolder: repo.state.dir, visit: show)
        } else {
            let newTree = try await session.objects.snapshot(try await session.resolve(revisions[1])).tree
            try await TreeDiff(objects: session.objects).compare(oldTree, newTree, visit: show)
        }
    }
}

func readFileBytes(_ path: FSPath) throws -> [UInt8] { try FileSystem.readFile(path, followSymlink: false) }
func readLinkBytes(_ path: FSPath) throws -> [UInt8] { try FileSystem.readLink(path) }

/// Repository-wide check (no CAP) or one cap's shares (CAP given).
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a repository (no CAP) or one file's shares (CAP); exit 0 when healthy, 1 otherwise.",
        discussion: "With a CAP: healthy means N distinct good shares on at least 'happy' servers; --verify reads and checks every block. Without: every snapshot, tree and file version reachable from a branch or tag must be present and every cap healthy; --read-data also reads and verifies all data.")

    @OptionGroup var gridOptions: GridOptions
    @Argument(help: "A read or verify cap; omit it inside a repository.") var cap: String?
    @Flag(help: "Download and verify every block of every share.") var verify = false
    @Flag(help: "Repository check: also read every share and rebuild every file version.") var readData = false
    @Flag(help: "Repository check: one JSON object with the counts, problems and repairs (Documentation/CLI.md).") var json = false
    @Flag(help: "Add or renew this client's lease on every share (of CAP, or reachable from the repository's refs, its refs slot included).")
    var addLease = false

    func run() async throws {
        guard let cap else {
            let repo = try openRepository()
            let session = try await repo.session()
            let report = await RepositoryCheck(session: session).run(readData: readData || verify, addLease: addLease) { Terminal.progress($0) }
            Terminal.endProgress()
            if json {
                try JSONOutput.write(JSONOutput.Check(snapshots: report.snapshots, trees: report.trees, versions: report.versions,
                                                      caps: report.caps, missing: report.missing, dataRead: readData || verify,
                                                      problems: report.problems, repaired: report.repaired))
                if !report.problems.isEmpty { throw ExitCode(Code.unhealthy) }
                return
            }
            for p in report.problems { Terminal.writeOut("problem: \(p)\n") }
            Terminal.writeOut("checked \(report.snapshots) snapshots, \(report.trees) trees, \(report.versions) file versions, \(report.caps) caps\(report.missing > 0 ? ", \(report.missing) missing entries" : "")\(readData || verify ? " (data read and verified)" : "")\(addLease ? ", leases renewed on \(report.leased) storage indexes" : ""): \(report.problems.isEmpty ? "no problems" : "\(report.problems.count) problems")\n")
            if !report.problems.isEmpty { throw ExitCode(Code.unhealthy) }
            return
        }
        if json { throw Failure("--json is for a repository check (no CAP)", code: Code.usage) }
        let parsed = try parseCap(cap)
        try rejectSlotCap(parsed, "check")
        guard let verifyCap = parsed.verifyCap else {
            Terminal.writeOut("literal cap: the data is inside the cap; nothing is stored on servers\n")
            return
        }
        let grid = try gridOptions.open()
        if addLease {
            let (renewed, failures) = await Checker(grid: grid).addLeases(StorageIndex(verifyCap.storageIndex)!)
            Terminal.writeOut("lease renewed on \(renewed.count) server\(renewed.count == 1 ? "" : "s")\(renewed.isEmpty ? "" : ": " + renewed.joined(separator: ", "))\n")
            for (server, why) in failures.sorted(by: { $0.key < $1.key }) { Terminal.writeOut("server \(server): lease not renewed: \(why)\n") }
        }
        let report = try await Checker(grid: grid).check(verifyCap, verify: verify)
        printReport(report, verified: verify)
        if !report.isHealthy { throw ExitCode(Code.unhealthy) }
    }
}
