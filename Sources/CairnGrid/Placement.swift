import CairnPrimitives
import CairnStorage

/// Decides which server receives which share, asks servers to allocate, and enforces `happy`.
struct Placement {
    /// The upload secret every allocation of this placement belongs to (one per upload attempt).
    var secret: [UInt8] = SecureRandom.bytes(32)
    /// New shares to write, by share number.
    var targets: [ShareNumber: any StorageServer] = [:]
    /// Copies of shares 0…K−1 for the grid's primaries servers, beyond the normal spread (one share number
    /// may appear here and in `targets`).
    var extra: [(share: ShareNumber, server: any StorageServer)] = []
    /// Distinct servers that will hold at least one share once the writes finish.
    var serverCount = 0
    /// Those servers, with the share numbers each will hold (written here or already there).
    var holders: [ServerID: Set<ShareNumber>] = [:]

    /// Every share to write: the spread, then the primaries' copies.
    var writes: [(share: ShareNumber, server: any StorageServer)] {
        targets.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } + extra
    }

    /// Places `wanted` shares of `index` on the grid, given the shares servers already hold.
    /// Servers are tried in permuted order, emptiest first; a server that fails is dropped and its
    /// shares go to the next. Fails (aborting allocations) when fewer than `happy` servers would hold shares.
    /// A share is never placed on a server listed for it in `avoid` (one holding a copy that is bad or could
    /// not be read: it would answer that it already has the share).
    static func place(_ index: StorageIndex, shareSize: UInt64, wanted: [ShareNumber],
                      existing: [ShareNumber: [any StorageServer]], failures initialFailures: [ServerID: String],
                      avoid initialAvoid: [ShareNumber: Set<ServerID>] = [:], secret: [UInt8]? = nil,
                      addPrimaries: Bool = false, grid: Grid) async throws -> Placement {
        let ring = grid.permutedServers(for: index)
        var placement = Placement()
        if let secret { placement.secret = secret }
        var failures = initialFailures
        var load: [ServerID: Int] = [:]
        for (_, holders) in existing { for s in holders { load[s.id, default: 0] += 1 } }
        var pending = wanted.filter { existing[$0]?.isEmpty ?? true }
        var usable = ring.filter { failures[$0.id] == nil }
        var unplaceable: [ShareNumber] = []
        var full: [ServerID] = []
        var otherFailure = false
        var avoid = initialAvoid  // grows with servers that declined a share (another upload is writing it there)

        while !pending.isEmpty && !usable.isEmpty {
            // Deal the pending shares to the least-loaded servers, ties in ring order.
            var plan: [Int: [ShareNumber]] = [:]
            for share in pending {
                let allowed = usable.indices.filter { !(avoid[share]?.contains(usable[$0].id) ?? false) }
                guard let pick = allowed.min(by: { a, b in
                    let la = load[usable[a].id, default: 0] + (plan[a]?.count ?? 0)
                    let lb = load[usable[b].id, default: 0] + (plan[b]?.count ?? 0)
                    return la != lb ? la < lb : a < b
                }) else {
                    unplaceable.append(share)
                    continue
                }
                plan[pick, default: []].append(share)
            }
            let servers = usable
            let secret = placement.secret
            let answers = await withTaskGroup(of: (Int, Result<Allocation, Error>).self) { group in
                for (i, shares) in plan {
                    group.addTask {
                        let r = await outcome {
                            try await servers[i].allocate(index, shares: Set(shares), shareSize: shareSize,
                                                          secrets: grid.uploadSecrets(index, servers[i], upload: secret))
                        }
                        return (i, r)
                    }
                }
                var out: [(Int, Result<Allocation, Error>)] = []
                for await a in group { out.append(a) }
                return out
            }
            pending = []
            var failed: Set<ServerID> = []
            for (i, result) in answers {
                let server = servers[i]
                switch result {
                case .success(let allocation):
                    for share in plan[i]! {
                        if allocation.allocated.contains(share) {
                            placement.targets[share] = server
                            load[server.id, default: 0] += 1
                        } else if allocation.alreadyHave.contains(share) {
                            load[server.id, default: 0] += 1
                        } else {
                            avoid[share, default: []].insert(server.id)
                            pending.append(share)
                        }
                    }
                    if allocation.allocated.isEmpty && allocation.alreadyHave.isEmpty { failed.insert(server.id) }
                case .failure(let error):
                    failures[server.id] = describe(error)
                    if case StorageError.full = error { full.append(server.id) } else { otherFailure = true }
                    failed.insert(server.id)
                    pending += plan[i]!
                }
            }
            usable.removeAll { failed.contains($0.id) }
            pending.sort()
        }

        placement.serverCount = load.filter { $0.value > 0 }.count
        for (share, list) in existing { for s in list { placement.holders[s.id, default: []].insert(share) } }
        for (share, server) in placement.targets { placement.holders[server.id, default: []].insert(share) }
        if !pending.isEmpty || !unplaceable.isEmpty || placement.serverCount < grid.parameters.happy {
            await placement.abort(index)
            if !otherFailure, let first = full.first, let why = failures[first] {
                // Out of space, not out of servers: say so first (and exit as an I/O error).
                throw GridError.full("not enough space for this upload; nothing was stored (\(why))")
            }
            let problems = failures.map { (grid.name(of: $0.key), $0.value) }
                .sorted { $0.0.localizedStandardLess($1.0) }.map { "\($0.1)" }
            throw GridError.placementFailed(servers: placement.serverCount,
                                            happy: grid.parameters.happy, problems: problems)
        }
        if addPrimaries { await placement.placePrimaries(index, shareSize: shareSize, usable: usable, grid: grid) }
        return placement
    }

    /// "K shares on mom's machine": each primaries server also gets shares 0…K−1 (those it does not hold
    /// already), so a read from it alone needs no decoding. Beyond happiness: a server that cannot take
    /// them now costs only this convenience, never the upload.
    private mutating func placePrimaries(_ index: StorageIndex, shareSize: UInt64, usable: [any StorageServer], grid: Grid) async {
        let k = grid.parameters.k
        for server in usable where grid.primaryHolders.contains(server.id) {
            let wanted = Set((0..<k).filter { targets[$0]?.id != server.id })
            guard !wanted.isEmpty else { continue }
            let secret = self.secret
            if let allocation = try? await server.allocate(index, shares: wanted, shareSize: shareSize,
                                                           secrets: grid.uploadSecrets(index, server, upload: secret)) {
                for share in allocation.allocated.sorted() { extra.append((share, server)) }
            }
        }
    }

    func abort(_ index: StorageIndex) async {
        for (share, server) in writes {
            _ = await outcome { try await server.abort(ShareUpload(index: index, share: share, secret: secret)) }
        }
    }
}

extension String {
    /// Orders "2" before "10".
    func localizedStandardLess(_ other: String) -> Bool {
        if let a = Int(self), let b = Int(other) { return a < b }
        return self < other
    }
}
