import CairnFiles
import CairnPrimitives
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One server of Cairn's embedded local grid: immutable shares in one directory, small ones appended to
/// share packs with an index, large ones in files of their own. See Documentation/LocalGrid.md for the
/// layout, the durability protocol and recovery.
///
/// Several instances (in one process or several) may use the same directory at once: each appends only to
/// packs it holds an exclusive `flock` on, and each reads everyone's index files without locks.
///
/// Sendable without `@unchecked`: every mutable field lives in one of three `Mutex`es. Lock order, never
/// reversed: `writer` → `reader` → `state`. File I/O of reads and large-share writes happens outside the locks.
public final class LocalDirectoryServer: StorageServer {
    public let id: ServerID
    public let name: String
    public let isNear: Bool
    public let directory: String
    public let maximumShareSize: UInt64
    public var capabilities: ServerCapabilities { ServerCapabilities(supersedesShares: true, rangesPerRead: nil) }

    /// Shares of at most this many bytes (1 MiB) go into packs; larger ones get a file of their own.
    public static let smallShareLimit: UInt64 = PackFormat.smallShareLimit
    /// A writer starts a new pack before one would grow past this size (256 MiB).
    public static let packSizeLimit: UInt64 = PackFormat.packSizeLimit
    /// Finished small shares are written to the pack (without fsync) once this many bytes wait in memory.
    /// Per server, and a local grid has ten: 32 MiB each let a long command (a git import) hold 320 MiB of
    /// shares; 8 MiB still writes in large sequential pieces.
    static let flushThreshold = 8 << 20
    /// A failed `allocate` lookup re-reads other processes' index files at most this often (seconds); a
    /// share they stored in between is merely uploaded again. Reads always refresh on a miss.
    static let allocationRefreshInterval = 0.1
    /// How long one call may take before it fails as unavailable. Generous: a sync of a large batch on a slow
    /// disk legitimately takes seconds; a file system that hangs (a dead network mount, a FIFO where a
    /// share should be) does not answer at all.
    public static let defaultDeadline: Duration = .seconds(120)
    /// Temporary files older than this (seconds) and unlocked belong to a dead process and are removed.
    static let staleTemporaryAge: Int64 = 60

    let layout: ServerLayout
    /// Free space promised to this grid's uploads in progress, shared by the servers on one file system.
    let budget: SpaceBudget
    /// Blocking calls run here, never on the cooperative pool (BlockingIO).
    let io: BlockingIO
    let state: Mutex<State>
    let writer: Mutex<WriterState>
    let reader: Mutex<ReaderState>

    // MARK: State

    /// An allocation being written.
    struct OpenShare: Sendable {
        var size: UInt64
        var written = WrittenRanges()
        var buffer: ShareBuffer?  // small shares
        var file: LargeFile?      // large shares
        /// Allocated by `allocateReplacements`: the live copy goes to quarantine when this one finishes.
        var replacing = false
        /// The upload secret that allocated it: only its holder may write, finish or abort.
        var secret: [UInt8] = []
    }

    /// A large share's temporary file (created in `tmp/`, renamed into `large/` at sync).
    final class LargeFile: Sendable {
        let fd: FileDescriptor
        let temporaryPath: String
        let index: StorageIndex
        let share: UInt32
        let size: UInt64
        init(fd: FileDescriptor, temporaryPath: String, index: StorageIndex, share: UInt32, size: UInt64) {
            self.fd = fd
            self.temporaryPath = temporaryPath
            self.index = index
            self.share = share
            self.size = size
        }
    }

    /// A finished small share waiting to be written to a pack.
    struct PendingRecord: Sendable {
        var key: ShareKey
        var sequence: UInt64
        var buffer: ShareBuffer
        var dataCRC: UInt32
    }

    struct PackSlot {
        var base: String
        var fd: FileDescriptor?
    }

    struct State {
        var map = ShareMap()
        var packs: [PackSlot] = []
        var packIDs: [String: Int32] = [:]
        var open: [ShareKey: OpenShare] = [:]
        var pending: [PendingRecord] = []
        var pendingBytes = 0
        /// A flush or sync failed and discarded finished shares: the next `sync` must fail too, so that no
        /// upload whose shares were among them takes its own later sync for success.
        var lostBatch: String?
        /// Something was finished since the last sync began: a sync has work to do.
        var dirty = false
        var finishedLarge: [ShareKey: LargeFile] = [:]
        var lastSequence: UInt64 = 0

