#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
#error("CairnStorage's file layer is written for Linux (Glibc)")
#endif

// The one place where CairnStorage touches the C file API: every call, its EINTR loop and its errno.
// Everything above this file sees `FileDescriptor`, `FileSystem` and `FileSystemError` only.

/// A failed system call: the operation, the path and the errno (with its strerror text).
struct FileSystemError: Error, CustomStringConvertible {
    let operation: String
    let path: String
    let code: Int32

    var reason: String { "\(operation): \(String(cString: strerror(code))) (errno \(code))" }
    var description: String { "\(path): \(reason)" }
    /// The disk (or the user's quota) is full.
    var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
    var isNotFound: Bool { code == ENOENT }
    var isExists: Bool { code == EEXIST }

    static func last(_ operation: String, _ path: String) -> FileSystemError {
        FileSystemError(operation: operation, path: path, code: errno)
    }
}

/// An open file descriptor, closed when the last reference goes away (which also releases its `flock`).
/// Immutable after init; the kernel makes `pread`/`pwrite` at explicit offsets safe from any thread.
final class FileDescriptor: Sendable {
    let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { _ = Glibc.close(fd) }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o600) throws(FileSystemError) -> FileDescriptor {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return FileDescriptor(fd: fd, path: path) }
            if errno == EINTR { continue }
            throw .last("open", path)
        }
    }

    static func openIfExists(_ path: String, flags: Int32) throws(FileSystemError) -> FileDescriptor? {
        do { return try open(path, flags: flags) } catch where error.isNotFound { return nil }
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns fewer only at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(FileSystemError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n > 0 { done += n; continue }
            if n == 0 { break }
            if errno == EINTR { continue }
            throw .last("read", path)
        }
        return done
    }

    /// Reads `count` bytes at `offset` (fewer at end of file).
    func read(count: Int, at offset: UInt64) throws(FileSystemError) -> [UInt8] {
        if count == 0 { return [] }
        var failure: FileSystemError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(FileSystemError) { initialized = try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset) }
            catch { failure = error; initialized = 0 }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Writes all of `buffer` at `offset`.
    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(FileSystemError) {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n > 0 { done += n; continue }
            if n < 0 && errno == EINTR { continue }
            throw n == 0 ? FileSystemError(operation: "write", path: path, code: EIO) : .last("write", path)
        }
    }

    func write(_ bytes: [UInt8], at offset: UInt64) throws(FileSystemError) {
        var failure: FileSystemError?
        bytes.withUnsafeBytes { p in do throws(FileSystemError) { try write(p, at: offset) } catch { failure = error } }
        if let failure { throw failure }
    }

    /// Starts writeback of a range without waiting, so the disk works while the CPU encodes the next
    /// segments and the final fsync has little left to do. Advisory: failures are ignored (fsync reports).
    func startWriteback(offset: UInt64, count: Int) {
        // Linux's POSIX_FADV_DONTNEED starts writeback of dirty pages in the range without waiting
        // (sync_file_range is not visible from Swift's Glibc module).
        _ = Glibc.posix_fadvise(fd, off_t(offset), off_t(count), POSIX_FADV_DONTNEED)
    }

    /// Writes the buffers back to back starting at `offset`, `IOV_MAX` buffers per system call.
    /// The buffers must stay allocated for the duration of the call.
    func write(gathering buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(FileSystemError) {
        let maximum = 1024
        var position = offset
        var start = 0
        var vectors = [iovec]()
        vectors.reserveCapacity(min(buffers.count, maximum))
        while start < buffers.count {
            let end = min(start + maximum, buffers.count)
            vectors.removeAll(keepingCapacity: true)
            var total = 0
            for b in buffers[start..<end] where b.count > 0 {
                vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress!), iov_len: b.count))
                total += b.count
            }
            let n = vectors.withUnsafeBufferPointer { Glibc.pwritev(fd, $0.baseAddress, Int32($0.count), off_t(position)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .last("write", path)
            }
            if n < total {
                // Short write (rare: signals, nearly full disk): finish this group buffer by buffer.
                var next = position + UInt64(n)
                var skip = n
                for b in buffers[start..<end] {
                    if skip >= b.count { skip -= b.count; continue }
                    let rest = UnsafeRawBufferPointer(rebasing: b[skip...])
                    try write(rest, at: next)
                    next += UInt64(rest.count)
                    skip = 0
                }
                position = next
            } else {
                position += UInt64(total)
            }
            start = end
        }
    }

    func sync() throws(FileSystemError) {
        while Glibc.fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw .last("fsync", path)
        }
    }

    func truncate(to size: UInt64) throws(FileSystemError) {
        while Glibc.ftruncate(fd, off_t(size)) != 0 {
            if errno == EINTR { continue }
            throw .last("truncate", path)
        }
    }

    var size: UInt64 {
        get throws(FileSystemError) {
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw .last("fstat", path) }
            return UInt64(st.st_size)
        }
    }

    /// `flock(LOCK_EX)`, waiting for it.
    func lockExclusive() throws(FileSystemError) {
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            throw .last("flock", path)
        }
    }

    /// `flock(LOCK_EX | LOCK_NB)`: true if this descriptor now holds the lock, false if someone else does.
    func tryLockExclusive() throws(FileSystemError) -> Bool {
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK { return false }
            throw .last("flock", path)
        }
        return true
    }
}

