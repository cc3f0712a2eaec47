import CairnFiles
#if canImport(Glibc)
import Glibc
#endif

/// Reads the index files of a server directory incrementally: each refresh lists `packs/` for new index files
/// and reads only the bytes appended to known ones since the last refresh. Takes no lock on any file.
/// Used only under `LocalDirectoryServer`'s refresh lock.
struct IndexReader {
    struct Cursor {
        var fd: FileDescriptor?
        /// Bytes consumed (0 until the header has been read and validated).
        var consumed: UInt64 = 0
        /// The header is damaged or of an unknown version: skip the file.
        var unusable = false
        /// A bad entry followed by good ones: where and when first seen. A writer's append racing with this
        /// read looks the same for an instant, so the entry is skipped for good only once it has stayed bad.
        var stuck: (offset: UInt64, since: Double)?
    }

    struct Batch {
        var base: String
        var packSize: UInt64
        var entries: [PackFormat.IndexEntry]
    }

    static let stuckEntryPatience = 2.0

    let layout: ServerLayout
    var cursors: [String: Cursor] = [:]
    /// Damage noticed while reading (bad entries skipped, unusable files), for `LocalDirectoryServer.problems`.
    var problems: [String] = []

    init(layout: ServerLayout) { self.layout = layout }

    mutating func reset() { cursors = [:] }

    /// Reads every new entry of every index file.
    mutating func poll() throws -> [Batch] {
        if let names = try FileSystem.list(layout.packs) {
            for name in names where name.hasSuffix(".idx") {
                let base = String(name.dropLast(4))
                if cursors[base] == nil { cursors[base] = Cursor() }
            }
        }
        var batches: [Batch] = []
        for base in cursors.keys.sorted() {
            if let batch = try poll(base) { batches.append(batch) }
        }
        return batches
    }

    private mutating func poll(_ base: String) throws -> Batch? {
        guard var c = cursors[base], !c.unusable else { return nil }
        defer { cursors[base] = c }
        let path = layout.indexPath(base)
        if c.fd == nil {
            guard let fd = try FileDescriptor.openIfExists(path, flags: O_RDONLY) else { return nil }
            c.fd = fd
        }
        let fd = c.fd!
        let size = try fd.size
        let h = UInt64(PackFormat.fileHeaderSize)
        if c.consumed == 0 {
            guard size >= h else { return nil }  // being created or recovered: look again next time
            switch PackFormat.checkFileHeader(try fd.read(count: PackFormat.fileHeaderSize, at: 0), magic: PackFormat.indexMagic) {
            case .valid: c.consumed = h
            case .empty: return nil
            case .damaged(let why):
                c.unusable = true
                problems.append("\(path): \(why); its shares are invisible")
                return nil
            }
        }
        if size < c.consumed { c.consumed = h }  // shrank under us (edited by hand): read it all again
        let whole = (size - c.consumed) / UInt64(PackFormat.indexEntrySize) * UInt64(PackFormat.indexEntrySize)
        guard whole > 0 else { return nil }
        let bytes = try fd.read(count: Int(whole), at: c.consumed)
        let count = bytes.count / PackFormat.indexEntrySize
        var entries: [PackFormat.IndexEntry] = []
        entries.reserveCapacity(count)
        var firstBad: Int?
        var lastGood = -1
        bytes.withUnsafeBytes { p in
            for i in 0..<count {
                if let e = PackFormat.decodeEntry(p, at: i * PackFormat.indexEntrySize) {
                    entries.append(e)
                    lastGood = i
                } else if firstBad == nil {
                    firstBad = i
                }
            }
        }
        let entrySize = UInt64(PackFormat.indexEntrySize)
        if let bad = firstBad {
            let badOffset = c.consumed + UInt64(bad) * entrySize
            if bad > lastGood {
                // Only a bad tail: a torn append (the next writer truncates it) or one still being written.
                c.consumed = badOffset
                c.stuck = nil
            } else if let s = c.stuck, s.offset == badOffset,
                      FileSystem.monotonicSeconds() - s.since >= Self.stuckEntryPatience {
                problems.append("\(path): index entry at offset \(badOffset) fails its checksum; skipped")
                c.consumed += UInt64(lastGood + 1) * entrySize
                c.stuck = nil
            } else {
                // Apply what we read (re-applying later is harmless) but re-read from the bad entry next time.
                if c.stuck?.offset != badOffset { c.stuck = (badOffset, FileSystem.monotonicSeconds()) }
                c.consumed = badOffset
            }
        } else {
            c.consumed += whole
            c.stuck = nil
        }
        guard !entries.isEmpty else { return nil }
        let packSize = try FileSystem.status(layout.packPath(base))?.size ?? 0
        return Batch(base: base, packSize: packSize, entries: entries)
    }
}
