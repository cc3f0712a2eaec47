import CairnPrimitives
import CairnStorage
import Synchronization

/// A Tahoe-LAFS 1.20 storage node, spoken to over its HTTP storage protocol ("Great Black Swamp",
/// Documentation/Tahoe.md): shares and slots are opaque bytes to it, exactly as to a local server.
///
/// What differs from a local folder: the node never replaces an immutable share (no superseding repairs),
/// serves one byte range per request, says nothing about a share's size, and keeps writes in its file
/// system without fsync ("durable" means: written by the node's process). Leases are real: the node
/// keeps a share while a lease on it is younger than 31 days (if its operator enabled expiry at all).
public final class TahoeServer: StorageServer {
    public let id: ServerID
    public let name: String
    public let isNear: Bool
    public let rank: Int
    public let nurl: NURL
    let client: HTTPClient
    /// The lease secrets for slots of this node (read-test-write must carry them; the protocol's slot call
    /// does not), derived as for immutable shares.
    let slotLease: @Sendable (StorageIndex) -> LeaseSecrets
    /// Allocations made through this client and not yet finished or aborted: the node checks the upload
    /// secret, but only we know the allocated size (to refuse writes past it) and whether the last write
    /// completed the share (the node closes a share when its last byte arrives; `finish` only confirms).
    private let uploads = Mutex<[UploadKey: UploadState]>([:])

    struct UploadKey: Hashable { let index: StorageIndex; let share: ShareNumber }
    struct UploadState { let secret: [UInt8]; let size: UInt64; var complete: Bool }

    public static let defaultConnections = 4

    public init(nurl: NURL, id: ServerID, name: String, near: Bool = false, rank: Int? = nil,
                connections: Int = TahoeServer.defaultConnections, upload: TokenBucket? = nil, download: TokenBucket? = nil,
                slotLease: @escaping @Sendable (StorageIndex) -> LeaseSecrets) {
        self.nurl = nurl
        self.id = id
        self.name = name
        isNear = near
        self.rank = rank ?? (near ? 0 : 1)
        self.slotLease = slotLease
        client = HTTPClient(nurl: nurl, server: ServerLabel(name: name, id: id), connections: connections,
                            limits: TransferLimits(upload: upload, download: download))
    }

    public var capabilities: ServerCapabilities { .minimal }

    static func path(_ index: StorageIndex) -> String { "/storage/v1/immutable/" + Base32.encode(index.bytes) }
    static func mutablePath(_ index: StorageIndex) -> String { "/storage/v1/mutable/" + Base32.encode(index.bytes) }

    private func secretHeader(_ name: String, _ value: [UInt8]) -> String {
        "X-Tahoe-Authorization: \(name) " + Base64.encode(value)
    }

    private func leaseHeaders(_ lease: LeaseSecrets) -> [String] {
        [secretHeader("lease-renew-secret", lease.renew), secretHeader("lease-cancel-secret", lease.cancel)]
    }

    /// An answer that is none of the expected ones, as the error that says what to do about it.
    func unexpected(_ response: HTTPResponse, _ what: String) -> StorageError {
        switch response.status {
        case 401 where response.text.contains("Authorization"):
            return .refused(server: label, reason: "it does not accept the swissnum in its NURL \(nurl.redacted) (copy the NURL again from the node's announcement)")
        case 507:
            return .full(server: label, reason: "\(what): \(response.text)")
        case 500...599:
            return .unreachable(server: label, reason: "\(what): HTTP \(response.status) \(response.text)")
        default:
            return .refused(server: label, reason: "\(what): HTTP \(response.status) \(response.text)")
        }
    }

    // MARK: Node

    public func info() async throws -> ServerInfo { try await version().info }

    /// The node's version answer, read once: its limits and space, and its own version text (e.g.
    /// "tahoe-lafs/1.20.0", for `grid status`).
    public func version() async throws -> (info: ServerInfo, application: String) {
        let response = try await client.send(HTTPRequest(method: "GET", path: "/storage/v1/version", idempotent: true))
        guard response.status == 200 else { throw unexpected(response, "version") }
        let version = try response.cbor(label, "version")
        guard let v1 = version["http://allmydata.org/tahoe/protocols/storage/v1"],
              let maximum = v1["maximum-immutable-share-size"]?.unsignedValue else {
            throw StorageError.refused(server: label, reason: "its version answer has no storage v1 section: not a Tahoe-LAFS storage node?")
        }
        let application = version["application-version"]?.bytesValue.map { String(decoding: $0, as: UTF8.self) }
            ?? version["application-version"]?.textValue ?? "unknown"
        return (ServerInfo(maximumShareSize: maximum, availableSpace: v1["available-space"]?.unsignedValue), application)
    }

