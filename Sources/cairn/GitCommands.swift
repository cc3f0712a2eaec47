import ArgumentParser
import CairnFiles
import CairnGit
import CairnSnapshots

struct ImportGit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-git",
        abstract: "Import a git repository's history (or check an import with --verify).",
        discussion: """
            With no --all, --branches or --tags: the branches and tags. Running it again brings only what is new. \
            --verify recomputes, from the grid alone, the git id of every object the selected refs reach and \
            compares them with the source's (Documentation/Git.md).
            """)

    @OptionGroup var gridOptions: GridOptions
    @Argument(help: "The git repository (a local folder: a worktree or a bare repository).") var source: String
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Only branches whose name matches one of these globs.", valueName: "GLOB"))
    var branches: [String] = []
    @Flag(help: "Import tags (with --branches: as well).") var tags = false
    @Flag(help: "Every ref but refs/remotes/*, each under its full name.") var all = false
    @Flag(help: "Check the repository against the source instead of importing.") var verify = false
    @Option(help: ArgumentHelp("Create a repository in DIR first (as 'cairn init DIR'), import, and check out its default branch.",
                               valueName: "DIR"))
    var `init`: String?
    @Option(help: ArgumentHelp("The import's name (default: the source folder's name): a later import under this name goes on from it.",
                               valueName: "NAME"))
    var name: String?
    @Flag(help: "One JSON object: what was imported or verified.") var json = false

    func run() async throws {
        if verify && `init` != nil { throw Failure("--verify checks an existing import: it does not take --init", code: Code.usage) }
        let sourcePath = absolutePath(source)
        let git: GitRepository
        do { git = try GitRepository(path: sourcePath) } catch let e as GitError { throw Failure(e) }
        var options = GitImportOptions(name: name ?? Self.defaultName(sourcePath), branches: branches, tags: tags, all: all)
        guard Refs.isValidFullName(Array("refs/cairn-import/state/\(options.name)".utf8)) else {
            throw Failure("'\(options.name)' cannot name an import: give --name a short name without spaces or slashes at the ends", code: Code.usage)
        }
        options.progress = { Terminal.progress($0) }
        if verify {
            let repo = try openRepository()
            let session = try await repo.session()
            let report: GitTransferReport
            do { report = try await GitTransfer.verify(source: git, session: session, options: options) { Terminal.progress($0) } } catch let e as GitError {
                Terminal.endProgress()
                throw Failure(e)
            }
            Terminal.endProgress()
            if json {
                try JSONOutput.write(VerifyJSON(report))
            } else {
                Terminal.writeOut("verified \(report.refs) refs: \(report.objects) git objects (\(report.bytes >> 20) MiB) rebuilt from the grid with the source's ids"
                                  + (report.missingBlobs > 0 ? "; \(report.missingBlobs) blobs the source never had are named, not rebuilt" : "")
                                  + " (\(String(format1: report.seconds)) s)\n")
            }
            return
        }
        let repo: Repository
        var existed = true
        if let dir = `init` {
            if let existing = try? FileSystem.names(in: absolutePath(dir)), !existing.isEmpty {
                throw Failure("\(absolutePath(dir)) is not empty: import with --init into a new or empty folder", code: Code.usage)
            }
            existed = FileSystem.exists(FSPath(absolutePath(dir)))
            (repo, _, _) = try await initializeRepository(dir, gridOptions: gridOptions, encoding: "3-of-10")
        } else {
            repo = try openRepository()
        }
        let summary: GitImportSummary
        do { summary = try await GitImporter(source: git, repository: repo, options: options).run() } catch {
            Terminal.endProgress()
            // A repository made for this import goes with it (as a failed clone's folder does): run it again.
            if let dir = `init` {
                let path = FSPath(absolutePath(dir))
                if existed {
                    for name in (try? FileSystem.names(in: path)) ?? [] { try? FileSystem.remove(path.appending(name)) }
                } else {
                    try? FileSystem.remove(path)
                }
            }
            if let e = error as? GitError { throw Failure(e) }
            throw error
        }
        Terminal.endProgress()
        for w in summary.warnings.prefix(20) { Terminal.warning(w) }
        for m in summary.missing.prefix(20) {
            Terminal.warning("blob \(m.blob) at \(PathQuoting.quoted(m.path)) (commit \(m.commit.prefix(12))) is not in the source: recorded as missing")
        }
        if summary.missing.count > 20 { Terminal.warning("… and \(summary.missing.count - 20) more missing blobs") }
        if let dir = `init` {
            // As git clone: the default branch, checked out.
            let session = try await repo.session()
            if let branch = session.refs.defaultBranchName, let id = session.refs.branches[branch] {
                try repo.setHead(.branch(branch))
                try repo.setBase(id)
                try await repo.checkout(id.hex, relativePaths: [""], force: true) { Terminal.progress($0) }
                Terminal.endProgress()
            }
            _ = dir
        }
        if json {
            try JSONOutput.write(ImportJSON(summary))
            return
        }
        if summary.nothingNew {
            Terminal.writeOut("nothing new to import from \(sourcePath)\n")
            return
        }
        var line = "imported \(summary.commits) commits, \(summary.trees) trees, \(summary.blobs) blobs (\(summary.blobBytes >> 20) MiB), "
            + "\(summary.tags) tags; \(summary.refsChanged) refs updated"
        if summary.rawKept > 0 { line += "; \(summary.rawKept) objects kept as raw git bytes" }
        if summary.gitlinks > 0 { line += "; \(summary.gitlinks) submodule links" }
        if summary.lfsPointers > 0 { line += "; \(summary.lfsPointers) Git LFS pointer files (kept as pointers)" }
        if summary.shallowBoundary > 0 { line += "; \(summary.shallowBoundary) commits at a shallow boundary" }
        if !summary.missing.isEmpty { line += "; \(summary.missing.count) missing blobs" }
        if !summary.replaced.isEmpty { line += "; \(summary.replaced.count) refs replaced by a forced push kept under refs/cairn-import/replaced/" }
        let rate = Double(summary.commits) / max(summary.seconds, 0.001)
        line += " (\(String(format1: summary.seconds)) s, \(Int(rate)) commits/s)"
        Terminal.writeOut(line + "\n")
    }

    static func defaultName(_ path: String) -> String {
        var last = path.split(separator: "/").last.map(String.init) ?? "git"
        if last == ".git" { last = path.split(separator: "/").dropLast().last.map(String.init) ?? "git" }
        if last.hasSuffix(".git") { last.removeLast(4) }
        let cleaned = String(last.map { c in c.isLetter || c.isNumber || c == "-" || c == "_" || c == "." ? c : "-" })
        return cleaned.isEmpty || cleaned.hasPrefix(".") ? "git" : cleaned
    }

    struct ImportJSON: Encodable {
        let nothing_new: Bool
        let commits: Int, trees: Int, blobs: Int, tags: Int
        let blob_bytes: UInt64
        let raw_kept: Int, refs_changed: Int, gitlinks: Int, lfs_pointers: Int, shallow_boundary: Int
        let missing: [Missing]
        let replaced: [String]
        let warnings: [String]
        let seconds: Double
        struct Missing: Encodable { let path: String; let commit: String; let blob: String }
        init(_ s: GitImportSummary) {
            nothing_new = s.nothingNew; commits = s.commits; trees = s.trees; blobs = s.blobs; tags = s.tags; blob_bytes = s.blobBytes
            raw_kept = s.rawKept; refs_changed = s.refsChanged; gitlinks = s.gitlinks; lfs_pointers = s.lfsPointers
            shallow_boundary = s.shallowBoundary
            missing = s.missing.map { Missing(path: String(decoding: $0.path, as: UTF8.self), commit: $0.commit, blob: $0.blob) }
            replaced = s.replaced; warnings = s.warnings; seconds = s.seconds
        }
    }

    struct VerifyJSON: Encodable {
        let refs: Int, objects: Int, bytes: UInt64, missing_blobs: Int, seconds: Double
        init(_ r: GitTransferReport) { refs = r.refs; objects = r.objects; bytes = r.bytes; missing_blobs = r.missingBlobs; seconds = r.seconds }
    }
}

