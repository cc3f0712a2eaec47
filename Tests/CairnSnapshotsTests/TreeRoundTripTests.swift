import CairnFiles
import CairnGrid
import Foundation
import Glibc
import Testing
@testable import CairnSnapshots

/// Builds a varied tree on disk with raw-byte names.
func makeSampleTree(at root: String) throws {
    func write(_ rel: [UInt8], _ bytes: [UInt8], mode: mode_t, mtime: Int) throws {
        let path = FSPath(root).appending(rel)
        try Checkout.writeFile(path, bytes, mode: UInt32(mode), mtime: (Int64(mtime), 123_456_789))
    }
    let fm = FileManager.default
    try fm.createDirectory(atPath: root + "/nested/deeper/deepest", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: root + "/empty dir", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: root + "/nested/empty", withIntermediateDirectories: true)
    try write(Array("a.txt".utf8), Array("hello\n".utf8), mode: 0o644, mtime: 1_600_000_000)
    try write(Array("empty".utf8), [], mode: 0o600, mtime: 1_600_000_001)
    try write(Array("run.sh".utf8), Array("#!/bin/sh\necho hi\n".utf8), mode: 0o755, mtime: 1_600_000_002)
    try write(Array("nested/deeper/deepest/big.bin".utf8), testBytes(3_000_000, seed: 4), mode: 0o644, mtime: 1_600_000_003)
    try write(Array("nested/text.md".utf8), textBytes(200_000, seed: 2), mode: 0o600, mtime: 1_600_000_004)
    try write(Array("name with spaces.txt".utf8), Array("spaces\n".utf8), mode: 0o644, mtime: 1_600_000_005)
    try write(Array("héllo wörld ✓.txt".utf8), Array("utf8\n".utf8), mode: 0o644, mtime: 1_600_000_006)
    try write([0x6C, 0x61, 0x74, 0x69, 0x6E, 0xE9, 0xFF, 0x2E, 0x62, 0x69, 0x6E], testBytes(1000, seed: 5), mode: 0o640, mtime: 1_600_000_007)
    try write(Array("nested/dup-of-a.txt".utf8), Array("hello\n".utf8), mode: 0o644, mtime: 1_600_000_008)
    try FileSystem.makeSymlink(FSPath(root + "/link-to-a"), target: Array("a.txt".utf8))
    try FileSystem.makeSymlink(FSPath(root + "/nested/dangling"), target: Array("../no/such/file".utf8))
    try FileSystem.setTimes(FSPath(root + "/nested/deeper"), modified: (1_500_000_000, 0), followSymlink: false)
}

/// Everything that must survive: kind, mode, size, mtime (files, dirs), bytes, link targets.
func describeTree(_ root: String) throws -> [String] {
    var out: [String] = []
    func walk(_ dir: FSPath, _ rel: String) throws {
        for name in try FileSystem.names(in: dir).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let path = dir.appending(name)
            let r = rel + "/" + name.map { String(format: "%02x", $0) }.joined()
            let st = try FileSystem.linkStatus(path)
            switch st.kind {
            case .file:
                out.append("\(r) file \(String(st.mode, radix: 8)) \(st.size) \(st.mtimeSeconds).\(st.mtimeNanoseconds) \(ContentHash.of(try FileSystem.readFile(path)))")
            case .symlink:
                out.append("\(r) link \(try FileSystem.readLink(path))")
            case .directory:
                try walk(path, r)
                let after = try FileSystem.linkStatus(path)
                out.append("\(r) dir \(String(after.mode, radix: 8)) \(after.mtimeSeconds)")
            case .other:
                out.append("\(r) other")
            }
        }
    }
    try walk(FSPath(root), "")
    return out
}

/// A stat cache update as a commit makes one: scan start two seconds back (no stamp file).
func cacheUpdate(_ path: FSPath, old: StatCache) -> StatCacheUpdate {
    let now = FileSystem.now()
    return StatCacheUpdate(replacing: path, old: old, scanStart: (now.0 - 2, now.1))
}

@Suite struct TreeRoundTripTests {
    @Test func checkoutEqualsTheOriginal() async throws {
        let scratch = try Scratch()
        let source = try scratch.dir("source")
        try makeSampleTree(at: source)
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        let content = ContentStore(objects: objects)
        let cachePath = FSPath(try scratch.dir("state") + "/statcache")
        let builder = TreeBuilder(root: FSPath(source), content: content, rules: IgnoreRules(), cache: .empty,
                                  newCache: cacheUpdate(cachePath, old: .empty))
        let tree = try await builder.build(previous: nil)
        try builder.newCache?.save()
        #expect(builder.unreadable.isEmpty && builder.skipped.isEmpty)
        // Restore through a fresh store, as another machine would.
        let fresh = ContentStore(objects: try await reopened(objects, grid: try scratch.grid()))
        let target = try scratch.dir("target")
        try await Checkout(content: fresh).write(tree: tree, into: FSPath(target))
        #expect(try describeTree(target) == describeTree(source))

        // The stat cache answers for unchanged files on a second build, once they are older than the
        // racy-clean window (two seconds before the scan that recorded them).
        try await Task.sleep(nanoseconds: 2_200_000_000)
        let first = try #require(try StatCache(reading: cachePath))
        let racy = TreeBuilder(root: FSPath(source), content: content, rules: IgnoreRules(), cache: first,
                               newCache: cacheUpdate(cachePath, old: first))
        #expect(try await racy.build(previous: try await objects.tree(tree)) == tree)
        #expect(racy.filesRead > 0, "files changed within the recording scan's tick were trusted")
        try racy.newCache?.save()
        let second = try #require(try StatCache(reading: cachePath))
        let again = TreeBuilder(root: FSPath(source), content: content, rules: IgnoreRules(), cache: second,
                                newCache: cacheUpdate(cachePath, old: second))
        #expect(try await again.build(previous: try await objects.tree(tree)) == tree)
        #expect(again.filesRead == 0, "unchanged files were read again")
    }

    @Test func ignoresAndSpecialFiles() async throws {
        let scratch = try Scratch()
        let source = try scratch.dir("source")
        try "*.o\nbuild/\n".write(toFile: source + "/.cairnignore", atomically: false, encoding: .utf8)
        try "x".write(toFile: source + "/keep.c", atomically: false, encoding: .utf8)
        try "x".write(toFile: source + "/skip.o", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: source + "/build", withIntermediateDirectories: true)
        try "x".write(toFile: source + "/build/out", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: source + "/.cairn", withIntermediateDirectories: true)
        try "secret".write(toFile: source + "/.cairn/config", atomically: false, encoding: .utf8)
        #expect(mkfifo(source + "/pipe", 0o644) == 0)
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        var rules = IgnoreRules()
        rules.add(pattern: "keep.*")
        rules.add(pattern: "!keep.c")
        let builder = TreeBuilder(root: FSPath(source), content: ContentStore(objects: objects), rules: rules, cache: .empty)
        let tree = try await objects.tree(try await builder.build(previous: nil))
        #expect(tree.entries.map(\.nameString) == [".cairnignore", "keep.c"])
        #expect(builder.skipped.map(\.path) == ["pipe"])
    }
}
