import CairnFiles
import CairnPrimitives
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The worktree's stat cache (like git's index or Tahoe's backupdb): path + (size, mtime, ctime,
/// inode, mode) → content hash, so unchanged files are never read.
///
/// Racy-clean rule (git's): an entry whose mtime or ctime is not older than the start of the scan that
/// recorded it may have changed again within the same timestamp tick unseen, so it is never trusted;
/// the file is hashed again (and trusted after the next scan). The scan start is read from the file
/// system itself (a stamp file's mtime), so coarse or lagging file-system clocks cannot fool the rule.
///
/// One record per folder, found through a table at the end, so a scan reads only the folder it is in
/// (memory stays bounded however many files the worktree has; nothing is mapped):
/// ```
/// "CRNSTAT3" | scan start: s i64, ns u32 | folder records | folder table | table offset u64 | folder count u32 | "CRNSTAT3"
/// folder record: folder path (u16 length + bytes, relative, "" for the root) | entry count u32 | entries by name:
///   name (u8 length + bytes) | size u64 | mtime s i64 ns u32 | ctime s i64 ns u32 | inode u64 | mode u32 | content hash 32
/// folder table entry (sorted by key): key 16 (BLAKE2b-128 of the path, tag "cairn:stat-dir") | offset u64 | length u32
/// ```
public final class StatCache: Sendable {
    public struct Entry: Sendable, Equatable {
        public var stat: FileStat
        public var contentHash: [UInt8]
        public init(stat: FileStat, contentHash: [UInt8]) { self.stat = stat; self.contentHash = contentHash }
    }

    static let magic = Array("CRNSTAT3".utf8)
    static let headerSize = 20
    static let trailerSize = 20
    static let tableEntrySize = 28
    static let entryFixedSize = 76

    public let scanStart: (Int64, UInt32)
    let file: FileDescriptor?
    /// The folder table as it is in the file.
    private let table: [UInt8]
    public var folderCount: Int { table.count / Self.tableEntrySize }

    /// A cache that knows nothing.
    public static let empty = StatCache()

    private init() {
        scanStart = (0, 0)
        file = nil
        table = []
    }

    /// Opens the cache at `path`; nil if there is none. A file that is not a whole cache is an error.
    public init?(reading path: FSPath) throws {
        guard let fd = try FileDescriptor.openIfExists(path, flags: O_RDONLY) else { return nil }
        // Every folder's record is read, in the scan's order, not the file's: read it all ahead at once.
        fd.prefetch()
        let size = try fd.status().size
        guard size >= UInt64(Self.headerSize + Self.trailerSize) else { throw ObjectError.malformed("stat cache: truncated") }
        let header = try fd.read(count: Self.headerSize, at: 0)
        let trailer = try fd.read(count: Self.trailerSize, at: size - UInt64(Self.trailerSize))
        guard Array(header[0..<8]) == Self.magic, Array(trailer[12..<20]) == Self.magic else {
            throw ObjectError.malformed("not a stat cache of this version")
        }
        var h = ByteReader(Array(header[8...]))
        scanStart = (Int64(bitPattern: try h.u64()), try h.u32())
        var t = ByteReader(Array(trailer[0..<12]))
        let tableOffset = try t.u64(), count = UInt64(try t.u32())
        guard tableOffset >= UInt64(Self.headerSize), tableOffset <= size - UInt64(Self.trailerSize), count < 1 << 32,
              count * UInt64(Self.tableEntrySize) == size - UInt64(Self.trailerSize) - tableOffset else {
            throw ObjectError.malformed("stat cache: the folder table does not fit")
        }
        table = try fd.read(count: Int(count) * Self.tableEntrySize, at: tableOffset)
        file = fd
    }

    static func key(_ folder: [UInt8]) -> [UInt8] {
        TaggedHash.hash(HashTag("cairn:stat-dir"), folder, outputSize: 16)
    }

    /// The record of the folder at `relative` ([] for the root), if the cache has one.
    public func folder(_ relative: [UInt8]) -> Folder? {
        guard let file, folderCount > 0 else { return nil }
        let key = Self.key(relative)
        var lo = 0, hi = folderCount
        let found: Int? = table.withUnsafeBytes { t in
            key.withUnsafeBytes { k in
                while lo < hi {
                    let mid = (lo + hi) / 2
                    let c = memcmp(t.baseAddress! + mid * Self.tableEntrySize, k.baseAddress!, 16)
                    if c == 0 { return mid }
                    if c < 0 { lo = mid + 1 } else { hi = mid }
                }
                return nil
            }
        }
        guard let found else { return nil }
        var r = ByteReader(Array(table[(found * Self.tableEntrySize + 16)..<((found + 1) * Self.tableEntrySize)]))
        guard let offset = try? r.u64(), let length = try? r.u32(), length < 1 << 30,
              let bytes = try? file.read(count: Int(length), at: offset), bytes.count == Int(length),
              let folder = try? Folder(record: bytes, key: key, location: (offset, length), scanStart: scanStart),
              folder.path == relative else { return nil }
        return folder
    }

