import CairnFiles
import CairnPrimitives

/// The worktree's stat cache (like git's index or Tahoe's backupdb): path + (size, mtime, ctime,
/// inode, mode) → content hash, so unchanged files are never read.
///
/// Racy-clean rule (git's): an entry whose mtime or ctime is not older than the start of the scan that
/// recorded it may have changed again within the same timestamp tick unseen, so it is never trusted;
/// the file is hashed again (and trusted after the next scan). The scan start is read from the file
/// system itself (a stamp file's mtime), so coarse or lagging file-system clocks cannot fool the rule.
///
/// ```
/// "CRNSTAT2" | scan start: s i64, ns u32 | count u32 | entries:
///   path (u16 length + bytes) | size u64 | mtime s i64 ns u32 | ctime s i64 ns u32 | inode u64 | mode u32
///   | content hash 32
/// ```
public struct StatCache: Sendable {
    public struct Entry: Sendable, Equatable {
        public var stat: FileStat
        public var contentHash: [UInt8]
    }

    static let magic = Array("CRNSTAT2".utf8)
    public var scanStart: (Int64, UInt32) = (0, 0)
    public var entries: [ByteKey: Entry] = [:]

    public init() {}

    /// The cached entry for `path` if the file looks untouched and the entry is not racy.
    public func lookup(_ path: [UInt8], _ st: FileStat) -> Entry? {
        guard let e = entries[ByteKey(path)] else { return nil }
        let s = e.stat
        guard s.size == st.size, s.mtimeSeconds == st.mtimeSeconds, s.mtimeNanoseconds == st.mtimeNanoseconds,
              s.ctimeSeconds == st.ctimeSeconds, s.ctimeNanoseconds == st.ctimeNanoseconds,
              s.inode == st.inode, s.mode == st.mode else { return nil }
        // `scanStart` is on the file system's own clock (the stamp file's mtime, as git uses its index
        // file's), so the comparison is exact whatever the file system's granularity.
        let racy = (s.mtimeSeconds, s.mtimeNanoseconds) >= scanStart || (s.ctimeSeconds, s.ctimeNanoseconds) >= scanStart
        return racy ? nil : e
    }

    public var encoded: [UInt8] {
        var w = ByteWriter(capacity: 32 + entries.count * 160)
        w.raw(Self.magic)
        w.u64(UInt64(bitPattern: scanStart.0)); w.u32(scanStart.1)
        w.u32(UInt32(entries.count))
        for (key, e) in entries.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
            let path = key.bytes
            w.u16(UInt16(path.count)); w.raw(path)
            let s = e.stat
            w.u64(s.size)
            w.u64(UInt64(bitPattern: s.mtimeSeconds)); w.u32(s.mtimeNanoseconds)
            w.u64(UInt64(bitPattern: s.ctimeSeconds)); w.u32(s.ctimeNanoseconds)
            w.u64(s.inode); w.u32(s.mode)
            w.raw(e.contentHash)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = ByteReader(bytes)
            guard try r.raw(8) == Self.magic else { throw ObjectError.malformed("not a stat cache") }
            scanStart = (Int64(bitPattern: try r.u64()), try r.u32())
            let n = Int(try r.u32())
            for _ in 0..<n {
                let path = try r.raw(Int(try r.u16()))
                let size = try r.u64()
                let ms = Int64(bitPattern: try r.u64()), mns = try r.u32()
                let cs = Int64(bitPattern: try r.u64()), cns = try r.u32()
                let inode = try r.u64(), mode = try r.u32()
                let hash = try r.raw(32)
                let st = FileStat(kind: .file, mode: mode, size: size, mtimeSeconds: ms, mtimeNanoseconds: mns,
                                  ctimeSeconds: cs, ctimeNanoseconds: cns, inode: inode, device: 0)
                entries[ByteKey(path)] = Entry(stat: st, contentHash: hash)
            }
            try r.expectEnd()
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("stat cache: \(e.description)")
        }
    }
}