    // MARK: Immutable shares

    public func allocate(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                         secrets: UploadSecrets) async throws -> Allocation {
        let body = CBOR.map([
            (.text("share-numbers"), .set(shares.sorted().map { .int($0) })),
            (.text("allocated-size"), .unsigned(shareSize)),
        ])
        let headers = leaseHeaders(secrets.lease) + [secretHeader("upload-secret", secrets.upload)]
        // Not repeated once it may have reached the node: a repeat would find our own fresh allocations busy
        // (in neither set) and leave them open until the node's 30-minute upload timeout.
        let response = try await client.send(.cbor("POST", Self.path(index), body, headers: headers, idempotent: false))
        guard response.status == 200 || response.status == 201 else { throw unexpected(response, "allocate") }
        let answer = try response.cbor(label, "allocate")
        guard let have = answer["already-have"]?.arrayValue, let allocated = answer["allocated"]?.arrayValue else {
            throw StorageError.refused(server: label, reason: "allocate: the answer lacks already-have or allocated")
        }
        func numbers(_ items: [CBOR]) -> Set<ShareNumber> {
            Set(items.compactMap { $0.unsignedValue.flatMap { $0 <= 255 ? Int($0) : nil } })
        }
        let result = Allocation(alreadyHave: numbers(have).intersection(shares), allocated: numbers(allocated).intersection(shares))
        uploads.withLock { table in
            for share in result.allocated {
                table[UploadKey(index: index, share: share)] = UploadState(secret: secrets.upload, size: shareSize, complete: false)
            }
        }
        return result
    }

    public func write(_ upload: ShareUpload, offset: UInt64, data: [UInt8]) async throws {
        let key = UploadKey(index: upload.index, share: upload.share)
        let state = uploads.withLock { $0[key] }
        let (end, overflow) = offset.addingReportingOverflow(UInt64(data.count))
        // The node forgets an allocation once its last byte arrives; until `finish`, it is still ours.
        if let state, state.secret != upload.secret {
            throw StorageError.badUploadSecret(server: label, index: upload.index, share: upload.share)
        }
        if let state, overflow || end > state.size {
            throw StorageError.outOfRange(server: label, reason: "a write of \(data.count) bytes at offset \(offset) goes past share \(upload.share)'s allocated \(state.size) bytes")
        }
        guard !data.isEmpty else { return }
        let total = state.map { String($0.size) } ?? "*"
        let request = HTTPRequest(method: "PATCH", path: Self.path(upload.index) + "/\(upload.share)",
                                  headers: ["Content-Type: application/octet-stream",
                                            "Content-Range: bytes \(offset)-\(end - 1)/\(total)",
                                            secretHeader("upload-secret", upload.secret)],
                                  body: data, idempotent: true)
        let response = try await client.send(request)
        switch response.status {
        case 200: return
        case 201:
            uploads.withLock { table in
                if table[key]?.secret == upload.secret { table[key]?.complete = true }
            }
        case 404:
            // The node forgets an allocation when its last byte arrives. If this write is a repeat (its first
            // answer was lost) or raced the write that completed the share, the share is there: ours, done.
            if let state, state.secret == upload.secret, (try? await shares(of: upload.index))?.contains(upload.share) == true {
                uploads.withLock { table in
                    if table[key]?.secret == upload.secret { table[key]?.complete = true }
                }
                return
            }
            throw StorageError.notAllocated(server: label, index: upload.index, share: upload.share)
        case 401 where !response.text.contains("Authorization"):
            throw StorageError.badUploadSecret(server: label, index: upload.index, share: upload.share)
        case 409:
            throw StorageError.refused(server: label, reason: "share \(upload.share) of \(upload.index) already holds other bytes at offset \(offset)")
        default: throw unexpected(response, "write to share \(upload.share) of \(upload.index)")
        }
    }

    public func finish(_ upload: ShareUpload) async throws {
        let key = UploadKey(index: upload.index, share: upload.share)
        let state = uploads.withLock { $0[key] }
        guard let state else { throw StorageError.notAllocated(server: label, index: upload.index, share: upload.share) }
        guard state.secret == upload.secret else {
            throw StorageError.badUploadSecret(server: label, index: upload.index, share: upload.share)
        }
        guard state.complete else {
            throw StorageError.outOfRange(server: label, reason: "share \(upload.share) of \(upload.index) cannot be finished: not every byte of it was written")
        }
        uploads.withLock { _ = $0.removeValue(forKey: key) }
    }

