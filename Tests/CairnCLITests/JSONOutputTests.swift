import Foundation
import Glibc
import Testing

/// `--json` on log, status, show, ls and check: documents a JSON parser reads, names as raw bytes.
@Suite struct JSONOutputTests {
    func object(_ r: CairnProcess.Result) throws -> Any {
        #expect(r.code == 0, "\(r.stderr)")
        return try JSONSerialization.jsonObject(with: r.stdoutData)
    }

    @Test func everyJSONOutputParsesAndKeepsNameBytes() throws {
        let f = try RepoFixture()
        try f.write("docs/readme.md", "hello \"quoted\" \\ and a tab\t\n")
        #expect(try f.run(["commit", "-m", "first line\nsecond \"line\""]).code == 0)
        writeRaw(f.work, name: [0x63, 0x61, 0x66, 0xE9, 0x0A], bytes: Array("latin-1 name with a newline\n".utf8), mode: 0o644)
        try f.write("docs/readme.md", "changed\n")

        let status = try #require(try object(try f.run(["status", "--json"])) as? [String: Any])
        #expect(status["branch"] as? String == "main")
        let changes = try #require(status["changes"] as? [[String: Any]])
        #expect(changes.count == 2)
        let odd = try #require(changes.first { $0["path_hex"] != nil })
        #expect(odd["path_hex"] as? String == "636166e90a" && odd["kind"] as? String == "A")
        #expect(changes.contains { $0["path"] as? String == "docs/readme.md" && $0["kind"] as? String == "M" && $0["path_hex"] == nil })

        #expect(try f.run(["commit", "-m", "second"]).code == 0)
        let log = try #require(try object(try f.run(["log", "--json"])) as? [[String: Any]])
        #expect(log.count == 2)
        #expect(log.last?["message"] as? String == "first line\nsecond \"line\"")
        #expect((log.first?["parents"] as? [String]) == [log.last?["id"] as? String].compactMap { $0 })
        let author = try #require(log.first?["author"] as? [String: Any])
        #expect(author["name"] as? String == "Tester" && author["email"] as? String == "t@example.org")

        let show = try #require(try object(try f.run(["show", "--json"])) as? [String: Any])
        #expect((show["snapshot"] as? [String: Any])?["message"] as? String == "second")
        let shown = try #require(show["changes"] as? [[String: Any]])
        #expect(Set(shown.compactMap { $0["path_hex"] as? String ?? $0["path"] as? String }) == ["636166e90a", "docs/readme.md"])

        let ls = try #require(try object(try f.run(["ls", "--json"])) as? [[String: Any]])
        let docs = try #require(ls.first { $0["name"] as? String == "docs" })
        #expect(docs["kind"] as? String == "directory" && docs["mode"] as? String == "040755")
        #expect(ls.contains { $0["name_hex"] as? String == "636166e90a" && $0["kind"] as? String == "file" && $0["size"] as? Int == 28 })
        let folder = try #require(try object(try f.run(["show", "--json", "HEAD:docs"])) as? [[String: Any]])
        #expect(folder.first?["name"] as? String == "readme.md")
        let refused = try f.run(["show", "--json", "HEAD:docs/readme.md"])
        #expect(refused.code == 64)

        let check = try #require(try object(try f.run(["check", "--json"])) as? [String: Any])
        #expect(check["snapshots"] as? Int == 2 && (check["problems"] as? [Any])?.isEmpty == true && check["data_read"] as? Bool == false)
    }
}
