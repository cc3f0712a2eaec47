import CairnPrimitives
/// A 16-byte storage index: where a file's shares live on every server (derived from its key).
public struct StorageIndex: Hashable, Sendable, CustomStringConvertible {
    public static let size = 16
    public let bytes: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        self.bytes = bytes
    }

    /// Lowercase hex, for file names and messages.
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

/// A server's stable identity: 32 bytes, used to order servers per file (the permuted ring).
public struct ServerID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var hex: String { Hex.encode(bytes) }
    public var description: String { String(hex.prefix(12)) }
}

public typealias ShareNumber = Int

/// Lease secrets for one storage index on one server, derived from the client's secret as Tahoe-LAFS derives
/// them (`LeaseKeys` in CairnGrid): `renew` extends the lease, `cancel` is kept for servers that still honour it.
/// Both 32 bytes, as Tahoe's HTTP protocol requires.
public struct LeaseSecrets: Sendable, Hashable {
    public var renew: [UInt8]
    public var cancel: [UInt8]
    public init(renew: [UInt8], cancel: [UInt8]) {
        self.renew = renew
        self.cancel = cancel
    }
}

/// What an upload presents when it allocates: a fresh random upload secret (only its holder may write, finish
/// or abort the allocations it made, as with Tahoe's upload secret) and the lease to add or renew.
public struct UploadSecrets: Sendable, Hashable {
    public var upload: [UInt8]
    public var lease: LeaseSecrets
    public init(upload: [UInt8], lease: LeaseSecrets) {
        self.upload = upload
        self.lease = lease
    }
}

/// The handle of one allocation being written: storage index, share number and the upload secret that
/// allocated it. `write`, `finish` and `abort` take it.
public struct ShareUpload: Sendable, Hashable {
    public let index: StorageIndex
    public let share: ShareNumber
    public let secret: [UInt8]
    public init(index: StorageIndex, share: ShareNumber, secret: [UInt8]) {
        self.index = index
        self.share = share
        self.secret = secret
    }
}

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

/// What a server can do beyond the common protocol; the grid client plans around it.
public struct ServerCapabilities: Sendable, Equatable {
    /// The server can store a new copy of a share it already holds, superseding the old one atomically when
    /// the new copy is durable (the local grid can; Tahoe storage nodes never replace an immutable share).
    public var supersedesShares: Bool
    /// The most byte ranges one `read` may ask for (Tahoe's HTTP protocol allows one); nil: any number.
    public var rangesPerRead: Int?

    public init(supersedesShares: Bool, rangesPerRead: Int?) {
        self.supersedesShares = supersedesShares
        self.rangesPerRead = rangesPerRead
    }

    /// What a server that says nothing more offers: no superseding, one range per read.
    public static let minimal = ServerCapabilities(supersedesShares: false, rangesPerRead: 1)
}

/// How the grid client must treat a failure (DESIGN §4). None of these proves a share's bytes bad: only the
/// grid client can, by hashing bytes it read, and it alone ever reports corruption.
public enum StorageErrorKind: Sendable, Equatable {
    /// The server or the share could not be reached or read this time (I/O error, permission, too many open
    /// files, timeout, full disk, connection failure). Try again later or elsewhere; never conclude anything.
    case unavailable
    /// The server answered that it does not hold the share.
    case missing
    /// Another writer got there first or the request does not fit the server's state (test-and-set lost, no open
    /// allocation).
    case conflict
    /// The server refuses the request as asked (authentication, certificate pin, size limits).
    case refused
}

/// Which server an error comes from: its stable id (from the grid configuration) and, for messages, its name.
/// A literal ("3") makes a label without an id, for errors raised before a server is known.
public struct ServerLabel: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let name: String
    public let id: ServerID?
    public init(name: String, id: ServerID?) {
        self.name = name
        self.id = id
    }
    public init(stringLiteral name: String) { self.init(name: name, id: nil) }
    public var description: String { name }
}

/// A failure at one server. The grid client collects these per server and carries on with the others.
public enum StorageError: Error, CustomStringConvertible, Equatable {
    case unreachable(server: ServerLabel, reason: String)
    case noSuchShare(server: ServerLabel, index: StorageIndex, share: ShareNumber)
    case notAllocated(server: ServerLabel, index: StorageIndex, share: ShareNumber)
    case outOfRange(server: ServerLabel, reason: String)
    case full(server: ServerLabel, reason: String)
    case io(server: ServerLabel, path: String, reason: String)
    case corruptStore(server: ServerLabel, path: String, reason: String)
    /// A slot write carried another write enabler than the one stored with the slot at its first write.
    case badWriteEnabler(server: ServerLabel, index: StorageIndex)
    /// A write, finish or abort carried another upload secret than the allocation's.
    case badUploadSecret(server: ServerLabel, index: StorageIndex, share: ShareNumber)
    /// The server refused the request as asked, or is not the server the grid names (a certificate that
    /// does not match its pin, a swissnum it does not accept): retrying the same request cannot help.
    case refused(server: ServerLabel, reason: String)

