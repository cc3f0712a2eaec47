#if canImport(Glibc)
import Glibc
#endif

/// A path as raw bytes: file names need not be valid UTF-8, and must survive a round trip exactly.
public struct FSPath: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { bytes = Array(string.utf8) }
    public func appending(_ name: [UInt8]) -> FSPath {
        FSPath(bytes.last == 0x2F ? bytes + name : bytes + [0x2F] + name)
    }
    public var description: String { String(decoding: bytes, as: UTF8.self) }
    /// Calls `body` with a NUL-terminated copy.
    func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var z = bytes
        z.append(0)
        return try z.withUnsafeBytes { try body($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    }
    public func readContents() throws -> [UInt8] { try LocalFS.readFile(self) }
    /// Names in this folder (raw bytes).
    public func list() throws -> [[UInt8]] { try LocalFS.list(self) }
    public func readLinkTarget() throws -> [UInt8] { try LocalFS.readLink(self) }

    /// Creates this folder and any missing parents.
    public func makeDirectories() throws { try LocalFS.makeDirectories(self) }

    public var parent: FSPath {
        guard let i = bytes.lastIndex(of: 0x2F) else { return FSPath(".") }
        return i == 0 ? FSPath("/") : FSPath(Array(bytes[..<i]))
    }
}

/// The snapshot layer's only file-system calls (worktree scan, reads, checkout, local state).
public enum LocalFSError: Error, CustomStringConvertible, Equatable {
    case failed(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .failed(let p, let op, let e): return "\(p): \(op): \(String(cString: strerror(e)))"
        }
    }

    public var errno: Int32 {
        switch self { case .failed(_, _, let e): return e }
    }
}

public struct FileStat: Sendable, Equatable {
    public enum Kind: Sendable { case file, directory, symlink, other }
    public var kind: Kind
    public var mode: UInt32
    public var size: UInt64
    public var mtimeSeconds: Int64
    public var mtimeNanoseconds: UInt32
    public var ctimeSeconds: Int64
    public var ctimeNanoseconds: UInt32
    public var inode: UInt64
    public var device: UInt64
}

enum LocalFS {
    static func fail(_ path: FSPath, _ op: String) -> LocalFSError { .failed(path: path.description, operation: op, errno: Glibc.errno) }

    static func lstat(_ path: FSPath) throws -> FileStat {
        var st = stat()
        guard path.withCString({ Glibc.lstat($0, &st) }) == 0 else { throw fail(path, "lstat") }
        return fileStat(st)
    }

    /// A folder's entries with their lstat, read relative to the open folder (`fstatat`): the kernel
    /// resolves one name per entry instead of the whole path. Entries that vanish or fail carry their errno.
    static func listWithStats(_ dir: FSPath) throws -> [(name: [UInt8], stat: Result<FileStat, LocalFSError>)] {
        let fd = dir.withCString { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { throw fail(dir, "opendir") }
        guard let stream = fdopendir(fd) else { close(fd); throw fail(dir, "opendir") }
        defer { closedir(stream) }
        var out: [(name: [UInt8], stat: Result<FileStat, LocalFSError>)] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in Array(raw.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            var st = stat()
            let rc = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                fstatat(fd, raw.baseAddress!.assumingMemoryBound(to: CChar.self), &st, AT_SYMLINK_NOFOLLOW)
            }
            out.append((name, rc == 0 ? .success(fileStat(st)) : .failure(fail(dir.appending(name), "lstat"))))
        }
        return out
    }

    private static func fileStat(_ st: stat) -> FileStat {
        let type = st.st_mode & S_IFMT
        let kind: FileStat.Kind = type == S_IFREG ? .file : type == S_IFDIR ? .directory : type == S_IFLNK ? .symlink : .other
        return FileStat(kind: kind, mode: UInt32(st.st_mode), size: UInt64(st.st_size),
                        mtimeSeconds: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: UInt32(st.st_mtim.tv_nsec),
                        ctimeSeconds: Int64(st.st_ctim.tv_sec), ctimeNanoseconds: UInt32(st.st_ctim.tv_nsec),
                        inode: UInt64(st.st_ino), device: UInt64(st.st_dev))
    }

    static func exists(_ path: FSPath) -> Bool {
        var st = stat()
        return path.withCString { Glibc.lstat($0, &st) } == 0
    }

    /// Names in a directory (raw bytes), without "." and "..".
    static func list(_ path: FSPath) throws -> [[UInt8]] {
        guard let dir = path.withCString({ opendir($0) }) else { throw fail(path, "opendir") }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        return names
    }

    static func readFile(_ path: FSPath) throws -> [UInt8] {
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else { throw fail(path, "open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail(path, "fstat") }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while true {
            if done == out.count { out.append(contentsOf: [UInt8](repeating: 0, count: max(4096, out.count / 2))) }
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 { if Glibc.errno == EINTR { continue }; throw fail(path, "read") }
            if n == 0 { break }
            done += n
        }
        out.removeSubrange(done...)
        return out
    }

    static func readLink(_ path: FSPath) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = path.withCString { p in buf.withUnsafeMutableBytes { readlink(p, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) } }
        guard n >= 0 else { throw fail(path, "readlink") }
        return Array(buf[0..<n])
    }

