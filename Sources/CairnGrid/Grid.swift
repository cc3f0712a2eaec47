import CairnFormats
import CairnPrimitives
import CairnStorage

/// What the grid client needs: parameters, the convergence secret and the servers.
public struct Grid: Sendable {
    public let parameters: EncodingParameters
    public let convergenceSecret: [UInt8]
    public let servers: [any StorageServer]
    /// Uploads in flight in this process, one per storage index (shared by copies of this value).
    let uploads = SingleFlight<StorageIndex, Cap>()
    let leases: LeaseKeys
    /// Servers that hold shares 0…K−1 of every upload in addition to the normal spread ("K shares on mom's
    /// machine"): a read served by one of them needs no decoding and no other server.
    public let primaryHolders: Set<ServerID>

    public init(parameters: EncodingParameters, convergenceSecret: [UInt8], servers: [any StorageServer],
                primaryHolders: Set<ServerID> = []) {
        self.parameters = parameters
        self.convergenceSecret = convergenceSecret
        self.servers = servers
        self.primaryHolders = primaryHolders
        leases = LeaseKeys(convergenceSecret: convergenceSecret)
    }

    /// What an upload with `upload` as its secret presents to `server` for `index`.
    func uploadSecrets(_ index: StorageIndex, _ server: any StorageServer, upload: [UInt8]) -> UploadSecrets {
        UploadSecrets(upload: upload, lease: leases.secrets(index, server.id))
    }

    /// Servers ordered for one storage index by hash(storage index, server id): Tahoe's permuted
    /// ring, so each file's shares land on a different, stable sequence of servers.
    public func permutedServers(for index: StorageIndex) -> [any StorageServer] {
        servers.map { (key: TaggedHash.hash(Tags.permute, index.bytes + $0.id.bytes), server: $0) }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
            .map(\.server)
    }

    /// Asks every server which shares of `index` it holds. Failures are kept per server id.
    func locate(_ index: StorageIndex) async -> (holders: [ShareNumber: [any StorageServer]], failures: [ServerID: String]) {
        await withTaskGroup(of: (Int, Result<Set<ShareNumber>, Error>).self) { group in
            for (i, server) in servers.enumerated() {
                group.addTask {
                    let r = await outcome { try await server.shares(of: index) }
                    return (i, r)
                }
            }
            var holders: [ShareNumber: [any StorageServer]] = [:]
            var failures: [ServerID: String] = [:]
            var results: [(Int, Result<Set<ShareNumber>, Error>)] = []
            for await r in group { results.append(r) }
            for (i, result) in results.sorted(by: { $0.0 < $1.0 }) {
                switch result {
                case .success(let shares): for s in shares { holders[s, default: []].append(servers[i]) }
                case .failure(let e): failures[servers[i].id] = describe(e)
                }
            }
            return (holders, failures)
        }
    }

    /// The display name of a configured server (its id if unknown).
    func name(of id: ServerID) -> String { servers.first { $0.id == id }?.name ?? id.description }

    /// Makes every server's (or only `only`'s) finished shares durable; per-server failures are returned.
    public func syncAll(only: [any StorageServer]? = nil) async -> [String: String] {
        await withTaskGroup(of: (String, String?).self) { group in
            for server in only ?? servers {
                group.addTask {
                    do { try await server.sync(); return (server.name, nil) } catch { return (server.name, describe(error)) }
                }
            }
            var failures: [String: String] = [:]
            for await (name, error) in group { if let error { failures[name] = error } }
            return failures
        }
    }
}

/// A configured server that cannot be used this time (its folder is gone, its host is down).
final class UnreachableServer: StorageServer {
    let id: ServerID
    let name: String
    let reason: String
    var isNear: Bool { false }

    init(id: ServerID, name: String, reason: String) {
        self.id = id
        self.name = name
        self.reason = reason
    }

    private var error: StorageError { .unreachable(server: label, reason: reason) }
    func info() async throws -> ServerInfo { throw error }
    func allocate(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                  secrets: UploadSecrets) async throws -> Allocation { throw error }
    func write(_ upload: ShareUpload, offset: UInt64, data: [UInt8]) async throws { throw error }
    func finish(_ upload: ShareUpload) async throws { throw error }
    func abort(_ upload: ShareUpload) async throws { throw error }
    func addLease(_ index: StorageIndex, secrets: LeaseSecrets) async throws { throw error }
    func sync() async throws {}
    func shares(of index: StorageIndex) async throws -> Set<ShareNumber> { throw error }
    func shareSize(_ index: StorageIndex, share: ShareNumber) async throws -> UInt64 { throw error }
    func read(_ index: StorageIndex, share: ShareNumber, ranges: [Range<UInt64>]) async throws -> [[UInt8]] { throw error }
    func reportCorrupt(_ index: StorageIndex, share: ShareNumber, reason: String) async throws { throw error }
    func readMutable(_ index: StorageIndex, shares: Set<ShareNumber>?, ranges: [Range<UInt64>]) async throws -> [ShareNumber: [[UInt8]]] { throw error }
    func testAndWriteMutable(_ index: StorageIndex, writeEnabler: [UInt8],
                             vectors: [ShareNumber: MutableWrite]) async throws -> MutableWriteResult { throw error }
}
