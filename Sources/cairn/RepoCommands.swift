import CairnFiles
import ArgumentParser
import CairnFormats
import CairnPrimitives
import CairnGrid
import CairnSnapshots
#if canImport(Glibc)
import Glibc
#endif

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a repository: a refs slot on the grid and local state in .cairn/.",
        discussion: "Prints the repository's write cap once: keep it safe. With it and the grid, any machine can clone, restore and commit.")

    @OptionGroup var gridOptions: GridOptions
    @Argument(help: "The folder to make a repository of (default: the current one).") var directory: String?
    @Option(help: ArgumentHelp("Erasure coding for a grid created now, K-of-N.", valueName: "K-of-N")) var encoding = "3-of-10"
    @Option(help: ArgumentHelp("Back up this folder but keep the state in DIRECTORY/.cairn (for trees you cannot write into).", valueName: "DIR"))
    var workTree: String?

    func run() async throws {
        let (_, writeCap, dir) = try await initializeRepository(directory ?? ".", gridOptions: gridOptions, encoding: encoding,
                                                                workTree: workTree)
        Terminal.writeOut(writeCap + "\n")
        // Success is said plainly, as git does; "cairn: " starts errors and warnings only.
        Terminal.writeErr("Initialized a repository in \(dir)/.cairn; the line above is its write cap: keep it safe and private (it is also in .cairn/config; 'cairn cap' shows it again)\n")
    }
}

/// `cairn init`'s work (also `import-git --init`): a grid created if there is none, a refs slot, local state.
/// Returns the repository, its write cap and the folder.
func initializeRepository(_ directory: String, gridOptions: GridOptions, encoding: String, workTree: String? = nil)
    async throws -> (Repository, String, String) {
    let dir = absolutePath(directory)
    let stateDir = FSPath(dir).appending(Array(LocalState.folderName.utf8))
    // Before anything is created (a grid, a slot): a .cairn that is not a folder stops init here.
    if let st = try? FileSystem.linkStatus(stateDir), st.kind != .directory {
        throw Failure("\(stateDir) exists and is not a folder: move it away, then run 'cairn init' again", code: Code.config)
    }
    let (gridPath, _) = gridOptions.resolved
    let grid: Grid
    do { grid = try ConfiguredGrids().open(at: gridPath) } catch GridError.noGrid {
        let (k, n) = try EncodingParameters.parseEncoding(encoding)
        let happy = max(k, (n * 7 + 9) / 10)  // 7 of 10; always a strict majority, as slots need
        try LocalGrid.create(at: gridPath, servers: n, parameters: try EncodingParameters(k: k, n: n, happy: happy))
        Terminal.warning("created a new local grid at \(gridPath) (\(n) servers, \(k)-of-\(n), happy \(happy))")
        grid = try ConfiguredGrids().open(at: gridPath)
    }
    let state = LocalState(dir: FSPath(dir).appending(Array(LocalState.folderName.utf8)))
    let (repo, writeCap) = try await Repository.initialize(state: state, workTree: workTree.map { FSPath(absolutePath($0)) },
                                                           gridPath: absolutePath(gridPath), grid: grid, provider: SlotRefStoreProvider())
    return (repo, writeCap, dir)
}

