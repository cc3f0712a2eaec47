import CairnFiles
import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// Fixed-size records keyed by their first 32 bytes (an object id, a content hash), as one command adds
/// them to the index, kept on disk: a first commit of a million files adds two million records, which
/// as Swift dictionaries took hundreds of megabytes. Records collect in a small buffer that is sorted
/// and appended to an unlinked temporary file as a run when full; an open-addressing table of 8 bytes a
/// record (a 32-bit tag of the key, the record's number) finds any record with one read. `merged()`
/// yields every record in key order (a merge of the runs), which is how the segment is written.
final class SpilledRecords: @unchecked Sendable {
    // Used by one owner at a time (the object store's actor).
    let recordSize: Int
    static let keySize = 32
    /// Records buffered before a run is written (64 Ki: 2–4 MB).
    let bufferRecords: Int
    private let folder: String
    private var file: FileDescriptor?
    /// Records in runs on disk, numbered 0..<spilled; the buffer's are numbered from `spilled` on.
    private var spilled = 0
    private var runs: [Range<Int>] = []
    private var buffer: [UInt8] = []
    /// tag (bytes 0..<4 of the key) << 32 | record number + 1; 0 = empty.
    private var slots = [UInt64](repeating: 0, count: 1 << 10)
    private(set) var count = 0

    init(recordSize: Int, folder: String, bufferRecords: Int = 1 << 16) {
        self.recordSize = recordSize
        self.folder = folder
        self.bufferRecords = max(1, bufferRecords)
    }

    var isEmpty: Bool { count == 0 }

    private static func tag(_ key: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(key[0]) << 24 | UInt32(key[1]) << 16 | UInt32(key[2]) << 8 | UInt32(key[3])
    }

    /// The record with this key, and its number.
    func find(_ key: [UInt8]) throws -> (number: Int, record: [UInt8])? {
        guard key.count == Self.keySize else { return nil }
        let tag = key.withUnsafeBytes { Self.tag($0) }
        let mask = slots.count - 1
        var i = Int(tag) & mask
        while slots[i] != 0 {
            if UInt32(truncatingIfNeeded: slots[i] >> 32) == tag {
                let n = Int(slots[i] & 0xFFFF_FFFF) - 1
                let r = try record(n)
                if Array(r[0..<Self.keySize]) == key { return (n, r) }
            }
            i = (i + 1) & mask
        }
        return nil
    }

    private func slot(of number: Int, tag: UInt32) -> Int {
        let mask = slots.count - 1
        var i = Int(tag) & mask
        while Int(slots[i] & 0xFFFF_FFFF) != number + 1 { i = (i + 1) & mask }
        return i
    }

    func record(_ n: Int) throws -> [UInt8] {
        if n >= spilled {
            let at = (n - spilled) * recordSize
            return Array(buffer[at..<(at + recordSize)])
        }
        let r = try file!.read(count: recordSize, at: UInt64(n) * UInt64(recordSize))
        guard r.count == recordSize else { throw FileSystemError(operation: "read", path: folder + "/(index spill)", code: EIO) }
        return r
    }

    /// Adds a record; `replacing` a record number found by `find` points its key at the new one (the old
    /// one stays in its run: `merged` callers pick between equal keys).
    func add(_ record: [UInt8], replacing old: Int? = nil) throws {
        precondition(record.count == recordSize)
        let tag = record.withUnsafeBytes { Self.tag($0) }
        let n = spilled + buffer.count / recordSize
        buffer += record
        if let old {
            slots[slot(of: old, tag: tag)] = UInt64(tag) << 32 | UInt64(n + 1)
        } else {
            if (count + 1) * 10 > slots.count * 7 { grow() }
            let mask = slots.count - 1
            var i = Int(tag) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = UInt64(tag) << 32 | UInt64(n + 1)
            count += 1
        }
        if buffer.count >= bufferRecords * recordSize { try spill() }
    }

