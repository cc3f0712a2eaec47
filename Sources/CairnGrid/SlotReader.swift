import CairnFormats
import CairnStorage

/// What a read saw besides the payload.
public struct SlotReadReport: Sendable {
    /// Shares ignored (bad signature, bad hash, unreadable) and servers that failed.
    public var problems: [String] = []
    /// Servers brought up to the version read (only when reading with the write cap).
    public var repaired: [String] = []
    /// Servers found holding an older or damaged share.
    public var laggards: [String] = []
}

/// Reads a slot: every server's share headers in one request each, signatures checked, the highest
/// seqnum that K good shares agree on decoded; then, given the write cap, laggards are repaired.
struct SlotReader: Sendable {
    let grid: Grid

    /// A publish landing between the header read and the block read makes the blocks disagree with the
    /// headers; the read then starts over, this many times at most.
    static let attempts = 4

    func read(_ readCap: SlotReadCap, writeCap: SlotWriteCap?) async throws -> (SlotVersion, SlotReadReport) {
        var attempt = 1
        while true {
            do {
                return try await readOnce(readCap, writeCap: writeCap)
            } catch Moved.during where attempt < Self.attempts {
                attempt += 1
            } catch Moved.during(let error) {
                throw error
            }
        }
    }

    private enum Moved: Error { case during(SlotError) }

    private func readOnce(_ readCap: SlotReadCap, writeCap: SlotWriteCap?) async throws -> (SlotVersion, SlotReadReport) {
        let index = StorageIndex(readCap.storageIndex)!
        let map = await SlotServerMap.read(grid: grid, index: index, fingerprint: readCap.fingerprint,
                                           range: 0..<UInt64(SlotHeader.size))
        var report = SlotReadReport()
        report.problems = map.allProblems
        if map.entries.isEmpty {
            if map.reachable.isEmpty { throw SlotError.unrecoverable(needed: grid.parameters.k, problems: report.problems) }
            throw SlotError.notFound(storageIndex: index.hex, problems: map.allProblems)
        }
        var moved = false
        for version in map.versions where version.distinctShares >= version.header.k {
            let (blocks, bad, changed, problems) = await fetchBlocks(version, index: index)
            report.problems += problems
            moved = moved || changed
            guard blocks.count >= version.header.k else { continue }
            let decoded: (payload: [UInt8], shares: [[UInt8]])
            do {
                decoded = try SlotCodec.decode(header: version.header, blocks: blocks, readKey: readCap.readKey)
            } catch {
                report.problems.append(describe(error))
                continue
            }
            let h = version.header
            let result = SlotVersion(storageIndex: index.bytes, seqnum: h.seqnum, root: h.root, payload: decoded.payload)
            let laggards = map.entries.filter { e in
                guard e.share < h.n else { return false }
                if bad.contains(where: { $0.server.id == e.server.id && $0.share == e.share }) { return true }
                guard let eh = e.header else { return true }
                return eh.seqnum < h.seqnum
            }
            report.laggards = Array(Set(laggards.map(\.server.name))).sorted { $0.localizedStandardLess($1) }
            if let writeCap, !laggards.isEmpty {
                report.repaired = await repair(laggards, shares: decoded.shares, index: index, writeCap: writeCap)
            }
            return (result, report)
        }
        let error = SlotError.unrecoverable(needed: map.versions.first?.header.k ?? grid.parameters.k, problems: report.problems)
        if moved { throw Moved.during(error) }
        throw error
    }

    /// Reads the rest of every share of `version` (one request per server, with the checkstring again to
    /// notice a share replaced since its header was read) and keeps the blocks that lead to the signed
    /// root. Returns them, the entries that failed, whether any share had changed, and why.
    private func fetchBlocks(_ version: SlotServerMap.Version, index: StorageIndex) async
        -> ([ShareNumber: [UInt8]], [SlotServerMap.Entry], Bool, [String]) {
        let h = version.header
        let ranges = [0..<UInt64(SlotHeader.checkstringSize), UInt64(SlotHeader.size)..<UInt64(h.shareSize)]
        var byServer: [ServerID: [SlotServerMap.Entry]] = [:]
        for e in version.entries { byServer[e.server.id, default: []].append(e) }
        let answers = await withTaskGroup(of: ([SlotServerMap.Entry], Result<[ShareNumber: [[UInt8]]], Error>).self) { group in
            for (_, entries) in byServer {
                group.addTask {
                    let r = await outcome { try await entries[0].server.readMutable(index, shares: Set(entries.map(\.share)), ranges: ranges) }
                    return (entries, r)
                }
            }
            var out: [([SlotServerMap.Entry], Result<[ShareNumber: [[UInt8]]], Error>)] = []
            for await a in group { out.append(a) }
            return out
        }
        var blocks: [ShareNumber: [UInt8]] = [:]
        var bad: [SlotServerMap.Entry] = []
        var problems: [String] = []
        var changed = false
        for (entries, answer) in answers {
            for e in entries {
                do {
                    let parts = try answer.get()[e.share] ?? [[], []]
                    if parts[0] != version.checkstring {
                        changed = true
                        continue
                    }
                    let body = parts[1]
                    var header = h
                    header.shareNumber = e.share
                    blocks[e.share] = try SlotShareBody.verifiedBlock(body, header: header)
                } catch {
                    bad.append(e)
                    problems.append("share \(e.share) on server \(e.server.name): \(describe(error))")
                }
            }
        }
        return (blocks, bad, changed, problems)
    }

    /// Writes the version read over older or damaged shares, each by test-and-set on the bytes seen, so a
    /// newer publish that lands meanwhile is never overwritten. Returns the servers repaired.
    private func repair(_ laggards: [SlotServerMap.Entry], shares: [[UInt8]], index: StorageIndex,
                        writeCap: SlotWriteCap) async -> [String] {
        var byServer: [ServerID: [SlotServerMap.Entry]] = [:]
        for e in laggards { byServer[e.server.id, default: []].append(e) }
        let secret = writeCap.writeSecret
        return await withTaskGroup(of: String?.self) { group in
            for (_, entries) in byServer {
                group.addTask {
                    let server = entries[0].server
                    var vectors: [ShareNumber: MutableWrite] = [:]
                    for e in entries { vectors[e.share] = .replace(testing: [e.observed], with: shares[e.share]) }
                    let enabler = SlotKeys.writeEnabler(writeSecret: secret, serverID: server.id.bytes)
                    let result = try? await server.testAndWriteMutable(index, writeEnabler: enabler, vectors: vectors)
                    return result?.success == true ? server.name : nil
                }
            }
            var repaired: [String] = []
            for await name in group { if let name { repaired.append(name) } }
            return repaired.sorted { $0.localizedStandardLess($1) }
        }
    }
}
