import CairnFiles
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Runs `body(i)` for i in 0..<count on OS threads of their own and waits for all of them.
/// For blocking metadata I/O: on a cold cache a worktree scan waits on thousands of inode reads, and
/// the two-thread cooperative pool would keep only two in flight (git preloads its index the same way).
enum OSThreads {
    final class Job: @unchecked Sendable {
        // Immutable; handed to exactly one thread.
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) { self.body = body; self.index = index }
    }

    static func run(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        var threads: [pthread_t] = []
        for i in 0..<count {
            let job = Unmanaged.passRetained(Job(body, i)).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
                job.body(job.index)
                return nil
            }, job)
            if rc == 0 {
                threads.append(thread)
            } else {
                // No thread to be had: do the work here.
                let j = Unmanaged<Job>.fromOpaque(job).takeRetainedValue()
                j.body(j.index)
            }
        }
        for t in threads { pthread_join(t, nil) }
    }
}

/// A work queue of folders for the scanner's threads.
final class ScanQueue: Sendable {
    struct Work: @unchecked Sendable {
        // The Directory is filled by the one thread that takes this work item.
        let path: FSPath
        let relative: [UInt8]
        let rules: IgnoreRules
        let directory: TreeBuilder.Directory
        /// (device, inode) of this repository's state folder, wherever it sits.
        let stateIdentity: (UInt64, UInt64)?
    }
    struct State {
        var pending: [Work] = []
        var busy = 0
        var skipped: [TreeBuilder.Problem] = []
        var unreadable: [TreeBuilder.Problem] = []
        var failure: FileSystemError?
    }
    let state = Mutex(State())

    /// Takes the next folder; nil when no work is left and nobody can add more.
    func next() -> Work? {
        while true {
            let (work, done): (Work?, Bool) = state.withLock { s in
                if let w = s.pending.popLast() { s.busy += 1; return (w, false) }
                return (nil, s.busy == 0)
            }
            if let work { return work }
            if done { return nil }
            usleep(50)
        }
    }

    func finished(adding children: [Work], skipped: [TreeBuilder.Problem], unreadable: [TreeBuilder.Problem]) {
        state.withLock { s in
            s.pending += children
            s.busy -= 1
            s.skipped += skipped
            s.unreadable += unreadable
        }
    }
}

extension TreeBuilder {
    /// Scans the worktree with `threads` OS threads (each takes a folder, lists and lstats it, and
    /// queues its subfolders). Items keep each folder's sorted order.
    static func parallelScan(root: FSPath, rules: IgnoreRules, threads: Int, stateFolder: FSPath?) -> (Directory, [Problem], [Problem]) {
        let top = Directory()
        let queue = ScanQueue()
        let identity = stateFolder.flatMap { try? FileSystem.linkStatus($0) }.map { ($0.device, $0.inode) }
        queue.state.withLock { $0.pending = [ScanQueue.Work(path: root, relative: [], rules: rules, directory: top, stateIdentity: identity)] }
        OSThreads.run(threads) { _ in
            while let work = queue.next() {
                var skipped: [Problem] = [], unreadable: [Problem] = [], children: [ScanQueue.Work] = []
                scanOne(work, into: &children, skipped: &skipped, unreadable: &unreadable)
                queue.finished(adding: children, skipped: skipped, unreadable: unreadable)
            }
        }
        let s = queue.state.withLock { $0 }
        return (top, s.skipped, s.unreadable)
    }

    private static func scanOne(_ work: ScanQueue.Work, into children: inout [ScanQueue.Work],
                                skipped: inout [Problem], unreadable: inout [Problem]) {
        var rules = work.rules
        let listing: [(name: [UInt8], status: Result<FileStat, FileSystemError>)]
        do { listing = try FileSystem.namesWithStatus(in: work.path).sorted { $0.name.lexicographicallyPrecedes($1.name) } } catch {
            unreadable.append(Problem(path: work.relative.isEmpty ? "." : String(decoding: work.relative, as: UTF8.self), message: "\(error)"))
            return
        }
        if listing.contains(where: { $0.name == Array(".cairnignore".utf8) }),
           let text = try? FileSystem.readFile(work.path.appending(Array(".cairnignore".utf8)), followSymlink: false) {
            rules.add(fileContents: text, base: work.relative)
        }
        for (name, result) in listing {
            let path = work.path.appending(name)
            if name == Array(LocalState.folderName.utf8) && (work.relative.isEmpty || LocalState.isStateFolder(name: name, path: path)) { continue }
            let rel = work.relative.isEmpty ? name : work.relative + [0x2F] + name
            let st: FileStat
            switch result {
            case .success(let s): st = s
            case .failure(let e):
                unreadable.append(Problem(path: String(decoding: rel, as: UTF8.self), message: e.description))
                continue
            }
            if rules.isIgnored(rel, isDirectory: st.kind == .directory) { continue }
            // A file a killed checkout or restore was writing (`<name>.cairn-tmp-<pid>`) is not stored, and the
            // user is told (a file of theirs that merely looks like one is never dropped silently).
            if st.kind == .file, FileSystem.temporaryOwner(name) != nil {
                skipped.append(Problem(path: String(decoding: rel, as: UTF8.self),
                                       message: "looks like a temporary file of an interrupted checkout or restore; skipped (rename it to keep it)"))
                continue
            }
            if st.kind == .directory, let state = work.stateIdentity, state == (st.device, st.inode) { continue }
            switch st.kind {
            case .file, .symlink:
                work.directory.items.append(Item(name: name, relative: rel, path: path, stat: st,
                                                 kind: st.kind == .file ? .file : .symlink, directory: nil))
            case .directory:
                let sub = Directory()
                work.directory.items.append(Item(name: name, relative: rel, path: path, stat: st, kind: .directory, directory: sub))
                children.append(ScanQueue.Work(path: path, relative: rel, rules: rules, directory: sub, stateIdentity: work.stateIdentity))
            case .other:
                skipped.append(Problem(path: String(decoding: rel, as: UTF8.self), message: "not a regular file, directory or symlink; skipped"))
            }
        }
    }
}
