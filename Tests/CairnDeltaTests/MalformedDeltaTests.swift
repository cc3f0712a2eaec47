import Testing
@testable import CairnDelta

/// Hand-made windows and damaged deltas: every one must end in a `DeltaError`, never a crash or a wrong result.
@Suite struct MalformedDeltaTests {
    /// One window with the given fields; the delta encoding length is computed unless `encodingLength` is given.
    static func window(_ indicator: UInt8 = 0, segment: (length: Int, position: Int)? = nil, targetLength: Int,
                       data: [UInt8] = [], instructions: [UInt8] = [], addresses: [UInt8] = [],
                       checksum: UInt32? = nil, encodingLength: Int? = nil) -> [UInt8] {
        var body: [UInt8] = []
        VarInt.append(targetLength, to: &body)
        body.append(0)
        VarInt.append(data.count, to: &body)
        VarInt.append(instructions.count, to: &body)
        VarInt.append(addresses.count, to: &body)
        if let c = checksum { body += [UInt8(c >> 24), UInt8(c >> 16 & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c & 0xFF)] }
        body += data + instructions + addresses
        var out = [indicator | (checksum == nil ? 0 : 0x04)]
        if let s = segment { VarInt.append(s.length, to: &out); VarInt.append(s.position, to: &out) }
        VarInt.append(encodingLength ?? body.count, to: &out)
        return out + body
    }

    static let header: [UInt8] = VCDIFF.magic + [0]

    func expectError(_ delta: [UInt8], source: [UInt8] = [], maxTargetSize: Int = VCDIFF.defaultMaxTargetSize,
                     _ check: (DeltaError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let out = try VCDIFF.apply(delta, to: source, maxTargetSize: maxTargetSize)
            Issue.record("expected an error, decoded \(out.count) bytes", sourceLocation: sourceLocation)
        } catch let error as DeltaError {
            #expect(check(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("not a DeltaError: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func handMadeWindowsDecode() throws {
        // ADD 5 "hello" (opcode 6), then RUN 3 of "!" (opcode 0, size follows).
        let first = Self.window(targetLength: 8, data: Array("hello!".utf8), instructions: [6, 0, 3])
        // VCD_TARGET on the first window's bytes: COPY 5 at address 0 (opcode 19 + 16*0 + (5-3)).
        let second = Self.window(0x02, segment: (8, 0), targetLength: 5, instructions: [21], addresses: [0])
        // Overlapping copy from the window itself: ADD "ab", COPY 6 in HERE mode (distance 2).
        let third = Self.window(targetLength: 8, data: Array("ab".utf8), instructions: [3, 19 + 16 + 3], addresses: [2])
        let out = try VCDIFF.apply(Self.header + first + second + third, to: [])
        #expect(String(decoding: out, as: UTF8.self) == "hello!!!helloabababab")
    }

    @Test func headerErrors() {
        expectError([0xD6, 0xC3, 0xC5, 0, 0]) { $0 == .notVCDIFF }
        expectError(Array("plain text".utf8)) { $0 == .notVCDIFF }
        expectError([0xD6, 0xC3, 0xC4, 1, 0]) { $0 == .unsupportedVersion(1) }
        expectError([0xD6, 0xC3]) { if case .truncated = $0 { true } else { false } }
        expectError(VCDIFF.magic + [0x01, 0x02]) { $0 == .secondaryCompression }
        #expect(DeltaError.secondaryCompression.description
            == "secondary compression is not supported (make the delta with xdelta3 -S none)")
        expectError(VCDIFF.magic + [0x02, 0x05]) { $0 == .customCodeTable }
        expectError(VCDIFF.magic + [0x08]) { if case .unknownIndicatorBits = $0 { true } else { false } }
        expectError(VCDIFF.magic + [0x04, 0x8F, 0xFF, 0xFF, 0x7F, 1, 2]) { if case .truncated = $0 { true } else { false } }
        expectError(VCDIFF.magic + [0x04] + [UInt8](repeating: 0xFF, count: 12) + [0]) {
            if case .integerOverflow = $0 { true } else { false }
        }
    }

    @Test func xdeltaSecondaryCompressionIsRefusedClearly() throws {
        let xd = try Xdelta3()
        defer { xd.cleanUp() }
        var g = Samples(seed: 30)
        let a = g.text(lines: 20_000)
        let delta = try xd.encode(source: a, target: g.edit(a, count: 200), extra: ["-S", "lzma"])
        expectError(delta, source: a) { $0 == .secondaryCompression }
    }

