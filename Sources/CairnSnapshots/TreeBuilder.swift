import CairnPrimitives

/// Turns a worktree into trees and file versions (the archiver half; `Checkout` is the restorer).
public final class TreeBuilder {
    public struct Problem: Sendable { public let path: String; public let message: String }

    let root: FSPath
    let content: ContentStore
    let rules: IgnoreRules
    let oldCache: StatCache
    public private(set) var newCache = StatCache()
    /// Special files skipped (a warning each).
    public private(set) var skipped: [Problem] = []
    /// Files that could not be read (commit exits 3).
    public private(set) var unreadable: [Problem] = []
    /// Files read and hashed (not answered by the stat cache).
    public private(set) var filesRead = 0

    public init(root: FSPath, content: ContentStore, rules: IgnoreRules, cache: StatCache) {
        self.root = root
        self.content = content
        self.rules = rules
        self.oldCache = cache
        newCache.scanStart = LocalFS.now()
    }

    /// Builds and stores the tree of the whole worktree; `previous` is the parent snapshot's root tree
    /// (delta bases are the same path's versions there).
    public func build(previous: Tree?) async throws -> ObjectID {
        try await buildDirectory(root, relative: [], previous: previous, rules: rules)
    }

    private func buildDirectory(_ dir: FSPath, relative: [UInt8], previous: Tree?, rules: IgnoreRules) async throws -> ObjectID {
        var rules = rules
        let names = try LocalFS.list(dir).sorted { $0.lexicographicallyPrecedes($1) }
        if names.contains(Array(".cairnignore".utf8)), let text = try? LocalFS.readFile(dir.appending(Array(".cairnignore".utf8))) {
            rules.add(fileContents: text, base: relative)
        }
        var entries: [TreeEntry] = []
        for name in names {
            if relative.isEmpty && name == Array(".cairn".utf8) { continue }
            let path = dir.appending(name)
            let rel = relative.isEmpty ? name : relative + [0x2F] + name
            let relString = String(decoding: rel, as: UTF8.self)
            let st: FileStat
            do { st = try LocalFS.lstat(path) } catch {
                unreadable.append(Problem(path: relString, message: "\(error)"))
                continue
            }
            if rules.isIgnored(rel, isDirectory: st.kind == .directory) { continue }
            let prior = previous?.entry(named: name)
            do {
                switch st.kind {
                case .file:
                    let (hash, version) = try await storeFile(path, rel, st, previous: prior?.kind == .file ? prior?.version : nil)
                    entries.append(entry(name, .file, st, hash: hash, version: version))
                case .symlink:
                    let target = try LocalFS.readLink(path)
                    let hash = ContentHash.of(target)
                    let version = try await content.store(target, hash: hash, previous: nil)
                    entries.append(entry(name, .symlink, st, size: UInt64(target.count), hash: hash, version: version))
                case .directory:
                    var sub: Tree?
                    if let prior, prior.kind == .directory, let id = ObjectID(prior.hash) { sub = try? await content.objects.tree(id) }
                    let id = try await buildDirectory(path, relative: rel, previous: sub, rules: rules)
                    entries.append(entry(name, .directory, st, size: 0, hash: id.bytes, version: nil))
                case .other:
                    skipped.append(Problem(path: relString, message: "not a regular file, directory or symlink; skipped"))
                }
            } catch let e as LocalFSError {
                unreadable.append(Problem(path: relString, message: e.description))
            }
        }
        let tree = try Tree(entries: entries)
        return try await content.objects.put(tree.encoded)
    }

    private func storeFile(_ path: FSPath, _ rel: [UInt8], _ st: FileStat, previous: ObjectID?) async throws -> ([UInt8], ObjectID) {
        if let cached = oldCache.lookup(rel, st), await content.objects.contains(cached.version) {
            newCache.entries[rel] = cached
            return (cached.contentHash, cached.version)
        }
        let bytes = try LocalFS.readFile(path)
        filesRead += 1
        let hash = ContentHash.of(bytes)
        let version = try await content.store(bytes, hash: hash, previous: previous)
        // The size read may differ from the stat if the file changed meanwhile: cache what was read.
        if UInt64(bytes.count) == st.size {
            newCache.entries[rel] = StatCache.Entry(stat: st, contentHash: hash, version: version)
        }
        return (hash, version)
    }

    private func entry(_ name: [UInt8], _ kind: TreeEntry.Kind, _ st: FileStat, size: UInt64? = nil, hash: [UInt8],
                       version: ObjectID?) -> TreeEntry {
        TreeEntry(name: name, kind: kind, mode: st.mode, size: size ?? st.size, mtimeSeconds: st.mtimeSeconds,
                  mtimeNanoseconds: st.mtimeNanoseconds, hash: hash, version: version)
    }
}
