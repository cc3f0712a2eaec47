import Testing
@testable import CairnDelta

/// `xdelta3 -d -s SOURCE OURDELTA OUT` must reproduce the target: our deltas are standard VCDIFF.
@Suite struct XdeltaAppliesOurDeltasTests {
    func check(_ source: [UInt8], _ target: [UInt8], options: VCDIFF.EncodeOptions = .init()) throws {
        let xd = try Xdelta3()
        defer { xd.cleanUp() }
        let delta = VCDIFF.encode(source: source, target: target, options: options)
        let decoded = try xd.decode(delta: delta, source: source)
        #expect(decoded.count == target.count)
        #expect(decoded == target)
    }

    @Test func textAndBinaryEdits() throws {
        var g = Samples(seed: 20)
        let text = g.text(lines: 8000)
        try check(text, g.edit(text, count: 40))
        let binary = g.bytes(500_000)
        try check(binary, g.edit(binary, count: 40))
        try check(binary, g.bytes(20_000) + binary + g.bytes(3))
    }

    @Test func withoutChecksumOrHeader() throws {
        var g = Samples(seed: 21)
        let a = g.text(lines: 2000)
        try check(a, g.edit(a, count: 10), options: .init(checksum: false, applicationHeader: nil))
        try check(a, g.edit(a, count: 10), options: .init(checksum: true, applicationHeader: nil))
    }

    @Test func emptyAndRepetitive() throws {
        var g = Samples(seed: 22)
        let a = g.text(lines: 300)
        try check(a, [])
        try check([], a)
        try check(a, a)
        let block = g.bytes(777)
        try check(a, [UInt8](repeating: 9, count: 40_000) + Array(repeating: block, count: 30).flatMap { $0 })
    }

    @Test func manySmallWindowsAndSourceSegments() throws {
        var g = Samples(seed: 23)
        let a = g.bytes(600_000)
        let b = g.edit(a, count: 60)
        try check(a, b, options: .init(windowSize: 25_000))
        try check(a, b, options: .init(windowSize: 40_000, maxSourceSegment: 100_000))
    }

    @Test func fullSizeWindows() throws {
        var g = Samples(seed: 24)
        let a = g.bytes(9 << 20)
        var b = a
        b.replaceSubrange(8_000_000..<8_000_100, with: g.bytes(300))
        b += g.bytes(1000)
        try check(a, b)
    }
}
