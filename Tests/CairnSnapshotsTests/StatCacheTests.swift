import CairnFiles
import CairnPrimitives
import Foundation
import Testing

@testable import CairnSnapshots

/// The stat cache is one record per folder (CRNSTAT3): a scan reads only the folder it is in, rewrites
/// nothing when nothing changed, and keeps the records of folders it did not change when one did.
@Suite struct StatCacheTests {
    /// An update whose scan started well after every file here was written: no entry is racy.
    func settled(_ path: FSPath, old: StatCache) -> StatCacheUpdate {
        let now = FileSystem.now()
        return StatCacheUpdate(replacing: path, old: old, scanStart: (now.0 + 60, 0))
    }

    @Test func foldersAreCachedApartAndKeptWhenUnchanged() async throws {
        let scratch = try Scratch()
        let source = try scratch.dir("source")
        for d in 0..<30 {
            try FileManager.default.createDirectory(atPath: source + "/d\(d)/inner", withIntermediateDirectories: true)
            for f in 0..<5 { try "folder \(d) file \(f)\n".write(toFile: source + "/d\(d)/f\(f)", atomically: false, encoding: .utf8) }
            try "deep \(d)".write(toFile: source + "/d\(d)/inner/x", atomically: false, encoding: .utf8)
        }
        try "top".write(toFile: source + "/top", atomically: false, encoding: .utf8)
        let cachePath = FSPath(try scratch.dir("state") + "/statcache")
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        let content = ContentStore(objects: objects)
        func build(_ cache: StatCache) async throws -> (ObjectID, TreeBuilder) {
            let b = TreeBuilder(root: FSPath(source), content: content, rules: IgnoreRules(), cache: cache, newCache: settled(cachePath, old: cache))
            let id = try await b.build(previousTreeID: nil)
            return (id, b)
        }

        let (tree, first) = try await build(.empty)
        #expect(first.filesRead == 181)
        try first.newCache?.save()
        let cache = try #require(try StatCache(reading: cachePath))
        #expect(cache.folderCount == 61, "30 folders, 30 inner folders and the root")
        #expect(cache.folder(Array("d7".utf8))?.count == 5 && cache.folder(Array("d7/inner".utf8))?.count == 1)
        #expect(cache.folder(Array("nowhere".utf8)) == nil)

        // Nothing changed: nothing read, and the cache file is left as it was.
        let before = try #require(try FileSystem.status(cachePath))
        let (same, unchanged) = try await build(cache)
        #expect(same == tree && unchanged.filesRead == 0)
        #expect(unchanged.newCache?.isChanged == false)
        try unchanged.newCache?.save()
        #expect(try FileSystem.status(cachePath)?.inode == before.inode)

        // One file changed: only it is read; the other folders' records are carried into the new file.
        try "folder 7 file 3, changed\n".write(toFile: source + "/d7/f3", atomically: false, encoding: .utf8)
        let (changedTree, one) = try await build(cache)
        #expect(changedTree != tree && one.filesRead == 1)
        try one.newCache?.save()
        let after = try #require(try StatCache(reading: cachePath))
        #expect(after.folderCount == 61)
        let (again, check) = try await build(after)
        #expect(again == changedTree && check.filesRead == 0, "records copied from the old cache no longer answer")

        // A folder gone: its record goes too.
        try FileManager.default.removeItem(atPath: source + "/d3")
        let (_, gone) = try await build(after)
        #expect(gone.filesRead == 0 && gone.newCache?.isChanged == true)
        try gone.newCache?.save()
        #expect(try StatCache(reading: cachePath)?.folderCount == 59)
    }

    /// The cache says what a file holds, not that the repository has it: against a store that lacks the
    /// contents (another repository, lost history), every file is read and stored again.
    @Test func cachedContentsAbsentFromTheStoreAreStoredAgain() async throws {
        let scratch = try Scratch()
        let source = try scratch.dir("source")
        for d in 0..<3 {
            try FileManager.default.createDirectory(atPath: source + "/d\(d)", withIntermediateDirectories: true)
            for f in 0..<4 { try "folder \(d) file \(f)\n".write(toFile: source + "/d\(d)/f\(f)", atomically: false, encoding: .utf8) }
        }
        let cachePath = FSPath(try scratch.dir("state") + "/statcache")
        let first = TreeBuilder(root: FSPath(source), content: ContentStore(objects: ObjectStore(grid: try scratch.grid(), index: RepoIndex())),
                                rules: IgnoreRules(), cache: .empty, newCache: settled(cachePath, old: .empty))
        let tree = try await first.build(previousTreeID: nil)
        try first.newCache?.save()
        let cache = try #require(try StatCache(reading: cachePath))

        let elsewhere = ObjectStore(grid: try scratch.grid(name: "other"), index: RepoIndex())
        let second = TreeBuilder(root: FSPath(source), content: ContentStore(objects: elsewhere), rules: IgnoreRules(), cache: cache,
                                 newCache: settled(cachePath, old: cache))
        #expect(try await second.build(previousTreeID: nil) == tree)
        #expect(second.filesRead == 12, "contents the store lacks were taken on the cache's word")
        let target = try scratch.dir("target")
        try await Checkout(content: ContentStore(objects: try await reopened(elsewhere, grid: try scratch.grid(name: "other")))).write(tree: tree, into: FSPath(target))
        #expect(try describeTree(target) == describeTree(source))
    }

    @Test func aDamagedCacheIsRefusedNotTrusted() throws {
        let scratch = try Scratch()
        let path = FSPath(try scratch.dir("state") + "/statcache")
        #expect(try StatCache(reading: path) == nil)
        try FileSystem.writeAtomically(path, Array("CRNSTAT3".utf8) + [UInt8](repeating: 7, count: 40))
        #expect(throws: (any Error).self) { try StatCache(reading: path) }
        // A table offset inside the trailer (once an arithmetic trap, not an error).
        var w = ByteWriter(capacity: 64)
        w.raw(Array("CRNSTAT3".utf8)); w.u64(0); w.u32(0)
        w.raw([UInt8](repeating: 0, count: 8))
        let size = UInt64(20 + 8 + 20)
        w.u64(size - 8); w.u32(0); w.raw(Array("CRNSTAT3".utf8))
        try FileSystem.writeAtomically(path, w.bytes)
        #expect(throws: (any Error).self) { try StatCache(reading: path) }
        try FileSystem.writeAtomically(path, Array("CRNSTAT2".utf8) + [UInt8](repeating: 0, count: 16))
        #expect(throws: (any Error).self) { try StatCache(reading: path) }
    }
}
