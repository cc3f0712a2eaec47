#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Path-level operations. Paths are `String`s or raw-byte `FSPath`s; names read from folders are raw bytes.
public enum FileSystem {
    // MARK: Status

    /// `stat` (following symlinks); nil if the path does not exist.
    public static func status(_ path: some FileSystemPath) throws(FileSystemError) -> FileStat? {
        var st = stat()
        do {
            _ = try retrying("stat", path.description) { path.withCString { fstatat(AT_FDCWD, $0, &st, 0) } }
        } catch where error.code == ENOENT || error.code == ENOTDIR {
            return nil
        }
        return FileStat(st)
    }

    /// `lstat` (a symlink is described, not followed); a missing path is an error.
    public static func linkStatus(_ path: some FileSystemPath) throws(FileSystemError) -> FileStat {
        var st = stat()
        _ = try retrying("lstat", path.description) { path.withCString { fstatat(AT_FDCWD, $0, &st, AT_SYMLINK_NOFOLLOW) } }
        return FileStat(st)
    }

    /// True if anything (a dangling symlink too) is at `path`.
    public static func exists(_ path: some FileSystemPath) -> Bool {
        (try? linkStatus(path)) != nil
    }

    // MARK: Folders

    /// Creates a directory (`mode`, less the umask). Returns false if something already exists there.
    @discardableResult
    public static func makeDirectory(_ path: some FileSystemPath, mode: mode_t = 0o700) throws(FileSystemError) -> Bool {
        do {
            _ = try retrying("mkdir", path.description) { path.withCString { Glibc.mkdir($0, mode) } }
            return true
        } catch where error.isExists {
            return false
        }
    }

    /// Creates a directory (`mode`) and any missing parents (0755).
    public static func makeDirectories(_ path: some FileSystemPath, mode: mode_t = 0o755) throws(FileSystemError) {
        if (try? status(path))??.isDirectory == true { return }
        let p = path.fsPath, parent = p.parent
        if parent != p && parent.bytes != [0x2E] { try makeDirectories(parent, mode: 0o755) }
        try makeDirectory(p, mode: mode)
    }

    /// The names in a directory (raw bytes, without "." and "..").
    public static func names(in path: some FileSystemPath) throws(FileSystemError) -> [[UInt8]] {
        try entries(path, statting: false).map(\.name)
    }

    /// The names in a directory as strings (invalid UTF-8 repaired); nil if it does not exist.
    public static func list(_ path: some FileSystemPath) throws(FileSystemError) -> [String]? {
        do {
            return try names(in: path).map { String(decoding: $0, as: UTF8.self) }
        } catch where error.isNotFound {
            return nil
        }
    }

    /// A folder's entries with their lstat, read relative to the open folder (`fstatat`): the kernel
    /// resolves one name per entry instead of the whole path. Entries that vanish or fail carry their error.
    public static func namesWithStatus(in path: some FileSystemPath) throws(FileSystemError) -> [(name: [UInt8], status: Result<FileStat, FileSystemError>)] {
        try entries(path, statting: true).map { ($0.name, $0.status!) }
    }

    private static let direntNameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!

