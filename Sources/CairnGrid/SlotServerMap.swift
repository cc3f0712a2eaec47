import CairnFormats
import CairnStorage

/// What every server holds of one slot: one `readMutable` per server, each share's bytes classified as
/// a signed version of this slot or as a problem. Publishers and readers both start here.
struct SlotServerMap: Sendable {
    struct Entry: Sendable {
        let server: any StorageServer
        let share: ShareNumber
        /// The bytes read (the whole share, or its first `SlotHeader.size` bytes).
        let raw: [UInt8]
        /// Set when the header parses, names this slot's key and carries a good signature.
        let header: SlotHeader?

        /// What a test vector compares: the share's first 48 bytes as they are now.
        var observed: MutableTest { MutableTest(offset: 0, specimen: Array(raw.prefix(SlotHeader.checkstringSize))) }
    }

    /// A version (seqnum, root) and the entries holding a validly signed share of it.
    struct Version {
        let checkstring: [UInt8]
        let header: SlotHeader
        var entries: [Entry]
        var distinctShares: Int { Set(entries.map(\.share)).count }
    }

    let index: StorageIndex
    var entries: [Entry] = []
    /// Servers that answered (in permuted order), and those that failed, by name.
    var reachable: [any StorageServer] = []
    var failures: [String: String] = [:]
    var problems: [String] = []

    /// Reads `range` of every share of the slot from every server at once.
    static func read(grid: Grid, index: StorageIndex, fingerprint: [UInt8], range: Range<UInt64>) async -> SlotServerMap {
        let ring = grid.permutedServers(for: index)
        let answers = await withTaskGroup(of: (Int, Result<[ShareNumber: [[UInt8]]], Error>).self) { group in
            for (i, server) in ring.enumerated() {
                group.addTask {
                    let r = await outcome { try await server.readMutable(index, shares: nil, ranges: [range]) }
                    return (i, r)
                }
            }
            var out: [(Int, Result<[ShareNumber: [[UInt8]]], Error>)] = []
            for await a in group { out.append(a) }
            return out.sorted { $0.0 < $1.0 }
        }
        var map = SlotServerMap(index: index)
        for (i, answer) in answers {
            let server = ring[i]
            switch answer {
            case .failure(let e):
                map.failures[server.name] = describe(e)
            case .success(let shares):
                map.reachable.append(server)
                for (share, ranges) in shares.sorted(by: { $0.key < $1.key }) {
                    let raw = ranges.first ?? []
                    var header: SlotHeader?
                    do {
                        let h = try SlotHeader(parsing: raw)
                        try h.verify(storageIndex: index.bytes, fingerprint: fingerprint)
                        guard h.shareNumber == share else {
                            throw FormatError.invalid("slot share: header says share \(h.shareNumber)")
                        }
                        header = h
                    } catch {
                        map.problems.append("share \(share) on server \(server.name): \(describe(error))")
                    }
                    map.entries.append(Entry(server: server, share: share, raw: raw, header: header))
                }
            }
        }
        return map
    }

    /// Validly signed versions, best first: highest seqnum, then most shares, then root order (so every
    /// reader breaks a tie the same way).
    var versions: [Version] {
        var byCheckstring: [[UInt8]: Version] = [:]
        for e in entries {
            guard let h = e.header else { continue }
            byCheckstring[h.checkstring, default: Version(checkstring: h.checkstring, header: h, entries: [])].entries.append(e)
        }
        return byCheckstring.values.sorted { a, b in
            if a.header.seqnum != b.header.seqnum { return a.header.seqnum > b.header.seqnum }
            if a.distinctShares != b.distinctShares { return a.distinctShares > b.distinctShares }
            return a.checkstring.lexicographicallyPrecedes(b.checkstring)
        }
    }

    /// The shares each reachable server holds now.
    func held(by server: any StorageServer) -> [Entry] { entries.filter { $0.server.id == server.id } }

    /// Failures and problems, for messages.
    var allProblems: [String] {
        failures.sorted { $0.key.localizedStandardLess($1.key) }.map(\.value) + problems
    }
}
