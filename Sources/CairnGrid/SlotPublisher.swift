import CairnFormats
import CairnStorage

/// Publishes a slot version: reads what every server holds, writes the new version to every server
/// holding shares (and to fresh servers for share numbers nobody holds) by test-and-set on the bytes it
/// saw, and counts the publish only when at least `happy` servers accepted. Below that, the servers that
/// accepted are rolled back to their previous bytes, so a losing writer changes nothing.
struct SlotPublisher: Sendable {
    let grid: Grid

    /// Publishes `payload` as version `expected.seqnum + 1` (or 1 when `expected` is nil: a new slot).
    func publish(_ cap: SlotWriteCap, payload: [UInt8], replacing expected: SlotVersion?) async throws -> SlotVersion {
        let p = grid.parameters
        guard 2 * p.happy > p.n else { throw SlotError.unsafeGrid(n: p.n, happy: p.happy) }
        guard UInt64(payload.count) <= SlotHeader.maximumPayload else {
            throw SlotError.tooLarge(size: UInt64(payload.count), limit: SlotHeader.maximumPayload)
        }
        let readCap = cap.readCap
        let index = StorageIndex(readCap.storageIndex)!
        if let expected, expected.storageIndex != index.bytes {
            throw SlotError.wrongSlot("the write cap is for slot \(index.hex), but the version it should replace was read from slot \(StorageIndex(expected.storageIndex).map(\.hex) ?? "?")")
        }
        let base = expected?.seqnum ?? 0
        // Whole shares: the servers that accept may have to be rolled back to exactly these bytes.
        let map = await SlotServerMap.read(grid: grid, index: index, fingerprint: readCap.fingerprint, range: 0..<UInt64.max)
        if let newer = map.versions.first(where: { v in
            v.distinctShares >= v.header.k && (v.header.seqnum > base || (v.header.seqnum == base && v.checkstring != expected?.checkstring))
        }) {
            throw SlotError.stale(current: newer.header.seqnum, replacing: base)
        }
        guard map.reachable.count >= p.happy else {
            throw SlotError.notEnoughServers(accepted: 0, happy: p.happy, problems: map.allProblems)
        }

        let (header, shares) = try SlotCodec.encode(payload: payload, seqnum: base + 1, cap: cap, k: p.k, n: p.n)
        let plan = Self.plan(map, n: p.n)
        let secret = cap.writeSecret
        let outcomes = await withTaskGroup(of: ServerOutcome.self) { group in
            for (server, held) in plan {
                group.addTask {
                    await Self.write(server, held: held, shares: shares, index: index, secret: secret, base: base)
                }
            }
            var out: [ServerOutcome] = []
            for await o in group { out.append(o) }
            return out
        }
        let accepted = outcomes.filter { $0.accepted }
        let version = SlotVersion(storageIndex: index.bytes, seqnum: header.seqnum, root: header.root, payload: payload)
        if accepted.count >= p.happy { return version }

        await withTaskGroup(of: Void.self) { group in
            for o in accepted {
                group.addTask { await Self.rollBack(o, newCheckstring: header.checkstring, index: index, secret: secret) }
            }
        }
        if let current = outcomes.compactMap(\.conflict).max() {
            throw SlotError.stale(current: current, replacing: base)
        }
        throw SlotError.notEnoughServers(accepted: accepted.count, happy: p.happy,
                                         problems: map.allProblems + outcomes.compactMap(\.problem))
    }

    /// Which share numbers each reachable server will hold: the ones it holds now (below N), then every
    /// share number nobody holds goes to the server holding fewest, in permuted order.
    static func plan(_ map: SlotServerMap, n: Int) -> [(any StorageServer, [ShareNumber: SlotServerMap.Entry?])] {
        var plan: [[ShareNumber: SlotServerMap.Entry?]] = map.reachable.map { server in
            var held: [ShareNumber: SlotServerMap.Entry?] = [:]
            for e in map.held(by: server) where e.share < n { held[e.share] = e }
            return held
        }
        let covered = Set(plan.flatMap(\.keys))
        for share in 0..<n where !covered.contains(share) {
            let pick = plan.indices.min { plan[$0].count < plan[$1].count }!
            plan[pick][share] = .some(nil)
        }
        return zip(map.reachable, plan).filter { !$0.1.isEmpty }.map { ($0.0, $0.1) }
    }

