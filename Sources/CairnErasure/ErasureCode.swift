/// A systematic K-of-N Reed–Solomon code over GF(2^8), byte-identical to zfec: share i < K is data block i,
/// share i ≥ K is row i of zfec's generator matrix applied to the K data blocks. Any K distinct shares
/// recover the data. The multiply-add runs in ISA-L; the ISA-L tables of the parity rows are built once
/// here and decode tables once per share set (cached), so the pointer API does no heap allocation per call.
public final class ErasureCode: Sendable {
    /// Shares needed to decode.
    public let k: Int
    /// Shares produced.
    public let n: Int
    /// zfec's N×K generator matrix (identity on top).
    public let matrix: GFMatrix
    /// ISA-L tables of the N−K parity rows; nil when K = N (nothing to compute).
    private let parityTables: ISALTables?
    private let decodePlans = DecodePlanCache()

    public init(k: Int, n: Int) throws {
        guard 1 <= k, k <= n, n <= 256 else { throw ErasureCodeError.invalidParameters(k: k, n: n) }
        self.k = k
        self.n = n
        matrix = GFMatrix.zfecEncoding(k: k, n: n)
        parityTables = k < n ? ISALTables(matrix.selecting(rows: Array(k..<n))) : nil
    }

    // MARK: Encoding

    /// Fills the N−K parity blocks (shares K..<N) from the K data blocks, each `blockSize` bytes.
    /// Parity buffers must not overlap the data.
    public func encode(data: [UnsafeRawPointer], parity: [UnsafeMutableRawPointer], blockSize: Int) {
        precondition(data.count == k, "encode needs \(k) data blocks, got \(data.count)")
        precondition(parity.count == n - k, "encode needs \(n - k) parity buffers, got \(parity.count)")
        precondition(blockSize >= 0, "block size must not be negative")
        parityTables?.apply(length: blockSize, input: { data[$0] }, output: { parity[$0] })
    }

    /// The N−K parity blocks for K data blocks of equal length (convenience; allocates).
    public func encode(_ dataBlocks: [[UInt8]]) -> [[UInt8]] {
        precondition(dataBlocks.count == k, "encode needs \(k) data blocks, got \(dataBlocks.count)")
        let size = dataBlocks[0].count
        precondition(dataBlocks.allSatisfy { $0.count == size }, "all data blocks must have the same length")
        guard size > 0, n > k else { return Array(repeating: [UInt8](repeating: 0, count: size), count: n - k) }
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: (n - k) * size, alignment: 64)
        defer { out.deallocate() }
        withPointers(to: dataBlocks) { data in
            encode(data: data, parity: (0..<(n - k)).map { out.baseAddress! + $0 * size }, blockSize: size)
        }
        return (0..<(n - k)).map { Array(UnsafeRawBufferPointer(rebasing: out[($0 * size)..<(($0 + 1) * size)])) }
    }

    // MARK: Decoding

    /// Recovers the K data blocks from K or more distinct shares (`numbers[i]` is the share number of
    /// `blocks[i]`), writing data block j to `output[j]`. Given primaries are copied (skipped when `output[j]`
    /// is that very block); missing ones are computed from the given primaries and the lowest-numbered
    /// parity shares. Outputs must not overlap inputs other than their own primary block.
    public func decode(numbers: [Int], blocks: [UnsafeRawPointer], into output: [UnsafeMutableRawPointer],
                       blockSize: Int) throws {
        guard numbers.count == blocks.count else {
            throw ErasureCodeError.mismatchedCounts(what: "share numbers and blocks", expected: numbers.count,
                                                    got: blocks.count)
        }
        guard output.count == k else {
            throw ErasureCodeError.mismatchedCounts(what: "output blocks", expected: k, got: output.count)
        }
        precondition(blockSize >= 0, "block size must not be negative")
        try withUnsafeTemporaryAllocation(of: Int.self, capacity: n) { position in
            try locate(numbers, in: position)
            var chosen = ShareSet()
            var taken = 0
            var needsMath = false
            for number in 0..<n where taken < k && position[number] >= 0 {
                chosen.insert(number)
                taken += 1
                if number >= k { needsMath = true }
            }
            if needsMath {
                let plan = decodePlans.plan(for: chosen) {
                    DecodePlan(shares: (0..<n).filter { chosen.contains($0) }, generator: matrix)
                }
                plan.tables.apply(length: blockSize,
                                  input: { blocks[position[plan.shares[$0]]] },
                                  output: { output[plan.missing[$0]] })
            }
            for j in 0..<k where position[j] >= 0 {
                let source = blocks[position[j]]
                if source != UnsafeRawPointer(output[j]) {
                    output[j].copyMemory(from: source, byteCount: blockSize)
                }
            }
        }
    }

    /// Recovers the K data blocks from K or more distinct shares (convenience; allocates). When every share
    /// used is primary, the blocks are returned as given: no math.
    public func decode(_ shares: [(number: Int, block: [UInt8])]) throws -> [[UInt8]] {
        let size = shares.first?.block.count ?? 0
        for share in shares where share.block.count != size {
            throw ErasureCodeError.unequalBlockLengths(expected: size, got: share.block.count, share: share.number)
        }
        let numbers = shares.map(\.number)
        try withUnsafeTemporaryAllocation(of: Int.self, capacity: n) { try locate(numbers, in: $0) }
        var primaries = [[UInt8]?](repeating: nil, count: k)
        for share in shares where share.number < k { primaries[share.number] = share.block }
        if primaries.allSatisfy({ $0 != nil }) { return primaries.map { $0! } }
        if size == 0 { return Array(repeating: [], count: k) }

        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: k * size, alignment: 64)
        defer { out.deallocate() }
        try withPointers(to: shares.map(\.block)) { blocks in
            try decode(numbers: numbers, blocks: blocks, into: (0..<k).map { out.baseAddress! + $0 * size },
                       blockSize: size)
        }
        return (0..<k).map { Array(UnsafeRawBufferPointer(rebasing: out[($0 * size)..<(($0 + 1) * size)])) }
    }

    /// Validates share numbers and records where each one sits: `position[number]` = index or −1.
    private func locate(_ numbers: [Int], in position: UnsafeMutableBufferPointer<Int>) throws {
        position.initialize(repeating: -1)
        for (index, number) in numbers.enumerated() {
            guard 0 <= number, number < n else { throw ErasureCodeError.shareOutOfRange(number: number, n: n) }
            guard position[number] < 0 else { throw ErasureCodeError.duplicateShare(number: number) }
            position[number] = index
        }
        guard numbers.count >= k else { throw ErasureCodeError.notEnoughShares(needed: k, got: numbers.count) }
    }
}

/// Calls `body` with stable pointers to every array's bytes (nested read-only borrows, no copies).
/// Arrays must be non-empty so that each has a base address.
func withPointers<R>(to arrays: [[UInt8]], _ body: ([UnsafeRawPointer]) throws -> R) rethrows -> R {
    var pointers: [UnsafeRawPointer] = []
    pointers.reserveCapacity(arrays.count)
    func borrow(_ index: Int) throws -> R {
        if index == arrays.count { return try body(pointers) }
        return try arrays[index].withUnsafeBytes { bytes in
            pointers.append(bytes.baseAddress!)
            return try borrow(index + 1)
        }
    }
    return try borrow(0)
}
