import Foundation
import Testing

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
