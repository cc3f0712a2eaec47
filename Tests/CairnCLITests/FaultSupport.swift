import Foundation
import Glibc
import Testing

/// A tmpfs of a given size mounted on a fresh folder (root only, as CI runs); unmounted when dropped,
/// before the temporary folder around it is removed.
final class TmpfsMount {
    let dir = TemporaryDirectory()
    var path: String { dir.file("mnt") }

    init(size: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let code = Self.tool("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
        try #require(code == 0, "cannot mount a tmpfs (this test needs root, as CI has)")
    }

    /// Grows (or shrinks) the file system in place; its files stay.
    func resize(_ size: String) throws {
        let code = Self.tool("/bin/mount", ["-o", "remount,size=\(size)", path])
        try #require(code == 0, "cannot remount the tmpfs")
    }

    /// Bytes an unprivileged writer could still allocate (df's "Avail").
    var freeBytes: Int64 {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return -1 }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }

    deinit { _ = Self.tool("/bin/umount", [path]) }

    static func tool(_ executable: String, _ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

/// Every entry under `root` as "relative-path kind size" (directories with size 0), sorted: two equal
/// listings mean no file appeared, vanished, grew or shrank (tmp/ files and pack tails included).
func listing(_ root: String) -> [String] {
    var out: [String] = []
    func walk(_ dir: String, _ rel: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names {
            let path = dir + "/" + name, r = rel.isEmpty ? name : rel + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            if st.st_mode & S_IFMT == S_IFDIR {
                out.append("\(r)/ dir")
                walk(path, r)
            } else {
                out.append("\(r) file \(st.st_size)")
            }
        }
    }
    walk(root, "")
    return out.sorted()
}

/// The lines of `after` missing from `before` and the other way round, for readable failures.
func listingDifference(_ before: [String], _ after: [String]) -> String {
    let b = Set(before), a = Set(after)
    return "gone: \(before.filter { !a.contains($0) }), new: \(after.filter { !b.contains($0) })"
}

/// A failure the way CLI.md promises it: exactly one line on stderr, `cairn: …`, nothing on stdout,
/// a non-zero exit code.
func isOneLineFailure(_ r: CairnProcess.Result) -> Bool {
    let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
    return r.code != 0 && r.stdout.isEmpty && lines.count == 2 && lines[1].isEmpty && lines[0].hasPrefix("cairn: ")
}

/// Regular files and symlinks under a worktree (`.cairn` left out): relative path → bytes (a symlink's
/// bytes are "-> target").
func worktreeFiles(_ root: String) -> [String: Data] {
    var out: [String: Data] = [:]
    func walk(_ dir: String, _ rel: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names where !(rel.isEmpty && name == ".cairn") {
            let path = dir + "/" + name, r = rel.isEmpty ? name : rel + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: walk(path, r)
            case S_IFLNK: out[r] = Data(("-> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")).utf8)
            default: out[r] = FileManager.default.contents(atPath: path) ?? Data()
            }
        }
    }
    walk(root, "")
    return out
}

/// The name a checkout writes a file under before renaming it into place (Snapshots.md, "Checkout").
func isCheckoutTemporary(_ path: String) -> Bool {
    guard let r = path.range(of: ".cairn-tmp-", options: .backwards) else { return false }
    let pid = path[r.upperBound...]
    return !pid.isEmpty && pid.allSatisfy(\.isNumber)
}

/// Runs cairn and SIGKILLs it after `delay` microseconds (unless it finished first). True if it was killed.
func runAndKill(_ args: [String], environment: [String: String], in cwd: String, after delay: UInt32) throws -> Bool {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: CairnProcess.binary)
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    p.currentDirectoryURL = URL(fileURLWithPath: cwd)
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    usleep(delay)
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    return p.terminationReason == .uncaughtSignal
}
