import Testing
@testable import CairnDelta

/// Our decoder against deltas the real xdelta3 made.
@Suite struct XdeltaDecodeTests {
    func check(_ source: [UInt8], _ target: [UInt8], extra: [String] = []) throws {
        let xd = try Xdelta3()
        defer { xd.cleanUp() }
        for checksum in [true, false] {
            let delta = try xd.encode(source: source, target: target, extra: extra + (checksum ? [] : ["-n"]))
            #expect(Array(delta.prefix(4)) == VCDIFF.magic)
            #expect(try VCDIFF.apply(delta, to: source) == target, "checksum: \(checksum)")
        }
    }

    @Test func textEdits() throws {
        var g = Samples(seed: 1)
        let a = g.text(lines: 5000)
        try check(a, g.edit(a, count: 20))
    }

    @Test func binaryEdits() throws {
        var g = Samples(seed: 2)
        let a = g.bytes(300_000)
        try check(a, g.edit(a, count: 30))
    }

    @Test func emptySourceAndTarget() throws {
        var g = Samples(seed: 3)
        let a = g.text(lines: 200)
        try check([], a)
        try check(a, [])
    }

    @Test func multipleWindows() throws {
        var g = Samples(seed: 4)
        let a = g.bytes(200_000)
        let b = g.edit(a, count: 10) + g.text(lines: 3000)
        // -W 16384 makes xdelta3 cut the target into many small windows.
        try check(a, b, extra: ["-W", "16384"])
    }

    @Test func repetitiveTargetUsesRunsAndSelfCopies() throws {
        let target = [UInt8](repeating: 7, count: 5000) + Array("abcabcabcabcabcabcabcabc".utf8) + [UInt8](repeating: 0, count: 300)
        try check([1, 2, 3], target)
    }
}