        /// Wall-clock nanoseconds, made strictly increasing over everything this instance has seen.
        mutating func nextSequence() -> UInt64 {
            lastSequence = max(FileSystem.nowNanoseconds(), lastSequence + 1)
            return lastSequence
        }

        mutating func packID(_ base: String) -> Int32 {
            if let id = packIDs[base] { return id }
            let id = Int32(packs.count)
            packs.append(PackSlot(base: base, fd: nil))
            packIDs[base] = id
            return id
        }
    }

    struct WriterState {
        var current: PackWriter?
        /// Packs rolled over since the last sync: still to be fsynced and indexed, then released.
        var retired: [PackWriter] = []
        /// A pack or index file appeared in `packs/` since the last sync.
        var createdEntry = false
        /// Torn-tail bytes removed by recovery, for tests and diagnostics.
        var recovered: (packBytes: UInt64, indexBytes: UInt64) = (0, 0)

        mutating func take(_ layout: ServerLayout) throws -> PackWriter {
            if let c = current { return c }
            let w = try PackWriter.acquire(layout: layout, createdEntry: &createdEntry)
            recovered.packBytes += w.recovered.packBytes
            recovered.indexBytes += w.recovered.indexBytes
            current = w
            return w
        }
    }

    struct ReaderState {
        var index: IndexReader
        var lastRefresh: Double = 0
    }

    // MARK: Opening

    /// Opens (creating if missing) the server directory `directory`.
    /// Every call answers within `deadline` or fails as unavailable (a stuck disk or file system).
    public init(directory: String, id: ServerID, name: String, isNear: Bool = true,
                maximumShareSize: UInt64 = 1 << 40, deadline: Duration = LocalDirectoryServer.defaultDeadline,
                budget: SpaceBudget? = nil) throws {
        self.id = id
        self.name = name
        self.isNear = isNear
        self.directory = directory
        self.maximumShareSize = maximumShareSize
        let layout = ServerLayout(root: directory)
        self.layout = layout
        io = BlockingIO(server: ServerLabel(name: name, id: id), deadline: deadline)
        self.budget = budget ?? SpaceBudget(path: directory)
        state = Mutex(State())
        writer = Mutex(WriterState())
        reader = Mutex(ReaderState(index: IndexReader(layout: layout)))
        try mapped {
            try Self.prepare(layout, server: ServerLabel(name: name, id: id))
            try rebuildLostIndexes()
            try refreshNow()
        }
    }

    /// A pack whose index file is gone (deleted by hand, lost with a disk) would hide its shares until some
    /// writer took it; rebuild its index now from the self-describing records, if nobody is writing the pack.
    /// A pack that cannot be opened for writing (a read-only grid) stays invisible and is reported.
    private func rebuildLostIndexes() throws {
        let names = Set(try FileSystem.list(layout.packs) ?? [])
        for name in names.sorted() where name.hasSuffix(".pack") {
            let base = String(name.dropLast(5))
            guard !names.contains(base + ".idx") else { continue }
            do {
                guard let fd = try FileDescriptor.openIfExists(layout.packPath(base), flags: O_RDWR),
                      try fd.tryLockExclusive() else { continue }  // a live writer rebuilds it itself
                var created = false
                _ = try PackWriter.recover(layout: layout, base: base, pack: fd, createdEntry: &created)
                if created { try FileSystem.syncDirectory(layout.packs) }
            } catch let e as FileSystemError where !e.isNoSpace {
                reader.withLock { $0.index.problems.append("\(e.path): cannot rebuild the lost index of \(name): \(e.reason); its shares stay invisible") }
            }
        }
    }

