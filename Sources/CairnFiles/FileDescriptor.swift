#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// An open file descriptor, closed by `close()` (to see its error) or when the last reference goes away
/// (which also releases its `flock`). The kernel makes `pread`/`pwrite` at explicit offsets safe from any
/// thread; the sequential `read`/`write` (pipes, standard input and output) are for one thread at a time.
public final class FileDescriptor: Sendable {
    let fd: Int32
    /// For messages.
    public let path: String
    private let owned: Bool
    private let closed = Atomic<Bool>(false)

    private init(fd: Int32, path: String, owned: Bool) {
        self.fd = fd
        self.path = path
        self.owned = owned
    }

    deinit {
        // Nothing can report a failure here; callers that must know call `close()`.
        if owned && !closed.load(ordering: .relaxed) { _ = Glibc.close(fd) }
    }

    public static let standardInput = FileDescriptor(fd: 0, path: "standard input", owned: false)
    public static let standardOutput = FileDescriptor(fd: 1, path: "standard output", owned: false)

    /// `open(2)` with O_CLOEXEC added; `mode` applies (less the umask) when the flags create the file.
    public static func open(_ path: some FileSystemPath, flags: Int32, mode: mode_t = 0o600) throws(FileSystemError) -> FileDescriptor {
        let fd = try retrying("open", path.description) { path.withCString { Glibc.open($0, flags | O_CLOEXEC, mode) } }
        return FileDescriptor(fd: fd, path: path.description, owned: true)
    }

    /// Creates a new file `DIR/PREFIX` + six random characters (`mkstemp`, mode 0600), open for reading and writing.
    public static func createTemporary(in directory: String, prefix: String) throws(FileSystemError) -> FileDescriptor {
        let pattern = directory + "/" + prefix + "XXXXXX"
        var template = Array(pattern.utf8CString)
        let created = try retrying("mkstemp", pattern) { mkstemp(&template) }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // mkostemp (for O_CLOEXEC) is not visible from Swift's Glibc module: reopen the new file with it.
        defer { _ = Glibc.close(created) }  // nothing was written through it: nothing to report
        return try open(path, flags: O_RDWR)
    }

    /// How many more descriptors this process could open now, counting up to `wanted` (each is opened
    /// on "/" and closed again), and the soft `RLIMIT_NOFILE` they count against.
    public static func headroom(upTo wanted: Int) -> (free: Int, limit: UInt64) {
        var opened: [Int32] = []
        defer { for fd in opened { _ = Glibc.close(fd) } }  // nothing was written through them
        while opened.count < wanted {
            let fd = Glibc.open("/", O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                if errno == EINTR { continue }
                break
            }
            opened.append(fd)
        }
        var limit = rlimit()
        let soft = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 ? UInt64(limit.rlim_cur) : 0
        return (opened.count, soft)
    }

    public static func openIfExists(_ path: some FileSystemPath, flags: Int32) throws(FileSystemError) -> FileDescriptor? {
        do { return try open(path, flags: flags) } catch where error.isNotFound { return nil }
    }

    /// Closes now and reports the error (a write-back failure on some file systems). Only the first
    /// call closes; the descriptor must not be used afterwards.
    public func close() throws(FileSystemError) {
        guard owned, !closed.exchange(true, ordering: .relaxed) else { return }
        // No EINTR loop: Linux has released the descriptor even when close fails with EINTR.
        if Glibc.close(fd) != 0 && errno != EINTR { throw .last("close", path) }
    }

    // MARK: Reading

    /// Reads up to `buffer.count` bytes at `offset`; returns fewer only at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(FileSystemError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try retrying("read", path) {
                Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads `count` bytes at `offset` (fewer at end of file).
    public func read(count: Int, at offset: UInt64) throws(FileSystemError) -> [UInt8] {
        try filled(count) { buffer throws(FileSystemError) in try read(into: buffer, at: offset) }
    }

