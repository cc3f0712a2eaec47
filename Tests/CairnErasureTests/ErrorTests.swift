import Testing
@testable import CairnErasure

/// Refusals come with messages that say what to change.
@Suite struct ErrorTests {
    @Test(arguments: [(0, 3), (4, 3), (1, 257), (-1, 5), (300, 300)])
    func invalidParametersAreRejected(_ p: (Int, Int)) {
        #expect(throws: ErasureCodeError.invalidParameters(k: p.0, n: p.1)) { try ErasureCode(k: p.0, n: p.1) }
        #expect(throws: ErasureCodeError.self) { try ZFEC.encode([1, 2, 3], k: p.0, n: p.1) }
    }

    @Test func invalidParameterMessage() {
        let message = ErasureCodeError.invalidParameters(k: 4, n: 3).description
        #expect(message.contains("K must be between 1 and N, and N at most 256"))
        #expect(message.contains("K=4") && message.contains("N=3"))
    }

    @Test func tooFewShares() throws {
        let code = try ErasureCode(k: 3, n: 10)
        let shares = try ZFEC.encode(Array(0..<30), k: 3, n: 10)
        let error = #expect(throws: ErasureCodeError.notEnoughShares(needed: 3, got: 2)) {
            try code.decode([(number: 0, block: shares[0]), (number: 7, block: shares[7])])
        }
        #expect(error?.description == "need 3 distinct shares to decode, got 2")
    }

    @Test func duplicateShareNumbers() throws {
        let code = try ErasureCode(k: 2, n: 4)
        let shares = try ZFEC.encode(Array(0..<20), k: 2, n: 4)
        #expect(throws: ErasureCodeError.duplicateShare(number: 3)) {
            try code.decode([(number: 3, block: shares[3]), (number: 3, block: shares[3])])
        }
    }

    @Test func outOfRangeShareNumbers() throws {
        let code = try ErasureCode(k: 2, n: 4)
        let block = [UInt8](repeating: 1, count: 10)
        let error = #expect(throws: ErasureCodeError.shareOutOfRange(number: 4, n: 4)) {
            try code.decode([(number: 0, block: block), (number: 4, block: block)])
        }
        #expect(error?.description.contains("0 to 3") == true)
        #expect(throws: ErasureCodeError.shareOutOfRange(number: -1, n: 4)) {
            try code.decode([(number: -1, block: block), (number: 1, block: block)])
        }
    }

    @Test func unequalBlockLengths() throws {
        let code = try ErasureCode(k: 2, n: 4)
        #expect(throws: ErasureCodeError.unequalBlockLengths(expected: 10, got: 9, share: 2)) {
            try code.decode([(number: 0, block: [UInt8](repeating: 0, count: 10)),
                             (number: 2, block: [UInt8](repeating: 0, count: 9))])
        }
    }

    @Test func pointerAPICountMismatch() throws {
        let code = try ErasureCode(k: 2, n: 4)
        #expect(throws: ErasureCodeError.self) {
            try code.decode(numbers: [0, 1], blocks: [], into: [], blockSize: 0)
        }
    }

    @Test func impossiblePadding() throws {
        let shares = try ZFEC.encode([1, 2, 3, 4], k: 2, n: 3)
        #expect(throws: ErasureCodeError.invalidPadding(padLength: 5, total: 4)) {
            try ZFEC.decode([(number: 0, block: shares[0]), (number: 2, block: shares[2])], k: 2, n: 3, padLength: 5)
        }
    }

    @Test func emptyInputRoundTrips() throws {
        let shares = try ZFEC.encode([], k: 3, n: 5)
        #expect(shares.count == 5 && shares.allSatisfy(\.isEmpty))
        #expect(try ZFEC.decode([(3, shares[3]), (4, shares[4]), (0, shares[0])].map { (number: $0.0, block: $0.1) },
                                k: 3, n: 5) == [])
    }
}
