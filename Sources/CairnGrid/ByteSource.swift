import CairnFiles
#if canImport(Glibc)
import Glibc
#endif

/// Plaintext to put: random access so segments can be read by several tasks at once.
public protocol ByteSource: Sendable {
    var size: UInt64 { get }
    /// Fills `buffer` from `offset`; the range lies within `size`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws
}

/// A file on disk (the size is taken once, when opened).
public struct FileSource: ByteSource {
    let file: FileDescriptor
    public let size: UInt64

    public init(path: String) throws {
        (file, size) = try GridError.mapping {
            let file = try FileDescriptor.open(path, flags: O_RDONLY)
            let status = try file.status()
            guard !status.isDirectory else { throw GridError.io(path: path, reason: "is a directory") }
            return (file, status.size)
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        let n = try GridError.mapping { try file.read(into: buffer, at: offset) }
        guard n == buffer.count else {
            throw GridError.io(path: file.path, reason: "file shrank while it was being read")
        }
    }
}

public struct MemorySource: ByteSource {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var size: UInt64 { UInt64(bytes.count) }
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[Int(offset)..<(Int(offset) + buffer.count)]))
        }
    }
}
