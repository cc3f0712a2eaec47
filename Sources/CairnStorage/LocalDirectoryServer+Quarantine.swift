import CairnFiles
import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// What the local server does about corruption: it records reports, keeps superseded copies in
/// `quarantine/` (durable before a replacement can win) and deletes them only when asked
/// (Documentation/LocalGrid.md, "Reports" and "Replacements").
extension LocalDirectoryServer {
    /// Records the report (a line in `corruption-reports`, fsynced) and changes nothing else: the share stays
    /// readable until a repair's replacement supersedes it, so a mistaken report can never lose data.
    public func reportCorrupt(_ index: StorageIndex, share: ShareNumber, reason: String) async throws {
        try await io.run { [self] () throws(StorageError) in try mapped {
            let clean = reason.map { $0.isNewline ? " " : $0 }
            let line = "\(FileSystem.currentTimeSeconds()) \(index.hex) \(share) \(String(clean))\n"
            let created = try FileSystem.status(layout.reportsFile) == nil
            let fd = try FileDescriptor.open(layout.reportsFile, flags: O_WRONLY | O_CREAT | O_APPEND)
            try fd.write(Array(line.utf8), at: 0)
            try fd.sync()
            if created { try FileSystem.syncDirectory(layout.root) }
        } }
    }

    /// Deletes the bytes repairs kept in `quarantine/` (or, with `dryRun`, only counts them): the one way they
    /// go. Returns the files and bytes reclaimed.
    public func reclaimQuarantine(dryRun: Bool = false) async throws -> (files: Int, bytes: UInt64) {
        try await io.run { [self] () throws(StorageError) in try mapped {
            var files = 0, bytes: UInt64 = 0
            for name in try FileSystem.list(layout.quarantine) ?? [] {
                let path = layout.quarantine + "/" + name
                guard let st = try FileSystem.status(path), !st.isDirectory else { continue }
                files += 1
                bytes += st.size
                if !dryRun { try FileSystem.unlink(path) }
            }
            if files > 0 && !dryRun { try FileSystem.syncDirectory(layout.quarantine) }
            return (files, bytes)
        } }
    }

    /// Keeps the live copy of a share that a replacement is about to supersede: a hard link of a large share's
    /// file, a copy of a pack record's bytes, in `quarantine/`, durable before the replacement can win.
    func quarantine(_ index: StorageIndex, _ k: ShareKey) throws {
        let target = layout.quarantine + "/\(index.hex).\(k.share).\(Hex.encode(SecureRandom.bytes(8)))"
        let createdFolder = try FileSystem.makeDirectory(layout.quarantine)
        if createdFolder { try FileSystem.syncDirectory(layout.root) }
        var kept = try FileSystem.link(layout.largePath(index, k.share), to: target)
        if !kept, let found = try findOnce(k, index) {
            let tmp = target + ".tmp"
            let out = try FileDescriptor.open(tmp, flags: O_WRONLY | O_CREAT | O_EXCL)
            switch found {
            case .memory(let b): try out.write(Array(UnsafeRawBufferPointer(b.data)), at: 0)
            case .file(let fd, let dataOffset, let length):
                var copied: UInt64 = 0
                while copied < length {
                    let chunk = try fd.read(count: Int(min(length - copied, 1 << 20)), at: dataOffset + copied)
                    if chunk.isEmpty { break }
                    try out.write(chunk, at: copied)
                    copied += UInt64(chunk.count)
                }
            }
            try out.sync()
            try FileSystem.rename(tmp, to: target)
            kept = true
        }
        if kept { try FileSystem.syncDirectory(layout.quarantine) }
    }
}
