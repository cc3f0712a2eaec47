import CairnFiles
import Foundation
import Testing

@testable import CairnSnapshots

/// The folder-by-folder comparison (status, diff, show) finds exactly the changes the flat comparison
/// of whole trees finds, tree against tree and tree against the worktree, and in path order.
@Suite struct TreeDiffTests {
    func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    @Test func sameChangesAsTheFlatComparison() async throws {
        let scratch = try Scratch()
        let src = try scratch.dir("source")
        for d in ["keep", "gone", "a", "a.b", "turn", "deep/er/est"] {
            for f in 0..<3 { try write("\(src)/\(d)/f\(f)", "\(d) \(f)\n") }
        }
        try write("\(src)/file-becomes-folder", "x")
        try write("\(src)/top", "top")
        try FileManager.default.createSymbolicLink(atPath: src + "/link", withDestinationPath: "top")
        let objects = ObjectStore(grid: try scratch.grid(), index: RepoIndex())
        func commit() async throws -> ObjectID {
            try await TreeBuilder(root: FSPath(src), content: ContentStore(objects: objects), rules: IgnoreRules(), cache: .empty).build(previousTreeID: nil)
        }
        let before = try await commit()

        try FileManager.default.removeItem(atPath: src + "/gone")
        try write("\(src)/keep/f1", "keep 1 changed\n")
        try write("\(src)/keep/new", "new\n")
        try FileManager.default.removeItem(atPath: src + "/turn")
        try write("\(src)/turn", "now a file")
        try FileManager.default.removeItem(atPath: src + "/file-becomes-folder")
        try write("\(src)/file-becomes-folder/inside", "in")
        try write("\(src)/added/one/two", "2")
        try write("\(src)/deep/er/est/f2", "changed deep\n")
        #expect(chmod(src + "/a/f0", 0o755) == 0)
        try FileManager.default.removeItem(atPath: src + "/link")
        try FileManager.default.createSymbolicLink(atPath: src + "/link", withDestinationPath: "keep")
        // Touched, same bytes: not a change.
        #expect(utimes(src + "/a.b/f1", nil) == 0)
        let after = try await commit()

        let flatBefore = try await Repository.flatten(before, objects: objects)
        let flatAfter = try await Repository.flatten(after, objects: objects)
        let expected = Repository.changes(from: flatBefore, to: flatAfter).map { "\($0.kind.rawValue) \($0.pathString)" }
        #expect(expected.count > 10)

        var trees: [String] = []
        try await TreeDiff(objects: objects).compare(before, after) { trees.append("\($0.change.kind.rawValue) \($0.change.pathString)") }
        #expect(trees.sorted() == expected.sorted())
        var worktree: [String] = []
        try await TreeDiff(objects: objects).worktree(before, root: FSPath(src), rules: IgnoreRules(), cache: .empty, stateFolder: nil) {
            worktree.append("\($0.change.kind.rawValue) \($0.change.pathString)")
        }
        #expect(worktree.sorted() == expected.sorted())
        // Path order, as git lists paths: "a.b/…" before "a/…", a folder's contents right after it.
        let paths = worktree.map { String($0.dropFirst(2)) }
        let fileOrder = paths.filter { !flatAfter.keys.contains(Array($0.utf8)) || flatAfter[Array($0.utf8)]?.kind != .directory }
        #expect(fileOrder == fileOrder.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }, "\(fileOrder)")

        // Nothing changed since: nothing found, and equal subtrees are not even read.
        var none = 0
        try await TreeDiff(objects: objects).worktree(after, root: FSPath(src), rules: IgnoreRules(), cache: .empty, stateFolder: nil) { _ in none += 1 }
        try await TreeDiff(objects: objects).compare(after, after) { _ in none += 1 }
        #expect(none == 0)
    }
}
