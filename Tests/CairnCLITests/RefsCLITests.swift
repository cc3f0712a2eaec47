import CairnFiles
import Foundation
import Testing
@testable import CairnSnapshots

/// Refs of format 2 through the real binary: annotated tags, tags of a directory's tree and of a
/// file's content, and what each command does with them.
@Suite struct RefsCLITests {
    @Test func annotatedTagsAndTagsOfTreesAndContents() throws {
        let f = try RepoFixture()
        try f.write("docs/a.txt", "a\n")
        try f.write("b.txt", "b\n")
        #expect(try f.run(["commit", "-m", "first"]).code == 0)
        let made = try f.run(["tag", "-m", "release one", "v1"])
        #expect(made.code == 0 && made.stdout.contains("(annotated)"), "\(made.stderr)")
        let show = try f.run(["show", "v1"])
        #expect(show.stdout.hasPrefix("tag v1\nTagger: Tester <t@example.org>\nDate:   "), "\(show.stdout)")
        #expect(show.stdout.contains("\n\nrelease one\n") && show.stdout.contains("first"), "\(show.stdout)")
        #expect(try f.run(["log", "--oneline", "v1"]).stdout == f.run(["log", "--oneline"]).stdout)
        #expect(try f.run(["cat", "v1:b.txt"]).stdout == "b\n")

        #expect(try f.run(["tag", "docs-tree", "HEAD:docs"]).code == 0)
        #expect(try f.run(["tag", "b-content", "HEAD:b.txt"]).code == 0)
        let list = try f.run(["tag"]).lines
        #expect(list.contains { $0.hasPrefix("  docs-tree ") && $0.hasSuffix("(tree)") }, "\(list)")
        #expect(list.contains { $0.hasPrefix("  b-content ") && $0.hasSuffix("(content)") }, "\(list)")
        #expect(list.contains { $0.hasPrefix("  v1 ") && $0.hasSuffix("(tag)") }, "\(list)")
        // A tag of a tree is not a revision to check out: a clear refusal, nothing changed.
        let refused = try f.run(["checkout", "docs-tree"])
        #expect(refused.code == 64 && refused.stderr.contains("points at a tree"), "\(refused.code) \(refused.stderr)")
        let again = try f.run(["tag", "-m", "twice", "v1"])
        #expect(again.code == 1 && again.stderr.contains("already exists"), "\(again.code) \(again.stderr)")
        #expect(try f.run(["branch", "x", "HEAD:docs"]).code == 64)
        // check walks every ref's target: the tagged tree and content are there.
        let check = try f.run(["check"])
        #expect(check.code == 0, "\(check.stdout)")
        // A clone sees the same tags.
        let clone = f.dir.file("clone")
        #expect(try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, clone]).code == 0)
        #expect(try CairnProcess.run(["tag"], environment: f.env, currentDirectory: clone).lines == list)
        #expect(try f.run(["tag", "-d", "v1"]).code == 0)
        #expect(try f.run(["tag"]).lines.count == 2)
    }
}

/// A snapshot with a `missing` entry (content known by another id but never stored, as the git importer
/// records a blob absent from a partial clone), made through the library, then met by every command.
@Suite struct MissingEntryCLITests {
    @Test func missingEntriesAreShownAndNotFatal() async throws {
        let f = try RepoFixture()
        try f.write("here.txt", "here\n")
        #expect(try f.run(["commit", "-m", "first"]).code == 0)
        let repo = try Repository.open(state: try Repository.find(from: FSPath(f.work)), provider: SlotRefStoreProvider())
        let session = try await repo.session()
        let head = try #require(session.refs.branches["main"])
        let parent = try await session.objects.snapshot(head)
        var entries = try await session.objects.tree(parent.tree).entries
        entries.append(TreeEntry(name: Array("huge.iso".utf8), kind: .missing, mode: 0o100644, size: 4_000_000_000,
                                 mtimeSeconds: 0, mtimeNanoseconds: 0, hash: [UInt8](repeating: 0xAB, count: 20)))
        let tree = try await session.objects.put(try Tree(entries: entries).encoded)
        let snapshot = Snapshot(tree: tree, parents: [head], author: parent.author, committer: parent.committer,
                                message: Array("with a blob left out of a partial clone\n".utf8))
        let id = try await session.objects.put(snapshot.encoded)
        var refs = session.refs
        try await repo.add(try await repo.saveSegment(session.objects), to: &refs, grid: repo.repositoryGrid(refs))
        refs.branches["main"] = id
        _ = try await repo.refStore.publish(refs, replacing: session.version)

        let checkout = try f.run(["checkout", "--force", "main"])
        #expect(checkout.code == 0 && checkout.stderr.contains("huge.iso: missing from the repository"), "\(checkout.stderr)")
        #expect(FileManager.default.fileExists(atPath: f.work + "/here.txt") && !FileManager.default.fileExists(atPath: f.work + "/huge.iso"))
        let ls = try f.run(["ls"])
        #expect(ls.lines.contains { $0.contains("missing 4000000000\thuge.iso  (missing: known as abab") }, "\(ls.stdout)")
        let show = try f.run(["show", "HEAD:huge.iso"])
        #expect(show.code == 0 && show.stdout.isEmpty && show.stderr.contains("is missing from the repository"), "\(show.stderr)")
        let cat = try f.run(["cat", "HEAD:huge.iso"])
        #expect(cat.code == 66 && isOneLineFailure(cat), "\(cat.code) \(cat.stderr)")
        #expect(try f.run(["status"]).stdout.contains("nothing to commit"), "a missing entry is not a deletion")
        let check = try f.run(["check"])
        #expect(check.code == 0 && check.stdout.contains("1 missing entries"), "\(check.stdout)")
        // The user never had huge.iso: commits carry the entry over rather than delete it, and a commit
        // with nothing else changed has nothing to commit.
        #expect(try f.run(["commit", "-m", "nothing"]).stdout == "nothing to commit\n")
        try f.write("more.txt", "more\n")
        #expect(try f.run(["commit", "-m", "more"]).code == 0)
        #expect(try f.run(["ls"]).stdout.contains("missing 4000000000\thuge.iso"))
        // A real file put at that path replaces the missing entry.
        try f.write("huge.iso", "now real\n")
        #expect(try f.run(["commit", "-m", "real"]).code == 0)
        #expect(try f.run(["cat", "HEAD:huge.iso"]).stdout == "now real\n")
        #expect(try f.run(["check"]).stdout.contains("no problems"))
    }
}
