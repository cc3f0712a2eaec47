import CairnFiles

/// One command's view of the repository: refs as read once, the object store and the resolver.
public struct Session: Sendable {
    public let repository: Repository
    public let refs: Refs
    public let version: UInt64
    public let objects: ObjectStore
    public let content: ContentStore
    public let now: Int64

    public var resolver: RevisionResolver { RevisionResolver(repository: repository, refs: refs, objects: objects, now: now) }

    public func resolve(_ rev: String) async throws -> ObjectID { try await resolver.resolve(rev) }

    /// The tree entry at `path` (a relative path, "" or "." for the root) in snapshot `id`.
    public func entry(_ path: String, in id: ObjectID, revision: String) async throws -> TreeEntry {
        let snapshot = try await objects.snapshot(id)
        let components = path.split(separator: "/").filter { $0 != "." }
        var entry = TreeEntry(name: [], kind: .directory, mode: 0o040755, size: 0, mtimeSeconds: snapshot.committer.time,
                              mtimeNanoseconds: 0, hash: snapshot.tree.bytes)
        for c in components {
            guard entry.kind == .directory, let id = ObjectID(entry.hash),
                  let next = try await objects.tree(id).entry(named: RawArgument.bytes(c)) else {
                throw RepositoryError.noSuchPath(path, revision: revision)
            }
            entry = next
        }
        return entry
    }

    /// The first-parent line from `tip`, newest first, optionally only snapshots where `path` changed.
    public func log(from tip: ObjectID, path: String?, limit: Int? = nil) async throws -> [(ObjectID, Snapshot)] {
        var out: [(ObjectID, Snapshot)] = []
        var seen: Set<ObjectID> = []
        var queue: [(ObjectID, Snapshot)] = [(tip, try await objects.snapshot(tip))]
        // All ancestors, newest commit time first (git log's default order).
        while !queue.isEmpty {
            queue.sort { $0.1.committer.time > $1.1.committer.time }
            let (id, s) = queue.removeFirst()
            guard seen.insert(id).inserted else { continue }
            if let path {
                let mine = try? await entry(path, in: id, revision: id.short)
                var changed = true
                if let parent = s.parents.first {
                    let theirs = try? await entry(path, in: parent, revision: parent.short)
                    changed = mine?.hash != theirs?.hash || mine?.mode != theirs?.mode || mine?.kind != theirs?.kind
                } else {
                    changed = mine != nil
                }
                if changed { out.append((id, s)) }
            } else {
                out.append((id, s))
            }
            if let limit, out.count >= limit { break }
            for p in s.parents where !seen.contains(p) { queue.append((p, try await objects.snapshot(p))) }
        }
        return out
    }
}

extension Repository {
    public func session() async throws -> Session {
        let (refs, version) = try await loadRefs()
        let objects = try await objectStore(refs)
        return Session(repository: self, refs: refs, version: version, objects: objects,
                       content: ContentStore(objects: objects), now: FileSystem.now().0)
    }
}