    /// Reads from the current position until `buffer` is full or the input ends; returns the count read.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileSystemError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try readSome(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// One `read(2)` from the current position (what a pipe has now); 0 at end of input.
    public func readSome(into buffer: UnsafeMutableRawBufferPointer) throws(FileSystemError) -> Int {
        guard buffer.count > 0 else { return 0 }
        return try retrying("read", path) { Glibc.read(fd, buffer.baseAddress!, buffer.count) }
    }

    /// Everything from the current position to the end.
    public func readAll() throws(FileSystemError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(try size))
        var done = 0
        while true {
            if done == out.count {
                // At the size fstat gave: most files end here. Look for more through a small buffer, so that
                // a 100-byte file does not come back in a 4 KiB allocation (a commit of 100,000 small
                // files kept 600 MB alive that way).
                var failure: FileSystemError?
                let more = withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 1) { probe -> [UInt8] in
                    do throws(FileSystemError) { return Array(probe[..<(try readSome(into: probe))]) }
                    catch { failure = error; return [] }
                }
                if let failure { throw failure }
                if more.isEmpty { return out }
                out += more
                done += more.count
                out.append(contentsOf: [UInt8](repeating: 0, count: max(4096, out.count / 2)))
            }
            var failure: FileSystemError?
            let n = out.withUnsafeMutableBytes { b in
                do throws(FileSystemError) { return try readSome(into: UnsafeMutableRawBufferPointer(rebasing: b[done...])) }
                catch { failure = error; return 0 }
            }
            if let failure { throw failure }
            if n == 0 { break }
            done += n
        }
        out.removeSubrange(done...)
        return out
    }

    // MARK: Writing

    /// Writes all of `buffer` at `offset`.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(FileSystemError) {
        var done = 0
        while done < buffer.count {
            let n = try retrying("write", path) {
                Glibc.pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            guard n > 0 else { throw FileSystemError(operation: "write", path: path, code: EIO) }
            done += n
        }
    }

    public func write(_ bytes: [UInt8], at offset: UInt64) throws(FileSystemError) {
        var failure: FileSystemError?
        bytes.withUnsafeBytes { p in do throws(FileSystemError) { try write(p, at: offset) } catch { failure = error } }
        if let failure { throw failure }
    }

    /// Writes `buffer` at `offset` into a new file, leaving each all-zero block of `sparseBlock` bytes
    /// (aligned to the file) unwritten: a hole, as `cp --sparse` and restic's `--sparse` leave. The caller
    /// sets the final size with `truncate` (a trailing run of zeros is a hole too).
    public func writeSparse(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(FileSystemError) {
        let block = Self.sparseBlock
        var at = 0
        while at < buffer.count {
            // Up to the next block boundary of the file.
            let end = min(buffer.count, at + block - Int((offset + UInt64(at)) % UInt64(block)))
            let piece = UnsafeRawBufferPointer(rebasing: buffer[at..<end])
            if piece.count < block || !Self.isZero(piece) { try write(piece, at: offset + UInt64(at)) }
            at = end
        }
    }

    public static let sparseBlock = 64 << 10

    static func isZero(_ p: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let words = p.count / 8
        while i < words {
            if p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) != 0 { return false }
            i += 1
        }
        for j in words * 8..<p.count where p[j] != 0 { return false }
        return true
    }

    /// Writes all of `buffer` at the current position (files opened for appending, pipes, standard output).
    public func write(_ buffer: UnsafeRawBufferPointer) throws(FileSystemError) {
        var done = 0
        while done < buffer.count {
            let n = try retrying("write", path) { Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done) }
            guard n > 0 else { throw FileSystemError(operation: "write", path: path, code: EIO) }
            done += n
        }
    }

    public func write(_ bytes: [UInt8]) throws(FileSystemError) {
        var failure: FileSystemError?
        bytes.withUnsafeBytes { p in do throws(FileSystemError) { try write(p) } catch { failure = error } }
        if let failure { throw failure }
    }

    /// Starts writeback of a range without waiting, so the disk works while the CPU encodes the next
    /// segments and the final fsync has little left to do. Advisory: the result is deliberately not
    /// checked (the fsync that follows reports any write error).
    public func startWriteback(offset: UInt64, count: Int) {
        // Linux's POSIX_FADV_DONTNEED starts writeback of dirty pages in the range without waiting
        // (sync_file_range is not visible from Swift's Glibc module).
        _ = Glibc.posix_fadvise(fd, off_t(offset), off_t(count), POSIX_FADV_DONTNEED)
    }

    /// Asks the kernel to read the whole file into the page cache in the background (advice only): a
    /// file about to be read piece by piece in no useful order then costs one sequential read, not one
    /// seek a piece, when it is not cached yet.
    public func prefetch() {
        _ = Glibc.posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED)
    }

    /// Writes the buffers back to back starting at `offset`, `IOV_MAX` buffers per system call.
    /// The buffers must stay allocated for the duration of the call.
    public func write(gathering buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(FileSystemError) {
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
            let n = try retrying("write", path) {
                vectors.withUnsafeBufferPointer { Glibc.pwritev(fd, $0.baseAddress, Int32($0.count), off_t(position)) }
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

    // MARK: State

    public func sync() throws(FileSystemError) {
        _ = try retrying("fsync", path) { Glibc.fsync(fd) }
    }

    public func truncate(to size: UInt64) throws(FileSystemError) {
        _ = try retrying("truncate", path) { Glibc.ftruncate(fd, off_t(size)) }
    }

    public var size: UInt64 {
        get throws(FileSystemError) { try status().size }
    }

    /// `fstat`.
    public func status() throws(FileSystemError) -> FileStat {
        var st = stat()
        _ = try retrying("fstat", path) { fstat(fd, &st) }
        return FileStat(st)
    }

    /// `fchmod` to the permission bits of `mode` (exactly: the umask does not apply).
    public func setPermissions(_ mode: UInt32) throws(FileSystemError) {
        _ = try retrying("chmod", path) { fchmod(fd, mode_t(mode & 0o7777)) }
    }

    /// `futimens`: access and modification time.
    public func setTimes(modified time: (seconds: Int64, nanoseconds: UInt32)) throws(FileSystemError) {
        var times = [timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds)),
                     timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))]
        _ = try retrying("utimens", path) { futimens(fd, &times) }
    }

    /// `flock(LOCK_EX)`, waiting for it.
    public func lockExclusive() throws(FileSystemError) {
        _ = try retrying("flock", path) { flock(fd, LOCK_EX) }
    }

    /// `flock(LOCK_EX | LOCK_NB)`: true if this descriptor now holds the lock, false if someone else does.
    public func tryLockExclusive() throws(FileSystemError) -> Bool {
        do {
            _ = try retrying("flock", path) { flock(fd, LOCK_EX | LOCK_NB) }
            return true
        } catch where error.code == EWOULDBLOCK {
            return false
        }
    }

    /// `fstatvfs`: bytes available to unprivileged users on this file's file system.
    public func availableSpace() throws(FileSystemError) -> UInt64 {
        var st = statvfs()
        _ = try retrying("statvfs", path) { fstatvfs(fd, &st) }
        return UInt64(st.f_bavail) * UInt64(st.f_frsize)
    }
}

/// An array of `count` bytes filled by `body`, cut to the count it reports.
func filled(_ count: Int, _ body: (UnsafeMutableRawBufferPointer) throws(FileSystemError) -> Int) throws(FileSystemError) -> [UInt8] {
    if count == 0 { return [] }
    var failure: FileSystemError?
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        do throws(FileSystemError) { initialized = try body(UnsafeMutableRawBufferPointer(buffer)) }
        catch { failure = error; initialized = 0 }
    }
    if let failure { throw failure }
    return bytes
}
