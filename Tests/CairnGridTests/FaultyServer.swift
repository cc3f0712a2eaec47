import CairnFormats
import CairnStorage
import Synchronization

/// A fault a `FaultyServer` injects. Read faults apply to `read` (and `shareSize` where it makes
/// sense); only `.unreachable` also fails `shares(of:)`, so every other faulty server still *lists*
/// its shares and the downloader has to notice the fault when it reads them.
enum Fault: Sendable {
    /// Forward everything unchanged.
    case healthy
    /// Every call throws `StorageError.unreachable` (listing included), as a server that is down.
    case unreachable
    /// Listing works; reads, `shareSize` and writes throw `StorageError.io` (a transient failure).
    case error
    /// Reads and `shareSize` wait on the gate; once it is released (or the read's task is cancelled)
    /// they throw instead of answering. Listing and writes are forwarded.
    case hang(Gate)
    /// Reads and `shareSize` answer correctly, but only after `delay` (a slow link).
    case slow(Duration)
    /// Each affected range comes back with only the first half of the bytes asked for.
    case truncated
    /// Serves the same share number of another, older file (captured in the grid's archive).
    case stale(older: StorageIndex)
    /// Serves the bytes of another share number of the same file (the next one in the archive).
    case swapped
    /// Flips one bit at a share offset chosen by `seed` (in the fault's region, else anywhere in the
    /// share), in every read that returns that offset: persistent bit rot.
    case bitFlip(seed: UInt64)
    /// Acknowledges allocate / write / finish / sync, but a finished share silently vanishes.
    case loseWrites
    /// Allocations succeed; every write of share bytes then fails (a disk that errors mid-upload).
    case failWrites
    /// Everything succeeds until `sync`, which fails (nothing becomes durable).
    case failSync
}

/// Seeded PRNG (SplitMix64): every injected position is reproducible from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What hanging reads wait on: nothing completes them until the test calls `release()` (or their
/// task is cancelled, as a networked client's would be).
final class Gate: Sendable {
    private struct State {
        var released = false
        var next = 0
        var waiters: [Int: CheckedContinuation<Void, Error>] = [:]
        var cancelledEarly: Set<Int> = []
        var entered = 0
    }
    private let state = Mutex(State())

    /// How many calls have started waiting so far.
    var entered: Int { state.withLock { $0.entered } }

    func wait() async throws {
        let id = state.withLock { s in
            s.next += 1
            s.entered += 1
            return s.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                let now: Result<Void, Error>? = state.withLock { s in
                    if s.released { return .success(()) }
                    if s.cancelledEarly.remove(id) != nil { return .failure(CancellationError()) }
                    s.waiters[id] = c
                    return nil
                }
                if let now { c.resume(with: now) }
            }
        } onCancel: {
            let c = state.withLock { s -> CheckedContinuation<Void, Error>? in
                if let c = s.waiters.removeValue(forKey: id) { return c }
                s.cancelledEarly.insert(id)
                return nil
            }
            c?.resume(throwing: CancellationError())
        }
    }

    func release() {
        let all = state.withLock { s in
            s.released = true
            let all = Array(s.waiters.values)
            s.waiters = [:]
            return all
        }
        for c in all { c.resume() }
    }
}

/// Every share finished through the `FaultyServer`s of one grid, as the inner server stored it:
/// the source of `.stale` (another file's share) and `.swapped` (another share of this file).
final class ShareArchive: Sendable {
    private let shares = Mutex([StorageIndex: [ShareNumber: [UInt8]]]())

    func record(_ index: StorageIndex, _ share: ShareNumber, _ bytes: [UInt8]) {
        shares.withLock { $0[index, default: [:]][share] = bytes }
    }
    func bytes(_ index: StorageIndex, _ share: ShareNumber) -> [UInt8]? { shares.withLock { $0[index]?[share] } }
    func numbers(_ index: StorageIndex) -> [ShareNumber] { shares.withLock { ($0[index] ?? [:]).keys.sorted() } }
}

/// A StorageServer decorator that forwards every call to `inner` and injects the current fault.
/// `region`, when set, limits read faults to requests touching that byte range of the share
/// (e.g. the blocks, so that a share opens fine and fails only later, block by block).
final class FaultyServer: StorageServer {
    let inner: any StorageServer
    let archive: ShareArchive?
    private struct Setting {
        var fault: Fault = .healthy
        var region: Range<UInt64>?
    }
    private let setting = Mutex(Setting())
    /// Calls that reached an injected fault (reads and writes), for tests that check a fault was hit.
    private let hits = Mutex(0)

