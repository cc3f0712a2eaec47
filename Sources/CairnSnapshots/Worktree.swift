import CairnFiles

/// A flat view of a tree or a worktree: path → what is there (for status, diff and checkout checks).
public struct FlatEntry: Sendable, Equatable {
    public var kind: TreeEntry.Kind
    public var mode: UInt32
    /// Content hash (files, symlinks) or commit id (gitlinks); empty for directories.
    public var hash: [UInt8]
    public var size: UInt64
}

public enum ChangeKind: String, Sendable { case added = "A", modified = "M", deleted = "D" }

public struct Change: Sendable, Equatable {
    public let path: [UInt8]
    public let kind: ChangeKind
    public var pathString: String { String(decoding: path, as: UTF8.self) }
}

extension Repository {
    /// Every path under `tree`, directories included (their hash left empty).
    public static func flatten(_ tree: ObjectID, objects: ObjectStore, prefix: [UInt8] = []) async throws -> [[UInt8]: FlatEntry] {
        var out: [[UInt8]: FlatEntry] = [:]
        for e in try await objects.tree(tree).entries {
            let path = prefix.isEmpty ? e.name : prefix + [0x2F] + e.name
            if e.kind == .directory, let id = ObjectID(e.hash) {
                out[path] = FlatEntry(kind: .directory, mode: e.mode, hash: [], size: 0)
                for (p, f) in try await flatten(id, objects: objects, prefix: path) { out[p] = f }
            } else {
                out[path] = FlatEntry(kind: e.kind, mode: e.mode, hash: e.hash, size: e.size)
            }
        }
        return out
    }

    /// The worktree, hashed (the stat cache answers for unchanged files); nothing is stored.
    public func scanWorktree(excludes: [String] = []) throws -> [[UInt8]: FlatEntry] {
        var rules = IgnoreRules()
        for p in excludes { rules.add(override: p) }
        _ = try FileSystem.names(in: workTree)
        // The same listing a commit makes (ignore rules, state folders), then hashes from the stat cache.
        let cache = statCache()
        let identity = (try? FileSystem.linkStatus(state.dir)).map { ($0.device, $0.inode) }
        var out: [[UInt8]: FlatEntry] = [:]
        func walk(_ path: FSPath, _ relative: [UInt8], _ rules: IgnoreRules) {
            let listing = TreeBuilder.list(path, relative, rules, stateIdentity: identity, cache: cache)
            for item in listing.items {
                let st = item.stat
                let rel = relative.isEmpty ? item.name : relative + [0x2F] + item.name
                let itemPath = path.appending(item.name)
                switch item.kind {
                case .file:
                    let hash: [UInt8]
                    if let c = listing.cached?.lookup(item.name, st) { hash = c.contentHash } else {
                        guard let bytes = try? FileSystem.readFile(itemPath, followSymlink: false) else { continue }
                        hash = ContentHash.of(bytes)
                    }
                    out[rel] = FlatEntry(kind: .file, mode: st.mode, hash: hash, size: st.size)
                case .symlink:
                    guard let target = try? FileSystem.readLink(itemPath) else { continue }
                    out[rel] = FlatEntry(kind: .symlink, mode: st.mode, hash: ContentHash.of(target), size: UInt64(target.count))
                case .directory:
                    out[rel] = FlatEntry(kind: .directory, mode: st.mode, hash: [], size: 0)
                    walk(itemPath, rel, listing.rules)
                case .gitlink, .missing:
                    continue
                }
            }
        }
        walk(workTree, [], rules)
        return out
    }


    /// Differences between two flat views (directories count only when added or removed).
    public static func changes(from old: [[UInt8]: FlatEntry], to new: [[UInt8]: FlatEntry]) -> [Change] {
        var out: [Change] = []
        for (path, n) in new {
            if let o = old[path] {
                if o.kind != n.kind || o.hash != n.hash || (n.kind != .directory && o.mode != n.mode) {
                    out.append(Change(path: path, kind: .modified))
                }
            } else {
                out.append(Change(path: path, kind: .added))
            }
        }
        // A missing entry (content absent from the repository) is never in a worktree: not a deletion.
        for (path, o) in old where new[path] == nil && o.kind != .missing { out.append(Change(path: path, kind: .deleted)) }
        return out.sorted { $0.path.lexicographicallyPrecedes($1.path) }
    }
}