struct Commit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Snapshot the worktree and move the current branch to it.")

    @Option(name: .shortAndLong, help: "The snapshot message.") var message: String
    @Option(help: ArgumentHelp("Author as 'Name <email>'.", valueName: "AUTHOR")) var author: String?
    @Option(help: ArgumentHelp("Author and commit time (ISO date or time, '3 days ago', …).", valueName: "DATE")) var date: String?
    @Flag(help: "Make a snapshot even when nothing changed.") var allowEmpty = false
    @Option(help: ArgumentHelp("Leave out paths matching a gitignore-style pattern (repeatable).", valueName: "PATTERN"))
    var exclude: [String] = []

    func run() async throws {
        let repo = try openRepository()
        let now = FileSystem.currentTimeSeconds()
        let when = try date.map { try DateParser.parse($0, now: now) }
        let sig = try author.map { try parseAuthor($0, time: when?.time ?? now, zone: when?.zone ?? localZoneOffsetMinutes(at: now)) }
        var request = CommitRequest(message: message, author: sig, date: when, allowEmpty: allowEmpty, excludes: exclude)
        request.progress = { Terminal.progress($0) }
        let outcome = try await repo.commit(request)
        Terminal.endProgress()
        // The first few of each, then how many more: a vanished folder of 2,000 files is one story, not 2,000 lines.
        let shown = 20
        for p in outcome.skipped.prefix(shown) { Terminal.warning("\(p.path): \(p.message)") }
        if outcome.skipped.count > shown { Terminal.warning("… and \(outcome.skipped.count - shown) more special files skipped") }
        for p in outcome.unreadable.prefix(shown) { Terminal.error("\(p.path): cannot read: \(p.message)") }
        if outcome.unreadable.count > shown {
            Terminal.error("… and \(outcome.unreadable.count - shown) more files could not be read (\(outcome.unreadable.count) in all; the snapshot was made without them)")
        }
        guard let id = outcome.snapshot else {
            Terminal.writeOut("nothing to commit\n")
            return
        }
        Terminal.writeOut("[\(outcome.branch ?? "detached") \(id.short)] \(message.split(separator: "\n").first ?? "")\n")
        if !outcome.unreadable.isEmpty { throw ExitCode(Code.partialCommit) }
    }
}


struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show uncommitted changes (A added, M modified, D deleted).")
    @Flag(help: "One JSON object: branch or detached id, and the changes (Documentation/CLI.md).") var json = false
    func run() async throws {
        let repo = try openRepository()
        let session = try await repo.session()
        let head = try repo.head()
        if json {
            var changes: [JSONOutput.Change] = []
            try await repo.status(session) { d in changes.append(JSONOutput.Change(d.change)) }
            let (branch, detached): (String?, String?) = switch head {
            case .branch(let b): (b, nil)
            case .detached(let id): (nil, id.hex)
            }
            try JSONOutput.write(JSONOutput.Status(branch: branch, detached: detached, changes: changes))
            return
        }
        if case .branch(let b) = head { Terminal.writeOut("On branch \(b)\n") } else if case .detached(let id) = head { Terminal.writeOut("HEAD detached at \(id.short)\n") }
        var clean = true
        try await repo.status(session) { d in
            clean = false
            Terminal.writeOut("\(d.change.kind.rawValue) \(PathQuoting.quoted(d.change.path))\n")
        }
        if clean { Terminal.writeOut("nothing to commit, worktree clean\n") }
    }
}

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show snapshot history, newest first (only those touching PATH with -- PATH).")
    @Flag(help: "One line per snapshot: short id and first line of the message.") var oneline = false
    @Flag(help: "A JSON array of snapshots (Documentation/CLI.md).") var json = false
    @Option(name: .short, help: "At most this many snapshots.") var n: Int?
    @Argument(help: "Where to start (default: HEAD).") var revision: String?
    @Argument(parsing: .postTerminator, help: "Only snapshots that changed this path.") var paths: [String] = []

    func run() async throws {
        let repo = try openRepository()
        let session = try await repo.session()
        guard try repo.headSnapshot(session.refs) != nil || revision != nil else {
            if json { Terminal.writeOut("[]\n") }
            return
        }
        let tip = try await session.resolve(revision ?? "HEAD")
        let path = try paths.first.map { try repo.relativePath($0) }
        let entries = try await session.log(from: tip, path: path, limit: n)
        if json {
            try JSONOutput.write(entries.map { JSONOutput.Snapshot($0.0, $0.1) })
        } else if oneline {
            for (id, s) in entries { Terminal.writeOut("\(id.short) \(firstLine(s.message))\n") }
        } else {
            Terminal.writeOut(entries.map { formatSnapshot($0.0, $0.1) }.joined(separator: "\n"))
        }
    }
}