    /// Whether an entry recorded with `scanStart` may be trusted for a file that now has `st`.
    static func holds(_ s: FileStat, for st: FileStat, scanStart: (Int64, UInt32)) -> Bool {
        guard s.size == st.size, s.mtimeSeconds == st.mtimeSeconds, s.mtimeNanoseconds == st.mtimeNanoseconds,
              s.ctimeSeconds == st.ctimeSeconds, s.ctimeNanoseconds == st.ctimeNanoseconds,
              s.inode == st.inode, s.mode == st.mode else { return false }
        // `scanStart` is on the file system's own clock (the stamp file's mtime, as git uses its index
        // file's), so the comparison is exact whatever the file system's granularity.
        let racy = (s.mtimeSeconds, s.mtimeNanoseconds) >= scanStart || (s.ctimeSeconds, s.ctimeNanoseconds) >= scanStart
        return !racy
    }

    /// One folder's entries, parsed from its record.
    public struct Folder: Sendable {
        let path: [UInt8]
        /// The path's key in the folder table.
        let key: [UInt8]
        let record: [UInt8]
        let location: (offset: UInt64, length: UInt32)
        let scanStart: (Int64, UInt32)
        /// Per entry, sorted by name: where its name starts in `record` and its length.
        private let names: [(start: Int, count: Int)]

        init(record: [UInt8], key: [UInt8], location: (UInt64, UInt32), scanStart: (Int64, UInt32)) throws {
            self.key = key
            var r = ByteReader(record)
            path = try r.raw(Int(try r.u16()))
            let n = Int(try r.u32())
            guard n <= record.count / (Self.minimumEntry) else { throw ObjectError.malformed("stat cache: folder record too short") }
            var names: [(Int, Int)] = []
            names.reserveCapacity(n)
            var at = r.position
            for _ in 0..<n {
                guard at < record.count else { throw ObjectError.malformed("stat cache: folder record truncated") }
                let length = Int(record[at])
                guard at + 1 + length + StatCache.entryFixedSize <= record.count else { throw ObjectError.malformed("stat cache: folder record truncated") }
                names.append((at + 1, length))
                at += 1 + length + StatCache.entryFixedSize
            }
            guard at == record.count else { throw ObjectError.malformed("stat cache: folder record has trailing bytes") }
            self.names = names
            self.record = record
            self.location = location
            self.scanStart = scanStart
        }

        static let minimumEntry = 1 + StatCache.entryFixedSize

        var count: Int { names.count }

        /// The cached entry for `name` if the file looks untouched and the entry is not racy.
        public func lookup(_ name: [UInt8], _ st: FileStat) -> Entry? {
            guard let i = index(of: name) else { return nil }
            let e = entry(at: i)
            return StatCache.holds(e.stat, for: st, scanStart: scanStart) ? e : nil
        }

        private func index(of name: [UInt8]) -> Int? {
            record.withUnsafeBytes { b in
                name.withUnsafeBytes { k in
                    var lo = 0, hi = names.count
                    while lo < hi {
                        let mid = (lo + hi) / 2
                        let (start, count) = names[mid]
                        var c = memcmp(b.baseAddress! + start, k.baseAddress!, min(count, name.count))
                        if c == 0 { c = count < name.count ? -1 : count > name.count ? 1 : 0 }
                        if c == 0 { return mid }
                        if c < 0 { lo = mid + 1 } else { hi = mid }
                    }
                    return nil
                }
            }
        }

        func entry(at i: Int) -> Entry {
            var r = ByteReader(Array(record[(names[i].start + names[i].count)..<(names[i].start + names[i].count + StatCache.entryFixedSize)]))
            // Sizes were checked when the record was parsed.
            let size = try! r.u64()
            let ms = Int64(bitPattern: try! r.u64()), mns = try! r.u32()
            let cs = Int64(bitPattern: try! r.u64()), cns = try! r.u32()
            let inode = try! r.u64(), mode = try! r.u32()
            let hash = try! r.raw(32)
            return Entry(stat: FileStat(kind: .file, mode: mode, size: size, mtimeSeconds: ms, mtimeNanoseconds: mns,
                                        ctimeSeconds: cs, ctimeNanoseconds: cns, inode: inode, device: 0), contentHash: hash)
        }
    }

    /// A folder record's bytes; `entries` sorted by name, names at most 255 bytes.
    static func record(folder: [UInt8], entries: [(name: [UInt8], entry: Entry)]) -> [UInt8] {
        var w = ByteWriter(capacity: 6 + folder.count + entries.count * (Self.entryFixedSize + 16))
        w.u16(UInt16(folder.count)); w.raw(folder)
        w.u32(UInt32(entries.count))
        for (name, e) in entries {
            w.u8(UInt8(name.count)); w.raw(name)
            let s = e.stat
            w.u64(s.size)
            w.u64(UInt64(bitPattern: s.mtimeSeconds)); w.u32(s.mtimeNanoseconds)
            w.u64(UInt64(bitPattern: s.ctimeSeconds)); w.u32(s.ctimeNanoseconds)
            w.u64(s.inode); w.u32(s.mode)
            w.raw(e.contentHash)
        }
        return w.bytes
    }
}