    init(_ inner: any StorageServer, archive: ShareArchive? = nil) {
        self.inner = inner
        self.archive = archive
    }

    var id: ServerID { inner.id }
    var name: String { inner.name }
    var isNear: Bool { inner.isNear }
    var capabilities: ServerCapabilities { inner.capabilities }
    var rank: Int { inner.rank }

    var fault: Fault { setting.withLock { $0.fault } }
    var faultHits: Int { hits.withLock { $0 } }
    func setFault(_ fault: Fault, region: Range<UInt64>? = nil) {
        setting.withLock { $0 = Setting(fault: fault, region: region) }
    }
    func heal() { setFault(.healthy) }

    private var current: Setting { setting.withLock { $0 } }
    private func hit() { hits.withLock { $0 += 1 } }
    private var down: StorageError { .unreachable(server: label, reason: "injected: down") }
    private func ioError(_ index: StorageIndex, _ share: ShareNumber, _ what: String) -> StorageError {
        .io(server: label, path: "\(index.hex)/\(share)", reason: "injected \(what) failure")
    }
    private func affects(_ range: Range<UInt64>, _ region: Range<UInt64>?) -> Bool {
        guard let region else { return true }
        return range.overlaps(region)
    }

    // MARK: writes

    private func writeFault(_ index: StorageIndex, _ share: ShareNumber?) throws {
        switch current.fault {
        case .unreachable: hit(); throw down
        case .error: hit(); throw ioError(index, share ?? -1, "write")
        default: break
        }
    }

    func info() async throws -> ServerInfo {
        if case .unreachable = current.fault { hit(); throw down }
        return try await inner.info()
    }
    func allocate(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                  secrets: UploadSecrets) async throws -> Allocation {
        try writeFault(index, nil)
        return try await inner.allocate(index, shares: shares, shareSize: shareSize, secrets: secrets)
    }
    func allocateReplacements(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                              secrets: UploadSecrets) async throws -> Set<ShareNumber> {
        try writeFault(index, nil)
        return try await inner.allocateReplacements(index, shares: shares, shareSize: shareSize, secrets: secrets)
    }
    func addLease(_ index: StorageIndex, secrets: LeaseSecrets) async throws {
        try writeFault(index, nil)
        try await inner.addLease(index, secrets: secrets)
    }
    func write(_ upload: ShareUpload, offset: UInt64, data: [UInt8]) async throws {
        try writeFault(upload.index, upload.share)
        if case .failWrites = current.fault { hit(); throw ioError(upload.index, upload.share, "write") }
        try await inner.write(upload, offset: offset, data: data)
    }
    func finish(_ upload: ShareUpload) async throws {
        let index = upload.index, share = upload.share
        try writeFault(index, share)
        if case .loseWrites = current.fault {
            hit()
            // Acknowledge, but drop the share: it never becomes visible.
            try await inner.abort(upload)
            return
        }
        try await inner.finish(upload)
        if let archive {
            let size = try await inner.shareSize(index, share: share)
            archive.record(index, share, try await inner.read(index, share: share, ranges: [0..<size])[0])
        }
    }
    func abort(_ upload: ShareUpload) async throws {
        if case .unreachable = current.fault { hit(); throw down }
        try await inner.abort(upload)
    }
    func sync() async throws {
        if case .unreachable = current.fault { hit(); throw down }
        if case .failSync = current.fault { hit(); throw StorageError.io(server: label, path: "sync", reason: "injected sync failure") }
        try await inner.sync()
    }

    // MARK: reads

    func shares(of index: StorageIndex) async throws -> Set<ShareNumber> {
        if case .unreachable = current.fault { hit(); throw down }
        return try await inner.shares(of: index)
    }

    func shareSize(_ index: StorageIndex, share: ShareNumber) async throws -> UInt64 {
        let s = current
        switch s.fault {
        case .unreachable: hit(); throw down
        case .error: hit(); throw ioError(index, share, "size")
        case .hang(let gate):
            hit()
            try await gate.wait()
            throw StorageError.unreachable(server: label, reason: "injected: request timed out")
        case .slow(let delay):
            hit()
            try await Task.sleep(for: delay)
            return try await inner.shareSize(index, share: share)
        case .truncated:
            hit()
            return try await inner.shareSize(index, share: share) / 2
        default:
            return try await inner.shareSize(index, share: share)
        }
    }

