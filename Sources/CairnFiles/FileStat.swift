#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What `stat`, `lstat` or `fstat` says about a file.
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

    public var isDirectory: Bool { kind == .directory }
    /// Modification time, whole seconds since the epoch.
    public var modified: Int64 { mtimeSeconds }

    public init(kind: Kind, mode: UInt32, size: UInt64, mtimeSeconds: Int64, mtimeNanoseconds: UInt32,
                ctimeSeconds: Int64, ctimeNanoseconds: UInt32, inode: UInt64, device: UInt64) {
        self.kind = kind
        self.mode = mode
        self.size = size
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeSeconds = ctimeSeconds
        self.ctimeNanoseconds = ctimeNanoseconds
        self.inode = inode
        self.device = device
    }

    init(_ st: stat) {
        let type = st.st_mode & S_IFMT
        kind = type == S_IFREG ? .file : type == S_IFDIR ? .directory : type == S_IFLNK ? .symlink : .other
        mode = UInt32(st.st_mode)
        size = UInt64(st.st_size)
        mtimeSeconds = Int64(st.st_mtim.tv_sec)
        mtimeNanoseconds = UInt32(st.st_mtim.tv_nsec)
        ctimeSeconds = Int64(st.st_ctim.tv_sec)
        ctimeNanoseconds = UInt32(st.st_ctim.tv_nsec)
        inode = UInt64(st.st_ino)
        device = UInt64(st.st_dev)
    }
}