    /// Creates the directories (mode 0700) and the FORMAT file if missing, checks the format, and removes
    /// temporary files left by dead processes.
    private static func prepare(_ layout: ServerLayout, server: ServerLabel) throws {
        var createdRoot = false
        var path = layout.root.hasPrefix("/") ? "" : "."
        for component in layout.root.split(separator: "/") {
            path += "/" + component
            createdRoot = try FileSystem.makeDirectory(path)
        }
        if createdRoot, let slash = layout.root.lastIndex(of: "/") {
            let parent = String(layout.root[..<slash])
            try FileSystem.syncDirectory(parent.isEmpty ? "/" : parent)
        }
        var createdSub = false
        for d in [layout.packs, layout.large, layout.tmp] where try FileSystem.makeDirectory(d) { createdSub = true }

        if let fd = try FileDescriptor.openIfExists(layout.formatFile, flags: O_RDONLY) {
            let text = String(decoding: try fd.read(count: 256, at: 0), as: UTF8.self)
            guard text == ServerLayout.formatLine else {
                throw StorageError.corruptStore(server: server, path: layout.formatFile,
                    reason: "unsupported format \(text.debugDescription) (this build reads \(ServerLayout.formatLine.debugDescription))")
            }
        } else {
            let tmp = layout.tmp + "/FORMAT." + Hex.encode(SecureRandom.bytes(8))
            let fd = try FileDescriptor.open(tmp, flags: O_WRONLY | O_CREAT | O_EXCL)
            try fd.write(Array(ServerLayout.formatLine.utf8), at: 0)
            try fd.sync()
            try FileSystem.rename(tmp, to: layout.formatFile)
            createdSub = true
        }
        if createdSub { try FileSystem.syncDirectory(layout.root) }

        // Temporary files of dead processes: old, and nobody holds their lock.
        let now = FileSystem.currentTimeSeconds()
        for name in try FileSystem.list(layout.tmp) ?? [] {
            let p = layout.tmp + "/" + name
            guard let st = try FileSystem.status(p), !st.isDirectory, now - st.modified > staleTemporaryAge,
                  let fd = try FileDescriptor.openIfExists(p, flags: O_RDONLY), try fd.tryLockExclusive()
            else { continue }
            try FileSystem.unlink(p)
        }
    }

    // MARK: Errors

    private func storageError(_ e: FileSystemError) -> StorageError {
        e.isNoSpace ? .full(server: label, reason: e.description) : .io(server: label, path: e.path, reason: e.reason)
    }

    func mapped<T>(_ body: () throws -> T) throws(StorageError) -> T {
        do { return try body() }
        catch let e as StorageError { throw e }
        catch let e as FileSystemError { throw storageError(e) }
        catch { throw .io(server: label, path: directory, reason: "\(error)") }
    }

    private func key(_ index: StorageIndex, _ share: ShareNumber) -> ShareKey? {
        guard share >= 0, share <= Int(UInt32.max) else { return nil }
        return ShareKey(index, UInt32(share))
    }

    // MARK: Index refresh

    /// Reads whatever other instances have indexed since the last refresh (new index bytes, new packs).
    public func refresh() throws {
        try mapped { try refreshNow() }
    }

    func refreshNow() throws {
        try reader.withLock { r in
            let batches = try r.index.poll()
            r.lastRefresh = FileSystem.monotonicSeconds()
            guard !batches.isEmpty else { return }
            state.withLock { s in
                for b in batches {
                    let pack = s.packID(b.base)
                    for e in b.entries {
                        s.lastSequence = max(s.lastSequence, e.sequence)
                        let place: SharePlace
                        if e.isDropped {
                            place = .dropped
                        } else {
                            // Points past the pack's end (the disk lost acknowledged data): skip it.
                            guard e.recordEnd <= b.packSize else { continue }
                            place = .pack(pack: pack, recordOffset: e.recordOffset)
                        }
                        s.map.update(e.key.index, LocatedShare(share: e.key.share, sequence: e.sequence,
                                                               length: e.length, place: place))
                    }
                }
            }
        }
    }

    /// Damage noticed while reading index files (bad entries skipped, unreadable files).
    public var noticedDamage: [String] { reader.withLock { $0.index.problems } }

    /// Torn-tail bytes this instance removed from packs and index files when it took them for writing.
    public var recoveredTailBytes: (pack: UInt64, index: UInt64) {
        writer.withLock { ($0.recovered.packBytes, $0.recovered.indexBytes) }
    }

    // MARK: Lookups

    enum Found {
        case memory(ShareBuffer)
        case file(FileDescriptor, dataOffset: UInt64, length: UInt64)
    }