struct Cat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a file as it is in a snapshot: REV:PATH.")
    @Argument(help: "REV:PATH") var target: String
    @Option(help: ArgumentHelp("Only this inclusive byte range: START-END, or START- to the end (as 'get --range'); fetches only the chunks covering it.",
                               valueName: "START-END"))
    var range: String?
    func run() async throws {
        let repo = try openRepository()
        let session = try await repo.session()
        let (rev, path) = RevisionResolver.splitPath(target)
        guard let path else { throw Failure("name a file as REV:PATH", code: Code.usage) }
        let id = try await session.resolve(rev.isEmpty ? "HEAD" : rev)
        let entry = try await session.entry(path, in: id, revision: rev)
        if entry.kind == .missing { throw Failure(missingNote(path, entry), code: Code.noInput) }
        guard entry.hasContent else {
            throw Failure("'\(path)' in \(rev) is a \(entry.kind), not a file", code: Code.usage)
        }
        let wanted = try range.map { try Get.parseRange($0, size: entry.size) }
        try await session.content.write(entry.hash, range: wanted) { _, piece in try FileDescriptor.standardOutput.write(piece) }
    }
}

struct Ls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a directory of a snapshot: REV[:PATH].")
    @Argument(help: "REV[:PATH]") var target: String = "HEAD"
    @Flag(help: "A JSON array of entries (Documentation/CLI.md).") var json = false
    func run() async throws {
        let repo = try openRepository()
        let session = try await repo.session()
        let (rev, path) = RevisionResolver.splitPath(target)
        let id = try await session.resolve(rev.isEmpty ? "HEAD" : rev)
        let entry = try await session.entry(path ?? "", in: id, revision: rev)
        let entries: [TreeEntry]
        if entry.kind == .directory, let tid = ObjectID(entry.hash) { entries = try await session.objects.tree(tid).entries } else { entries = [entry] }
        if json { return try JSONOutput.write(entries.map(JSONOutput.Entry.init)) }
        for e in entries {
            let suffix = e.kind == .directory ? "/" : e.kind == .missing ? "  (missing: known as \(Hex.encode(e.hash)))" : ""
            Terminal.writeOut("\(modeString(e.mode)) \(e.kind) \(e.size)\t\(PathQuoting.quoted(e.name))\(suffix)\n")
        }
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a snapshot and what it changed, or a file or directory: REV[:PATH].")
    @Argument(help: "REV[:PATH]") var target: String = "HEAD"
    @Flag(help: "JSON: a snapshot and its changes, or a folder's entries as 'ls --json' (Documentation/CLI.md).") var json = false
    func run() async throws {
        let repo = try openRepository()
        let session = try await repo.session()
        let (rev, path) = RevisionResolver.splitPath(target)
        let id = try await session.resolve(rev.isEmpty ? "HEAD" : rev)
        if let path {
            let entry = try await session.entry(path, in: id, revision: rev)
            if json {
                guard entry.kind == .directory, let tid = ObjectID(entry.hash) else {
                    throw Failure("--json shows snapshots and folders; '\(path)' is a \(entry.kind) (use cat for its bytes)", code: Code.usage)
                }
                return try JSONOutput.write(try await session.objects.tree(tid).entries.map(JSONOutput.Entry.init))
            }
            if entry.kind == .directory, let tid = ObjectID(entry.hash) {
                for e in try await session.objects.tree(tid).entries { Terminal.writeOut(PathQuoting.quoted(e.name) + (e.kind == .directory ? "/" : "") + "\n") }
            } else if entry.kind == .missing {
                Terminal.error("warning: " + missingNote(path, entry))
            } else if entry.hasContent {
                try await writeContent(session.content, entry.hash)
            }
            return
        }
        // An annotated tag shows itself first, as git does.
        if let t = session.refs.tags[rev], t.kind == .tag, let tid = t.id {
            let tag = try await session.objects.annotatedTag(tid)
            var header = "tag \(String(decoding: tag.name, as: UTF8.self))\n"
            if let who = tag.tagger {
                header += "Tagger: \(who.name) <\(who.email)>\nDate:   \(DateParser.format(who.time, zone: who.zoneOffset))\n"
            }
            Terminal.writeOut(header + "\n" + String(decoding: tag.message, as: UTF8.self) + "\n")
        }
        let s = try await session.objects.snapshot(id)
        let before: ObjectID? = if let p = s.parents.first { try await session.objects.snapshot(p).tree } else { nil }
        if json {
            var changes: [JSONOutput.Change] = []
            try await TreeDiff(objects: session.objects).compare(before, s.tree) { d in
                if (d.new ?? d.old)?.kind != .directory { changes.append(JSONOutput.Change(d.change)) }
            }
            return try JSONOutput.write(JSONOutput.Show(snapshot: JSONOutput.Snapshot(id, s), changes: changes))
        }
        Terminal.writeOut(formatSnapshot(id, s) + "\n")
        try await TreeDiff(objects: session.objects).compare(before, s.tree) { d in
            guard (d.new ?? d.old)?.kind != .directory else { return }
            Terminal.writeOut("\(d.change.kind.rawValue) \(PathQuoting.quoted(d.change.path))\n")
        }
    }
}

