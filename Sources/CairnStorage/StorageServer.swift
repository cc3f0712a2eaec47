/// A 16-byte storage index: where a file's shares live on every server (derived from its key).
public struct StorageIndex: Hashable, Sendable, CustomStringConvertible {
    public static let size = 16
    public let bytes: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        self.bytes = bytes
    }

    /// Lowercase hex, for file names and messages.
    public var hex: String { bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
    public var description: String { hex }
}

/// A server's stable identity: 32 bytes, used to order servers per file (the permuted ring).
public struct ServerID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var hex: String { bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
    public var description: String { String(hex.prefix(12)) }
}

public typealias ShareNumber = Int

/// What a server says to an allocation request.
public struct Allocation: Sendable, Equatable {
    /// Shares the server already holds in full (nothing to upload).
    public var alreadyHave: Set<ShareNumber>
    /// Shares the server reserved space for; write them, then `finish` each.
    public var allocated: Set<ShareNumber>

    public init(alreadyHave: Set<ShareNumber>, allocated: Set<ShareNumber>) {
        self.alreadyHave = alreadyHave
        self.allocated = allocated
    }
}

public struct ServerInfo: Sendable, Equatable {
    /// The largest immutable share this server accepts, in bytes.
    public var maximumShareSize: UInt64
    /// Bytes still free (for a clear "server full" message before uploading).
    public var availableSpace: UInt64?
    public init(maximumShareSize: UInt64, availableSpace: UInt64?) {
        self.maximumShareSize = maximumShareSize
        self.availableSpace = availableSpace
    }
}

/// A failure at one server. The grid client collects these per server and carries on with the others.
public enum StorageError: Error, CustomStringConvertible, Equatable {
    case unreachable(server: String, reason: String)
    case noSuchShare(server: String, index: StorageIndex, share: ShareNumber)
    case notAllocated(server: String, index: StorageIndex, share: ShareNumber)
    case outOfRange(server: String, reason: String)
    case full(server: String, reason: String)
    case io(server: String, path: String, reason: String)
    case corruptStore(server: String, path: String, reason: String)
    /// A slot write carried another write enabler than the one stored with the slot at its first write.
    case badWriteEnabler(server: String, index: StorageIndex)

    public var description: String {
        switch self {
        case .unreachable(let s, let r): return "server \(s) is unreachable: \(r)"
        case .noSuchShare(let s, let si, let n): return "server \(s) has no share \(n) of \(si)"
        case .notAllocated(let s, let si, let n): return "server \(s) has no open allocation for share \(n) of \(si)"
        case .outOfRange(let s, let r): return "server \(s): \(r)"
        case .full(let s, let r): return "server \(s) is full: \(r)"
        case .io(let s, let p, let r): return "server \(s): \(p): \(r)"
        case .corruptStore(let s, let p, let r): return "server \(s): damaged store \(p): \(r)"
        case .badWriteEnabler(let s, let si):
            return "server \(s) refused a write to slot \(si): wrong write enabler (the slot was created with another write cap)"
        }
    }
}

/// The one interface between the grid client and a storage server, modelled on Tahoe-LAFS storage
/// nodes' immutable-share operations so that networked servers plug in behind it unchanged.
///
/// Calls are asynchronous and independent per server: a server that fails throws a `StorageError`
/// and the client goes on with the others. Writes become durable at `sync()`, which a client calls
/// once per batch before it reports anything as stored (networked servers may be durable earlier).
public protocol StorageServer: AnyObject, Sendable {
    var id: ServerID { get }
    /// A short human name ("server 3", a host name) for messages.
    var name: String { get }
    /// Near servers (local disk, "mom's machine") are preferred for downloads.
    var isNear: Bool { get }

    func info() async throws -> ServerInfo

    /// Reserves `shareSize` bytes for each of `shares` of `index`, except shares already held.
    func allocate(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64) async throws -> Allocation
    /// Writes bytes at `offset` of an allocated share (any order; ranges must stay within `shareSize`).
    func write(_ index: StorageIndex, share: ShareNumber, offset: UInt64, data: [UInt8]) async throws
    /// Marks an allocated share complete: every byte must have been written.
    func finish(_ index: StorageIndex, share: ShareNumber) async throws
    /// Drops an allocation that will not be finished.
    func abort(_ index: StorageIndex, share: ShareNumber) async throws
    /// Makes every finished share durable (data, index and directory fsynced).
    func sync() async throws

    /// The share numbers of `index` this server holds in full.
    func shares(of index: StorageIndex) async throws -> Set<ShareNumber>
    /// The size of a held share.
    func shareSize(_ index: StorageIndex, share: ShareNumber) async throws -> UInt64
    /// Reads byte ranges of a held share; ranges past the end are truncated to the share's size.
    func read(_ index: StorageIndex, share: ShareNumber, ranges: [Range<UInt64>]) async throws -> [[UInt8]]
    /// Tells the server a share failed verification. A write-once server keeps the bad copy; the local
    /// grid drops it so that repair can write a good one.
    func reportCorrupt(_ index: StorageIndex, share: ShareNumber, reason: String) async throws

    // Mutable shares ("slots"), modelled on Tahoe's read-test-write (MutableShares.swift).

    /// Reads `ranges` of each held mutable share of `index` in `shares` (nil: every held share). Ranges
    /// past a share's end are cut short; shares the server lacks are absent from the answer, and a slot
    /// the server has never seen gives an empty answer, not an error.
    func readMutable(_ index: StorageIndex, shares: Set<ShareNumber>?, ranges: [Range<UInt64>]) async throws -> [ShareNumber: [[UInt8]]]
    /// Runs every test of every share; only if all pass, applies every write, atomically and durably
    /// (nothing is written otherwise). The first write stores `writeEnabler` with the slot; a later call
    /// with another one throws `StorageError.badWriteEnabler`. The result carries, per share, the bytes
    /// each test range held before the call, so a losing writer learns what is there now.
    func testAndWriteMutable(_ index: StorageIndex, writeEnabler: [UInt8],
                             vectors: [ShareNumber: MutableWrite]) async throws -> MutableWriteResult
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