    private enum Lookup {
        case found(Found)
        /// In a pack not opened yet: open it outside the lock (a stuck disk must not hold `state`).
        case unopenedPack(pack: Int32, path: String, dataOffset: UInt64, length: UInt64)
        case none
    }

    func findOnce(_ key: ShareKey, _ index: StorageIndex) throws -> Found? {
        let lookup: Lookup = state.withLock { s in
            if let l = s.map.lookup(key) {
                switch l.place {
                case .memory(let b): return .found(.memory(b))
                case .pack(let pack, let recordOffset):
                    let slot = s.packs[Int(pack)]
                    let dataOffset = recordOffset + UInt64(PackFormat.recordHeaderSize)
                    if let fd = slot.fd { return .found(.file(fd, dataOffset: dataOffset, length: l.length)) }
                    return .unopenedPack(pack: pack, path: layout.packPath(slot.base), dataOffset: dataOffset, length: l.length)
                case .dropped: return .none
                }
            }
            if let f = s.finishedLarge[key] { return .found(.file(f.fd, dataOffset: 0, length: f.size)) }
            return .none
        }
        switch lookup {
        case .found(let f): return f
        case .unopenedPack(let pack, let path, let dataOffset, let length):
            guard let opened = try FileDescriptor.openIfExists(path, flags: O_RDONLY) else {
                throw StorageError.corruptStore(server: label, path: path, reason: "pack file is missing but its index lists shares")
            }
            let fd = state.withLock { s in
                if let other = s.packs[Int(pack)].fd { return other }
                s.packs[Int(pack)].fd = opened
                return opened
            }
            return .file(fd, dataOffset: dataOffset, length: length)
        case .none: break
        }
        guard let fd = try FileDescriptor.openIfExists(layout.largePath(index, key.share), flags: O_RDONLY) else { return nil }
        return .file(fd, dataOffset: 0, length: try fd.size)
    }

    private func find(_ index: StorageIndex, _ share: ShareNumber) throws -> Found {
        guard let key = key(index, share) else { throw StorageError.noSuchShare(server: label, index: index, share: share) }
        if let f = try findOnce(key, index) { return f }
        try refreshNow()
        if let f = try findOnce(key, index) { return f }
        throw StorageError.noSuchShare(server: label, index: index, share: share)
    }

    private func heldShares(_ index: StorageIndex, includeLarge: Bool) throws -> Set<ShareNumber> {
        let ik = IndexKey(index)
        var held = state.withLock { s in
            var set = Set(s.map.shares(of: ik).map { ShareNumber($0) })
            for (k, _) in s.finishedLarge where k.index == ik { set.insert(ShareNumber(k.share)) }
            return set
        }
        if includeLarge, let names = try FileSystem.list(layout.largeDirectory(index)) {
            for n in names { if let s = UInt32(n) { held.insert(ShareNumber(s)) } }
        }
        return held
    }

    /// On the I/O threads: it lists a folder and, on a miss, reads other instances' index files.
    public func shares(of index: StorageIndex) async throws -> Set<ShareNumber> {
        try await io.run { [self] () throws(StorageError) in try mapped {
            let held = try heldShares(index, includeLarge: true)
            if !held.isEmpty { return held }
            try refreshNow()
            return try heldShares(index, includeLarge: true)
        } }
    }

    public func shareSize(_ index: StorageIndex, share: ShareNumber) async throws -> UInt64 {
        try await io.run { [self] () throws(StorageError) in try mapped {
            switch try find(index, share) {
            case .memory(let b): return UInt64(b.length)
            case .file(_, _, let length): return length
            }
        } }
    }

    public func read(_ index: StorageIndex, share: ShareNumber, ranges: [Range<UInt64>]) async throws -> [[UInt8]] {
        try await io.run { [self] () throws(StorageError) in try mapped {
            let found = try find(index, share)
            let length: UInt64
            switch found {
            case .memory(let b): length = UInt64(b.length)
            case .file(_, _, let l): length = l
            }
            return try ranges.map { r -> [UInt8] in
                let lo = min(r.lowerBound, length), hi = min(r.upperBound, length)
                guard lo < hi else { return [] }
                switch found {
                case .memory(let b):
                    return Array(UnsafeRawBufferPointer(rebasing: b.data[Int(lo)..<Int(hi)]))
                case .file(let fd, let dataOffset, _):
                    let bytes = try fd.read(count: Int(hi - lo), at: dataOffset + lo)
                    guard bytes.count == Int(hi - lo) else {
                        throw StorageError.corruptStore(server: label, path: fd.path,
                            reason: "share \(share) of \(index) is cut short: expected \(hi - lo) bytes at offset \(dataOffset + lo), got \(bytes.count)")
                    }
                    return bytes
                }
            }
        } }
    }

