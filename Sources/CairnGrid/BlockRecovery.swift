import CairnErasure
import CairnFormats
import CairnPrimitives
import CairnStorage

/// Repair's source of ciphertext: every block of a file that verifies, from any copy of any share, so a file
/// whose every segment still has K good blocks comes back even if no share is intact.
///
/// The UEB comes from any share whose UEB bytes match the cap (a damaged header does not matter). A block is
/// trusted when its share's block tree (checked against the UEB through the share chain) vouches for it;
/// blocks of shares whose tree is damaged are still used, in combinations, when the decoded segment matches
/// the crypttext tree. Read failures are counted, never taken for damage.
struct BlockRecovery: Sendable {
    struct Copy: Sendable {
        let server: any StorageServer
        let number: ShareNumber
        /// Nil when this copy's tree or share chain is damaged or unreadable.
        let blockTree: HashTree?
        /// The tree could not be read at all (so its blocks are unverified, not suspect).
        var treeUnreadable = false
    }

    let index: StorageIndex
    let ueb: UEB
    let crypttextTree: HashTree?
    /// Copies with a good block tree first, primaries first within each group.
    let copies: [Copy]
    let code: ErasureCode
    var geometry: SegmentGeometry { ueb.geometry }

    /// Looks at every listed copy of every share (header, UEB and trees; no blocks yet).
    static func open(index: StorageIndex, cap: VerifyCap,
                     holders: [ShareNumber: [any StorageServer]]) async throws -> BlockRecovery {
        var pairs: [(ShareNumber, any StorageServer)] = []
        for (share, servers) in holders where share < cap.n { for s in servers { pairs.append((share, s)) } }
        let prefixes = await forEach(pairs) { pair in
            try await readExactly(pair.1, index, pair.0, 0..<UInt64(ShareLayout.prefixSize))
        }
        var ueb: UEB?
        for case .success(let prefix) in prefixes {
            if let u = ShareLayout.parseUEB(prefix, uebHash: cap.uebHash) { ueb = u; break }
        }
        guard let ueb, ueb.k == cap.k, ueb.n == cap.n, ueb.dataSize == cap.size else {
            let failed = zip(pairs, prefixes).filter { if case .failure = $0.1 { return true } else { return false } }
            if !failed.isEmpty {
                // Not proof of anything: the copies that would tell could not be read this time.
                throw GridError.notEnoughShares(found: 0, needed: cap.k,
                    servers: Set(failed.map { $0.0.1.name }).sorted { $0.localizedStandardLess($1) },
                    problems: failed.compactMap { if case .failure(let e) = $0.1 { describe(e) } else { nil } })
            }
            throw GridError.integrity("no share holds this cap's UEB: the file cannot be repaired")
        }
        let layout = ShareLayout(geometry: ueb.geometry)
        let hashes = await forEach(pairs) { pair in try await readExactly(pair.1, index, pair.0, layout.hashesRange) }
        var crypttextTree: HashTree?
        var copies: [Copy] = []
        for (pair, result) in zip(pairs, hashes) {
            guard case .success(let bytes) = result else {
                copies.append(Copy(server: pair.1, number: pair.0, blockTree: nil, treeUnreadable: true))
                continue
            }
            if crypttextTree == nil { crypttextTree = layout.crypttextTree(bytes, ueb: ueb) }
            copies.append(Copy(server: pair.1, number: pair.0, blockTree: layout.blockTree(bytes, shareNumber: pair.0, ueb: ueb)))
        }
        copies.sort { a, b in
            if (a.blockTree != nil) != (b.blockTree != nil) { return a.blockTree != nil }
            if (a.number < cap.k) != (b.number < cap.k) { return a.number < cap.k }
            return a.number < b.number
        }
        return BlockRecovery(index: index, ueb: ueb, crypttextTree: crypttextTree, copies: copies,
                             code: try ErasureCode(k: cap.k, n: cap.n))
    }

