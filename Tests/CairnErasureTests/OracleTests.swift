import Testing
@testable import CairnErasure

/// The ISA-L path against a byte-by-byte Swift GF(2^8) evaluation of the same generator matrix.
@Suite struct OracleTests {
    struct Shape: CustomTestStringConvertible, Sendable {
        let k: Int, n: Int, blockSize: Int
        var testDescription: String { "\(k)-of-\(n), \(blockSize) B" }
    }

    static let shapes = [
        Shape(k: 1, n: 1, blockSize: 100), Shape(k: 1, n: 3, blockSize: 1000), Shape(k: 2, n: 3, blockSize: 31),
        Shape(k: 3, n: 10, blockSize: 4097), Shape(k: 10, n: 20, blockSize: 1500), Shape(k: 7, n: 256, blockSize: 65),
        Shape(k: 200, n: 256, blockSize: 33), Shape(k: 255, n: 256, blockSize: 17), Shape(k: 256, n: 256, blockSize: 16),
    ]

    static func oracleParity(_ matrix: GFMatrix, _ data: [[UInt8]]) -> [[UInt8]] {
        (matrix.columns..<matrix.rows).map { row in
            var out = [UInt8](repeating: 0, count: data[0].count)
            for c in 0..<matrix.columns { GF256.mulAdd(matrix[row, c], data[c], into: &out) }
            return out
        }
    }

    @Test(arguments: shapes) func encodeMatchesOracle(_ s: Shape) throws {
        let code = try ErasureCode(k: s.k, n: s.n)
        let data = (0..<s.k).map { Vectors.prng(seed: UInt64(1000 + $0), count: s.blockSize) }
        let parity = code.encode(data)
        #expect(parity.count == s.n - s.k)
        #expect(parity == Self.oracleParity(code.matrix, data))
    }

    @Test(arguments: shapes) func decodeRandomSubsetsRecoversData(_ s: Shape) throws {
        let code = try ErasureCode(k: s.k, n: s.n)
        let data = (0..<s.k).map { Vectors.prng(seed: UInt64(77 + $0), count: s.blockSize) }
        let shares = data + code.encode(data)
        var rng = SplitMix(seed: UInt64(s.k * 1000 + s.n))
        for _ in 0..<4 {
            let subset = Array((0..<s.n).shuffled(using: &rng).prefix(s.k))
            let decoded = try code.decode(subset.map { (number: $0, block: shares[$0]) })
            #expect(decoded == data, "subset \(subset)")
        }
    }

    /// Parity rows of the generator are exactly the Vandermonde construction, checked independently:
    /// G·T = V for the top-k part T of the Vandermonde matrix.
    @Test func generatorTimesTopIsVandermonde() {
        let (k, n) = (5, 12)
        var v = GFMatrix(rows: n, columns: k, entries: [UInt8](repeating: 0, count: n * k))
        v[0, 0] = 1
        for row in 1..<n {
            var x: UInt8 = 1
            for _ in 1..<row { x = GF256.mul(x, 2) }
            var p: UInt8 = 1
            for col in 0..<k { v[row, col] = p; p = GF256.mul(p, x) }
        }
        let g = GFMatrix.zfecEncoding(k: k, n: n)
        #expect(g * v.selecting(rows: Array(0..<k)) == v)
    }

    @Test func fieldAxioms() {
        for a in 1...255 {
            let x = UInt8(a)
            #expect(GF256.mul(x, GF256.inverse(x)) == 1)
            #expect(GF256.mul(x, 1) == x)
            #expect(GF256.mul(x, 0) == 0)
        }
        #expect(GF256.mul(0x80, 2) == 0x1D)  // reduction by 0x11D
    }

    @Test func pointerDecodeInPlaceAndRepeatedSetsUseTheCache() throws {
        let code = try ErasureCode(k: 3, n: 10)
        let size = 4096
        let data = (0..<3).map { Vectors.prng(seed: UInt64(9 + $0), count: size) }
        let shares = data + code.encode(data)
        for _ in 0..<3 {
            var out = [[UInt8]](repeating: [UInt8](repeating: 0, count: size), count: 3)
            // Shares 1 and 8 plus 4: primary 1 copied, primaries 0 and 2 computed.
            let numbers = [8, 1, 4]
            try withPointers(to: numbers.map { shares[$0] }) { blocks in
                let o0 = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
                let o1 = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
                let o2 = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
                defer { o0.deallocate(); o1.deallocate(); o2.deallocate() }
                try code.decode(numbers: numbers, blocks: blocks, into: [o0, o1, o2], blockSize: size)
                out = [o0, o1, o2].map { Array(UnsafeRawBufferPointer(start: UnsafeRawPointer($0), count: size)) }
            }
            #expect(out == data)
        }
    }
}

/// A small seeded generator so subsets are reproducible.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