struct CheckoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "checkout", abstract: "Check out a snapshot (or only some paths of it) into the worktree.")
    @Argument(help: "A revision: branch, tag, id, HEAD~2, main@{2026-03-03}, …") var revision: String
    @Argument(parsing: .postTerminator, help: "Only these paths; HEAD does not move.") var paths: [String] = []
    @Flag(help: "Overwrite uncommitted changes.") var force = false
    func run() async throws {
        let repo = try openRepository()
        let missing = try await repo.checkout(revision, paths: paths, force: force) { Terminal.progress($0) }
        Terminal.endProgress()
        for path in missing {
            Terminal.error("warning: \(path): missing from the repository (its content was never stored); not written")
        }
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a file as it was at a date (on the current branch's first-parent line).")
    @Argument(help: "The path in the worktree.") var path: String
    @Option(help: ArgumentHelp("ISO date or time, '3 days ago', yesterday…", valueName: "DATE")) var at: String
    @Option(name: .shortAndLong, help: ArgumentHelp("Write here ('-' for stdout) instead of the worktree.", valueName: "OUT")) var output: String?
    @Flag(help: "Overwrite an uncommitted change to PATH.") var force = false

    func run() async throws {
        let repo = try openRepository()
        let session = try await repo.session()
        let rel = try repo.relativePath(path)
        let now = FileSystem.currentTimeSeconds()
        let (date, _) = try DateParser.parse(at, now: now)
        let tip = try await session.resolve("HEAD")
        let id = try await session.resolver.asOf(date, from: tip, "HEAD@{\(at)}")
        let entry = try await session.entry(rel, in: id, revision: "HEAD@{\(at)}")
        if let output {
            if entry.kind == .missing { throw Failure(missingNote(rel, entry), code: Code.noInput) }
            guard entry.hasContent else { throw Failure("'\(rel)' is a directory; restore it into the worktree or use checkout", code: Code.usage) }
            let existing = try? FileSystem.linkStatus(FSPath(output))
            if output == "-" { try await writeContent(session.content, entry.hash) } else if let existing, existing.kind != .file {
                // A device, a FIFO or a symlink is written through, in order, as standard output would be.
                let f = try FileDescriptor.open(FSPath(output), flags: O_WRONLY | O_TRUNC)
                try await session.content.write(entry.hash) { _, piece in try f.write(piece) }
                try f.close()
            } else {
                // Written beside OUT and renamed over it: a failed restore leaves OUT as it was.
                let f = try AtomicFile(replacing: FSPath(output), permissions: 0o644)
                try f.file.truncate(to: try await Checkout.writeSparse(content: session.content, hash: entry.hash, to: f.file))
                try f.commit(.fileOnly)
            }
            return
        }
        let missing = try await repo.checkout(id.hex, relativePaths: [rel], force: force) { Terminal.progress($0) }
        Terminal.endProgress()
        for path in missing {
            Terminal.error("warning: \(path): missing from the repository (its content was never stored); not written")
        }
    }
}

struct Branch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List branches, or create (NAME [REV]) or delete (-d NAME) one.")
    @Flag(name: .short, help: "Delete the branch.") var delete = false
    @Argument(help: "The branch to create or delete; none lists the branches.") var name: String?
    @Argument(help: "Where a new branch points (default: HEAD).") var revision: String?
    func run() async throws {
        let repo = try openRepository()
        try await moveRef(repo, tags: false, name: name, revision: revision, delete: delete)
    }
}

