import Testing
@testable import CairnErasure

/// Cairn's code against shares produced by zfec 1.6.0.0 itself.
@Suite struct ZFECVectorTests {
    static let cases = Vectors.manifest.cases

    @Test func manifestCoversTheBriefsShapes() {
        let shapes = Set(Self.cases.map { "\($0.k)-\($0.n)" })
        #expect(shapes.isSuperset(of: ["1-1", "1-3", "2-3", "3-10", "10-20", "256-256"]))
    }

    @Test(arguments: cases) func inputMatchesTheManifestPRNG(_ c: Vectors.Case) throws {
        let input = try Vectors.bytes("\(c.dir)/input.bin")
        #expect(input == Vectors.prng(seed: c.seed, count: c.input_len))
    }

    @Test(arguments: cases) func generatorMatrixEqualsZfecs(_ c: Vectors.Case) throws {
        let expected = c.enc_matrix_hex.flatMap(Vectors.hex)
        let code = try ErasureCode(k: c.k, n: c.n)
        #expect(code.matrix.entries == expected)
    }

    @Test(arguments: cases) func sharesAreByteIdentical(_ c: Vectors.Case) throws {
        let input = try Vectors.bytes("\(c.dir)/input.bin")
        #expect(ZFEC.blockSize(forLength: input.count, k: c.k) == c.block_size)
        #expect(ZFEC.padLength(forLength: input.count, k: c.k) == c.pad_len)
        let shares = try ZFEC.encode(input, k: c.k, n: c.n)
        #expect(shares.count == c.n)
        for share in c.shares {
            let expected = try Vectors.bytes("\(c.dir)/\(share.file)")
            #expect(shares[share.sharenum] == expected, "share \(share.sharenum) of \(c.name)")
        }
    }

    @Test(arguments: cases) func decodesFromZfecsVerifiedSubsets(_ c: Vectors.Case) throws {
        let input = try Vectors.bytes("\(c.dir)/input.bin")
        let code = try ErasureCode(k: c.k, n: c.n)
        for subset in c.decode_subsets_verified {
            let shares = try subset.map { (number: $0, block: try Vectors.bytes("\(c.dir)/\(c.shares[$0].file)")) }
            #expect(try ZFEC.decode(shares, with: code, padLength: c.pad_len) == input, "subset \(subset)")
        }
    }

    /// Primary-only, parity-only (when there are at least K parity shares), mixed, and shuffled order.
    @Test(arguments: cases) func decodesFromOtherSubsets(_ c: Vectors.Case) throws {
        let input = try Vectors.bytes("\(c.dir)/input.bin")
        let code = try ErasureCode(k: c.k, n: c.n)
        let all = try c.shares.map { try Vectors.bytes("\(c.dir)/\($0.file)") }
        var subsets: [[Int]] = [Array(0..<c.k), Array((0..<c.k).reversed())]
        if c.n - c.k >= c.k { subsets.append(Array((c.n - c.k)..<c.n)) }
        if c.n > c.k {
            subsets.append(Array(1..<c.k) + [c.n - 1])                         // one parity replaces share 0
            subsets.append(Array((c.k / 2)..<(c.k / 2 + c.k)).reversed())     // half primaries, half parity
            subsets.append(Array(0..<c.n).reversed())                          // more than K shares
        }
        for subset in subsets {
            let shares = subset.map { (number: $0, block: all[$0]) }
            #expect(try ZFEC.decode(shares, with: code, padLength: c.pad_len) == input, "subset \(subset)")
        }
    }
}
