#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
#error("CairnFiles is written for Linux (Glibc)")
#endif

/// A failed system call: the operation, the path and the errno (with its strerror text). The one error
/// type of the file layer; each module above maps it to its own errors in one place.
public struct FileSystemError: Error, CustomStringConvertible, Equatable, Sendable {
    public let operation: String
    public let path: String
    public let code: Int32

    public init(operation: String, path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    /// The C library's text for the errno ("No such file or directory").
    public var message: String { Self.message(code) }
    public var reason: String { "\(operation): \(message) (errno \(code))" }
    public var description: String { "\(path): \(reason)" }

    /// The disk (or the user's quota) is full.
    public var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
    public var isNotFound: Bool { code == ENOENT }
    public var isExists: Bool { code == EEXIST }
    public var isDirectory: Bool { code == EISDIR }

    /// The error of the system call that just failed (from `errno`).
    static func last(_ operation: String, _ path: String) -> FileSystemError {
        FileSystemError(operation: operation, path: path, code: errno)
    }

    /// strerror for any errno value.
    public static func message(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// Runs a system call that returns -1 and sets errno on failure, again while it fails with EINTR: the one
/// EINTR loop of the file layer (`close` excepted: Linux frees the descriptor even then).
@inline(__always)
func retrying<T: BinaryInteger>(_ operation: String, _ path: @autoclosure () -> String,
                                _ call: () -> T) throws(FileSystemError) -> T {
    while true {
        let result = call()
        if result >= 0 { return result }
        let code = errno
        if code == EINTR { continue }
        throw FileSystemError(operation: operation, path: path(), code: code)
    }
}
