import Foundation
import Glibc
import Testing

/// A repository worktree driven through the real `cairn` binary.
final class RepoFixture {
    let dir = TemporaryDirectory()
    var grid: String { dir.file("grid") }
    var work: String { dir.file("work") }
    var env: [String: String] { ["CAIRN_GRID": grid, "CAIRN_AUTHOR_NAME": "Tester", "CAIRN_AUTHOR_EMAIL": "t@example.org"] }
    private(set) var writeCap = ""

    init() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let r = try run(["init"])
        #expect(r.code == 0, "\(r.stderr)")
        writeCap = r.lines.first ?? ""
        #expect(writeCap.hasPrefix("cairn:slot:"))
    }

    /// Runs cairn with the worktree as the current directory.
    @discardableResult
    func run(_ args: [String], in cwd: String? = nil, stdin: Data? = nil) throws -> CairnProcess.Result {
        try CairnProcess.run(args, stdin: stdin, environment: env, currentDirectory: cwd ?? work)
    }

    func write(_ rel: String, _ text: String, mode: Int = 0o644) throws {
        let path = work + "/" + rel
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
    }
}

/// Kind, mode, size, mtime and a content digest of everything under `root` (raw names, `.cairn` left out).
func snapshotOfTree(_ root: String, mtimes: Bool = true) throws -> [String] {
    var out: [String] = []
    func walk(_ dir: String, _ rel: String) throws {
        guard let d = opendir(dir) else { throw CocoaError(.fileReadNoPermission) }
        var names: [[UInt8]] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] || (rel.isEmpty && name == Array(".cairn".utf8)) { continue }
            names.append(name)
        }
        closedir(d)
        for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let path = dir + "/" + String(decoding: name, as: UTF8.self)
            var raw = Array(dir.utf8) + [0x2F] + name + [0]
            var st = stat()
            _ = raw.withUnsafeMutableBytes { lstat($0.baseAddress!.assumingMemoryBound(to: CChar.self), &st) }
            let r = rel + "/" + name.map { String(format: "%02x", $0) }.joined()
            let mt = mtimes ? " \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)" : ""
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try walk(path, r)
                out.append("\(r) dir \(String(st.st_mode, radix: 8))\(mtimes ? " \(st.st_mtim.tv_sec)" : "")")
            case S_IFLNK:
                var buf = [CChar](repeating: 0, count: 4096)
                let n = raw.withUnsafeMutableBytes { readlink($0.baseAddress!.assumingMemoryBound(to: CChar.self), &buf, 4096) }
                out.append("\(r) link \(Array(buf.prefix(max(n, 0))))")
            default:
                let fd = raw.withUnsafeMutableBytes { open($0.baseAddress!.assumingMemoryBound(to: CChar.self), O_RDONLY) }
                var data = [UInt8]()
                var chunk = [UInt8](repeating: 0, count: 65536)
                while true { let n = read(fd, &chunk, chunk.count); if n <= 0 { break }; data += chunk[0..<n] }
                close(fd)
                var h: UInt64 = 1469598103934665603
                for b in data { h = (h ^ UInt64(b)) &* 1099511628211 }
                out.append("\(r) file \(String(st.st_mode, radix: 8)) \(st.st_size)\(mt) \(h)")
            }
        }
    }
    try walk(root, "")
    return out
}

/// Creates a file whose name is raw bytes (not necessarily UTF-8).
func writeRaw(_ dir: String, name: [UInt8], bytes: [UInt8], mode: mode_t) {
    var path = Array(dir.utf8) + [0x2F] + name + [0]
    let fd = path.withUnsafeMutableBytes { open($0.baseAddress!.assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT | O_TRUNC, mode) }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    fchmod(fd, mode)
    close(fd)
}

