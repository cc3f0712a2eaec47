#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The grid client's only file access (source files to put, outputs of get): open, pread, write, fsync.
public final class PlainFile: @unchecked Sendable {
    // Immutable after init; pread/pwrite on one descriptor are safe from several threads.
    public let path: String
    let fd: Int32

    public enum Mode { case read, createTruncate, createExclusive }

    public init(path: String, mode: Mode, permissions: mode_t = 0o644) throws {
        self.path = path
        let flags: Int32
        switch mode {
        case .read: flags = O_RDONLY
        case .createTruncate: flags = O_WRONLY | O_CREAT | O_TRUNC
        case .createExclusive: flags = O_WRONLY | O_CREAT | O_EXCL
        }
        let fd = open(path, flags | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw GridError.io(path: path, reason: Self.errnoText()) }
        self.fd = fd
        if mode == .read {
            var st = stat()
            if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                close(fd)
                throw GridError.io(path: path, reason: "is a directory")
            }
        }
    }

    /// Wraps an inherited descriptor (stdin, stdout) without closing it.
    init(descriptor: Int32, name: String) {
        fd = descriptor
        path = name
        ownsDescriptor = false
    }
    private var ownsDescriptor = true

    public static let standardOutput = PlainFile(descriptor: 1, name: "standard output")
    public static let standardInput = PlainFile(descriptor: 0, name: "standard input")

    deinit { if ownsDescriptor { close(fd) } }

    public func size() throws -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GridError.io(path: path, reason: Self.errnoText()) }
        return UInt64(st.st_size)
    }

    /// Reads exactly `buffer.count` bytes at `offset` (fewer only at end of file).
    @discardableResult
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw GridError.io(path: path, reason: Self.errnoText())
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Sequential read for pipes; returns 0 at end of input.
    public func readSome(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw GridError.io(path: path, reason: Self.errnoText()) }
            return n
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ENOSPC { throw GridError.full("\(path): no space left on device") }
                throw GridError.io(path: path, reason: Self.errnoText())
            }
            done += n
        }
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    public func sync() throws {
        guard fsync(fd) == 0 else { throw GridError.io(path: path, reason: Self.errnoText()) }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
