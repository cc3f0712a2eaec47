import CairnFormats
import CairnGrid

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
        public var problems: [String] = []
    }

    public let session: Session
    public init(session: Session) { self.session = session }

    public func run(readData: Bool, progress: @Sendable (String) -> Void = { _ in }) async -> Report {
        var report = Report()
        let objects = session.objects
        var snapshots: [ObjectID] = []
        var seen: Set<ObjectID> = []
        var queue = Array(session.refs.branches.values) + Array(session.refs.tags.values)
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
        func walkTree(_ id: ObjectID, _ path: String) async {
            guard trees.insert(id).inserted else { return }
            do {
                for e in try await objects.tree(id).entries {
                    let p = path.isEmpty ? e.nameString : path + "/" + e.nameString
                    switch e.kind {
                    case .directory:
                        if let sub = ObjectID(e.hash) { await walkTree(sub, p) } else { report.problems.append("\(p): bad tree id") }
                    case .file, .symlink:
                        guard var v = e.version else { report.problems.append("\(p): no stored version"); continue }
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
        report.trees = trees.count
        report.versions = versions.count

        // Grid health of every cap the repository stands on.
        let index = await objects.index
        var caps = Set(index.packs).union(largeCaps)
        if let c = session.refs.indexCap { caps.insert(c) }
        report.caps = caps.count
        let checker = Checker(grid: session.repository.repositoryGrid(session.refs))
        for (n, capText) in caps.sorted().enumerated() {
            progress("checking cap \(n + 1) of \(caps.count)")
            guard let cap = try? Cap(parsing: capText), let vc = cap.verifyCap else { continue }
            do {
                let r = try await checker.check(vc, verify: readData)
                if !r.isHealthy {
                    report.problems.append("\(String(capText.prefix(30)))…: \(r.distinctShares) of \(r.n) shares \(readData ? "good" : "found") on \(r.serversWithShares) servers (run 'cairn repair' on it)")
                }
            } catch {
                report.problems.append("\(String(capText.prefix(30)))…: \(error)")
            }
        }
        if readData {
            for (n, v) in versions.sorted().enumerated() {
                progress("reading file version \(n + 1) of \(versions.count)")
                do { _ = try await session.content.content(of: v) } catch { report.problems.append("version \(v.short): \(error)") }
            }
        }
        return report
    }
}