    struct ServerOutcome: Sendable {
        let server: any StorageServer
        /// Per share written: the whole share as it was before (nil: it was absent).
        let previous: [ShareNumber: [UInt8]?]
        var accepted = false
        /// The highest seqnum a failed test found above the version being replaced.
        var conflict: UInt64?
        var problem: String?
    }

    /// One test-and-write at one server. A test that failed only because a reader repaired the share up
    /// to the version being replaced is retried once against what is there now.
    static func write(_ server: any StorageServer, held: [ShareNumber: SlotServerMap.Entry?], shares: [[UInt8]],
                      index: StorageIndex, secret: [UInt8], base: UInt64) async -> ServerOutcome {
        var previous: [ShareNumber: [UInt8]?] = held.mapValues { $0?.raw }
        var tests: [ShareNumber: MutableTest] = held.mapValues { $0?.observed ?? .absent }
        let enabler = SlotKeys.writeEnabler(writeSecret: secret, serverID: server.id.bytes)
        var outcome = ServerOutcome(server: server, previous: previous)
        for attempt in 0..<2 {
            var vectors: [ShareNumber: MutableWrite] = [:]
            for (share, test) in tests { vectors[share] = .replace(testing: [test], with: shares[share]) }
            let result: MutableWriteResult
            do {
                result = try await server.testAndWriteMutable(index, writeEnabler: enabler, vectors: vectors)
            } catch {
                outcome.problem = describe(error)
                return outcome
            }
            if result.success {
                outcome = ServerOutcome(server: server, previous: previous, accepted: true)
                return outcome
            }
            let seen = result.data.compactMapValues { $0.first }
            let seqnums = seen.values.compactMap(seqnum(of:))
            if let high = seqnums.max(), high > base {
                outcome.conflict = high
                return outcome
            }
            guard attempt == 0 else { break }
            // Changed underneath, but not past `base`: test against the bytes now there, and keep them
            // for a rollback (re-read whole, since the test answer holds only their first bytes).
            let now = (try? await server.readMutable(index, shares: Set(held.keys), ranges: [0..<UInt64.max])) ?? [:]
            for share in held.keys {
                let bytes = now[share]?.first
                previous[share] = bytes
                tests[share] = bytes.map { MutableTest(offset: 0, specimen: Array($0.prefix(SlotHeader.checkstringSize))) } ?? .absent
            }
            outcome = ServerOutcome(server: server, previous: previous)
        }
        outcome.problem = "server \(server.name): the slot changed during the publish"
        return outcome
    }

    /// The seqnum in a checkstring read back from a server, if it is one.
    static func seqnum(of checkstring: [UInt8]) -> UInt64? {
        guard checkstring.count >= SlotHeader.rootOffset,
              Array(checkstring[0..<6]) == SlotHeader.magic else { return nil }
        return checkstring[SlotHeader.seqnumOffset..<SlotHeader.rootOffset].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Puts back the bytes a server held before this publish, unless someone wrote over ours since.
    static func rollBack(_ outcome: ServerOutcome, newCheckstring: [UInt8], index: StorageIndex, secret: [UInt8]) async {
        let test = MutableTest(offset: 0, specimen: newCheckstring)
        var vectors: [ShareNumber: MutableWrite] = [:]
        for (share, old) in outcome.previous {
            vectors[share] = old.map { .replace(testing: [test], with: $0) } ?? .remove(testing: [test])
        }
        let enabler = SlotKeys.writeEnabler(writeSecret: secret, serverID: outcome.server.id.bytes)
        _ = try? await outcome.server.testAndWriteMutable(index, writeEnabler: enabler, vectors: vectors)
    }
}