    public var kind: StorageErrorKind {
        switch self {
        case .unreachable, .full, .io, .corruptStore: return .unavailable
        case .noSuchShare: return .missing
        case .notAllocated: return .conflict
        case .outOfRange, .badWriteEnabler, .badUploadSecret, .refused: return .refused
        }
    }

    public var description: String {
        switch self {
        case .unreachable(let s, let r): return "server \(s) is unreachable: \(r)"
        case .noSuchShare(let s, let si, let n): return "server \(s) has no share \(n) of \(si)"
        case .notAllocated(let s, let si, let n): return "server \(s) has no open allocation for share \(n) of \(si)"
        case .outOfRange(let s, let r): return "server \(s): \(r)"
        case .full(let s, let r): return "server \(s) is full: \(r)"
        case .io(let s, let p, let r): return "server \(s): \(p): \(r)"
        case .corruptStore(let s, let p, let r): return "server \(s): damaged store \(p): \(r)"
        case .refused(let s, let r): return "server \(s) refused: \(r)"
        case .badUploadSecret(let s, let si, let n):
            return "server \(s) refused a write to share \(n) of \(si): it was allocated by another upload"
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
    /// Download preference: lower ranks are read first (near servers rank 0 by default, others 1).
    var rank: Int { get }
    var capabilities: ServerCapabilities { get }

    func info() async throws -> ServerInfo

    /// Reserves `shareSize` bytes for each of `shares` of `index`, except shares already held and shares another
    /// upload is writing here right now (those are in neither set of the answer: place them elsewhere or later).
    /// The allocations belong to `secrets.upload`; the lease in `secrets` is added or renewed on every share
    /// of `index` the server holds or allocates.
    func allocate(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                  secrets: UploadSecrets) async throws -> Allocation
    /// Reserves new copies of `shares`, held or not, for a repair: once finished and synced, each supersedes the
    /// copy the server held, atomically, and the old bytes are kept aside (never deleted by this call). Only for
    /// servers whose `capabilities.supersedesShares` is true; returns the shares allocated.
    func allocateReplacements(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                              secrets: UploadSecrets) async throws -> Set<ShareNumber>
    /// Writes bytes at `offset` of an allocated share (any order; ranges must stay within `shareSize`).
    func write(_ upload: ShareUpload, offset: UInt64, data: [UInt8]) async throws
    /// Marks an allocated share complete: every byte must have been written.
    func finish(_ upload: ShareUpload) async throws
    /// Drops an allocation that will not be finished.
    func abort(_ upload: ShareUpload) async throws
    /// Adds a lease on every share of `index` the server holds, or renews the one with the same renew secret.
    func addLease(_ index: StorageIndex, secrets: LeaseSecrets) async throws
    /// Makes every finished share durable (data, index and directory fsynced).
    func sync() async throws

    /// The share numbers of `index` this server holds in full.
    func shares(of index: StorageIndex) async throws -> Set<ShareNumber>
    /// The size of a held share.
    func shareSize(_ index: StorageIndex, share: ShareNumber) async throws -> UInt64
    /// Reads byte ranges of a held share; ranges past the end are truncated to the share's size.
    func read(_ index: StorageIndex, share: ShareNumber, ranges: [Range<UInt64>]) async throws -> [[UInt8]]
    /// Tells the server that bytes of a share failed their hash (proven corruption, never a guess). The server
    /// records the report; it never deletes or hides the share because of it (only a durable replacement
    /// supersedes a share).
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

extension StorageServer {
    /// This server in errors: id and name.
    public var label: ServerLabel { ServerLabel(name: name, id: id) }
    public var capabilities: ServerCapabilities { .minimal }
    public var rank: Int { isNear ? 0 : 1 }

    public func allocateReplacements(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                                     secrets: UploadSecrets) async throws -> Set<ShareNumber> {
        throw StorageError.outOfRange(server: label, reason: "this server cannot replace a share it holds")
    }
}

