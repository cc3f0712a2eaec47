import CairnStorage
import Synchronization

/// An in-memory StorageServer for unit tests of the grid client's logic (placement, failover,
/// verification). Real-disk behaviour is tested against LocalDirectoryServer.
final class MemoryServer: StorageServer {
    let id: ServerID
    let name: String
    let isNear: Bool
    private struct State {
        var open: [String: OpenShare] = [:]
        var done: [String: [UInt8]] = [:]
        var down = false
        var slots: [String: [ShareNumber: [UInt8]]] = [:]
        var enablers: [String: [UInt8]] = [:]
        /// Shares another writer "lands" just before the next test-and-write of that slot.
        var interference: [String: [ShareNumber: [UInt8]]] = [:]
        var reports: [String] = []
        /// Lease renew secrets per storage index (hex), in the order they came.
        var leases: [String: [[UInt8]]] = [:]
        var failingReads = false
    }
    private struct OpenShare {
        var bytes: [UInt8]
        var secret: [UInt8]
        var written = Written()
    }
    /// Which bytes of an allocation were written (sorted, merged ranges).
    private struct Written {
        var ranges: [Range<UInt64>] = []
        mutating func insert(_ r: Range<UInt64>) {
            guard !r.isEmpty else { return }
            var merged = r
            ranges.removeAll { x in
                guard x.overlaps(merged) || x.upperBound == merged.lowerBound || merged.upperBound == x.lowerBound else { return false }
                merged = min(x.lowerBound, merged.lowerBound)..<max(x.upperBound, merged.upperBound)
                return true
            }
            ranges.append(merged)
            ranges.sort { $0.lowerBound < $1.lowerBound }
        }
        func firstGap(in size: UInt64) -> Range<UInt64>? {
            var at: UInt64 = 0
            for r in ranges {
                if r.lowerBound > at { return at..<r.lowerBound }
                at = max(at, r.upperBound)
            }
            return at < size ? at..<size : nil
        }
    }
    private let state = Mutex(State())

    /// Whether it replaces held shares in place (as the local grid does) or never (as a Tahoe node).
    let supersedes: Bool