    public func abort(_ upload: ShareUpload) async throws {
        if let state = uploads.withLock({ $0[UploadKey(index: upload.index, share: upload.share)] }), state.secret != upload.secret {
            throw StorageError.badUploadSecret(server: label, index: upload.index, share: upload.share)
        }
        let request = HTTPRequest(method: "PUT", path: Self.path(upload.index) + "/\(upload.share)/abort",
                                  headers: [secretHeader("upload-secret", upload.secret)], idempotent: true)
        let response = try await client.send(request)
        switch response.status {
        case 200, 204:
            uploads.withLock { table in
                let key = UploadKey(index: upload.index, share: upload.share)
                if table[key]?.secret == upload.secret { table[key] = nil }
            }
        case 404, 405: throw StorageError.notAllocated(server: label, index: upload.index, share: upload.share)
        case 401 where !response.text.contains("Authorization"):
            throw StorageError.badUploadSecret(server: label, index: upload.index, share: upload.share)
        default: throw unexpected(response, "abort of share \(upload.share) of \(upload.index)")
        }
    }

    public func addLease(_ index: StorageIndex, secrets: LeaseSecrets) async throws {
        let request = HTTPRequest(method: "PUT", path: "/storage/v1/lease/" + Base32.encode(index.bytes),
                                  headers: leaseHeaders(secrets), idempotent: true)
        let response = try await client.send(request)
        switch response.status {
        case 200, 204: return
        case 404: throw StorageError.noSuchShare(server: label, index: index, share: 0)
        default: throw unexpected(response, "lease on \(index)")
        }
    }

    /// Nothing to do: a node's writes are as durable as they will get once it has answered.
    public func sync() async throws {}

    public func shares(of index: StorageIndex) async throws -> Set<ShareNumber> {
        try await listShares(Self.path(index) + "/shares")
    }

    private func listShares(_ path: String) async throws(StorageError) -> Set<ShareNumber> {
        let response = try await client.send(HTTPRequest(method: "GET", path: path, idempotent: true))
        guard response.status == 200 else { throw unexpected(response, "list of shares") }
        guard let items = try response.cbor(label, "list of shares").arrayValue else {
            throw StorageError.refused(server: label, reason: "list of shares: the answer is not a set")
        }
        return Set(items.compactMap { $0.unsignedValue.flatMap { $0 <= 255 ? Int($0) : nil } })
    }

    /// One byte range of a share (immutable or mutable path): empty past the end, nil if the node lacks it.
    private func readRange(_ path: String, _ range: Range<UInt64>) async throws(StorageError) -> [UInt8]? {
        guard !range.isEmpty else { return [] }
        let count = range.upperBound - range.lowerBound
        let request = HTTPRequest(method: "GET", path: path,
                                  headers: ["Range: bytes=\(range.lowerBound)-\(range.upperBound - 1)"],
                                  responseLimit: Int(min(count, UInt64(Int.max - 65_536))) + 65_536, idempotent: true)
        let response = try await client.send(request)
        switch response.status {
        case 200, 206:
            guard UInt64(response.body.count) <= count else {
                throw StorageError.refused(server: label, reason: "answered \(response.body.count) bytes for a range of \(count)")
            }
            return response.body
        case 204, 416: return []
        case 404: return nil
        default: throw unexpected(response, "read")
        }
    }