    /// Where a share's bytes sit on disk (for tests that damage them); nil if it is not on disk yet
    /// (finished but not synced) or unknown.
    public func location(of index: StorageIndex, share: ShareNumber) throws -> (path: String, offset: UInt64, length: UInt64)? {
        try mapped {
            guard let found = try? find(index, share) else { return nil }
            switch found {
            case .memory: return nil
            case .file(let fd, let dataOffset, let length):
                if fd.path.hasPrefix(layout.tmp + "/") { return nil }
                return (fd.path, dataOffset, length)
            }
        }
    }

    // MARK: Writing

    public func info() async throws -> ServerInfo {
        try await io.run { [self] () throws(StorageError) in try mapped {
            ServerInfo(maximumShareSize: maximumShareSize, availableSpace: try FileSystem.availableSpace(directory))
        } }
    }

    /// On the I/O threads: it may list a folder, read other instances' index files, measure free space and
    /// create files.
    /// Leases are accepted and not kept: the local grid never expires shares (Documentation/StorageProtocol.md).
    public func allocate(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                         secrets: UploadSecrets) async throws -> Allocation {
        if let answer = try allocateFromMemory(index, shares: shares, shareSize: shareSize, secrets: secrets) { return answer }
        return try await io.run { [self] () throws(StorageError) in try mapped {
            try checkAllocation(index, shares: shares, shareSize: shareSize)
            let large = shareSize > Self.smallShareLimit
            var held = try heldShares(index, includeLarge: large)
            if !shares.isSubset(of: held),
               FileSystem.monotonicSeconds() - reader.withLock({ $0.lastRefresh }) >= Self.allocationRefreshInterval {
                try refreshNow()
                held = try heldShares(index, includeLarge: large)
            }
            let allocated = try open(index, shares: shares.subtracting(held), shareSize: shareSize, replacing: false,
                                     secret: secrets.upload, inline: false)!
            return Allocation(alreadyHave: shares.intersection(held), allocated: allocated)
        } }
    }

    /// The common case of a small share, answered from memory without a system call: nil when it would need
    /// one (other instances' index files are due for a refresh, or free space for a measurement), and the
    /// I/O threads answer instead. Every upload allocates on every server, so a thread hand-off here cost a
    /// quarter of a small-file backup (Performance.md).
    private func allocateFromMemory(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                                    secrets: UploadSecrets) throws -> Allocation? {
        guard shareSize <= Self.smallShareLimit else { return nil }
        return try mapped { () throws -> Allocation? in
            try checkAllocation(index, shares: shares, shareSize: shareSize)
            let held = try heldShares(index, includeLarge: false)
            if !shares.isSubset(of: held),
               FileSystem.monotonicSeconds() - reader.withLock({ $0.lastRefresh }) >= Self.allocationRefreshInterval {
                return nil
            }
            guard let allocated = try open(index, shares: shares.subtracting(held), shareSize: shareSize, replacing: false,
                                           secret: secrets.upload, inline: true) else { return nil }
            return Allocation(alreadyHave: shares.intersection(held), allocated: allocated)
        }
    }

    public func allocateReplacements(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                                     secrets: UploadSecrets) async throws -> Set<ShareNumber> {
        try await io.run { [self] () throws(StorageError) in try mapped {
            try checkAllocation(index, shares: shares, shareSize: shareSize)
            return try open(index, shares: shares, shareSize: shareSize, replacing: true, secret: secrets.upload, inline: false)!
        } }
    }

    private func checkAllocation(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64) throws {
        guard shareSize <= maximumShareSize else {
            throw StorageError.outOfRange(server: label, reason: "a share of \(shareSize) bytes exceeds this server's maximum of \(maximumShareSize) bytes")
        }
        for s in shares where key(index, s) == nil {
            throw StorageError.outOfRange(server: label, reason: "share number \(s) is out of range (0...\(UInt32.max))")
        }
    }

