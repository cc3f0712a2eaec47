import CairnFiles
import CairnGrid
import CairnStorage
import Synchronization
import Foundation
import Testing
@testable import CairnSnapshots

@Suite struct RepositoryStateTests {
    func makeRepository(_ scratch: Scratch) async throws -> Repository {
        let work = try scratch.dir("work")
        let state = LocalState(dir: FSPath(work + "/.cairn"))
        let (repo, _) = try await Repository.initialize(state: state, workTree: nil, gridPath: scratch.path + "/grid",
                                                        grid: try scratch.grid(), provider: SlotRefStoreProvider())
        return repo
    }

    /// A commit killed after moving the ref but before recording the worktree's new base: the next
    /// command sees `pending`, finds the ref moved, and the next commit goes through.
    @Test func killAfterPublishIsReconciled() async throws {
        let scratch = try Scratch()
        let repo = try await makeRepository(scratch)
        try "one".write(toFile: repo.workTree.description + "/f", atomically: false, encoding: .utf8)
        let first = try #require(try await repo.commit(CommitRequest(message: "one")).snapshot)
        try "two".write(toFile: repo.workTree.description + "/f", atomically: false, encoding: .utf8)
        let second = try #require(try await repo.commit(CommitRequest(message: "two")).snapshot)
        // Rewind the local state to "published, then killed".
        try repo.setBase(first)
        try repo.state.write("pending", Array((second.hex + "\n").utf8))
        try "three".write(toFile: repo.workTree.description + "/f", atomically: false, encoding: .utf8)
        let third = try await repo.commit(CommitRequest(message: "three"))
        #expect(third.snapshot != nil)
        #expect(try repo.base() == third.snapshot)
        #expect(try repo.state.read("pending") == nil)

        // Killed before the publish: pending names a snapshot the ref never reached; base stays.
        try repo.state.write("pending", Array((first.hex + "\n").utf8))
        let session = try await repo.session()
        #expect(try repo.base() == third.snapshot)
        #expect(try repo.state.read("pending") == nil)
        #expect(try await repo.status(session).isEmpty)
    }

    @Test func lockSerializesCommands() async throws {
        let scratch = try Scratch()
        let repo = try await makeRepository(scratch)
        let held = try repo.state.lock()
        await #expect(throws: RepositoryError.locked) { try await repo.commit(CommitRequest(message: "x", allowEmpty: true)) }
        withExtendedLifetime(held) {}
    }
}

/// Opens grids as configured, with every server behind a `LimitedServer`, and counts the opens.
final class WrappingOpener: GridOpener {
    let opens = Mutex(0)
    func open(at location: String) throws -> Grid {
        opens.withLock { $0 += 1 }
        let g = try ConfiguredGrids().open(at: location)
        return Grid(parameters: g.parameters, convergenceSecret: g.convergenceSecret,
                    servers: g.servers.map { LimitedServer($0, deadline: .seconds(120), connections: 2) })
    }
}

@Suite struct RepositoryGridOpening {
    /// A repository opens its grid only through the opener it is given: here every server sits behind a
    /// decorator, and commits, reads and checks all go through it.
    @Test func theRepositoryUsesTheGridItIsGiven() async throws {
        let scratch = try Scratch()
        let work = try scratch.dir("work")
        let state = LocalState(dir: FSPath(work + "/.cairn"))
        _ = try await Repository.initialize(state: state, workTree: nil, gridPath: scratch.path + "/grid",
                                            grid: try scratch.grid(), provider: SlotRefStoreProvider())
        let opener = WrappingOpener()
        let repo = try Repository.open(state: state, provider: SlotRefStoreProvider(), grids: opener)
        #expect(opener.opens.withLock { $0 } == 1)
        #expect(repo.baseGrid.servers.allSatisfy { $0 is LimitedServer })
        try "hello".write(toFile: work + "/f", atomically: false, encoding: .utf8)
        let snapshot = try #require(try await repo.commit(CommitRequest(message: "through the opener")).snapshot)
        let again = try Repository.open(state: state, provider: SlotRefStoreProvider(), grids: opener)
        let session = try await again.session()
        #expect(try await again.status(session).isEmpty)
        #expect(try again.base() == snapshot)
    }
}
