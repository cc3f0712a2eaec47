import CairnFiles
import CairnGrid
import Foundation
import Testing
@testable import CairnSnapshots

/// A whole checkout writes only what differs from the worktree's snapshot (and what the user changed
/// there), leaves the rest alone, keeps the stat cache, and leaves the worktree exactly as a checkout
/// into an empty folder would: bytes, modes, file and folder mtimes.
@Suite struct DiffCheckoutTests {
    @Test func onlyWhatDiffersIsWritten() async throws {
        let scratch = try Scratch()
        let work = try scratch.dir("work")
        let state = LocalState(dir: FSPath(work + "/.cairn"))
        let (repo, _) = try await Repository.initialize(state: state, workTree: nil, gridPath: scratch.path + "/grid",
                                                        grid: try scratch.grid(), provider: SlotRefStoreProvider())
        func write(_ rel: String, _ text: String) throws {
            try FileManager.default.createDirectory(atPath: ((work + "/" + rel) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: work + "/" + rel, atomically: false, encoding: .utf8)
        }
        for d in 0..<6 { for f in 0..<5 { try write("d\(d)/f\(f)", "folder \(d) file \(f)\n") } }
        try write("gone/x", "x")
        let a = try #require(try await repo.commit(CommitRequest(message: "a")).snapshot)
        try write("d1/f1", "changed\n")
        try write("d2/new", "new\n")
        try FileManager.default.removeItem(atPath: work + "/gone")
        try write("added/deep/y", "y")
        let b = try #require(try await repo.commit(CommitRequest(message: "b")).snapshot)
        let untouched = try #require(try FileSystem.linkStatus(FSPath(work + "/d4/f4"))).inode

        // A tracked file the user deleted (the same in both snapshots) comes back too.
        try FileManager.default.removeItem(atPath: work + "/d5/f0")
        try await repo.checkout(a.hex, paths: [], force: false)
        let fresh = try scratch.dir("fresh")
        let session = try await repo.session()
        try await Checkout(content: session.content).write(tree: try await session.objects.snapshot(a).tree, into: FSPath(fresh), isRoot: true)
        func view(_ root: String) throws -> [String] { try describeTree(root).filter { !$0.hasPrefix("/2e636169726e") } }  // not .cairn
        #expect(try view(work) == view(fresh))
        #expect(try FileSystem.linkStatus(FSPath(work + "/d4/f4")).inode == untouched, "an unchanged file was rewritten")
        #expect(FileSystem.exists(FSPath(work + "/.cairn/statcache")), "the stat cache was dropped")
        #expect(try await repo.status(try await repo.session()).isEmpty)
        let again = try await repo.commit(CommitRequest(message: "nothing"))
        #expect(again.snapshot == nil, "a commit right after the checkout found changes")
        #expect(again.filesRead <= 3, "files left alone were read again: \(again.filesRead)")

        try await repo.checkout(b.hex, paths: [], force: false)
        let freshB = try scratch.dir("freshB")
        try await Checkout(content: session.content).write(tree: try await session.objects.snapshot(b).tree, into: FSPath(freshB), isRoot: true)
        #expect(try view(work) == view(freshB))
    }
}