    /// Opens allocations for `wanted`, except shares another upload of this instance is writing now (as a Tahoe
    /// storage node answers for a share being written: neither held nor allocated). Returns the shares opened.
    /// `inline`: called on the caller's thread, so it must not make a system call; nil if it would have to.
    private func open(_ index: StorageIndex, shares wanted: Set<ShareNumber>, shareSize: UInt64, replacing: Bool,
                      secret: [UInt8], inline: Bool) throws -> Set<ShareNumber>? {
        let busy = state.withLock { s in Set(wanted.filter { s.open[key(index, $0)!] != nil }) }
        let wanted = wanted.subtracting(busy)
        let large = shareSize > Self.smallShareLimit
        var files: [ShareNumber: LargeFile] = [:]
        guard !wanted.isEmpty else { return [] }
        let promise = Self.reservation(shareSize) * UInt64(wanted.count)
        if inline {
            guard !large, budget.reserveWithoutMeasuring(promise) else { return nil }
        } else {
            try budget.reserve(promise, server: label)
        }
        if large {
            do {
                for s in wanted {
                    let path = layout.tmp + "/\(index.hex).\(s).\(Hex.encode(SecureRandom.bytes(8))).tmp"
                    let fd = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_EXCL)
                    files[s] = LargeFile(fd: fd, temporaryPath: path, index: index, share: UInt32(s), size: shareSize)
                    try fd.lockExclusive()  // marks it live for other instances' stale-file cleanup
                }
            } catch {
                for f in files.values { _ = try? FileSystem.unlink(f.temporaryPath) }
                budget.release(Self.reservation(shareSize) * UInt64(wanted.count), written: false)
                throw error
            }
        }
        let (opened, unused) = state.withLock { st -> (Set<ShareNumber>, [LargeFile]) in
            var opened: Set<ShareNumber> = []
            var unused: [LargeFile] = []
            for s in wanted {
                let k = key(index, s)!
                if st.open[k] != nil {  // another upload opened it meanwhile
                    if let f = files[s] { unused.append(f) }
                    continue
                }
                st.open[k] = large ? OpenShare(size: shareSize, file: files[s], replacing: replacing, secret: secret)
                                   : OpenShare(size: shareSize, buffer: ShareBuffer(length: Int(shareSize)), replacing: replacing, secret: secret)
                opened.insert(s)
            }
            return (opened, unused)
        }
        budget.release(Self.reservation(shareSize) * UInt64(wanted.count - opened.count), written: false)
        for f in unused { try FileSystem.unlink(f.temporaryPath) }
        return opened
    }

    /// What an allocation of `size` promises to write: a pack record (header, data) and its index entry, or a
    /// large share's file. Released when the bytes reach the file system or never will.
    static func reservation(_ size: UInt64) -> UInt64 {
        size > smallShareLimit ? size : size + UInt64(PackFormat.recordHeaderSize + PackFormat.indexEntrySize)
    }

    /// Small shares are copied into memory here; a large share's bytes go to its file on the I/O threads.
    public func write(_ upload: ShareUpload, offset: UInt64, data: [UInt8]) async throws {
        let index = upload.index, share = upload.share
        let file = try mapped { () throws -> LargeFile? in
            guard let k = key(index, share) else { throw StorageError.notAllocated(server: label, index: index, share: share) }
            let count = UInt64(data.count)
            let file: LargeFile? = try state.withLock { s throws -> LargeFile? in
                guard var o = try openShare(s, k, upload) else { throw StorageError.notAllocated(server: label, index: index, share: share) }
                let (end, overflow) = offset.addingReportingOverflow(count)
                guard !overflow, end <= o.size else {
                    throw StorageError.outOfRange(server: label,
                        reason: "write of \(count) bytes at offset \(offset) runs past the end of share \(share) of \(index) (\(o.size) bytes allocated)")
                }
                if let b = o.buffer {
                    if count > 0 {
                        data.withUnsafeBytes { src in
                            UnsafeMutableRawBufferPointer(rebasing: b.data[Int(offset)..<Int(end)]).copyMemory(from: src)
                        }
                    }
                    o.written.insert(offset..<end)
                    s.open[k] = o
                    return nil
                }
                return o.file
            }
            return file
        }
        guard let file, let k = key(index, share) else { return }
        try await io.run { [self] () throws(StorageError) in try mapped {
            try file.fd.write(data, at: offset)
            if data.count >= 64 << 10 { file.fd.startWriteback(offset: offset, count: data.count) }
            state.withLock { s in
                if s.open[k]?.file === file { s.open[k]!.written.insert(offset..<(offset + UInt64(data.count))) }
            }
        } }
    }

    /// Inline for a small share (its record is queued in memory); on the I/O threads when it writes to disk: a
    /// flush of 32 MiB of queued records, a quarantine copy, a large share's file.
    public func finish(_ upload: ShareUpload) async throws {
        let index = upload.index, share = upload.share
        let complete = { [self] (remove: Bool) throws(StorageError) -> OpenShare in try mapped {
            guard let k = key(index, share) else { throw StorageError.notAllocated(server: label, index: index, share: share) }
            return try state.withLock { s throws -> OpenShare in
                guard let o = try openShare(s, k, upload) else { throw StorageError.notAllocated(server: label, index: index, share: share) }
                if let gap = o.written.firstGap(in: o.size) {
                    throw StorageError.outOfRange(server: label,
                        reason: "cannot finish share \(share) of \(index): bytes \(gap.lowerBound)..<\(gap.upperBound) were never written (\(o.written.coveredBytes) of \(o.size) bytes written)")
                }
                if remove { s.open[k] = nil }
                return o
            }
        } }
        let k = key(index, share)!
        // A replacement keeps the live copy first; if that fails the allocation stays open (the caller aborts).
        if try complete(false).replacing {
            try await io.run { [self] () throws(StorageError) in try mapped { try quarantine(index, k) } }
        }
        let o = try complete(true)
        if let b = o.buffer {
            let crc = CRC32.checksum(UnsafeRawBufferPointer(b.data))
            PackFormat.writeRecordHeader(into: b.storage, key: k, length: o.size, dataCRC: crc)
            let flush = state.withLock { s in
                let sequence = s.nextSequence()
                s.pending.append(PendingRecord(key: k, sequence: sequence, buffer: b, dataCRC: crc))
                s.dirty = true
                s.pendingBytes += b.storage.count
                s.map.update(k.index, LocatedShare(share: k.share, sequence: sequence, length: o.size, place: .memory(b)))
                return s.pendingBytes >= Self.flushThreshold
            }
            if flush {
                try await io.run { [self] () throws(StorageError) in
                    try mapped { try writer.withLock { w in try guarded(&w) { try flushLocked(&$0) } } }
                }
            }
        } else if let f = o.file {
            budget.release(Self.reservation(o.size), written: true)
            let old = state.withLock { s in
                s.dirty = true
                return s.finishedLarge.updateValue(f, forKey: k)
            }
            if let old, old !== f {
                try await io.run { [self] () throws(StorageError) in try mapped { _ = try FileSystem.unlink(old.temporaryPath) } }
            }
        }
    }

    public func abort(_ upload: ShareUpload) async throws {
        let index = upload.index, share = upload.share
        try await io.run { [self] () throws(StorageError) in try mapped {
            guard let k = key(index, share) else { throw StorageError.notAllocated(server: label, index: index, share: share) }
            let o = try state.withLock { s throws -> OpenShare? in
                guard try openShare(s, k, upload) != nil else { return nil }
                return s.open.removeValue(forKey: k)
            }
            guard let o else { throw StorageError.notAllocated(server: label, index: index, share: share) }
            budget.release(Self.reservation(o.size), written: false)
            if let f = o.file { try FileSystem.unlink(f.temporaryPath) }
        } }
    }

    /// The open allocation `upload` names, if any; another upload's allocation is refused.
    private func openShare(_ s: State, _ k: ShareKey, _ upload: ShareUpload) throws -> OpenShare? {
        guard let o = s.open[k] else { return nil }
        guard o.secret == upload.secret else {
            throw StorageError.badUploadSecret(server: label, index: upload.index, share: upload.share)
        }
        return o
    }

    /// Accepted and not kept: the local grid never expires shares, so a lease would change nothing.
    public func addLease(_ index: StorageIndex, secrets: LeaseSecrets) async throws {}

}
