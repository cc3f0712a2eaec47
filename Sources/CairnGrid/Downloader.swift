import CairnErasure
import CairnFormats
import CairnPrimitives
import CairnStorage

/// Gets files back: K verified shares, primaries first (no decoding math when all K answer), near
/// servers first; a bad block is replaced by the same block from another share; ranged reads fetch
/// only the segments they need.
public struct Downloader: Sendable {
    public let grid: Grid
    public init(grid: Grid) { self.grid = grid }

    /// Streams `range` (default: everything) of the file to `sink`, in order.
    public func get(_ cap: Cap, range: Range<UInt64>? = nil,
                    sink: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        let size = cap.size
        let wanted = range ?? 0..<size
        guard wanted.lowerBound <= wanted.upperBound, wanted.upperBound <= size else {
            throw GridError.usage("range \(wanted.lowerBound)-\(wanted.upperBound) is outside the file's \(size) bytes")
        }
        switch cap {
        case .literal(let data):
            try await sink(Array(data[Int(wanted.lowerBound)..<Int(wanted.upperBound)]))
            return
        case .verify:
            throw GridError.usage("a verify cap cannot read data; use the read cap")
        case .slotWrite, .slotRead, .slotVerify:
            throw GridError.usage("\(cap.string.prefix(14))… is a slot cap: read it with SlotClient ('cairn slot read')")
        case .read(let readCap):
            if wanted.isEmpty { return }
            try await fetch(readCap, wanted, sink)
        }
    }

    /// Collects the whole range in memory (for tests and small files).
    public func bytes(_ cap: Cap, range: Range<UInt64>? = nil) async throws -> [UInt8] {
        let box = Collector()
        try await get(cap, range: range) { await box.append($0) }
        return await box.bytes
    }

    private func fetch(_ cap: ReadCap, _ wanted: Range<UInt64>,
                       _ sink: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        let index = StorageIndex(cap.storageIndex)!
        let set = try await ShareSet.open(grid: grid, index: index, uebHash: cap.uebHash, size: cap.size, k: cap.k, n: cap.n)
        let g = set.geometry
        let first = Int(wanted.lowerBound / UInt64(g.segmentSize))
        let last = Int((wanted.upperBound - 1) / UInt64(g.segmentSize))
        let cipher = StreamCipher(key: cap.key)
        let window = 3

        try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            var next = first
            var pending: [Int: [UInt8]] = [:]
            var emit = first
            func launch(_ i: Int) {
                group.addTask {
                    let segment = try await set.segment(i)
                    let segStart = g.segmentOffset(i)
                    let lo = Int(max(wanted.lowerBound, segStart) - segStart)
                    let hi = Int(min(wanted.upperBound, segStart + UInt64(g.segmentLength(i))) - segStart)
                    var slice = Array(segment[lo..<hi])
                    cipher.apply(&slice, atOffset: segStart + UInt64(lo))
                    return (i, slice)
                }
            }
            while next <= last && next < first + window { launch(next); next += 1 }
            while let (i, plain) = try await group.next() {
                pending[i] = plain
                while let ready = pending.removeValue(forKey: emit) {
                    try await sink(ready)
                    emit += 1
                }
                if next <= last { launch(next); next += 1 }
            }
        }
    }
}

actor Collector {
    var bytes: [UInt8] = []
    func append(_ b: [UInt8]) { bytes += b }
}