struct Tag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List tags, or create (NAME [REV]) or delete (-d NAME) one; -m makes an annotated tag.")
    @Flag(name: .short, help: "Delete the tag.") var delete = false
    @Option(name: .shortAndLong, help: "Make an annotated tag with this message (a tag object: tagger, date, message).") var message: String?
    @Argument(help: "The tag to create or delete; none lists the tags.") var name: String?
    @Argument(help: "What a new tag points at: REV, or REV:PATH for a directory's tree or a file's content (default: HEAD).") var revision: String?
    func run() async throws {
        let repo = try openRepository()
        guard let message, let name, !delete else {
            if message != nil { throw Failure("-m needs a tag NAME to create", code: Code.usage) }
            try await moveRef(repo, tags: true, name: name, revision: revision, delete: delete)
            return
        }
        guard Refs.isValidName(name) else { throw RepositoryError.badName(name) }
        let session = try await repo.session()
        let target = try await tagTarget(session, revision ?? "HEAD")
        let id = try await repo.createAnnotatedTag(name, target: target, message: Array((message.hasSuffix("\n") ? message : message + "\n").utf8))
        Terminal.writeOut("\(name) \(id.short) (annotated)\n")
    }
}

/// What `cairn tag NAME REV[:PATH]` points at: REV's snapshot, or the tree or content at PATH.
func tagTarget(_ session: Session, _ revision: String) async throws -> RefTarget {
    let (rev, path) = RevisionResolver.splitPath(revision)
    let id = try await session.resolve(rev.isEmpty ? "HEAD" : rev)
    guard let path else { return .snapshot(id) }
    let entry = try await session.entry(path, in: id, revision: rev)
    switch entry.kind {
    case .directory: return RefTarget(kind: .tree, hash: entry.hash)
    case .file, .symlink: return RefTarget(kind: .content, hash: entry.hash)
    case .gitlink, .missing: throw Failure("'\(path)' is a \(entry.kind): nothing to tag", code: Code.usage)
    }
}

