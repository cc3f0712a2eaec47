#if canImport(Glibc)
import Glibc
#endif

/// Small whole-file and directory operations for grid configuration (not the data path).
enum FileOps {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func makeDirectories(_ path: String, mode: mode_t) throws {
        if isDirectory(path) { return }
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !parent.isEmpty && !isDirectory(parent) { try makeDirectories(parent, mode: 0o755) }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw GridError.io(path: path, reason: PlainFile.errnoText())
        }
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let file = try? PlainFile(path: path, mode: .read), let size = try? file.size() else { return nil }
        var out = [UInt8](repeating: 0, count: Int(size))
        let n = out.withUnsafeMutableBytes { (try? file.read(into: $0, at: 0)) ?? -1 }
        return n == Int(size) ? out : nil
    }

    /// Write to a temporary name, fsync, rename over, fsync the folder: readers see old or new, whole.
    static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
        let tmp = path + ".tmp-\(getpid())"
        do {
            let f = try PlainFile(path: tmp, mode: .createTruncate, permissions: mode)
            try f.write(bytes)
            try f.sync()
        }
        guard rename(tmp, path) == 0 else { throw GridError.io(path: path, reason: PlainFile.errnoText()) }
        syncDirectory(of: path)
    }

    static func syncDirectory(of path: String) {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()
        let dir = parts.isEmpty ? "." : (parts.joined(separator: "/").isEmpty ? "/" : parts.joined(separator: "/"))
        let fd = open(dir, O_RDONLY | O_DIRECTORY)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
