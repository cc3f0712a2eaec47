#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file descriptor with whole-buffer reads and writes (retrying short transfers and EINTR) and
/// errors that name the file. Closed explicitly (to see close errors) or, failing that, in deinit.
final class PosixFile {
    let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { if fd >= 0 { _ = sysClose(fd) } }

    static func openForReading(_ path: String) throws -> PosixFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FECFileError.io(path: path, operation: "open", errno: errno) }
        return PosixFile(path: path, fd: fd)
    }

    /// Creates `path`; when `overwrite` is false an existing file is an error (O_EXCL, as zfec does).
    static func create(_ path: String, overwrite: Bool) throws -> PosixFile {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL)
        let fd = open(path, flags, 0o666)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST { throw FECFileError.fileExists(path: path) }
            throw FECFileError.io(path: path, operation: "create", errno: code)
        }
        return PosixFile(path: path, fd: fd)
    }

    /// Size in bytes, and whether this is a regular file.
    func status() throws -> (size: Int64, isRegular: Bool) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FECFileError.io(path: path, operation: "stat", errno: errno) }
        return (Int64(info.st_size), (info.st_mode & S_IFMT) == S_IFREG)
    }

    /// Reads until `count` bytes or end of file; returns the number read.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var done = 0
        while done < count {
            let got = sysRead(fd, buffer + done, count - done)
            if got > 0 { done += got; continue }
            if got == 0 { break }
            if errno == EINTR { continue }
            throw FECFileError.io(path: path, operation: "read", errno: errno)
        }
        return done
    }

    func write(from buffer: UnsafeRawPointer, count: Int) throws {
        var done = 0
        while done < count {
            let put = sysWrite(fd, buffer + done, count - done)
            if put >= 0 { done += put; continue }
            if errno == EINTR { continue }
            throw FECFileError.io(path: path, operation: "write", errno: errno)
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { if let base = $0.baseAddress { try write(from: base, count: $0.count) } }
    }

    func close() throws {
        guard fd >= 0 else { return }
        let result = sysClose(fd)
        fd = -1
        if result != 0 { throw FECFileError.io(path: path, operation: "close", errno: errno) }
    }

    static func remove(_ path: String) { _ = unlink(path) }
}

/// The C library's message for an errno value.
func systemErrorMessage(_ code: Int32) -> String { String(cString: strerror(code)) }

// The C functions, named apart from this class's methods of the same name.
private func sysRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(fd, buffer, count) }
private func sysWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
private func sysClose(_ fd: Int32) -> Int32 { close(fd) }