    /// Segment i's ciphertext, padded to K blocks, decoded from blocks that verify.
    func segment(_ i: Int) async throws -> [UInt8] {
        let k = code.k
        let length = geometry.blockLength(i)
        let start = ShareLayout(geometry: geometry).blockOffset(segment: i)
        let range = start..<(start + UInt64(length))
        var trusted: [ShareNumber: [UInt8]] = [:]
        var untrusted: [(ShareNumber, [UInt8])] = []
        var unreadable = 0
        var corrupt = 0

        // Trusted blocks first, K share numbers at a time; untrusted ones only if those fall short.
        var pending = copies
        while trusted.count < k && !pending.isEmpty {
            var wave: [Copy] = []
            var numbers = Set(trusted.keys)
            var rest: [Copy] = []
            let needed = k - trusted.count
            for c in pending {
                if c.blockTree != nil && wave.count < needed && !numbers.contains(c.number) {
                    wave.append(c)
                    numbers.insert(c.number)
                } else {
                    rest.append(c)
                }
            }
            if wave.isEmpty { break }
            pending = rest
            let blocks = await forEach(wave) { c in try await readExactly(c.server, index, c.number, range) }
            for (c, r) in zip(wave, blocks) {
                switch r {
                case .success(let b):
                    if b.withUnsafeBytes({ ShareLayout.blockHash($0) }) == c.blockTree!.leaf(i) { trusted[c.number] = b } else { corrupt += 1 }
                case .failure: unreadable += 1
                }
            }
        }
        if trusted.count >= k {
            let picked = Dictionary(uniqueKeysWithValues: trusted.keys.sorted().prefix(k).map { ($0, trusted[$0]!) })
            let (segment, hashes) = try decodeSegment(picked, k: k, blockLength: length, code: code)
            if let tree = crypttextTree, ShareLayout.crypttextLeaf(primaryBlockHashes: hashes) != tree.leaf(i) {
                throw GridError.integrity("segment \(i): blocks that match their trees decode to ciphertext that does not match the file's hash tree")
            }
            return segment
        }

        // Not enough trusted blocks: try the rest, checked as a whole against the crypttext tree.
        let others = pending.filter { trusted[$0.number] == nil }
        if let tree = crypttextTree, !others.isEmpty {
            let blocks = await forEach(others) { c in try await readExactly(c.server, index, c.number, range) }
            for (c, r) in zip(others, blocks) {
                switch r {
                case .success(let b): untrusted.append((c.number, b))
                case .failure: unreadable += 1
                }
            }
            let missing = k - trusted.count
            var found: [UInt8]?
            combinations(of: untrusted.count, choose: missing) { chosen in
                var picked = trusted
                for j in chosen {
                    let (number, block) = untrusted[j]
                    if picked[number] != nil { return true }  // two copies of one share number: not K distinct
                    picked[number] = block
                }
                guard let (segment, hashes) = try? decodeSegment(picked, k: k, blockLength: length, code: code),
                      ShareLayout.crypttextLeaf(primaryBlockHashes: hashes) == tree.leaf(i) else { return true }
                found = segment
                return false
            }
            if let found { return found }
        }
        // Blocks that could not be checked count as unreadable when their tree could not be read, else as
        // unverified (their tree is damaged): neither is proof that the block is bad.
        let unreadableTrees = untrusted.filter { u in copies.contains { $0.number == u.0 && $0.treeUnreadable } }.count
        throw GridError.notEnoughBlocks(segment: i, found: trusted.count, needed: k,
                                        unreadable: unreadable + unreadableTrees, corrupt: corrupt,
                                        unverified: untrusted.count - unreadableTrees)
    }
}

/// Calls `body` with every `choose`-subset of 0..<count (indices ascending) until it returns false.
func combinations(of count: Int, choose: Int, _ body: ([Int]) -> Bool) {
    guard choose >= 0, choose <= count else { return }
    var chosen = Array(0..<choose)
    while true {
        if !body(chosen) { return }
        var i = choose - 1
        while i >= 0 && chosen[i] == count - choose + i { i -= 1 }
        if i < 0 { return }
        chosen[i] += 1
        for j in (i + 1)..<choose { chosen[j] = chosen[j - 1] + 1 }
    }
}

/// K blocks (by share number) → the segment's ciphertext (K × blockLength bytes) and its primary block
/// hashes. No decoding math when the blocks are the primaries, and no hashing of blocks whose hash is known.
func decodeSegment(_ blocks: [ShareNumber: [UInt8]], knownHashes: [ShareNumber: Digest] = [:], k: Int,
                   blockLength length: Int, code: ErasureCode) throws -> ([UInt8], [Digest]) {
    let numbers = blocks.keys.sorted()
    precondition(numbers.count == k)
    if numbers == Array(0..<k) {
        var segment: [UInt8] = []
        segment.reserveCapacity(length * k)
        for s in 0..<k { segment += blocks[s]! }
        return (segment, (0..<k).map { s in knownHashes[s] ?? blocks[s]!.withUnsafeBytes { ShareLayout.blockHash($0) } })
    }
    var segment = [UInt8](repeating: 0, count: length * k)
    let inputs = numbers.map { blocks[$0]! }
    try segment.withUnsafeMutableBytes { out in
        let outs = (0..<k).map { out.baseAddress! + $0 * length }
        try withPointers(inputs) { ins in
            try code.decode(numbers: numbers, blocks: ins, into: outs, blockSize: length)
        }
    }
    let hashes = (0..<k).map { s in
        segment.withUnsafeBytes { ShareLayout.blockHash(UnsafeRawBufferPointer(rebasing: $0[(s * length)..<((s + 1) * length)])) }
    }
    return (segment, hashes)
}

/// Runs `body` for every element, at most four at once; results in input order.
func forEach<T: Sendable, R: Sendable>(_ items: [T], _ body: @escaping @Sendable (T) async throws -> R) async -> [Result<R, Error>] {
    var results = [Result<R, Error>?](repeating: nil, count: items.count)
    await withTaskGroup(of: (Int, Result<R, Error>).self) { group in
        var next = 0
        func launch(_ i: Int) {
            group.addTask {
                let r = await outcome { try await body(items[i]) }
                return (i, r)
            }
        }
        while next < min(4, items.count) { launch(next); next += 1 }
        while let (i, r) = await group.next() {
            results[i] = r
            if next < items.count { launch(next); next += 1 }
        }
    }
    return results.map { $0! }
}
