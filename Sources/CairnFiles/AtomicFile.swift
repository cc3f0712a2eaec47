#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file replaced whole: written under a temporary name beside it (`NAME.cairn-tmp-PID`), then fsynced,
/// renamed over `NAME` and the folder fsynced (`commit`). Readers see the old bytes or the new ones, never
/// a mix, and after `commit` returns the new ones survive power loss. Not committed (an error, or the
/// object dropped), the temporary file is removed; a killed process leaves it behind, for
/// `removeStaleTemporaries` (or the caller's own sweep) to delete. One writer per path per process at a time.
public final class AtomicFile {
    public let path: FSPath
    public let temporaryPath: FSPath
    /// The temporary file, open for writing.
    public let file: FileDescriptor
    private var finished = false

    /// Creates the temporary file (`permissions`, less the umask).
    public init(replacing path: some FileSystemPath, permissions: mode_t = 0o600) throws(FileSystemError) {
        self.path = path.fsPath
        let name = self.path.name
        temporaryPath = FSPath(Array(self.path.bytes.dropLast(name.count)) + FileSystem.temporaryName(for: name))
        file = try FileDescriptor.open(temporaryPath, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: permissions)
    }

    deinit { if !finished { discard() } }

    /// How much of a replacement must survive power loss when `commit` returns.
    public enum Durability: Sendable {
        /// Nothing is fsynced: a crash may leave the old file, or the new name with missing bytes.
        case none
        /// The file is fsynced before the rename; the caller fsyncs the folder (once for many files).
        case fileOnly
        /// The file is fsynced before the rename and the folder after it.
        case full
    }

    /// Renames the temporary file into place, fsyncing as `durability` says.
    public func commit(_ durability: Durability = .full) throws(FileSystemError) {
        precondition(!finished, "AtomicFile committed twice")
        do {
            if durability != .none { try file.sync() }
            try file.close()
            try FileSystem.rename(temporaryPath, to: path)
            finished = true
        } catch {
            discard()
            throw error
        }
        if durability == .full { try FileSystem.syncDirectory(path.parent) }
    }

    /// Gives up: removes the temporary file (a failure to remove it is not reported: the name says what it is).
    public func discard() {
        guard !finished else { return }
        finished = true
        _ = try? file.close()
        _ = try? FileSystem.unlink(temporaryPath)
    }
}

extension FileSystem {
    /// Replaces `path` with `bytes` through an `AtomicFile`: temporary file in the same folder, write, fsync,
    /// rename, fsync the folder (less with a weaker `durability`).
    public static func writeAtomically(_ path: some FileSystemPath, _ bytes: [UInt8], permissions: mode_t = 0o600,
                                       durability: AtomicFile.Durability = .full) throws(FileSystemError) {
        let f = try AtomicFile(replacing: path, permissions: permissions)
        try f.file.write(bytes)
        try f.commit(durability)
    }

    /// What an `AtomicFile` adds to a name: `NAME.cairn-tmp-PID`.
    public static let temporaryMarker = Array(".cairn-tmp-".utf8)
    /// The longest name Linux file systems take (NAME_MAX).
    static let nameLimit = 255

    /// `NAME.cairn-tmp-PID`; for a name too long for that, its first bytes, `~` and eight hex digits of
    /// a hash of the whole name, then `.cairn-tmp-PID`: a temporary name must fit where its name fits
    /// (a 255-byte name once committed, then blocked every checkout and clone).
    public static func temporaryName(for name: [UInt8]) -> [UInt8] {
        let suffix = temporaryMarker + Array(String(getpid()).utf8)
        guard name.count + suffix.count > nameLimit else { return name + suffix }
        var h: UInt32 = 2_166_136_261  // FNV-1a: tells apart long names sharing their first bytes
        for b in name { h = (h ^ UInt32(b)) &* 16_777_619 }
        let digits = Array("0123456789abcdef".utf8)
        let tag: [UInt8] = [0x7E] + (0..<8).map { digits[Int((h >> (28 - 4 * UInt32($0))) & 15)] }
        return Array(name.prefix(nameLimit - suffix.count - tag.count)) + tag + suffix
    }

    /// The process id in a temporary name `<name>.cairn-tmp-<pid>`, or nil for any other name.
    public static func temporaryOwner(_ name: [UInt8]) -> Int32? {
        let m = temporaryMarker
        guard name.count > m.count else { return nil }
        var i = name.count - m.count
        while i > 0 {
            if name[i] == m[0] && Array(name[i..<(i + m.count)]) == m { break }
            i -= 1
        }
        let digits = name[(i + m.count)...]
        guard i > 0, !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int32(String(decoding: digits, as: UTF8.self))
    }

    /// Removes the temporary files of dead processes (a killed writer) from `dir`; those of live
    /// processes, and everything else, stay. Best effort: what cannot be listed or removed stays too.
    public static func removeStaleTemporaries(in dir: some FileSystemPath) {
        let d = dir.fsPath
        guard let names = try? names(in: d) else { return }
        for name in names {
            guard let pid = temporaryOwner(name), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = d.appending(name)
            if (try? linkStatus(path))?.kind == .file { _ = try? unlink(path) }
        }
    }
}