@Suite struct RepositoryTests {
    @Test func roundTripAndCloneOnAnotherMachine() throws {
        let f = try RepoFixture()
        let w = f.work
        let fm = FileManager.default
        try fm.createDirectory(atPath: w + "/nested/deeper/deepest", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: w + "/empty dir/inner empty", withIntermediateDirectories: true)
        try f.write("a.txt", "hello\n")
        try f.write("empty", "", mode: 0o600)
        try f.write("run.sh", "#!/bin/sh\necho hi\n", mode: 0o755)
        try f.write("name with spaces.txt", "spaces\n")
        try f.write("héllo wörld ✓.txt", "utf8\n", mode: 0o600)
        try Data(testBytes(2_500_000, seed: 3)).write(to: URL(fileURLWithPath: w + "/nested/deeper/deepest/big.bin"))
        try Data(testBytes(70_000, seed: 4)).write(to: URL(fileURLWithPath: w + "/nested/binary.dat"))
        writeRaw(w, name: [0x6C, 0x61, 0x74, 0x69, 0x6E, 0xE9, 0xFF], bytes: testBytes(100, seed: 5), mode: 0o640)
        symlink("a.txt", w + "/link")
        symlink("../missing/target", w + "/nested/dangling")
        let before = try snapshotOfTree(w)

        let commit = try f.run(["commit", "-m", "everything"])
        #expect(commit.code == 0, "\(commit.stderr)")
        #expect(try f.run(["status"]).stdout.contains("nothing to commit"))

        // Another machine: only the grid and the write cap.
        let other = f.dir.file("other")
        let clone = try CairnProcess.run(["clone", "--grid", f.grid, f.writeCap, other])
        #expect(clone.code == 0, "\(clone.stderr)")
        #expect(try snapshotOfTree(other) == before)
        // The clone can commit too, and the first worktree sees it after checkout.
        try Data("from the clone\n".utf8).write(to: URL(fileURLWithPath: other + "/new.txt"))
        #expect(try f.run(["commit", "-m", "from clone"], in: other).code == 0)
        #expect(try f.run(["checkout", "main"]).code == 0)
        #expect(try String(contentsOfFile: w + "/new.txt", encoding: .utf8) == "from the clone\n")
    }

    @Test func historyDatesAndPerPathLog() throws {
        let f = try RepoFixture()
        try f.write("notes.txt", "v1\n")
        try f.write("keep.txt", "same\n")
        #expect(try f.run(["commit", "-m", "one", "--date", "2026-03-01T10:00:00Z"]).code == 0)
        try f.write("notes.txt", "v2\n")
        try f.write("other.txt", "o\n")
        #expect(try f.run(["commit", "-m", "two", "--date", "2026-03-03T12:00:00Z"]).code == 0)
        try FileManager.default.moveItem(atPath: f.work + "/other.txt", toPath: f.work + "/renamed.txt")
        #expect(try f.run(["commit", "-m", "three (rename)", "--date", "2026-03-05T09:30:00Z"]).code == 0)
        try FileManager.default.removeItem(atPath: f.work + "/notes.txt")
        #expect(try f.run(["commit", "-m", "four (delete)", "--date", "2026-03-07T00:00:00Z"]).code == 0)

        #expect(try f.run(["log", "--oneline"]).lines.map { String($0.dropFirst(13)) } == ["four (delete)", "three (rename)", "two", "one"])
        #expect(try f.run(["log", "--oneline", "--", "notes.txt"]).lines.map { String($0.dropFirst(13)) } == ["four (delete)", "two", "one"])
        #expect(try f.run(["log", "--oneline", "--", "keep.txt"]).lines.map { String($0.dropFirst(13)) } == ["one"])

        // Boundaries, to the second: at the exact commit time that snapshot counts; a second before, the previous.
        func restore(_ at: String) throws -> String {
            let r = try f.run(["restore", "notes.txt", "--at", at, "-o", "-"])
            return r.code == 0 ? r.stdout : "exit \(r.code): \(r.stderr)"
        }
        #expect(try restore("2026-03-03T12:00:00Z") == "v2\n")
        #expect(try restore("2026-03-03T11:59:59Z") == "v1\n")
        #expect(try restore("2026-03-03T13:59:59+02:00") == "v1\n")
        #expect(try restore("2026-03-06") == "v2\n")
        #expect(try restore("2026-02-28").hasPrefix("exit 64"))
        #expect(try f.run(["cat", "main@{2026-03-01T10:00:00Z}:notes.txt"]).stdout == "v1\n")
        #expect(try f.run(["cat", "HEAD~2:other.txt"]).stdout == "o\n")
        #expect(try f.run(["cat", "HEAD^:renamed.txt"]).stdout == "o\n")

        // Every snapshot checks out exactly.
        let expected: [(String, [String])] = [("HEAD~3", ["keep.txt", "notes.txt"]), ("HEAD~2", ["keep.txt", "notes.txt", "other.txt"]),
                                              ("HEAD~1", ["keep.txt", "notes.txt", "renamed.txt"]), ("HEAD", ["keep.txt", "renamed.txt"])]
        let ids = try f.run(["log", "--oneline"]).lines.map { String($0.prefix(12)) }.reversed()
        for ((_, files), id) in zip(expected, ids) {
            let r = try f.run(["checkout", id])
            #expect(r.code == 0, "\(r.stderr)")
            let names = try FileManager.default.contentsOfDirectory(atPath: f.work).filter { $0 != ".cairn" }.sorted()
            #expect(names == files, "\(id)")
        }
        #expect(try f.run(["checkout", "main"]).code == 0)
        #expect(try f.run(["status"]).stdout.contains("On branch main"))

        // restore into the worktree refuses to overwrite an uncommitted change unless --force.
        try f.write("keep.txt", "changed\n")
        let refused = try f.run(["restore", "keep.txt", "--at", "2026-03-02"])
        #expect(refused.code != 0 && refused.stderr.contains("uncommitted changes"))
        #expect(try f.run(["restore", "keep.txt", "--at", "2026-03-02", "--force"]).code == 0)
        #expect(try String(contentsOfFile: f.work + "/keep.txt", encoding: .utf8) == "same\n")
        let json = try f.run(["log", "--json", "-n", "1"])
        let parsed = try JSONSerialization.jsonObject(with: json.stdoutData) as? [[String: Any]]
        #expect(parsed?.count == 1 && parsed?.first?["message"] as? String == "four (delete)")
    }