    @Test func hugeDeclaredSizes() throws {
        let h = Self.header
        expectError(h + Self.window(targetLength: 1 << 40, data: [1], instructions: [0])) {
            if case .tooLarge(_, _, VCDIFF.maxDecodeWindow) = $0 { true } else { false }
        }
        expectError(h + Self.window(0x01, segment: (1 << 50, 0), targetLength: 4)) {
            if case .segmentOutOfRange = $0 { true } else { false }
        }
        expectError(h + Self.window(0x01, segment: (10, 5), targetLength: 4), source: [UInt8](repeating: 1, count: 12)) {
            if case .segmentOutOfRange = $0 { true } else { false }
        }
        expectError(h + Self.window(0x02, segment: (1, 0), targetLength: 4)) {
            if case .segmentOutOfRange = $0 { true } else { false }
        }
        expectError(h + Self.window(targetLength: 4, encodingLength: 1 << 30)) {
            if case .truncated = $0 { true } else { false }
        }
        // Ten windows of RUN 1 MiB each: fine under the default bound, refused under a 4 MiB one.
        let run = Self.window(targetLength: 1 << 20, data: [7], instructions: [0, 0xC0, 0x80, 0x00])
        let many = h + Array(repeating: run, count: 10).flatMap { $0 }
        #expect(try VCDIFF.apply(many, to: []).count == 10 << 20)
        expectError(many, maxTargetSize: 4 << 20) { if case .tooLarge(_, _, 4 << 20) = $0 { true } else { false } }
    }

    @Test func inconsistentWindows() {
        let h = Self.header
        func malformed(_ e: DeltaError) -> Bool { if case .malformed = e { true } else { false } }
        // Window longer or shorter than its instructions produce.
        expectError(h + Self.window(targetLength: 6, data: Array("hello".utf8), instructions: [6]), malformed)
        expectError(h + Self.window(targetLength: 4, data: Array("hello".utf8), instructions: [6]), malformed)
        // ADD needing more data than the section holds; unused data; unused addresses.
        expectError(h + Self.window(targetLength: 5, data: Array("hel".utf8), instructions: [6]), malformed)
        expectError(h + Self.window(targetLength: 2, data: Array("hello".utf8), instructions: [3]), malformed)
        expectError(h + Self.window(targetLength: 2, data: Array("he".utf8), instructions: [3], addresses: [0]), malformed)
        // COPY from an address not yet written, and one crossing from the source segment into the target.
        expectError(h + Self.window(targetLength: 4, instructions: [20], addresses: [0]), malformed)
        expectError(h + Self.window(0x01, segment: (2, 0), targetLength: 4, instructions: [20], addresses: [0]),
                    source: [1, 2, 3]) { malformed($0) }
        // Both VCD_SOURCE and VCD_TARGET; undefined window bits; wrong encoding length.
        expectError(h + Self.window(0x03, segment: (0, 0), targetLength: 0), malformed)
        expectError(h + Self.window(0x10, targetLength: 0)) { if case .unknownIndicatorBits = $0 { true } else { false } }
        expectError(h + Self.window(targetLength: 1, data: [1], instructions: [2], encodingLength: 8)) { _ in true }
        // A non-zero delta indicator means compressed sections.
        var compressed = Self.window(targetLength: 1, data: [1], instructions: [2])
        compressed[3] = 0x01  // indicator, encoding length, target length, then the delta indicator
        expectError(h + compressed) { $0 == .secondaryCompression }
        // Missing instruction size.
        expectError(h + Self.window(targetLength: 3, data: [1], instructions: [0])) {
            if case .truncated = $0 { true } else { false }
        }
    }

    @Test func checksumMismatch() throws {
        let good = Self.window(targetLength: 5, data: Array("hello".utf8), instructions: [6], checksum: 0x062C_0215)
        #expect(try VCDIFF.apply(Self.header + good, to: []) == Array("hello".utf8))
        let bad = Self.window(targetLength: 5, data: Array("hello".utf8), instructions: [6], checksum: 0x062C_0216)
        expectError(Self.header + bad) { $0 == .checksumMismatch(window: 0, expected: 0x062C_0216, actual: 0x062C_0215) }
    }

    /// Every strict prefix of a delta longer than its header throws; every single-byte change either throws
    /// or (harmless changes, e.g. to the application header) still decodes to the exact target.
    @Test func truncationAndBitFlips() throws {
        var g = Samples(seed: 31)
        let source = g.bytes(3000)
        let target = g.edit(source, count: 6) + g.text(lines: 20)
        let delta = VCDIFF.encode(source: source, target: target)
        let headerLength = 4 + 1 + 1 + 5  // magic, indicator, length and "cairn"
        for n in headerLength + 1..<delta.count {
            #expect(throws: DeltaError.self) { try VCDIFF.apply(Array(delta.prefix(n)), to: source) }
        }
        var silentlyWrong = 0
        for i in 0..<delta.count {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var bad = delta
                bad[i] ^= flip
                do {
                    if try VCDIFF.apply(bad, to: source) != target { silentlyWrong += 1 }
                } catch is DeltaError {
                } catch {
                    Issue.record("not a DeltaError: \(error)")
                }
            }
        }
        #expect(silentlyWrong == 0)
    }
}