    /// `writeFile` writes `<name>.cairn-tmp-<pid>` beside the file and renames it into place, so a killed
    /// command may leave that name behind (never a half-written file under the real name).
    static let temporaryMarker = Array(".cairn-tmp-".utf8)

    /// The process id in a temporary name `<name>.cairn-tmp-<pid>`, or nil for any other name.
    static func temporaryOwner(_ name: [UInt8]) -> Int32? {
        let m = temporaryMarker
        guard name.count > m.count else { return nil }
        var i = name.count - m.count
        while i > 0 {
            if name[i] == m[0] && Array(name[i..<(i + m.count)]) == m { break }
            i -= 1
        }
        let digits = name[(i + m.count)...]
        guard i > 0, !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int32(String(decoding: digits, as: UTF8.self))
    }

    /// Removes the temporary files of dead processes (a killed checkout or restore) from `dir`; those of
    /// live processes, and everything else, stay.
    static func removeStaleTemporaries(in dir: FSPath) {
        guard let names = try? list(dir) else { return }
        for name in names {
            guard let pid = temporaryOwner(name), pid != getpid(), kill(pid, 0) != 0, Glibc.errno == ESRCH else { continue }
            let path = dir.appending(name)
            if (try? lstat(path))?.kind == .file { _ = path.withCString { unlink($0) } }
        }
    }

    /// Writes a file through a temporary name and renames it into place, then sets mode and mtime.
    static func writeFile(_ path: FSPath, _ bytes: [UInt8], mode: UInt32, mtime: (Int64, UInt32)?, sync: Bool = false) throws {
        let tmp = FSPath(path.bytes + temporaryMarker + Array(String(getpid()).utf8))
        let fd = tmp.withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        guard fd >= 0 else { throw fail(tmp, "open") }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                let e = fail(tmp, "write"); close(fd); _ = tmp.withCString { unlink($0) }; throw e
            }
            done += n
        }
        if sync && fsync(fd) != 0 { let e = fail(tmp, "fsync"); close(fd); _ = tmp.withCString { unlink($0) }; throw e }
        guard fchmod(fd, mode_t(mode & 0o7777)) == 0 else { let e = fail(tmp, "chmod"); close(fd); _ = tmp.withCString { unlink($0) }; throw e }
        if let mtime { setTimes(fd: fd, mtime) }
        close(fd)
        guard tmp.withCString({ t in path.withCString { rename(t, $0) } }) == 0 else { let e = fail(path, "rename"); _ = tmp.withCString { unlink($0) }; throw e }
        if sync {
            // The rename itself must survive a power loss too.
            let fd = path.parent.withCString { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            if fd >= 0 { fsync(fd); close(fd) }
        }
    }

    static func setTimes(fd: Int32, _ mtime: (Int64, UInt32)) {
        var times = [timespec(tv_sec: Int(mtime.0), tv_nsec: Int(mtime.1)), timespec(tv_sec: Int(mtime.0), tv_nsec: Int(mtime.1))]
        futimens(fd, &times)
    }

    static func setTimes(path: FSPath, _ mtime: (Int64, UInt32), followSymlink: Bool) {
        var times = [timespec(tv_sec: Int(mtime.0), tv_nsec: Int(mtime.1)), timespec(tv_sec: Int(mtime.0), tv_nsec: Int(mtime.1))]
        _ = path.withCString { utimensat(AT_FDCWD, $0, &times, followSymlink ? 0 : AT_SYMLINK_NOFOLLOW) }
    }

    static func makeSymlink(_ path: FSPath, target: [UInt8]) throws {
        let rc = FSPath(target).withCString { t in path.withCString { symlink(t, $0) } }
        guard rc == 0 else { throw fail(path, "symlink") }
    }

    static func makeDirectory(_ path: FSPath, mode: UInt32 = 0o755) throws {
        if path.withCString({ mkdir($0, mode_t(mode)) }) != 0 && Glibc.errno != EEXIST { throw fail(path, "mkdir") }
    }

    static func makeDirectories(_ path: FSPath) throws {
        if exists(path) { return }
        let parent = path.parent
        if parent != path && parent.bytes != [0x2E] { try makeDirectories(parent) }
        try makeDirectory(path)
    }

    static func chmod(_ path: FSPath, _ mode: UInt32) throws {
        guard path.withCString({ Glibc.chmod($0, mode_t(mode & 0o7777)) }) == 0 else { throw fail(path, "chmod") }
    }

    /// Removes a file, symlink or (recursively) a directory.
    static func remove(_ path: FSPath) throws {
        let st = try lstat(path)
        if st.kind == .directory {
            for name in try list(path) { try remove(path.appending(name)) }
            guard path.withCString({ rmdir($0) }) == 0 else { throw fail(path, "rmdir") }
        } else {
            guard path.withCString({ unlink($0) }) == 0 else { throw fail(path, "unlink") }
        }
    }

    static func now() -> (Int64, UInt32) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec), UInt32(ts.tv_nsec))
    }
}
