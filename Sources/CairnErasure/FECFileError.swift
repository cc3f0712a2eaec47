import CairnFiles

/// Why encoding to or decoding from zfec `.fec` share files failed; each message names the file and what to do.
public enum FECFileError: Error, Equatable, CustomStringConvertible, Sendable {
    /// An output file exists and overwriting was not asked for.
    case fileExists(path: String)
    /// A system call failed on a file (`operation` is e.g. "open", "read", "write").
    case io(path: String, operation: String, errno: Int32)
    /// The input is not a regular file, so its size cannot be known up front (the header needs it).
    case notARegularFile(path: String)
    /// The input's size changed while it was being encoded.
    case inputChanged(path: String, expected: Int64, observed: Int64)
    /// A header field is out of range.
    case invalidHeader(reason: String)
    /// A share file's header is missing, truncated or impossible.
    case corruptHeader(path: String, reason: String)
    /// Two share files disagree on M, K or the pad length.
    case mismatchedShareFiles(path: String, field: String, value: Int, otherPath: String, otherValue: Int)
    /// Share files carry blocks of different lengths.
    case unequalShareLengths(path: String, length: Int64, otherPath: String, otherLength: Int64)
    /// Fewer distinct shares than K.
    case insufficientShareFiles(needed: Int, got: Int)

    public var description: String {
        switch self {
        case let .fileExists(path):
            return "there is already a file named '\(path)'; use -f to overwrite"
        case let .io(path, operation, code):
            return "cannot \(operation) '\(path)': \(FileSystemError.message(code))"
        case let .notARegularFile(path):
            return "'\(path)' is not a regular file; its size must be known before encoding"
        case let .inputChanged(path, expected, observed):
            return "'\(path)' changed size during encoding (was \(expected) bytes, read \(observed)); encode it again"
        case let .invalidHeader(reason):
            return "invalid share file header: \(reason)"
        case let .corruptHeader(path, reason):
            return "share file '\(path)' is corrupt: \(reason)"
        case let .mismatchedShareFiles(path, field, value, otherPath, otherValue):
            return "share file '\(path)' says \(field)=\(value) but '\(otherPath)' says \(field)=\(otherValue); they belong to different files"
        case let .unequalShareLengths(path, length, otherPath, otherLength):
            return "share files differ in length: '\(path)' has \(length) bytes of blocks, '\(otherPath)' has \(otherLength); one is truncated or corrupt"
        case let .insufficientShareFiles(needed, got):
            return "\(needed) distinct share files are required to recover this file, but only \(got) were given"
        }
    }
}

extension FECFileError {
    /// The one translation of the file layer's errors: "cannot OPERATION 'PATH': strerror". `creating`: the
    /// failed call created an output, so an existing file is `fileExists` and an open is a "create".
    init(_ error: FileSystemError, creating: Bool = false) {
        if creating && error.isExists {
            self = .fileExists(path: error.path)
            return
        }
        let operation = switch error.operation {
        case "open" where creating: "create"
        case "fstat": "stat"
        default: error.operation
        }
        self = .io(path: error.path, operation: operation, errno: error.code)
    }

    /// Runs `body`, reporting the file layer's errors as `FECFileError`s.
    static func mapping<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as FileSystemError { throw FECFileError(error) }
    }
}