/// Path-level operations.
enum FileSystem {
    /// Creates a directory (mode 0700). Returns false if it already existed.
    @discardableResult
    static func makeDirectory(_ path: String) throws(FileSystemError) -> Bool {
        if Glibc.mkdir(path, 0o700) == 0 { return true }
        if errno == EEXIST { return false }
        throw .last("mkdir", path)
    }

    static func rename(_ from: String, to: String) throws(FileSystemError) {
        guard Glibc.rename(from, to) == 0 else { throw .last("rename to \(to)", from) }
    }

    /// A second name for an existing file; false if `from` does not exist.
    @discardableResult
    static func link(_ from: String, to: String) throws(FileSystemError) -> Bool {
        if Glibc.link(from, to) == 0 { return true }
        if errno == ENOENT { return false }
        throw .last("link to \(to)", from)
    }

    /// Removes a file; false if it did not exist.
    @discardableResult
    static func unlink(_ path: String) throws(FileSystemError) -> Bool {
        if Glibc.unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw .last("unlink", path)
    }

    static func removeDirectory(_ path: String) {
        _ = Glibc.rmdir(path)
    }

    /// The names in a directory (without "." and ".."); nil if it does not exist.
    static func list(_ path: String) throws(FileSystemError) -> [String]? {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return nil }
            throw .last("opendir", path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw .last("readdir", path) }
                break
            }
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    struct Status {
        var size: UInt64
        var isDirectory: Bool
        var modified: Int64  // seconds since the epoch
        var device: UInt64
    }

    /// `stat`; nil if the path does not exist.
    static func status(_ path: String) throws(FileSystemError) -> Status? {
        var st = stat()
        guard fstatat(AT_FDCWD, path, &st, 0) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .last("stat", path)
        }
        return Status(size: UInt64(st.st_size), isDirectory: (st.st_mode & S_IFMT) == S_IFDIR,
                      modified: Int64(st.st_mtim.tv_sec), device: UInt64(st.st_dev))
    }

    /// fsyncs a directory so that entries created, renamed or removed in it survive power loss.
    static func syncDirectory(_ path: String) throws(FileSystemError) {
        let d = try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY)
        try d.sync()
    }

    /// Like `syncDirectory`, but a directory removed meanwhile is not an error.
    static func syncDirectoryIfExists(_ path: String) throws(FileSystemError) {
        guard let d = try FileDescriptor.openIfExists(path, flags: O_RDONLY | O_DIRECTORY) else { return }
        try d.sync()
    }

    /// Bytes available to unprivileged users on the file system holding `path`.
    static func availableSpace(_ path: String) throws(FileSystemError) -> UInt64 {
        let d = try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY)
        var st = statvfs()
        guard fstatvfs(d.fd, &st) == 0 else { throw .last("statvfs", path) }
        return UInt64(st.f_bavail) * UInt64(st.f_frsize)
    }

    /// Wall-clock nanoseconds since the epoch (orders index entries across processes).
    static func nowNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Monotonic seconds (for throttling).
    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func currentTimeSeconds() -> Int64 {
        Int64(time(nil))
    }
}