    func read(_ index: StorageIndex, share: ShareNumber, ranges: [Range<UInt64>]) async throws -> [[UInt8]] {
        let s = current
        let touched = ranges.map { affects($0, s.region) }
        guard touched.contains(true) else { return try await inner.read(index, share: share, ranges: ranges) }
        switch s.fault {
        case .healthy, .loseWrites, .failWrites, .failSync:
            return try await inner.read(index, share: share, ranges: ranges)
        case .unreachable:
            hit(); throw down
        case .error:
            hit(); throw ioError(index, share, "read")
        case .hang(let gate):
            hit()
            try await gate.wait()
            throw StorageError.unreachable(server: label, reason: "injected: request timed out")
        case .slow(let delay):
            hit()
            try await Task.sleep(for: delay)
            return try await inner.read(index, share: share, ranges: ranges)
        case .truncated:
            hit()
            let real = try await inner.read(index, share: share, ranges: ranges)
            return zip(ranges, zip(real, touched)).map { r, bt in
                bt.1 ? Array(bt.0.prefix(min(bt.0.count, Int(r.count) / 2))) : bt.0
            }
        case .stale(let older):
            hit()
            guard let other = archive?.bytes(older, share) else {
                throw StorageError.noSuchShare(server: label, index: older, share: share)
            }
            return try await substitute(other, index, share, ranges, touched)
        case .swapped:
            hit()
            let numbers = archive?.numbers(index) ?? []
            guard let other = numbers.first(where: { $0 > share }) ?? numbers.first(where: { $0 != share }),
                  let bytes = archive?.bytes(index, other) else {
                throw StorageError.noSuchShare(server: label, index: index, share: share)
            }
            return try await substitute(bytes, index, share, ranges, touched)
        case .bitFlip(let seed):
            var real = try await inner.read(index, share: share, ranges: ranges)
            var rng = SplitMix64(seed: seed)
            let position: UInt64
            if let region = s.region, !region.isEmpty {
                position = region.lowerBound + rng.next() % UInt64(region.count)
            } else {
                position = rng.next() % max(1, try await inner.shareSize(index, share: share))
            }
            let bit = UInt8(1) << (rng.next() % 8)
            for (i, r) in ranges.enumerated() where r.lowerBound <= position && position < r.lowerBound + UInt64(real[i].count) {
                real[i][Int(position - r.lowerBound)] ^= bit
                hit()
            }
            return real
        }
    }

    /// `bytes` cut to each touched range; untouched ranges are served honestly.
    private func substitute(_ bytes: [UInt8], _ index: StorageIndex, _ share: ShareNumber,
                            _ ranges: [Range<UInt64>], _ touched: [Bool]) async throws -> [[UInt8]] {
        let real = try await inner.read(index, share: share, ranges: ranges)
        return ranges.enumerated().map { i, r in
            touched[i] ? Array(bytes[min(Int(r.lowerBound), bytes.count)..<min(Int(r.upperBound), bytes.count)]) : real[i]
        }
    }

    func reportCorrupt(_ index: StorageIndex, share: ShareNumber, reason: String) async throws {
        if case .unreachable = current.fault { hit(); throw down }
        try await inner.reportCorrupt(index, share: share, reason: reason)
    }

    // MARK: mutable shares (forwarded; only `.unreachable` applies)

    func readMutable(_ index: StorageIndex, shares: Set<ShareNumber>?, ranges: [Range<UInt64>]) async throws -> [ShareNumber: [[UInt8]]] {
        if case .unreachable = current.fault { hit(); throw down }
        return try await inner.readMutable(index, shares: shares, ranges: ranges)
    }
    func testAndWriteMutable(_ index: StorageIndex, writeEnabler: [UInt8],
                             vectors: [ShareNumber: MutableWrite]) async throws -> MutableWriteResult {
        if case .unreachable = current.fault { hit(); throw down }
        return try await inner.testAndWriteMutable(index, writeEnabler: writeEnabler, vectors: vectors)
    }
}
