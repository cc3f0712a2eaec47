import CairnPrimitives
import Testing
@testable import CairnFormats

@Suite struct CapParsingTests {
    let readCap = ReadCap(key: Array(0..<32), uebHash: Array(100..<132), k: 3, n: 10, size: 123_456)

    @Test func roundTripsAndAttenuates() throws {
        let text = Cap.read(readCap).string
        #expect(text.hasPrefix("cairn:chk:"))
        #expect(try Cap(parsing: text) == .read(readCap))
        let v = readCap.verifyCap
        #expect(v.storageIndex.count == 16)
        #expect(v.storageIndex == ImmutableKeys.storageIndex(forKey: readCap.key))
        #expect(try Cap(parsing: v.string) == .verify(v))
        #expect(try Cap(parsing: "cairn:lit:") == .literal([]))
        #expect(try Cap(parsing: Cap.literal([1, 2, 3]).string) == .literal([1, 2, 3]))
    }

    @Test func rejectsMalformedCaps() {
        let good = Cap.read(readCap).string
        let fields = good.split(separator: ":").map(String.init)
        let bad: [(String, String)] = [
            (String(good.dropLast(":10:123456".count)), "read cap is"),              // truncated after the UEB hash
            (String(good.dropLast(":3:10:123456".count + 1)), "read cap is"),       // truncated inside the UEB hash
            (String(good.prefix(40)), "read cap is"),                               // truncated fields
            (good.uppercased(), "lowercase"),                                       // mis-cased
            ("Cairn:" + good.dropFirst(6), "lowercase"),
            ("tahoe:chk:" + good.dropFirst(10), "start with 'cairn:'"),             // wrong prefix
            ("URI:CHK:abc:def:3:10:100", "Tahoe-LAFS"),
            ("cairn:CHK:" + good.dropFirst(10), "lowercase"),
            ("cairn:mdmf:" + good.dropFirst(10), "unknown kind"),
            ([fields[0], fields[1], String(fields[2].dropLast()), fields[3], fields[4], fields[5], fields[6]].joined(separator: ":"), "52 base32"), // short key
            ([fields[0], fields[1], fields[2] + "a", fields[3], fields[4], fields[5], fields[6]].joined(separator: ":"), "52 base32"),             // long key
            ([fields[0], fields[1], fields[2].uppercased(), fields[3], fields[4], fields[5], fields[6]].joined(separator: ":"), "base32"),
            ([fields[0], fields[1], fields[2], fields[3], "0", fields[5], fields[6]].joined(separator: ":"), "impossible"),
            ([fields[0], fields[1], fields[2], fields[3], "11", "10", fields[6]].joined(separator: ":"), "impossible"),
            ([fields[0], fields[1], fields[2], fields[3], "3", "257", fields[6]].joined(separator: ":"), "impossible"),
            ([fields[0], fields[1], fields[2], fields[3], "03", fields[5], fields[6]].joined(separator: ":"), "not a decimal"),
            ([fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], "-5"].joined(separator: ":"), "not a decimal"),
            ([fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], "0"].joined(separator: ":"), "empty"),
            (good + ":", "read cap is"),
            ("cairn:chk-v:" + fields[2] + ":" + fields[3] + ":3:10:5", "26 base32"),
            ("cairn:lit:MZXW6", "base32"),
            ("cairn:lit:" + Base32.encode([UInt8](repeating: 1, count: 56)), "at most 55"),
            ("", "start with 'cairn:'"),
        ]
        for (text, expected) in bad {
            do {
                _ = try Cap(parsing: text)
                Issue.record("accepted malformed cap \(text)")
            } catch let e as CapError {
                #expect(e.description.hasPrefix("malformed cap: "))
                #expect(e.description.contains(expected), "\(text): \(e.description)")
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }
}

@Suite struct HashTreeTests {
    @Test func chainsVerifyEveryLeaf() {
        for count in [1, 2, 3, 5, 8, 10, 33] {
            let leaves = (0..<count).map { TaggedHash.hash(HashTag("test-leaf"), [UInt8($0)]) }
            let tree = HashTree(leaves: leaves)
            #expect(tree.nodes.count == HashTree.nodeCount(forLeaves: count))
            for i in 0..<count {
                let chain = tree.chain(forLeaf: i)
                #expect(chain.count == HashTree.depth(forLeaves: count))
                #expect(HashTree.root(leaf: leaves[i], index: i, chain: chain, leafCount: count) == tree.root)
                #expect(HashTree.root(leaf: leaves[(i + 1) % count], index: i, chain: chain, leafCount: count) != tree.root || count == 1)
            }
            #expect(HashTree(storedNodes: tree.nodes, leafCount: count) == tree)
            // With one leaf the tree is its root, checked against the UEB instead.
            if count > 1 {
                var damaged = tree.nodes
                damaged[damaged.count - 1][0] ^= 1  // a leaf or a pad leaf
                #expect(HashTree(storedNodes: damaged, leafCount: count) == nil)
                damaged = tree.nodes
                damaged[0][5] ^= 1  // the root
                #expect(HashTree(storedNodes: damaged, leafCount: count) == nil)
            }
        }
    }
}

@Suite struct GeometryTests {
    @Test func segmentsSplitEvenly() throws {
        let g = SegmentGeometry(k: 3, n: 10, maximumSegmentSize: 1 << 20, dataSize: 5_000_000)
        #expect(g.segmentSize == 1_048_578)
        #expect(g.segmentCount == 5)
        #expect(g.tailSegmentSize == 5_000_000 - 4 * 1_048_578)
        #expect(g.tailBlockSize == (g.tailSegmentSize + 2) / 3)
        let small = SegmentGeometry(k: 3, n: 10, maximumSegmentSize: 1 << 20, dataSize: 100)
        #expect(small.segmentSize == 102 && small.segmentCount == 1 && small.blockSize == 34)
        let ueb = UEB(geometry: g, shareRoot: [UInt8](repeating: 1, count: 32), crypttextRoot: [UInt8](repeating: 2, count: 32))
        #expect(ueb.bytes.count == UEB.encodedSize)
        #expect(try UEB(parsing: ueb.bytes) == ueb)
        var bad = ueb.bytes
        bad[27] ^= 1  // file size
        #expect(throws: FormatError.self) { try UEB(parsing: bad) }
        #expect(throws: FormatError.self) { try EncodingParameters(k: 4, n: 3, happy: 3) }
        #expect(throws: FormatError.self) { try EncodingParameters.parseEncoding("3of10") }
    }
}
