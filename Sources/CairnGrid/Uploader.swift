import CairnFormats
import CairnPrimitives
import CairnStorage

/// Puts files on the grid: convergent or random key, segments encrypted, erasure-coded and placed.
public struct Uploader: Sendable {
    public enum KeyMode: Sendable { case convergent, random }

    public let grid: Grid
    public init(grid: Grid) { self.grid = grid }

    /// Puts one file and syncs the servers: when this returns, the cap's data is durable.
    public func put(_ source: any ByteSource, keyMode: KeyMode = .convergent) async throws -> Cap {
        let caps = try await putBatch([source], keyMode: keyMode)
        return try caps[0].get()
    }

    /// Puts several files, then syncs every server once. Results are in input order; a file that
    /// failed has its error and the others still go in. If the final sync fails, everything fails.
    public func putBatch(_ sources: [any ByteSource], keyMode: KeyMode = .convergent,
                         concurrency: Int = 4) async throws -> [Result<Cap, Error>] {
        var results = [Result<Cap, Error>?](repeating: nil, count: sources.count)
        await withTaskGroup(of: (Int, Result<Cap, Error>).self) { group in
            var next = 0
            func launch(_ i: Int) {
                group.addTask {
                    let r = await outcome { try await self.upload(sources[i], keyMode: keyMode) }
                    return (i, r)
                }
            }
            while next < min(concurrency, sources.count) { launch(next); next += 1 }
            while let (i, r) = await group.next() {
                results[i] = r
                if next < sources.count { launch(next); next += 1 }
            }
        }
        let failures = await grid.syncAll()
        let wroteSomething = results.contains { if case .success(let c) = $0!, case .read = c { return true } else { return false } }
        if !failures.isEmpty && wroteSomething {
            throw GridError.io(path: "grid", reason: "could not make shares durable: " +
                failures.sorted { $0.key.localizedStandardLess($1.key) }.map(\.value).joined(separator: "; "))
        }
        return results.map { $0! }
    }

    /// Writes one file's shares without syncing: the caller must `grid.syncAll()` (and check it) before
    /// anything refers to the cap durably. For callers that batch many puts, as a commit does.
    public func putUnsynced(_ source: any ByteSource, keyMode: KeyMode = .convergent) async throws -> Cap {
        try await upload(source, keyMode: keyMode)
    }

    /// Encodes and writes one file's shares (finished, not yet synced).
    func upload(_ source: any ByteSource, keyMode: KeyMode) async throws -> Cap {
        let size = source.size
        if size <= UInt64(Cap.literalLimit) {
            var data = [UInt8](repeating: 0, count: Int(size))
            try data.withUnsafeMutableBytes { try source.read(into: $0, at: 0) }
            return .literal(data)
        }
        let p = grid.parameters
        let geometry = SegmentGeometry(k: p.k, n: p.n, maximumSegmentSize: p.maximumSegmentSize, dataSize: size)
        let key: [UInt8]
        switch keyMode {
        case .random: key = SecureRandom.bytes(ReadCap.keySize)
        case .convergent:
            let hashes = try await Self.chunkHashes(source)
            key = ImmutableKeys.convergentKey(secret: grid.convergenceSecret, k: p.k, n: p.n,
                                              segmentSize: geometry.segmentSize, size: size, chunkHashes: hashes)
        }
        let index = StorageIndex(ImmutableKeys.storageIndex(forKey: key))!
        return try await grid.uploads.run(index) {
            try await self.encode(source, key: key, index: index, geometry: geometry)
        }
    }