    init(number: Int, isNear: Bool = true, supersedes: Bool = true) {
        id = ServerID((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ number &* 31) })
        name = String(number)
        self.isNear = isNear
        self.supersedes = supersedes
    }

    private func key(_ i: StorageIndex, _ s: ShareNumber) -> String { "\(i.hex)/\(s)" }
    private func check() throws { if state.withLock({ $0.down }) { throw StorageError.unreachable(server: label, reason: "down") } }
    func setDown(_ down: Bool) { state.withLock { $0.down = down } }
    /// Reads of share bytes fail as a disk out of file descriptors would (listing still works).
    func setFailingReads(_ failing: Bool) { state.withLock { $0.failingReads = failing } }
    private func checkRead() throws {
        try check()
        if state.withLock({ $0.failingReads }) { throw StorageError.io(server: label, path: "memory", reason: "open: Too many open files (errno 24)") }
    }
    func corrupt(_ i: StorageIndex, _ s: ShareNumber, at offset: Int) {
        state.withLock { $0.done[key(i, s)]![offset] ^= 0x40 }
    }
    func delete(_ i: StorageIndex, _ s: ShareNumber) { _ = state.withLock { $0.done.removeValue(forKey: key(i, s)) } }
    func shareBytes(_ i: StorageIndex, _ s: ShareNumber) -> [UInt8]? { state.withLock { $0.done[key(i, s)] } }

    func info() async throws -> ServerInfo { try check(); return ServerInfo(maximumShareSize: 1 << 40, availableSpace: nil) }
    func allocate(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                  secrets: UploadSecrets) async throws -> Allocation {
        try check()
        return state.withLock { st in
            Self.lease(&st, index, secrets.lease)
            var a = Allocation(alreadyHave: [], allocated: [])
            for s in shares {
                if st.done[key(index, s)] != nil { a.alreadyHave.insert(s) } else if st.open[key(index, s)] != nil {
                    continue  // another upload is writing it: neither held nor allocated
                } else {
                    st.open[key(index, s)] = OpenShare(bytes: [UInt8](repeating: 0, count: Int(shareSize)), secret: secrets.upload)
                    a.allocated.insert(s)
                }
            }
            return a
        }
    }
    /// The allocation `upload` names; another upload's is refused.
    private func opened(_ st: State, _ upload: ShareUpload) throws -> OpenShare {
        guard let open = st.open[key(upload.index, upload.share)] else {
            throw StorageError.notAllocated(server: label, index: upload.index, share: upload.share)
        }
        guard open.secret == upload.secret else { throw StorageError.badUploadSecret(server: label, index: upload.index, share: upload.share) }
        return open
    }
    private static func lease(_ st: inout State, _ index: StorageIndex, _ secrets: LeaseSecrets) {
        if !(st.leases[index.hex] ?? []).contains(secrets.renew) { st.leases[index.hex, default: []].append(secrets.renew) }
    }
    func leases(_ index: StorageIndex) -> [[UInt8]] { state.withLock { $0.leases[index.hex] ?? [] } }
    func addLease(_ index: StorageIndex, secrets: LeaseSecrets) async throws {
        try check()
        state.withLock { Self.lease(&$0, index, secrets) }
    }

    func write(_ upload: ShareUpload, offset: UInt64, data: [UInt8]) async throws {
        try check()
        let index = upload.index, share = upload.share
        try state.withLock { st in
            let open = try opened(st, upload)
            guard offset <= UInt64(open.bytes.count), UInt64(data.count) <= UInt64(open.bytes.count) - offset else {
                throw StorageError.outOfRange(server: label, reason: "write of \(data.count) bytes at \(offset) runs past the end of share \(share) (\(open.bytes.count) bytes)")
            }
            st.open[key(index, share)]!.bytes.replaceSubrange(Int(offset)..<Int(offset) + data.count, with: data)
            st.open[key(index, share)]!.written.insert(offset..<(offset + UInt64(data.count)))
        }
    }
    func finish(_ upload: ShareUpload) async throws {
        try check()
        let index = upload.index, share = upload.share
        try state.withLock { st in
            let open = try opened(st, upload)
            if let gap = open.written.firstGap(in: UInt64(open.bytes.count)) {
                throw StorageError.outOfRange(server: label, reason: "bytes \(gap.lowerBound)..<\(gap.upperBound) of share \(share) were never written")
            }
            st.open[key(index, share)] = nil
            st.done[key(index, share)] = open.bytes
        }
    }
    func abort(_ upload: ShareUpload) async throws {
        try check()
        try state.withLock { st in
            _ = try opened(st, upload)
            st.open[key(upload.index, upload.share)] = nil
        }
    }
    func sync() async throws { try check() }
    func shares(of index: StorageIndex) async throws -> Set<ShareNumber> {
        try check()
        let prefix = index.hex + "/"
        return state.withLock { Set($0.done.keys.filter { $0.hasPrefix(prefix) }.map { Int($0.dropFirst(prefix.count))! }) }
    }
    func shareSize(_ index: StorageIndex, share: ShareNumber) async throws -> UInt64 {
        try check()
        guard let b = shareBytes(index, share) else { throw StorageError.noSuchShare(server: label, index: index, share: share) }
        return UInt64(b.count)
    }
    func read(_ index: StorageIndex, share: ShareNumber, ranges: [Range<UInt64>]) async throws -> [[UInt8]] {
        try checkRead()
        guard let b = shareBytes(index, share) else { throw StorageError.noSuchShare(server: label, index: index, share: share) }
        return ranges.map { r in Array(b[min(Int(r.lowerBound), b.count)..<min(Int(r.upperBound), b.count)]) }
    }
    /// Records the report; the share stays (as on every server: only a replacement supersedes it).
    func reportCorrupt(_ index: StorageIndex, share: ShareNumber, reason: String) async throws {
        try check()
        state.withLock { $0.reports.append("\(index.hex)/\(share)") }
    }
    var reports: [String] { state.withLock { $0.reports } }

    var capabilities: ServerCapabilities { ServerCapabilities(supersedesShares: supersedes, rangesPerRead: 1) }
    func allocateReplacements(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                              secrets: UploadSecrets) async throws -> Set<ShareNumber> {
        try check()
        guard supersedes else { throw StorageError.outOfRange(server: label, reason: "cannot supersede") }
        return state.withLock { st in
            Self.lease(&st, index, secrets.lease)
            for s in shares { st.open[key(index, s)] = OpenShare(bytes: [UInt8](repeating: 0, count: Int(shareSize)), secret: secrets.upload) }
            return shares
        }
    }

    func readMutable(_ index: StorageIndex, shares: Set<ShareNumber>?, ranges: [Range<UInt64>]) async throws -> [ShareNumber: [[UInt8]]] {
        try check()
        let held = state.withLock { $0.slots[index.hex] ?? [:] }
        var out: [ShareNumber: [[UInt8]]] = [:]
        for (share, bytes) in held where shares?.contains(share) ?? true {
            out[share] = ranges.map { MutableBytes.read(bytes, $0) }
        }
        return out
    }

    func testAndWriteMutable(_ index: StorageIndex, writeEnabler: [UInt8],
                             vectors: [ShareNumber: MutableWrite]) async throws -> MutableWriteResult {
        try check()
        return try state.withLock { st in
            if let stored = st.enablers[index.hex], stored != writeEnabler {
                throw StorageError.badWriteEnabler(server: label, index: index)
            }
            if let landed = st.interference.removeValue(forKey: index.hex) {
                for (share, bytes) in landed { st.slots[index.hex, default: [:]][share] = bytes }
            }
            let current = st.slots[index.hex] ?? [:]
            let (result, updates) = try MutableBytes.evaluate(vectors, current: current, limit: 1 << 30)
            guard result.success, !updates.isEmpty else { return result }
            st.enablers[index.hex] = st.enablers[index.hex] ?? writeEnabler
            for (share, bytes) in updates { st.slots[index.hex, default: [:]][share] = bytes }
            return result
        }
    }

    /// A slot share's bytes, for tests that damage or inspect them.
    func slotShare(_ i: StorageIndex, _ s: ShareNumber) -> [UInt8]? { state.withLock { $0.slots[i.hex]?[s] } }
    func interfereBeforeNextWrite(_ i: StorageIndex, _ shares: [ShareNumber: [UInt8]]) { state.withLock { $0.interference[i.hex] = shares } }
    func setSlotShare(_ i: StorageIndex, _ s: ShareNumber, _ bytes: [UInt8]?) { state.withLock { $0.slots[i.hex, default: [:]][s] = bytes } }
}

/// The secrets tests present when they talk to servers directly (any fixed values: servers only compare them).
let testSecrets = UploadSecrets(upload: [UInt8](repeating: 0xA1, count: 32),
                                lease: LeaseSecrets(renew: [UInt8](repeating: 0xB2, count: 32), cancel: [UInt8](repeating: 0xC3, count: 32)))
