import CairnFiles
import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// A pack (and its index file) that this instance holds an exclusive `flock` on, so that it alone appends.
/// Used only under `LocalDirectoryServer`'s writer lock.
final class PackWriter {
    let base: String
    let pack: FileDescriptor
    let index: FileDescriptor
    /// Where the next record goes.
    var end: UInt64
    /// Where the next index entry goes.
    var indexEnd: UInt64
    /// The end of the records the index on disk covers: what a failed sync truncates the pack back to.
    var syncedEnd: UInt64
    /// Records written since the last fsync of the pack.
    var dirty = false
    /// Set while index entries are being appended: once written they may be visible to other instances even
    /// if the fsync then fails, so their records must never be cut off (their offsets must not be reused).
    var indexWriteAttempted = false
    /// Index entries not yet appended (appended and fsynced at `sync`, after the pack's fsync).
    var unsyncedEntries: [PackFormat.IndexEntry] = []
    /// Bytes removed from a torn tail when this writer took the pack (reported by tests and logs).
    var recovered: (packBytes: UInt64, indexBytes: UInt64) = (0, 0)

    private init(base: String, pack: FileDescriptor, index: FileDescriptor, end: UInt64, indexEnd: UInt64) {
        self.base = base
        self.pack = pack
        self.index = index
        self.end = end
        self.indexEnd = indexEnd
        self.syncedEnd = end
    }

    var isFull: Bool { end >= PackFormat.packSizeLimit - PackFormat.smallShareLimit - UInt64(PackFormat.recordHeaderSize) }

    /// Takes an existing pack that is not full and not locked by anyone, or creates a new one.
    /// `createdEntry` is set when a new name appeared in `packs/` (that directory then needs an fsync).
    static func acquire(layout: ServerLayout, createdEntry: inout Bool) throws -> PackWriter {
        let names = (try FileSystem.list(layout.packs) ?? []).filter { $0.hasSuffix(".pack") }.sorted()
        for name in names {
            let base = String(name.dropLast(5))
            guard let st = try FileSystem.status(layout.packPath(base)), st.size < PackFormat.packSizeLimit - PackFormat.smallShareLimit
            else { continue }
            guard let fd = try FileDescriptor.openIfExists(layout.packPath(base), flags: O_RDWR) else { continue }
            guard try fd.tryLockExclusive() else { continue }
            if let writer = try recover(layout: layout, base: base, pack: fd, createdEntry: &createdEntry),
               !writer.isFull {
                return writer
            }
        }
        return try create(layout: layout, createdEntry: &createdEntry)
    }

    /// Creates a pack and its index under temporary names in `tmp/`, locks them, then renames them into `packs/`
    /// (index first), so no other instance ever sees a pack without a header or takes it.
    static func create(layout: ServerLayout, createdEntry: inout Bool) throws -> PackWriter {
        let base = "pack-" + Hex.encode(SecureRandom.bytes(8))
        let tmpPack = layout.tmp + "/" + base + ".pack"
        let tmpIndex = layout.tmp + "/" + base + ".idx"
        let pack = try FileDescriptor.open(tmpPack, flags: O_RDWR | O_CREAT | O_EXCL)
        let index = try FileDescriptor.open(tmpIndex, flags: O_RDWR | O_CREAT | O_EXCL)
        try pack.lockExclusive()
        try index.lockExclusive()
        try pack.write(PackFormat.fileHeader(magic: PackFormat.packMagic), at: 0)
        try index.write(PackFormat.fileHeader(magic: PackFormat.indexMagic), at: 0)
        try FileSystem.rename(tmpIndex, to: layout.indexPath(base))
        try FileSystem.rename(tmpPack, to: layout.packPath(base))
        createdEntry = true
        let h = UInt64(PackFormat.fileHeaderSize)
        let w = PackWriter(base: base, pack: pack, index: index, end: h, indexEnd: h)
        w.dirty = true  // the header itself must reach the disk at the next sync
        return w
    }

