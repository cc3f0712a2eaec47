import Foundation
import Glibc
import Testing

/// Claims of Documentation/Security.md that no other test makes, through the real binary and the real
/// files a storage server holds.
@Suite struct ThreatModelTests {
    /// Every regular file under `root`, read whole (the grid of a test is small).
    func everyFile(under root: String) throws -> [(String, Data)] {
        var out: [(String, Data)] = []
        let e = FileManager.default.enumerator(atPath: root)
        while let rel = e?.nextObject() as? String {
            let path = root + "/" + rel
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            out.append((rel, try Data(contentsOf: URL(fileURLWithPath: path))))
        }
        return out
    }

    /// A storage server holds no plaintext: neither a file's bytes (incompressible, so compression cannot
    /// be what hides them) nor its name, nor a commit message or author, in any share, slot or lease file.
    @Test func serversHoldNoPlaintext() throws {
        let f = try RepoFixture()
        let marker = Array("PLAINTEXT-MARKER-7f3a9c1e-in-the-file".utf8)
        let name = "secret-plan-name-5b2d.txt"
        let content = testBytes(20_000, seed: 3) + marker + testBytes(2_000_000, seed: 4) + marker
        FileManager.default.createFile(atPath: f.work + "/" + name, contents: Data(content))
        try f.write("small.txt", "PLAINTEXT-MARKER-small-file-body\n")
        #expect(try f.run(["commit", "-m", "message-marker-e41f"]).code == 0)
        let needles = [Data(marker), Data(name.utf8), Data("PLAINTEXT-MARKER-small".utf8), Data("message-marker-e41f".utf8),
                       Data("t@example.org".utf8)]
        let files = try everyFile(under: f.grid + "/servers")
        #expect(files.count > 20)
        for (rel, data) in files {
            for needle in needles {
                #expect(data.range(of: needle) == nil, "\(rel) holds \(String(decoding: needle, as: UTF8.self)) in the clear")
            }
        }
    }

    /// A server (or anyone with the grid) that serves an older version of the refs slot is caught: the
    /// client remembers the highest version it saw and refuses to go back (exit 3), changing nothing.
    @Test func aRolledBackRefsSlotIsRefused() throws {
        let f = try RepoFixture()
        try f.write("a.txt", "one\n")
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        let saved = f.dir.file("saved-servers")
        try FileManager.default.copyItem(atPath: f.grid + "/servers", toPath: saved)
        try f.write("a.txt", "two\n")
        #expect(try f.run(["commit", "-m", "two"]).code == 0)
        // Every server answers with its old slot shares, as a colluding set of servers could.
        for server in try FileManager.default.contentsOfDirectory(atPath: saved) {
            let old = saved + "/" + server + "/slots", now = f.grid + "/servers/" + server + "/slots"
            guard FileManager.default.fileExists(atPath: old) else { continue }
            try FileManager.default.removeItem(atPath: now)
            try FileManager.default.copyItem(atPath: old, toPath: now)
        }
        let log = try f.run(["log", "--oneline"])
        #expect(log.code == 3, "\(log.stdout)\(log.stderr)")
        #expect(log.stderr.contains("refusing a rollback"), "\(log.stderr)")
        let commit = try f.run(["commit", "-m", "three", "--allow-empty"])
        #expect(commit.code == 3 && commit.stderr.contains("refusing a rollback"), "\(commit.stderr)")
    }
}
