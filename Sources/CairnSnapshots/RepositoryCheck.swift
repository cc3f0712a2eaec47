import CairnFormats
import CairnGrid
import CairnStorage

/// `cairn check` over a whole repository: every snapshot reachable from a branch or tag, every tree,
/// every file version and its delta chain must be present and well formed, and every cap the repository
/// uses (packs, index, large payloads) must be healthy on the grid. With `readData`, every share is read
/// and verified and every file version is rebuilt and checked against its content hash.
public struct RepositoryCheck: Sendable {
    public struct Report: Sendable {
        public var snapshots = 0
        public var trees = 0
        public var versions = 0
        public var caps = 0
        /// Entries of kind `missing` (content known by another id but absent): counted, not problems.
        public var missing = 0
        public var problems: [String] = []
        /// Caps `repair` brought back to health (index segments first).
        public var repaired: [String] = []
        /// With `addLease`: the storage indexes (the refs slot and every cap) whose leases were renewed on
        /// every server holding their shares.
        public var leased = 0
    }

    public let session: Session
    public init(session: Session) { self.session = session }

    /// `repair`: caps found unhealthy are repaired (Repairer), index segments first since they hold the
    /// only copies of the pack caps.
    public func run(readData: Bool, repair: Bool = false, addLease: Bool = false,
                    progress: @Sendable (String) -> Void = { _ in }) async -> Report {
        var report = Report()
        let objects = session.objects
        var snapshots: [ObjectID] = []
        var seen: Set<ObjectID> = []
        var rootTrees: [ObjectID] = []
        var contents: [[UInt8]] = []
        // Every ref's target, annotated tags peeled.
        var targets = Array(session.refs.all.values)
        var queue: [ObjectID] = []
        while let t = targets.popLast() {
            switch t.kind {
            case .snapshot: if let id = t.id { queue.append(id) }
            case .tree: if let id = t.id { rootTrees.append(id) }
            case .content: contents.append(t.hash)
            case .tag:
                guard let id = t.id, seen.insert(id).inserted else { continue }
                do { targets.append(try await objects.annotatedTag(id).target) } catch {
                    report.problems.append("tag \(id.short): \(error)")
                }
            }
        }
        while let id = queue.popLast() {
            guard seen.insert(id).inserted else { continue }
            do {
                let s = try await objects.snapshot(id)
                snapshots.append(id)
                queue += s.parents
            } catch {
                report.problems.append("snapshot \(id.short): \(error)")
            }
        }
        report.snapshots = snapshots.count
        var trees: Set<ObjectID> = []
        var versions: Set<ObjectID> = []
        var largeCaps: Set<String> = []
        func walkContent(_ hash: [UInt8], _ p: String) async {
            guard var v = await objects.version(forContent: hash) else {
                report.problems.append("\(p): its content is not in the repository's index")
                return
            }
            while versions.insert(v).inserted {
                do {
                    let fv = try await objects.fileVersion(v)
                    if case .cap(let c) = fv.storage { largeCaps.insert(c) }
                    guard let base = fv.base else { break }
                    v = base
                } catch {
                    report.problems.append("\(p): version \(v.short): \(error)")
                    break
                }
            }
        }
        func walkTree(_ id: ObjectID, _ path: String) async {
            guard trees.insert(id).inserted else { return }
            do {
                for e in try await objects.tree(id).entries {
                    let p = path.isEmpty ? e.nameString : path + "/" + e.nameString
                    switch e.kind {
                    case .directory:
                        if let sub = ObjectID(e.hash) { await walkTree(sub, p) } else { report.problems.append("\(p): bad tree id") }
                    case .file, .symlink:
                        await walkContent(e.hash, p)
                    case .missing:
                        report.missing += 1
                    case .gitlink:
                        continue
                    }
                }
            } catch {
                report.problems.append("tree \(id.short) (\(path.isEmpty ? "/" : path)): \(error)")
            }
        }
        for id in snapshots {
            if let s = try? await objects.snapshot(id) { await walkTree(s.tree, "") }
        }
        for id in rootTrees { await walkTree(id, "") }
        for hash in contents { await walkContent(hash, "tagged content") }
        report.trees = trees.count
        report.versions = versions.count

        // Grid health of every cap the repository stands on: the index segments first (they hold the
        // only copies of the pack caps), then packs and large payloads.
        let index = await objects.index
        let segments = session.refs.segments
        let others = Set(index.packs).union(largeCaps).subtracting(segments).sorted()
        let caps = segments + others
        report.caps = caps.count
        let grid = session.repository.repositoryGrid(session.refs)
        let checker = Checker(grid: grid)
        for (n, capText) in caps.enumerated() {
            progress("checking cap \(n + 1) of \(caps.count)")
            guard let cap = try? Cap(parsing: capText), let vc = cap.verifyCap else { continue }
            let what = segments.contains(capText) ? "index segment \(capText)" : capText
            if addLease { await lease(StorageIndex(vc.storageIndex)!, what, checker, &report) }
            do {
                var r = try await checker.check(vc, verify: readData || repair)
                if !r.isHealthy && repair {
                    progress("repairing cap \(n + 1) of \(caps.count)")
                    r = try await Repairer(grid: grid).repair(vc).after
                    if r.isHealthy { report.repaired.append(what) }
                }
                if !r.isHealthy {
                    report.problems.append("\(what): \(r.distinctShares) of \(r.n) shares \(readData ? "good" : "found") on \(r.serversWithShares) servers (run 'cairn repair')")
                }
            } catch {
                report.problems.append("\(what): \(error)")
            }
        }
        if addLease, case .slotWrite(let w)? = try? Cap(parsing: session.repository.config.slotCap) {
            await lease(StorageIndex(w.storageIndex)!, "the refs slot", Checker(grid: session.repository.baseGrid), &report, slot: true)
        } else if addLease, case .slotRead(let r)? = try? Cap(parsing: session.repository.config.slotCap) {
            await lease(StorageIndex(r.storageIndex)!, "the refs slot", Checker(grid: session.repository.baseGrid), &report, slot: true)
        }
        if readData {
            for (n, v) in versions.sorted().enumerated() {
                progress("reading file version \(n + 1) of \(versions.count)")
                do { try await session.content.verify(version: v) } catch { report.problems.append("version \(v.short): \(error)") }
            }
        }
        return report
    }

    private func lease(_ index: StorageIndex, _ what: String, _ checker: Checker, _ report: inout Report, slot: Bool = false) async {
        let (renewed, failures) = await checker.addLeases(index, slot: slot)
        if !renewed.isEmpty && failures.isEmpty { report.leased += 1 }
        for (server, why) in failures.sorted(by: { $0.key < $1.key }) {
            report.problems.append("\(what): lease not renewed on server \(server): \(why)")
        }
        if renewed.isEmpty && failures.isEmpty { report.problems.append("\(what): no server holds its shares, no lease renewed") }
    }
}
