import CairnFiles
import CairnFormats
import CairnGrid
import Foundation
@testable import CairnSnapshots

/// A real local grid and a scratch folder, removed afterwards.
final class Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "cairn-snap-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func grid(name: String = "grid") throws -> Grid {
        let g = path + "/" + name
        if !FileManager.default.fileExists(atPath: g) {
            try LocalGrid.create(at: g, servers: 10, parameters: try EncodingParameters(k: 3, n: 10, happy: 7))
        }
        return try LocalGrid.open(at: g)
    }

    func dir(_ name: String) throws -> String {
        let d = path + "/" + name
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}

func testBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var s = seed
    return (0..<count).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(s >> 56)
    }
}

/// Text-like test data (compressible, with line structure).
func textBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    let words = ["alpha", "beta", "gamma", "delta", "cairn", "grid", "share", "segment", "tree", "snapshot"]
    var s = seed
    var out: [UInt8] = []
    out.reserveCapacity(count + 16)
    while out.count < count {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        out += Array(words[Int(s >> 60) % words.count].utf8)
        out.append((s >> 50) & 7 == 0 ? 0x0A : 0x20)
    }
    return Array(out.prefix(count))
}

/// Saves what `objects` added as an index segment and opens a fresh store on it, as another machine
/// would (no cache).
func reopened(_ objects: ObjectStore, grid: Grid) async throws -> ObjectStore {
    let saved = try await objects.saveSegment()!
    _ = try? FileSystem.unlink(saved.file)
    let segment = try IndexSegment(decoding: try await ObjectStore.loadSegment(grid: grid, cap: saved.cap))
    return ObjectStore(grid: grid, index: try RepoIndex(segments: [segment]))
}

/// Whole-tree views and their flat comparison: the reference TreeDiff is checked against (they hold
/// every path, so only tests use them).
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

extension Checkout {
    /// Writes a worktree file whole, as a checkout would (tests that set up worktrees byte by byte).
    static func writeFile(_ path: FSPath, _ bytes: [UInt8], mode: UInt32, mtime: (Int64, UInt32)?) throws {
        let f = try AtomicFile(replacing: path)
        try f.file.write(bytes)
        try f.file.setPermissions(mode)
        if let mtime { try f.file.setTimes(modified: mtime) }
        try f.commit(.none)
    }
}