    public func read(_ index: StorageIndex, share: ShareNumber, ranges: [Range<UInt64>]) async throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        for range in ranges {
            guard let bytes = try await readRange(Self.path(index) + "/\(share)", range) else {
                throw StorageError.noSuchShare(server: label, index: index, share: share)
            }
            out.append(bytes)
        }
        return out
    }

    /// The node does not say how long a share is: found by one-byte reads, doubling and then halving
    /// (about 2·log2(size) small requests on one connection). Nothing in the grid client needs it.
    public func shareSize(_ index: StorageIndex, share: ShareNumber) async throws -> UInt64 {
        let path = Self.path(index) + "/\(share)"
        func exists(at offset: UInt64) async throws -> Bool {
            guard let bytes = try await readRange(path, offset..<offset + 1) else {
                throw StorageError.noSuchShare(server: label, index: index, share: share)
            }
            return !bytes.isEmpty
        }
        guard try await exists(at: 0) else { return 0 }
        var low: UInt64 = 1, high: UInt64 = 4_096  // a byte exists at low - 1; the size is at most high
        while try await exists(at: high - 1) {
            low = high
            guard high < UInt64(1) << 50 else { throw StorageError.refused(server: label, reason: "a share larger than 1 PiB") }
            high *= 4
        }
        while low < high {  // size in [low, high]
            let mid = low + (high - low) / 2
            if try await exists(at: mid) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    public func reportCorrupt(_ index: StorageIndex, share: ShareNumber, reason: String) async throws {
        let text = reason.isEmpty ? "corrupt" : String(reason.prefix(4_000))
        let body = CBOR.map([(.text("reason"), .text(text))])
        let response = try await client.send(.cbor("POST", Self.path(index) + "/\(share)/corrupt", body, idempotent: true))
        switch response.status {
        case 200, 204: return
        case 404: throw StorageError.noSuchShare(server: label, index: index, share: share)
        default: throw unexpected(response, "corruption report")
        }
    }

    // MARK: Slots

    public func readMutable(_ index: StorageIndex, shares: Set<ShareNumber>?, ranges: [Range<UInt64>]) async throws -> [ShareNumber: [[UInt8]]] {
        var held = try await listShares(Self.mutablePath(index) + "/shares")
        if let shares { held.formIntersection(shares) }
        var out: [ShareNumber: [[UInt8]]] = [:]
        for share in held.sorted() {
            var parts: [[UInt8]] = []
            var gone = false
            for range in ranges {
                guard let bytes = try await readRange(Self.mutablePath(index) + "/\(share)", range) else { gone = true; break }
                parts.append(bytes)
            }
            if !gone { out[share] = parts }
        }
        return out
    }

    public func testAndWriteMutable(_ index: StorageIndex, writeEnabler: [UInt8],
                                    vectors: [ShareNumber: MutableWrite]) async throws -> MutableWriteResult {
        // The node answers with one read vector for every share it holds: read every distinct test range,
        // then give each share of the call the bytes of its own tests.
        var reads: [Range<UInt64>] = []
        for vector in vectors.values {
            for test in vector.tests where !reads.contains(test.range) { reads.append(test.range) }
        }
        guard reads.count <= 30, vectors.values.allSatisfy({ $0.tests.count <= 30 }), vectors.count <= 256 else {
            throw StorageError.outOfRange(server: label, reason: "Tahoe nodes take at most 30 tests and 30 reads per slot write")
        }
        var twv: [(CBOR, CBOR)] = []
        for (share, vector) in vectors.sorted(by: { $0.key < $1.key }) {
            let tests = vector.tests.map { t in
                CBOR.map([(.text("offset"), .unsigned(t.offset)), (.text("size"), .unsigned(t.size)), (.text("specimen"), .bytes(t.specimen))])
            }
            let writes = vector.writes.map { w in CBOR.map([(.text("offset"), .unsigned(w.offset)), (.text("data"), .bytes(w.data))]) }
            twv.append((.int(share), .map([
                (.text("test"), .array(tests)),
                (.text("write"), .array(writes)),
                (.text("new-length"), vector.newLength.map { .unsigned($0) } ?? .null),
            ])))
        }
        let body = CBOR.map([
            (.text("test-write-vectors"), .map(twv)),
            (.text("read-vector"), .array(reads.map { r in
                CBOR.map([(.text("offset"), .unsigned(r.lowerBound)), (.text("size"), .unsigned(r.upperBound - r.lowerBound))])
            })),
        ])
        let headers = [secretHeader("write-enabler", writeEnabler)] + leaseHeaders(slotLease(index))
        var request = HTTPRequest.cbor("POST", Self.mutablePath(index) + "/read-test-write", body, headers: headers, idempotent: false)
        request.responseLimit = 64 << 20
        let response = try await client.send(request)
        switch response.status {
        case 200: break
        case 401 where !response.text.contains("Authorization"):
            throw StorageError.badWriteEnabler(server: label, index: index)
        default: throw unexpected(response, "slot write to \(index)")
        }
        let answer = try response.cbor(label, "slot write")
        guard let success = answer["success"]?.boolValue, let data = answer["data"]?.mapPairs else {
            throw StorageError.refused(server: label, reason: "slot write: the answer lacks success or data")
        }
        var held: [ShareNumber: [[UInt8]]] = [:]
        for (k, v) in data {
            guard let n = k.unsignedValue, n <= 255, let parts = v.arrayValue else { continue }
            held[Int(n)] = parts.map { $0.bytesValue ?? [] }
        }
        var result: [ShareNumber: [[UInt8]]] = [:]
        for (share, vector) in vectors {
            let parts = held[share]
            result[share] = vector.tests.map { t in
                guard let parts, let i = reads.firstIndex(of: t.range), i < parts.count else { return [] }
                return parts[i]
            }
        }
        return MutableWriteResult(success: success, data: result)
    }
}