/// The stat cache a scan writes as it goes: each folder's record is appended to a temporary file beside
/// the cache as soon as the folder is done (a folder whose record did not change is only noted, and
/// copied from the old cache at the end), so no scan holds the whole cache. `save` finishes the file and
/// renames it into place; unless saved, the temporary file is removed.
public final class StatCacheUpdate: Sendable {
    private struct State {
        var file: AtomicFile?
        var end = UInt64(StatCache.headerSize)
        /// key, where the record is (in the new file, or in the old cache), its length.
        var table: [(key: [UInt8], offset: UInt64, length: UInt32, fromOld: Bool)] = []
        var changed = false
        var failure: Error?
    }
    private let state: Mutex<State>
    private let old: StatCache
    private let oldFile: FSPath
    /// The scan's start on the file system's clock (see `StatCache`).
    public let scanStart: Mutex<(Int64, UInt32)>

    /// Prepares to replace the cache at `path`; `old` is what it holds now.
    public init(replacing path: FSPath, old: StatCache, scanStart: (Int64, UInt32)) {
        self.old = old
        self.oldFile = path
        self.scanStart = Mutex(scanStart)
        state = Mutex(State())
    }

    /// Records one folder's entries (sorted by name). Folders without files need no record.
    func add(folder: [UInt8], entries: [(name: [UInt8], entry: StatCache.Entry)], old previous: StatCache.Folder?) {
        guard !entries.isEmpty, folder.count <= Int(UInt16.max), entries.allSatisfy({ $0.name.count <= 255 }) else {
            if previous != nil { state.withLock { $0.changed = true } }
            return
        }
        let record = StatCache.record(folder: folder, entries: entries)
        let key = previous?.key ?? StatCache.key(folder)
        if let previous, previous.record == record {
            state.withLock { $0.table.append((key, previous.location.offset, previous.location.length, true)) }
            return
        }
        state.withLock { s in
            s.changed = true
            guard s.failure == nil else { return }
            do {
                if s.file == nil {
                    let f = try AtomicFile(replacing: oldFile)
                    try f.file.write([UInt8](repeating: 0, count: StatCache.headerSize), at: 0)
                    s.file = f
                }
                try s.file!.file.write(record, at: s.end)
                s.table.append((key, s.end, UInt32(record.count), false))
                s.end += UInt64(record.count)
            } catch {
                s.failure = error
            }
        }
    }

    /// Marks the cache as worth rewriting even if every record is as it was (files were read: their
    /// entries are no longer racy under the new scan start).
    func markChanged() { state.withLock { $0.changed = true } }

    /// Whether `save` would write anything.
    public var isChanged: Bool { state.withLock { $0.changed || $0.table.count != old.folderCount } }

    /// Finishes the new cache and renames it into place (nothing is written when nothing changed).
    public func save() throws {
        guard isChanged else { return }
        let start = scanStart.withLock { $0 }
        try state.withLock { s in
            if let failure = s.failure { throw failure }
            if s.file == nil {
                let f = try AtomicFile(replacing: oldFile)
                try f.file.write([UInt8](repeating: 0, count: StatCache.headerSize), at: 0)
                s.file = f
            }
            let f = s.file!
            // Records kept from the old cache are copied in file order (sequential reads).
            let reader = old.file
            for i in s.table.indices.sorted(by: { s.table[$0].offset < s.table[$1].offset }) where s.table[i].fromOld {
                guard let reader else { throw FileSystemError(operation: "open", path: oldFile.description, code: ENOENT) }
                let bytes = try reader.read(count: Int(s.table[i].length), at: s.table[i].offset)
                guard bytes.count == Int(s.table[i].length) else { throw FileSystemError(operation: "read", path: oldFile.description, code: EIO) }
                try f.file.write(bytes, at: s.end)
                s.table[i] = (s.table[i].key, s.end, s.table[i].length, false)
                s.end += UInt64(bytes.count)
            }
            s.table.sort { $0.key.lexicographicallyPrecedes($1.key) }
            var w = ByteWriter(capacity: s.table.count * StatCache.tableEntrySize + StatCache.trailerSize)
            for e in s.table { w.raw(e.key); w.u64(e.offset); w.u32(e.length) }
            w.u64(s.end); w.u32(UInt32(s.table.count)); w.raw(StatCache.magic)
            try f.file.write(w.bytes, at: s.end)
            var h = ByteWriter(capacity: StatCache.headerSize)
            h.raw(StatCache.magic); h.u64(UInt64(bitPattern: start.0)); h.u32(start.1)
            try f.file.write(h.bytes, at: 0)
            try f.commit(.full)
            s.file = nil
        }
    }
}