    @Test func readOnlyCloneRestoresButCannotCommit() throws {
        let f = try RepoFixture()
        try f.write("doc.txt", "secret plans\n")
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        let caps = try f.run(["cap"]).lines
        let readCap = String(caps.first { $0.hasPrefix("read:") }!.dropFirst(5)).trimmingCharacters(in: .whitespaces)
        #expect(readCap.hasPrefix("cairn:slot-ro:"))
        let ro = f.dir.file("ro")
        #expect(try CairnProcess.run(["clone", "--grid", f.grid, readCap, ro]).code == 0)
        #expect(try String(contentsOfFile: ro + "/doc.txt", encoding: .utf8) == "secret plans\n")
        try Data("edit\n".utf8).write(to: URL(fileURLWithPath: ro + "/doc.txt"))
        let commit = try f.run(["commit", "-m", "nope"], in: ro)
        #expect(commit.code == 1 && commit.stderr.contains("read-only clone"))
        let restored = try f.run(["restore", "doc.txt", "--at", "now", "-o", "-"], in: ro)
        #expect(restored.stdout == "secret plans\n")
    }

    @Test func badInputIsOneLineAndChangesNothing() throws {
        let f = try RepoFixture()
        try f.write("a.txt", "a\n")
        #expect(try f.run(["commit", "-m", "one"]).code == 0)
        let head = try f.run(["log", "--oneline"]).stdout
        func fails(_ args: [String], _ code: Int32, _ text: String) throws {
            let r = try f.run(args)
            #expect(r.code == code, "\(args): \(r.code) \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.hasPrefix("cairn: ") == true && r.stderr.contains(text), "\(args): \(r.stderr)")
        }
        try fails(["cat", "nosuch:a.txt"], 64, "unknown revision 'nosuch'")
        try fails(["cat", "HEAD~5:a.txt"], 64, "unknown revision")
        try fails(["cat", "HEAD:missing.txt"], 64, "does not exist")
        try fails(["restore", "a.txt", "--at", "the day after tomorrow"], 64, "malformed date")
        try fails(["restore", "../outside.txt", "--at", "now"], 64, "outside the worktree")
        try fails(["checkout", "HEAD", "--", "/etc/passwd"], 64, "outside the worktree")
        try fails(["commit", "-m", "x", "--date", "2026-13-45"], 64, "malformed date")
        try fails(["branch", "bad name"], 64, "not a valid branch")
        let head0 = try String(contentsOfFile: f.work + "/.cairn/HEAD", encoding: .utf8)
        try "garbage\n".write(toFile: f.work + "/.cairn/HEAD", atomically: true, encoding: .utf8)
        try fails(["commit", "-m", "x"], 78, "HEAD")
        try head0.write(toFile: f.work + "/.cairn/HEAD", atomically: true, encoding: .utf8)
        let config = try String(contentsOfFile: f.work + "/.cairn/config", encoding: .utf8)
        try String(config.prefix(20)).write(toFile: f.work + "/.cairn/config", atomically: true, encoding: .utf8)
        try fails(["log"], 78, "config")
        try config.write(toFile: f.work + "/.cairn/config", atomically: true, encoding: .utf8)
        #expect(try f.run(["log", "--oneline"]).stdout == head)
        #expect(try String(contentsOfFile: f.work + "/a.txt", encoding: .utf8) == "a\n")
        let outside = try CairnProcess.run(["log"], environment: f.env, currentDirectory: f.dir.path)
        #expect(outside.code == 78 && outside.stderr.contains("not a Cairn repository"))
    }
}
