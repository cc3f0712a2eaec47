import Testing
import CairnPrimitives
@testable import CairnDelta

@Suite struct EncodingTableTests {
    @Test func varIntMatchesRFCExample() {
        var out: [UInt8] = []
        VarInt.append(123_456_789, to: &out)  // RFC 3284 §2
        #expect(out == [0xBA, 0xEF, 0x9A, 0x15])
        #expect(VarInt.size(123_456_789) == 4)
        out.removeAll()
        VarInt.append(0, to: &out)
        VarInt.append(127, to: &out)
        VarInt.append(128, to: &out)
        #expect(out == [0x00, 0x7F, 0x81, 0x00])
        out.withUnsafeBufferPointer { b in
            var r = DeltaReader(b, from: 0, to: b.count)
            let values = (0..<3).map { _ in try? r.integer("x") }
            #expect(values == [0, 127, 128])
            #expect(r.isAtEnd)
        }
    }

    @Test func defaultCodeTableLandmarks() {
        /// An entry as [type1, size1, mode1, type2, size2, mode2] (types: 0 noop, 1 add, 2 run, 3 copy).
        func entry(_ i: Int) -> [Int] {
            let e = CodeTable.standard.entries[i]
            return [Int(e.type1.rawValue), Int(e.size1), Int(e.mode1), Int(e.type2.rawValue), Int(e.size2), Int(e.mode2)]
        }
        #expect(entry(0) == [2, 0, 0, 0, 0, 0])
        #expect(entry(1) == [1, 0, 0, 0, 0, 0])
        #expect(entry(18) == [1, 17, 0, 0, 0, 0])
        #expect(entry(19) == [3, 0, 0, 0, 0, 0])
        #expect(entry(20) == [3, 4, 0, 0, 0, 0])
        #expect(entry(34) == [3, 18, 0, 0, 0, 0])
        #expect(entry(35) == [3, 0, 1, 0, 0, 0])
        #expect(entry(162) == [3, 18, 8, 0, 0, 0])
        #expect(entry(163) == [1, 1, 0, 3, 4, 0])
        #expect(entry(234) == [1, 4, 0, 3, 6, 5])
        #expect(entry(235) == [1, 1, 0, 3, 4, 6])
        #expect(entry(246) == [1, 4, 0, 3, 4, 8])
        #expect(entry(247) == [3, 4, 0, 1, 1, 0])
        #expect(entry(255) == [3, 4, 8, 1, 1, 0])
        let t = CodeTable.standard
        #expect(t.opcode(.add, size: 5, mode: 0) == (code: 6, explicitSize: false))
        #expect(t.opcode(.add, size: 18, mode: 0) == (code: 1, explicitSize: true))
        #expect(t.opcode(.copy, size: 3, mode: 2) == (code: 19 + 32, explicitSize: true))
        #expect(t.opcode(.add, 2, 0, .copy, 5, 3) == 203)  // 163 + mode 3 * 12 + (add 2 - 1) * 3 + (copy 5 - 4)
        #expect(t.opcode(.copy, 4, 7, .add, 1, 0) == 254)
        #expect(t.opcode(.copy, 5, 0, .add, 1, 0) == nil)
    }

    @Test func addressCacheRoundTrips() throws {
        var g = Samples(seed: 40)
        var encoder = AddressCache(), decoder = AddressCache()
        var bytes: [UInt8] = []
        var modes: [(Int, Int, Int)] = []
        var here = 1000
        for _ in 0..<2000 {
            let address = g.int(0..<4) == 0 ? modes.last.map { $0.1 } ?? 0 : g.int(0..<here)
            modes.append((encoder.encode(address, here: here, into: &bytes), address, here))
            here += g.int(1..<50)
        }
        #expect(Set(modes.map { $0.0 }).count == 9)
        let decoded: [Int] = try bytes.withUnsafeBufferPointer { b throws(DeltaError) in
            var r = DeltaReader(b, from: 0, to: b.count)
            var out: [Int] = []
            for (mode, _, here) in modes { out.append(try decoder.decode(mode: mode, here: here, from: &r)) }
            #expect(r.isAtEnd)
            return out
        }
        #expect(decoded == modes.map { $0.1 })
    }

    @Test func adler32MatchesKnownValue() {
        #expect(Adler32.checksum(Array("Wikipedia".utf8)) == 0x11E6_0398)
        #expect(Adler32.checksum([]) == 1)
    }
}