    /// Places and writes the shares of one file whose key is known (one caller per storage index at a time).
    private func encode(_ source: any ByteSource, key: [UInt8], index: StorageIndex,
                        geometry: SegmentGeometry) async throws -> Cap {
        let p = grid.parameters
        let size = source.size
        let encoder = try ShareEncoder(geometry: geometry)
        let layout = encoder.layout

        // No listing round first: placement asks servers to allocate, and a server that already holds a share
        // says so (as Tahoe's uploader learns it from allocate_buckets). Placement is a pure function of the
        // storage index and the servers, so the same content asks the same servers again. One round trip per
        // server instead of two: the small-file path is mostly these calls.
        let placement = try await Placement.place(index, shareSize: layout.shareSize, wanted: Array(0..<p.n),
                                                  existing: [:], failures: [:], addPrimaries: true, grid: grid)
        let cipher = StreamCipher(key: key)
        let ciphertext: @Sendable (Int) async throws -> [UInt8] = { i in
            let length = geometry.segmentLength(i)
            var segment = [UInt8](repeating: 0, count: geometry.blockLength(i) * geometry.k)
            try segment.withUnsafeMutableBytes { buffer in
                let data = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
                try source.read(into: data, at: geometry.segmentOffset(i))
                cipher.apply(data, atOffset: geometry.segmentOffset(i))
            }
            return segment
        }
        let dropped = DroppedDestinations()
        let ueb: UEB
        do {
            ueb = try await encoder.encode(index: index, targets: placement.targets, extra: placement.extra,
                                           secret: placement.secret, dropping: dropped, ciphertext: ciphertext)
        } catch {
            await placement.abort(index)
            throw error
        }
        let cap = Cap.read(ReadCap(key: key, uebHash: ueb.hash, k: p.k, n: p.n, size: size))
        let lost = dropped.all
        if lost.isEmpty { return cap }

        // Servers failed mid-upload (died, full, unreachable). Enough others hold shares: replace the lost
        // share numbers elsewhere and succeed. Too few: nothing is claimed.
        let failedServers = Set(lost.map(\.server.id))
        // What a dropped server still had open (a full disk, not a dead node) is given back, best effort.
        for (share, server) in placement.writes where failedServers.contains(server.id) {
            _ = await outcome { try await server.abort(ShareUpload(index: index, share: share, secret: placement.secret)) }
        }
        let holders = placement.holders.filter { !failedServers.contains($0.key) }
        let problems = lost.reduce(into: [String: String]()) { $0[$1.server.name] = describe($1.error) }
            .sorted { $0.key.localizedStandardLess($1.key) }.map { "server \($0.key): \($0.value)" }
        guard holders.count >= p.happy else {
            await placement.abort(index)
            throw GridError.placementFailed(servers: holders.count, happy: p.happy, problems: problems)
        }
        var existing: [ShareNumber: [any StorageServer]] = [:]
        for server in grid.servers { for share in holders[server.id] ?? [] { existing[share, default: []].append(server) } }
        let missing = (0..<p.n).filter { existing[$0] == nil }
        if !missing.isEmpty {
            let failures = Dictionary(lost.map { ($0.server.id, describe($0.error)) }, uniquingKeysWith: { a, _ in a })
            if let replacement = try? await Placement.place(index, shareSize: layout.shareSize, wanted: missing, existing: existing,
                                                            failures: failures, grid: grid) {
                // Same key, same segments: the same blocks and the same UEB as the shares already written.
                // Best effort: the file is retrievable without them, and `cairn repair` finishes the job.
                _ = try? await encoder.encode(index: index, targets: replacement.targets, secret: replacement.secret,
                                              dropping: DroppedDestinations(), ciphertext: ciphertext)
            }
        }
        // A share number still without a home is put back by `cairn repair`; the file is retrievable now.
        return cap
    }

    /// Plaintext chunk hashes for the convergent key, two chunks at a time (one per core).
    static func chunkHashes(_ source: any ByteSource) async throws -> [Digest] {
        let chunk = ImmutableKeys.chunkSize
        let count = Int((source.size + UInt64(chunk) - 1) / UInt64(chunk))
        var hashes = [Digest](repeating: [], count: count)
        try await withThrowingTaskGroup(of: (Int, Digest).self) { group in
            var next = 0
            func launch(_ i: Int) {
                group.addTask {
                    let offset = UInt64(i) * UInt64(chunk)
                    let length = Int(min(UInt64(chunk), source.size - offset))
                    var buffer = [UInt8](repeating: 0, count: length)
                    try buffer.withUnsafeMutableBytes { try source.read(into: $0, at: offset) }
                    return (i, buffer.withUnsafeBytes { ImmutableKeys.chunkHash($0) })
                }
            }
            while next < min(2, count) { launch(next); next += 1 }
            while let (i, h) = try await group.next() {
                hashes[i] = h
                if next < count { launch(next); next += 1 }
            }
        }
        return hashes
    }
}