/// Lists, creates or deletes a branch or tag by test-and-set on the refs slot.
func moveRef(_ repo: Repository, tags: Bool, name: String?, revision: String?, delete: Bool) async throws {
    while true {
        let session = try await repo.session()
        let table: [String: RefTarget] = tags ? session.refs.tags : session.refs.branches.mapValues { .snapshot($0) }
        guard let name else {
            let current: String? = if case .branch(let b) = try repo.head() { b } else { nil }
            for (n, target) in table.sorted(by: { $0.key < $1.key }) {
                let kind = target.kind == .snapshot ? "" : " (\(target.kind))"
                Terminal.writeOut((n == current && !tags ? "* " : "  ") + "\(n) \(String(Hex.encode(target.hash).prefix(12)))\(kind)\n")
            }
            return
        }
        guard Refs.isValidName(name) else { throw RepositoryError.badName(name) }
        guard repo.refStore.isWritable else { throw RepositoryError.readOnly }
        var refs = session.refs
        if delete {
            guard table[name] != nil else { throw RepositoryError.unknownRevision(name) }
            if !tags, case .branch(name) = try repo.head() {
                throw Failure("cannot delete branch '\(name)': it is checked out here (check out another branch first)", code: Code.unhealthy)
            }
            if tags { refs.tags[name] = nil } else { refs.branches[name] = nil }
        } else {
            guard table[name] == nil else { throw RepositoryError.exists(name) }
            let revision = revision ?? "HEAD"
            if tags {
                // A tag of a snapshot, or of a directory (its tree) or a file's content: REV:PATH.
                refs.tags[name] = try await tagTarget(session, revision)
            } else {
                guard RevisionResolver.splitPath(revision).path == nil else {
                    throw Failure("a branch points at a snapshot, not at '\(revision)'", code: Code.usage)
                }
                refs.branches[name] = try await session.resolve(revision)
            }
        }
        do {
            _ = try await repo.refStore.publish(refs, replacing: session.version)
            return
        } catch RefStoreError.moved {
            continue  // someone else moved refs: read again and redo
        }
    }
}

struct CapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cap", abstract: "Print the repository's write cap (if this clone has it) and read cap.")
    func run() async throws {
        let repo = try openRepository()
        if repo.refStore.isWritable { Terminal.writeOut("write: \(repo.config.slotCap)\n") }
        Terminal.writeOut("read:  \(try repo.provider.readCap(for: repo.config.slotCap))\n")
    }
}

struct Clone: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Clone a repository from its cap and the grid, and check out its main branch.",
        discussion: "A read cap (cairn:slot-ro:…) gives a read-only clone: log, show, diff and restore work; commit does not.")
    @OptionGroup var gridOptions: GridOptions
    @Argument(help: "The repository's write or read cap.") var cap: String
    @Argument(help: "A new or empty folder.") var directory: String

    func run() async throws {
        let (gridPath, _) = gridOptions.resolved
        let grid = try ConfiguredGrids().open(at: gridPath)
        let dir = absolutePath(directory)
        switch try parseCap(cap) {
        case .slotWrite, .slotRead: break
        default:
            throw Failure("\(cap.prefix(40))… is not a repository's cap: clone takes the write or read cap 'cairn init' printed (cairn:slot:… or cairn:slot-ro:…)", code: Code.usage)
        }
        // Never over someone's files: a clone goes into a new or empty folder.
        let existed = FileSystem.exists(FSPath(dir))
        if let existing = try? FileSystem.names(in: dir), !existing.isEmpty {
            throw Failure("\(dir) is not empty: clone into a new or empty folder", code: Code.usage)
        }
        try FileSystem.makeDirectories(dir)
        let repo: Repository
        do {
            let state = LocalState(dir: FSPath(dir).appending(Array(LocalState.folderName.utf8)))
            repo = try await Repository.clone(cap: cap, state: state, gridPath: absolutePath(gridPath), grid: grid, provider: SlotRefStoreProvider())
            let session = try await repo.session()
            if let head = try repo.headSnapshot(session.refs) {
                try await repo.checkout(head.hex, relativePaths: [""], force: true) { Terminal.progress($0) }
                Terminal.endProgress()
            }
        } catch {
            // The folder was new or empty: what the failed clone put there goes, so it can be retried.
            if existed {
                for name in (try? FileSystem.names(in: dir)) ?? [] { try? FileSystem.remove(FSPath(dir).appending(name)) }
            } else {
                try? FileSystem.remove(FSPath(dir))
            }
            throw error
        }
        Terminal.writeErr("Cloned into \(dir)\(repo.refStore.isWritable ? "" : " (read-only)")\n")
    }
}

func missingNote(_ path: String, _ entry: TreeEntry) -> String {
    "'\(path)' is missing from the repository: its content (known as \(Hex.encode(entry.hash)), \(entry.size) bytes) was never stored"
}