struct ExportGit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-git",
        abstract: "Write the repository's history as a new bare git repository.",
        discussion: "Imported history comes back object for object; snapshots made by Cairn become ordinary git commits (Documentation/Git.md).")

    @Argument(help: "A new or empty folder.") var destination: String

    func run() async throws {
        let repo = try openRepository()
        let session = try await repo.session()
        let path = absolutePath(destination)
        if let names = try? FileSystem.names(in: FSPath(path)), !names.isEmpty {
            throw Failure("\(path) is not empty: export into a new or empty folder", code: Code.usage)
        }
        let existed = FileSystem.exists(FSPath(path))
        let report: GitTransferReport
        do { report = try await GitTransfer.export(session: session, to: path) { Terminal.progress($0) } } catch {
            Terminal.endProgress()
            // The folder was new or empty: what the failed export wrote goes, so it can simply be run again.
            if existed {
                for name in (try? FileSystem.names(in: FSPath(path))) ?? [] { try? FileSystem.remove(FSPath(path).appending(name)) }
            } else {
                try? FileSystem.remove(FSPath(path))
            }
            if let e = error as? GitError { throw Failure(e) }
            throw error
        }
        Terminal.endProgress()
        Terminal.writeOut("exported \(report.refs) refs, \(report.objects) git objects (\(report.bytes >> 20) MiB) to \(path)"
                          + (report.missingBlobs > 0 ? "; \(report.missingBlobs) blobs the import never had are named, not written" : "")
                          + " (\(String(format1: report.seconds)) s)\n")
    }
}

extension Failure {
    init(_ error: GitError) {
        switch error {
        case .url, .sha256: self.init(error.description, code: Code.usage)
        case .notARepository: self.init(error.description, code: Code.noInput)
        case .library: self.init(error.description, code: Code.ioError)
        case .missingObject, .malformed, .verification: self.init(error.description, code: Code.integrity)
        }
    }
}

extension String {
    /// One decimal place.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