/// The K shares a download reads from, with spares to fall back on.
actor ShareSet {
    nonisolated let index: StorageIndex
    let uebHash: Digest
    let size: UInt64
    nonisolated let k: Int
    let n: Int
    nonisolated let code: ErasureCode
    nonisolated let geometry: SegmentGeometry
    private var active: [VerifiedShare]
    private var spares: [(ShareNumber, any StorageServer)]

    private init(index: StorageIndex, uebHash: Digest, size: UInt64, k: Int, n: Int, active: [VerifiedShare],
                 spares: [(ShareNumber, any StorageServer)]) throws {
        self.index = index; self.uebHash = uebHash; self.size = size; self.k = k; self.n = n
        self.active = active; self.spares = spares
        self.geometry = active[0].ueb.geometry
        self.code = try ErasureCode(k: k, n: n)
    }

    /// Finds the shares, orders candidates (primaries, then near servers), and verifies K of them.
    static func open(grid: Grid, index: StorageIndex, uebHash: Digest, size: UInt64, k: Int, n: Int) async throws -> ShareSet {
        let (holders, failures) = await grid.locate(index)
        // One preference order for reads: near servers (lower rank) first, then primaries (no decoding), then
        // share number. A near server holding shares 0…K−1 (primaries) serves the whole read alone.
        var candidates: [(ShareNumber, any StorageServer)] = []
        for (share, servers) in holders where share < n {
            for server in servers { candidates.append((share, server)) }
        }
        candidates.sort { a, b in
            if a.1.rank != b.1.rank { return a.1.rank < b.1.rank }
            let pa = a.0 < k, pb = b.0 < k
            return pa != pb ? pa : a.0 < b.0
        }
        var active: [VerifiedShare] = []
        var openFailures: [String] = []
        var checkFailures = 0
        var spares = candidates
        while active.count < k && !spares.isEmpty {
            // Open as many candidates as are still needed, each share number at most once.
            var batch: [(ShareNumber, any StorageServer)] = []
            var taken = Set(active.map(\.number))
            var rest: [(ShareNumber, any StorageServer)] = []
            for c in spares {
                if batch.count < k - active.count && !taken.contains(c.0) { batch.append(c); taken.insert(c.0) } else { rest.append(c) }
            }
            spares = rest
            if batch.isEmpty { break }
            // Each result says whether a failure was the share failing its check (not a read that failed).
            let opened = await withTaskGroup(of: (Result<VerifiedShare, Error>, Bool).self) { group in
                for (share, server) in batch {
                    group.addTask {
                        let r = await outcome {
                            try await VerifiedShare.open(server: server, index: index, number: share,
                                                         uebHash: uebHash, expectedSize: size, k: k, n: n)
                        }
                        var failedCheck = false
                        if case .failure(let e) = r {
                            if e is CorruptShare { failedCheck = true }
                            if let g = e as? GridError, case .integrity = g { failedCheck = true }
                        }
                        return (r.mapError { GridError.integrity("share \(share) on server \(server.name): \(describe($0))") as Error }, failedCheck)
                    }
                }
                var out: [(Result<VerifiedShare, Error>, Bool)] = []
                for await r in group { out.append(r) }
                return out
            }
            for (r, failedCheck) in opened {
                switch r {
                case .success(let s): if !active.contains(where: { $0.number == s.number }) { active.append(s) }
                case .failure(let error):
                    openFailures.append(describe(error))  // the next candidate is tried
                    if failedCheck { checkFailures += 1 }
                }
            }
            spares.removeAll { c in active.contains { $0.number == c.0 } }
        }
        guard active.count == k else {
            let down = failures.keys.map { grid.name(of: $0) }.sorted { $0.localizedStandardLess($1) }
            var missing = Set(grid.servers.map(\.name))
            for (_, servers) in holders { for s in servers { missing.remove(s.name) } }
            let names = Set(down).union(missing).sorted { $0.localizedStandardLess($1) }
            let problems = failures.sorted { grid.name(of: $0.key).localizedStandardLess(grid.name(of: $1.key)) }
                .map { labelled($0.value, server: grid.name(of: $0.key)) } + openFailures
            throw GridError.notEnoughShares(found: active.count, needed: k, servers: names, problems: problems, failedCheck: checkFailures)
        }
        active.sort { $0.number < $1.number }
        return try ShareSet(index: index, uebHash: uebHash, size: size, k: k, n: n, active: active, spares: spares)
    }

    /// Segment i's ciphertext (K blocks, padded), verified against the crypttext tree.
    /// Runs off the actor so that both cores fetch, hash and decode segments at once. A block that fails is
    /// replaced by the same block of another share, for this segment only; a share whose server failed (not
    /// merely one bad block) is retired for the rest of the download.
    nonisolated func segment(_ i: Int) async throws -> [UInt8] {
        let k = self.k, index = self.index, code = self.code
        var blocks: [ShareNumber: ([UInt8], Digest)] = [:]
        var tried: Set<String> = []
        var sources = try await topUp([], excluding: tried)
        while true {
            let missing = sources.filter { blocks[$0.number] == nil }
            let fetched = await withTaskGroup(of: (VerifiedShare, Result<([UInt8], Digest), Error>).self) { group in
                for share in missing {
                    group.addTask { [index] in
                        let r: Result<([UInt8], Digest), Error> = await outcome {
                            let b = try await share.block(i, index: index)
                            return (b.block, b.hash)
                        }
                        return (share, r)
                    }
                }
                var out: [(VerifiedShare, Result<([UInt8], Digest), Error>)] = []
                for await r in group { out.append(r) }
                return out
            }
            var failed: Set<String> = []
            for (share, r) in fetched {
                switch r {
                case .success(let b): blocks[share.number] = b
                case .failure(let error):
                    failed.insert(share.key)
                    if !(error is BadBlock) { await retire(share, because: error) }
                }
            }
            if failed.isEmpty { break }
            tried.formUnion(failed)
            sources.removeAll { failed.contains($0.key) }
            sources = try await topUp(sources, excluding: tried)
        }
        let numbers = sources.map(\.number).sorted()
        let used = blocks.filter { numbers.contains($0.key) }
        let (segment, primaryHashes) = try decodeSegment(used.mapValues(\.0), knownHashes: used.mapValues(\.1), k: k,
                                                         blockLength: self.geometry.blockLength(i), code: code)
        let tree = sources[0].hashes.crypttextTree
        guard ShareLayout.crypttextLeaf(primaryBlockHashes: primaryHashes) == tree.leaf(i) else {
            throw GridError.integrity("segment \(i) decodes to ciphertext that does not match the file's hash tree (shares \(numbers.map(String.init).joined(separator: ",")) disagree)")
        }
        return segment
    }

    /// Shares whose server failed during this download, by server name and reason (for the final message).
    private var failures: [String: String] = [:]

    private func retire(_ share: VerifiedShare, because error: Error) {
        active.removeAll { $0.key == share.key }
        failures[share.server.name] = describe(error)
    }

    /// Tops `sources` up to K distinct share numbers: shares already open first (primaries first), then
    /// spares opened now (and kept open for later segments). Never a copy in `excluding`. Spares are opened
    /// one at a time for all segments in flight: a segment waits for the spare another one is opening
    /// rather than concluding too early that none is left.
    private func topUp(_ sources: [VerifiedShare], excluding: Set<String>) async throws -> [VerifiedShare] {
        var sources = sources
        while sources.count < k {
            let numbers = Set(sources.map(\.number))
            if let open = active.sorted(by: { $0.number < $1.number })
                .first(where: { !numbers.contains($0.number) && !excluding.contains($0.key) }) {
                sources.append(open)
                continue
            }
            if let opener {
                await opener.value
                continue
            }
            guard spares.contains(where: { !numbers.contains($0.0) }) else {
                let names = failures.keys.sorted { $0.localizedStandardLess($1) }
                throw GridError.notEnoughShares(found: sources.count, needed: k, servers: names,
                                                problems: names.map { labelled(failures[$0]!, server: $0) })
            }
            let task = Task { await self.openSpare(excluding: numbers) }
            opener = task
            await task.value
        }
        return sources
    }

    /// The spare being opened, if any (see `topUp`).
    private var opener: Task<Void, Never>?

    private func openSpare(excluding numbers: Set<ShareNumber>) async {
        if let spare = await nextSpare(excluding: numbers), !active.contains(where: { $0.key == spare.key }) {
            active.append(spare)
        }
        opener = nil
    }

    private func nextSpare(excluding numbers: Set<ShareNumber>) async -> VerifiedShare? {
        while let i = spares.firstIndex(where: { !numbers.contains($0.0) }) {
            let (share, server) = spares.remove(at: i)
            let (index, uebHash, size, k, n) = (self.index, self.uebHash, self.size, self.k, self.n)
            switch await outcome({ @Sendable in
                try await VerifiedShare.open(server: server, index: index, number: share, uebHash: uebHash,
                                             expectedSize: size, k: k, n: n)
            }) {
            case .success(let opened): return opened
            case .failure(let error): failures[server.name] = describe(error)  // damaged or unreadable: try the next
            }
        }
        return nil
    }
}

/// Pointers into each array for the duration of `body` (read-only, so no exclusivity conflict).
func withPointers<R>(_ arrays: [[UInt8]], _ body: ([UnsafeRawPointer]) throws -> R) rethrows -> R {
    func recurse(_ i: Int, _ acc: [UnsafeRawPointer]) throws -> R {
        if i == arrays.count { return try body(acc) }
        return try arrays[i].withUnsafeBytes { try recurse(i + 1, acc + [$0.baseAddress!]) }
    }
    return try recurse(0, [])
}

/// A server's failure for a message, named once: storage errors already begin with their server.
private func labelled(_ reason: String, server: String) -> String {
    reason.hasPrefix("server \(server)") ? reason : "server \(server): \(reason)"
}