    /// Validates a locked pack against its index and truncates torn tails; nil if the pack is damaged in a way
    /// that makes appending unsafe (it is then left alone and stays readable).
    static func recover(layout: ServerLayout, base: String, pack: FileDescriptor, createdEntry: inout Bool) throws -> PackWriter? {
        let h = UInt64(PackFormat.fileHeaderSize)
        var packSize = try pack.size
        switch PackFormat.checkFileHeader(try pack.read(count: PackFormat.fileHeaderSize, at: 0), magic: PackFormat.packMagic) {
        case .valid: break
        case .empty:
            // Power loss right after creation: nothing in it was ever indexed.
            try pack.truncate(to: 0)
            try pack.write(PackFormat.fileHeader(magic: PackFormat.packMagic), at: 0)
            packSize = h
        case .damaged: return nil
        }

        let indexPath = layout.indexPath(base)
        var index: FileDescriptor
        var rebuild = false
        if let existing = try FileDescriptor.openIfExists(indexPath, flags: O_RDWR) {
            index = existing
        } else {
            index = try FileDescriptor.open(indexPath, flags: O_RDWR | O_CREAT)
            createdEntry = true
            rebuild = true
        }
        // Never wait for this lock: whoever holds it (an instance still letting go of the pack) is using
        // the pack, so it is not ours to append to. A blocking wait here once ran into the 120 s deadline.
        guard try index.tryLockExclusive() else { return nil }
        var indexSize = try index.size
        switch PackFormat.checkFileHeader(try index.read(count: PackFormat.fileHeaderSize, at: 0), magic: PackFormat.indexMagic) {
        case .valid: break
        case .empty:
            try index.truncate(to: 0)
            try index.write(PackFormat.fileHeader(magic: PackFormat.indexMagic), at: 0)
            indexSize = h
            rebuild = true
        case .damaged: return nil
        }

        var recoveredIndexBytes: UInt64 = 0
        var validEnd = h
        var rebuilt: [PackFormat.IndexEntry] = []
        if rebuild {
            // No index (lost, or deleted by hand): rebuild it from the self-describing records, stepping over a
            // damaged one to the next record that checks out. Without the index nothing tells a torn tail from
            // rot, so nothing is cut: a pack whose records do not end exactly at its end is never appended to.
            let scan = try scanRecords(pack, size: packSize)
            rebuilt = scan.entries
            if !rebuilt.isEmpty {
                try index.write(PackFormat.encode(rebuilt), at: h)
                try pack.sync()
                try index.sync()
                indexSize = h + UInt64(rebuilt.count * PackFormat.indexEntrySize)
            }
            guard scan.end == packSize && scan.skipped == 0 else { return nil }
            validEnd = scan.end
        } else {
            // Keep whole entries up to the last one whose CRC holds; a partial or failing tail is torn.
            let body = try index.read(count: Int(indexSize - h), at: h)
            let count = body.count / PackFormat.indexEntrySize
            var lastGood = -1
            body.withUnsafeBytes { p in
                for i in 0..<count {
                    guard let e = PackFormat.decodeEntry(p, at: i * PackFormat.indexEntrySize) else { continue }
                    lastGood = i
                    if !e.isDropped { validEnd = max(validEnd, e.recordEnd) }
                }
            }
            let goodSize = h + UInt64((lastGood + 1) * PackFormat.indexEntrySize)
            if goodSize < indexSize {
                try index.truncate(to: goodSize)
                recoveredIndexBytes = indexSize - goodSize
                indexSize = goodSize
            }
        }

        // The index claims records the pack does not have (disk lost data it had acknowledged): appending
        // would put new records under those entries. Leave the pack to readers, who skip such entries.
        if packSize < validEnd { return nil }
        var recoveredPackBytes: UInt64 = 0
        if packSize > validEnd {
            // Records appended but never indexed (no completed sync covered them), or a torn write.
            try pack.truncate(to: validEnd)
            recoveredPackBytes = packSize - validEnd
        }
        let w = PackWriter(base: base, pack: pack, index: index, end: validEnd, indexEnd: indexSize)
        w.recovered = (recoveredPackBytes, recoveredIndexBytes)
        w.dirty = recoveredPackBytes > 0
        return w
    }

