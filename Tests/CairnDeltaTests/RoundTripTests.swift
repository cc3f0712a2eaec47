import Testing
@testable import CairnDelta

/// Our encoder, decoded by our decoder, on the usual kinds of change.
@Suite struct RoundTripTests {
    func roundTrip(_ source: [UInt8], _ target: [UInt8], options: VCDIFF.EncodeOptions = .init(),
                   sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let delta = VCDIFF.encode(source: source, target: target, options: options)
        let decoded = try VCDIFF.apply(delta, to: source)
        #expect(decoded == target, "round trip differs", sourceLocation: sourceLocation)
        return delta
    }

    @Test func smallTextEditIsSmall() throws {
        var g = Samples(seed: 10)
        let a = g.text(lines: 20_000)
        var b = a
        b.replaceSubrange(400_000..<400_010, with: Array("an edited line\n".utf8))
        let delta = try roundTrip(a, b)
        #expect(a.count > 600_000)
        #expect(delta.count < 100, "a 10-byte edit of \(a.count) bytes took \(delta.count)")
    }

    @Test func insertionsAndDeletions() throws {
        var g = Samples(seed: 11)
        let a = g.text(lines: 3000)
        let b = g.edit(a, count: 50)
        let delta = try roundTrip(a, b)
        #expect(delta.count < b.count / 10)
        let c = g.bytes(200_000)
        #expect(try roundTrip(c, g.edit(c, count: 50)).count < 10_000)
    }

    @Test func movedBlocks() throws {
        var g = Samples(seed: 12)
        let blocks = (0..<8).map { _ in g.bytes(20_000) }
        let a = blocks.flatMap { $0 }
        let b = [5, 2, 7, 0, 1, 6, 3, 4, 2].flatMap { blocks[$0] }
        #expect(try roundTrip(a, b).count < 400)
    }

    @Test func emptyIdenticalAndUnrelated() throws {
        var g = Samples(seed: 13)
        let a = g.bytes(100_000)
        #expect(try roundTrip(a, a).count < 40)
        #expect(try roundTrip([], []).count < 40)
        #expect(try roundTrip(a, []).count < 40)
        let text = g.text(lines: 500)
        #expect(try roundTrip([], text).count > text.count / 2)
        let unrelated = g.bytes(100_000)
        let delta = try roundTrip(a, unrelated)
        #expect(delta.count < unrelated.count + 200)
    }

    @Test func repetitionBecomesRunsAndSelfCopies() throws {
        var g = Samples(seed: 14)
        let block = g.bytes(1000)
        let target = [UInt8](repeating: 0, count: 50_000) + Array(repeating: block, count: 20).flatMap { $0 } + [1, 1, 1, 1, 1, 1, 1, 1, 1, 2]
        #expect(try roundTrip([], target).count < 1200)
    }

    @Test func everyOptionCombination() throws {
        var g = Samples(seed: 15)
        let a = g.bytes(50_000), b = g.edit(a, count: 20)
        for checksum in [true, false] {
            for header in [nil, Array("cairn".utf8)] {
                let options = VCDIFF.EncodeOptions(windowSize: 7000, checksum: checksum, applicationHeader: header)
                let delta = try roundTrip(a, b, options: options)
                #expect((delta[4] & 0x04 != 0) == (header != nil))
            }
        }
    }

    @Test func smallSourceSegmentsFollowTheData() throws {
        var g = Samples(seed: 16)
        let a = g.bytes(400_000)
        let b = g.edit(a, count: 40)
        let options = VCDIFF.EncodeOptions(windowSize: 30_000, maxSourceSegment: 60_000)
        #expect(try roundTrip(a, b, options: options).count < 12_000)
    }

    @Test func multiWindowTarget() throws {
        var g = Samples(seed: 17)
        let a = g.bytes(10 << 20)
        var b = a
        b.insert(contentsOf: g.bytes(100), at: 5_000_000)
        b.append(contentsOf: g.bytes(1 << 20))
        let delta = try roundTrip(a, b)
        #expect(b.count > VCDIFF.maxEncodeWindow)
        #expect(delta.count < (1 << 20) + 2000)
    }
}