    private func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count * 2)
        let mask = slots.count - 1
        for s in old where s != 0 {
            var i = Int(UInt32(truncatingIfNeeded: s >> 32)) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }

    /// Sorts the buffer, appends it as a run and renumbers its records in the table.
    func spill() throws {
        let n = buffer.count / recordSize
        guard n > 0 else { return }
        if file == nil {
            let f = try FileDescriptor.createTemporary(in: folder, prefix: "index-additions-")
            _ = try? FileSystem.unlink(FSPath(f.path))  // gone with the process, whatever happens
            file = f
        }
        let size = recordSize
        let order = buffer.withUnsafeBytes { b in
            (0..<n).sorted { memcmp(b.baseAddress! + $0 * size, b.baseAddress! + $1 * size, Self.keySize) < 0 }
        }
        var sorted = [UInt8]()
        sorted.reserveCapacity(buffer.count)
        // Each record's table slot follows it to its place in the run (found before any is changed).
        var moves: [(slot: Int, to: Int)] = []
        moves.reserveCapacity(n)
        for (rank, j) in order.enumerated() {
            sorted += buffer[(j * size)..<((j + 1) * size)]
            let tag = buffer.withUnsafeBytes { Self.tag(UnsafeRawBufferPointer(rebasing: $0[(j * size)...])) }
            let mask = slots.count - 1
            var i = Int(tag) & mask
            // A record replaced by a later one has no slot of its own.
            var found: Int?
            while slots[i] != 0 {
                if Int(slots[i] & 0xFFFF_FFFF) == spilled + j + 1 { found = i; break }
                i = (i + 1) & mask
            }
            if let found { moves.append((found, spilled + rank)) }
        }
        // Written first: a failed write leaves the table pointing at the buffer, still as it was.
        try file!.write(sorted, at: UInt64(spilled) * UInt64(size))
        for (slot, to) in moves { slots[slot] = slots[slot] & 0xFFFF_FFFF_0000_0000 | UInt64(to + 1) }
        runs.append(spilled..<(spilled + n))
        spilled += n
        buffer = []
    }

    /// Every record (equal keys adjacent, in the order added) in key order, through `body`.
    func merged(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try spill()
        guard let file else { return }
        let size = recordSize
        let chunk = max(1, (256 << 10) / size)
        struct Cursor { var next: Int; let end: Int; var buffer: [UInt8]; var at: Int }
        var cursors: [Cursor] = []
        func refill(_ c: inout Cursor) throws {
            let n = min(chunk, c.end - c.next)
            c.buffer = n > 0 ? try file.read(count: n * size, at: UInt64(c.next) * UInt64(size)) : []
            guard c.buffer.count == n * size else { throw FileSystemError(operation: "read", path: folder + "/(index spill)", code: EIO) }
            c.next += n
            c.at = 0
        }
        for r in runs {
            var c = Cursor(next: r.lowerBound, end: r.upperBound, buffer: [], at: 0)
            try refill(&c)
            cursors.append(c)
        }
        while true {
            var best: Int?
            for i in cursors.indices where cursors[i].at < cursors[i].buffer.count {
                guard let b = best else { best = i; continue }
                let c = cursors[i].buffer.withUnsafeBytes { x in
                    cursors[b].buffer.withUnsafeBytes { y in memcmp(x.baseAddress! + cursors[i].at, y.baseAddress! + cursors[b].at, Self.keySize) }
                }
                if c < 0 { best = i }  // equal keys: the earlier run first
            }
            guard let b = best else { return }
            try cursors[b].buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[cursors[b].at..<(cursors[b].at + size)])) }
            cursors[b].at += size
            if cursors[b].at == cursors[b].buffer.count { try refill(&cursors[b]) }
        }
    }

    /// Every record in no particular order (for rare scans: abbreviated ids).
    func forEach(_ body: ([UInt8]) -> Void) throws {
        for n in 0..<(spilled + buffer.count / recordSize) { body(try record(n)) }
    }
}

/// Writes an index segment (`CRNISEG2`, see `IndexSegment`) to a file from sorted streams, so a segment
/// of millions of entries is never held whole.
struct SegmentFileWriter {
    let file: FileDescriptor
    let path: FSPath
    private var end: UInt64 = 0
    private var pending: [UInt8] = []
    private var countAt: UInt64 = 0
    private var counted: UInt32 = 0
    private var lastKey: [UInt8]?

    /// Creates `DIR/segment-XXXXXX` and writes the header and pack caps.
    init(folder: String, caps: [String]) throws {
        file = try FileDescriptor.createTemporary(in: folder, prefix: "segment-")
        path = FSPath(file.path)
        var w = ByteWriter(capacity: 16 + caps.count * 160)
        w.raw(IndexSegment.magic)
        w.u32(UInt32(caps.count))
        for c in caps { w.bytes16(Array(c.utf8)) }
        pending = w.bytes
    }

    private mutating func flush(force: Bool = false) throws {
        guard force || pending.count >= 1 << 20 else { return }
        try file.write(pending, at: end)
        end += UInt64(pending.count)
        pending.removeAll(keepingCapacity: true)
    }

    /// Starts a table (objects, then contents): a count to fill in, then entries in strictly rising key order.
    mutating func beginTable() throws {
        countAt = end + UInt64(pending.count)
        pending += [0, 0, 0, 0]
        counted = 0
        lastKey = nil
    }

    /// Appends an entry unless its key (first 32 bytes) equals the previous one's: the first of equal keys
    /// wins. Keys out of order (a damaged input) fail: the segment would be refused by every reader.
    mutating func entry(_ bytes: UnsafeRawBufferPointer) throws {
        let key = Array(bytes[0..<32])
        if let lastKey {
            if lastKey == key { return }
            guard lastKey.lexicographicallyPrecedes(key) else { throw ObjectError.malformed("index segment: entries out of order (a damaged cached segment?)") }
        }
        lastKey = key
        pending += bytes
        counted += 1
        try flush()
    }

    mutating func endTable() throws {
        try flush(force: true)
        var w = ByteWriter(capacity: 4)
        w.u32(counted)
        try file.write(w.bytes, at: countAt)
    }

    /// Finishes the file (synced: it becomes the cached copy of the segment); returns its size.
    mutating func finish() throws -> UInt64 {
        try flush(force: true)
        try file.sync()
        return end
    }
}