    /// Entries rebuilt from a pack get the oldest possible sequences (1, 2, 3, … in record order, so a later
    /// record of the same share in this pack wins): any rewrite recorded elsewhere wins over them.
    static let rebuiltSequence: UInt64 = 1

    /// Reads every record of a pack whose header and data CRCs hold. After a record that does not check out,
    /// it searches forward for the next one that does (a record header is self-identifying: magic, CRC). `end`
    /// is the end of the last good record; `skipped` counts the damaged stretches stepped over.
    static func scanRecords(_ pack: FileDescriptor, size: UInt64) throws
        -> (entries: [PackFormat.IndexEntry], end: UInt64, skipped: Int) {
        var entries: [PackFormat.IndexEntry] = []
        var offset = UInt64(PackFormat.fileHeaderSize)
        var end = offset
        var skipped = 0
        while offset + UInt64(PackFormat.recordHeaderSize) <= size {
            if let entry = try record(pack, at: offset, size: size, ordinal: entries.count) {
                entries.append(entry)
                offset = entry.recordEnd
                end = offset
                continue
            }
            guard let next = try nextRecord(pack, after: offset, size: size) else { break }
            skipped += 1
            offset = next
        }
        return (entries, end, skipped)
    }

    /// The record at `offset` if its header and data check out.
    private static func record(_ pack: FileDescriptor, at offset: UInt64, size: UInt64, ordinal: Int) throws -> PackFormat.IndexEntry? {
        guard let header = PackFormat.parseRecordHeader(try pack.read(count: PackFormat.recordHeaderSize, at: offset)),
              header.length <= PackFormat.smallShareLimit,
              offset + UInt64(PackFormat.recordHeaderSize) + header.length <= size
        else { return nil }
        let data = try pack.read(count: Int(header.length), at: offset + UInt64(PackFormat.recordHeaderSize))
        guard CRC32.checksum(data) == header.dataCRC else { return nil }
        return .init(key: header.key, flags: 0, recordOffset: offset, length: header.length,
                     sequence: rebuiltSequence + UInt64(ordinal), dataCRC: header.dataCRC)
    }

    /// The offset of the next record that checks out after `offset`, reading 1 MiB at a time.
    private static func nextRecord(_ pack: FileDescriptor, after offset: UInt64, size: UInt64) throws -> UInt64? {
        let magic = PackFormat.recordMagic
        var start = offset + 1
        while start + UInt64(PackFormat.recordHeaderSize) <= size {
            let window = try pack.read(count: Int(min(UInt64(1 << 20), size - start)), at: start)
            if window.count < magic.count { return nil }
            for i in 0...(window.count - magic.count) where window[i] == magic[0] && Array(window[i..<(i + magic.count)]) == magic {
                let candidate = start + UInt64(i)
                if try record(pack, at: candidate, size: size, ordinal: 0) != nil { return candidate }
            }
            start += UInt64(window.count - magic.count + 1)
        }
        return nil
    }

    /// Appends the unsynced index entries and fsyncs the index (call after the pack's fsync).
    func syncIndex() throws {
        guard !unsyncedEntries.isEmpty else { return }
        let bytes = PackFormat.encode(unsyncedEntries)
        indexWriteAttempted = true
        try index.write(bytes, at: indexEnd)
        try index.sync()
        indexWriteAttempted = false
        indexEnd += UInt64(bytes.count)
        unsyncedEntries.removeAll(keepingCapacity: true)
        syncedEnd = end
    }

    /// After a failed flush or sync: cuts the pack and its index back to what the last successful sync made
    /// durable, so a full disk gets its space back now rather than when the next writer takes the pack.
    func discardUnsynced() throws {
        unsyncedEntries.removeAll()
        // Entries that may already be read elsewhere keep their records; the pack is merely given up.
        guard !indexWriteAttempted else { return }
        try index.truncate(to: indexEnd)
        try pack.truncate(to: syncedEnd)
        end = syncedEnd
        dirty = false
    }

    func syncPack() throws {
        guard dirty else { return }
        try pack.sync()
        dirty = false
    }
}
