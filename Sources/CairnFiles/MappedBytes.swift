#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Read-only bytes that stay put: a file mapped into memory (its pages come and go with the page cache,
/// so a large index read by binary search costs little resident memory), or a copy of an array.
public final class MappedBytes: @unchecked Sendable {
    // Immutable after init; unmapped or freed in deinit.
    public let buffer: UnsafeRawBufferPointer
    private let mapped: Bool

    public init(copying bytes: [UInt8]) {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { b.copyMemory(from: $0) }
        buffer = UnsafeRawBufferPointer(rebasing: b[..<bytes.count])
        mapped = false
    }

    /// Maps the whole file at `path` (an empty file gives an empty buffer); a file of at most
    /// `prefetchingUpTo` bytes is read ahead into the page cache (see `FileDescriptor.prefetch`).
    public init(mapping path: some FileSystemPath, prefetchingUpTo prefetchLimit: Int = 0) throws(FileSystemError) {
        let file = try FileDescriptor.open(path, flags: O_RDONLY)
        let size = Int(try file.size)
        if size <= prefetchLimit { file.prefetch() }
        guard size > 0 else {
            buffer = UnsafeRawBufferPointer(start: nil, count: 0)
            mapped = false
            return
        }
        guard let start = mmap(nil, size, PROT_READ, MAP_PRIVATE, file.fd, 0), start != MAP_FAILED else {
            throw .last("mmap", path.description)
        }
        buffer = UnsafeRawBufferPointer(start: start, count: size)
        mapped = true
    }

    /// Lets go of the mapped pages this process has touched (they stay in the page cache and come back on
    /// the next read): a lookup per file of a million-file commit would otherwise make the whole index
    /// resident, and resident mapped pages count as the process's memory. Nothing for a copy.
    public func dropResidentPages() {
        guard mapped else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: buffer.baseAddress!), buffer.count, MADV_DONTNEED)  // advice only
    }

    deinit {
        if mapped {
            _ = munmap(UnsafeMutableRawPointer(mutating: buffer.baseAddress!), buffer.count)  // nothing to report
        } else if let base = buffer.baseAddress {
            base.deallocate()
        }
    }
}