    private static func entries(_ path: some FileSystemPath, statting: Bool) throws(FileSystemError) -> [(name: [UInt8], status: Result<FileStat, FileSystemError>?)] {
        let fd = try retrying("opendir", path.description) { path.withCString { Glibc.open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } }
        guard let stream = fdopendir(fd) else {
            let e = FileSystemError.last("opendir", path.description)
            _ = Glibc.close(fd)  // not handed over to a stream: closed here, nothing to report
            throw e
        }
        defer { closedir(stream) }  // closes `fd`
        var out: [(name: [UInt8], status: Result<FileStat, FileSystemError>?)] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw .last("readdir", path.description) }
                return out
            }
            // The name in place: `entry.pointee` would copy a whole `dirent` (280 bytes) where the kernel
            // wrote only `d_reclen`, and the last entry of readdir's buffer could end where mapped memory
            // does (a crash seen once in CI).
            let namePointer = (UnsafeRawPointer(entry) + direntNameOffset).assumingMemoryBound(to: CChar.self)
            let name = Array(UnsafeRawBufferPointer(start: namePointer, count: strlen(namePointer)))
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            guard statting else { out.append((name, nil)); continue }
            var st = stat()
            do {
                _ = try retrying("lstat", path.fsPath.appending(name).description) {
                    fstatat(fd, namePointer, &st, AT_SYMLINK_NOFOLLOW)
                }
                out.append((name, .success(FileStat(st))))
            } catch {
                out.append((name, .failure(error)))
            }
        }
    }

    /// fsyncs a directory so that entries created, renamed or removed in it survive power loss.
    public static func syncDirectory(_ path: some FileSystemPath) throws(FileSystemError) {
        let d = try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY)
        try d.sync()
    }

    /// Like `syncDirectory`, but a directory removed meanwhile is not an error.
    public static func syncDirectoryIfExists(_ path: some FileSystemPath) throws(FileSystemError) {
        guard let d = try FileDescriptor.openIfExists(path, flags: O_RDONLY | O_DIRECTORY) else { return }
        try d.sync()
    }

    /// Bytes available to unprivileged users on the file system holding `path`.
    public static func availableSpace(_ path: some FileSystemPath) throws(FileSystemError) -> UInt64 {
        try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY).availableSpace()
    }

    // MARK: Names

    public static func rename(_ from: some FileSystemPath, to: some FileSystemPath) throws(FileSystemError) {
        _ = try retrying("rename to \(to)", from.description) { from.withCString { f in to.withCString { Glibc.rename(f, $0) } } }
    }

    /// A second name for an existing file; false if `from` does not exist.
    @discardableResult
    public static func link(_ from: some FileSystemPath, to: some FileSystemPath) throws(FileSystemError) -> Bool {
        do {
            _ = try retrying("link to \(to)", from.description) { from.withCString { f in to.withCString { Glibc.link(f, $0) } } }
            return true
        } catch where error.isNotFound {
            return false
        }
    }

    /// Removes a file (or symlink); false if it did not exist.
    @discardableResult
    public static func unlink(_ path: some FileSystemPath) throws(FileSystemError) -> Bool {
        do {
            _ = try retrying("unlink", path.description) { path.withCString { Glibc.unlink($0) } }
            return true
        } catch where error.isNotFound {
            return false
        }
    }

    /// Removes a file, symlink or (recursively) a directory; a missing path is an error.
    public static func remove(_ path: some FileSystemPath) throws(FileSystemError) {
        let p = path.fsPath
        if try linkStatus(p).kind == .directory {
            for name in try names(in: p) { try remove(p.appending(name)) }
            _ = try retrying("rmdir", p.description) { p.withCString { rmdir($0) } }
        } else {
            _ = try retrying("unlink", p.description) { p.withCString { Glibc.unlink($0) } }
        }
    }

    public static func makeSymlink(_ path: some FileSystemPath, target: [UInt8]) throws(FileSystemError) {
        _ = try retrying("symlink", path.description) { FSPath(target).withCString { t in path.withCString { symlink(t, $0) } } }
    }

    /// A symlink's target, raw bytes.
    public static func readLink(_ path: some FileSystemPath) throws(FileSystemError) -> [UInt8] {
        try filled(Int(PATH_MAX) + 1) { (b) throws(FileSystemError) in
            try retrying("readlink", path.description) {
                path.withCString { readlink($0, b.baseAddress!.assumingMemoryBound(to: CChar.self), b.count) }
            }
        }
    }

    // MARK: Attributes

    /// `chmod` to the permission bits of `mode` (exactly: the umask does not apply).
    public static func setPermissions(_ path: some FileSystemPath, _ mode: UInt32) throws(FileSystemError) {
        _ = try retrying("chmod", path.description) { path.withCString { chmod($0, mode_t(mode & 0o7777)) } }
    }

    /// `utimensat`: access and modification time, of the link itself unless `followSymlink`.
    public static func setTimes(_ path: some FileSystemPath, modified time: (seconds: Int64, nanoseconds: UInt32),
                                followSymlink: Bool) throws(FileSystemError) {
        var times = [timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds)),
                     timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))]
        _ = try retrying("utimens", path.description) {
            path.withCString { utimensat(AT_FDCWD, $0, &times, followSymlink ? 0 : AT_SYMLINK_NOFOLLOW) }
        }
    }

    // MARK: Whole files

    /// A file open for reading from its start (streamed by callers); a symlink is not followed unless
    /// `followSymlink`.
    public static func openForReading(_ path: some FileSystemPath, followSymlink: Bool = true) throws(FileSystemError) -> FileDescriptor {
        try FileDescriptor.open(path, flags: O_RDONLY | (followSymlink ? 0 : O_NOFOLLOW))
    }

    /// A whole file; a symlink is not followed unless `followSymlink` (opening one fails with ELOOP).
    public static func readFile(_ path: some FileSystemPath, followSymlink: Bool = true) throws(FileSystemError) -> [UInt8] {
        try FileDescriptor.open(path, flags: O_RDONLY | (followSymlink ? 0 : O_NOFOLLOW)).readAll()
    }

    // MARK: Clocks

    /// Wall-clock time since the epoch.
    public static func now() -> (seconds: Int64, nanoseconds: UInt32) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec), UInt32(ts.tv_nsec))
    }

    /// Wall-clock nanoseconds since the epoch (orders index entries across processes).
    public static func nowNanoseconds() -> UInt64 {
        let t = now()
        return UInt64(t.seconds) &* 1_000_000_000 &+ UInt64(t.nanoseconds)
    }

    /// Monotonic seconds (for throttling).
    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public static func currentTimeSeconds() -> Int64 { now().seconds }
}
