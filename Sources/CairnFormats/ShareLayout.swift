import CairnPrimitives

/// Where everything sits inside one share (format version 1). All offsets follow from the UEB, so a
/// reader trusts nothing in a share until it has checked the UEB against the cap's hash.
///
/// ```
/// header (16)  "CRNSHARE" | version u16 | share number u16 | UEB length u16 | reserved u16 = 0
/// UEB (110)
/// blocks       block i of every segment, in order
/// block tree   this share's block hashes, full heap-ordered tree, 32 bytes a node
/// crypttext tree  the file's ciphertext segment hashes, full tree
/// share chain  sibling hashes from this share's block-tree root to the share root
/// ```
public struct ShareLayout: Sendable, Equatable {
    public static let formatVersion: UInt16 = 1
    public static let magic = Array("CRNSHARE".utf8)
    public static let headerSize = 16
    public static let uebOffset = headerSize
    /// Header and UEB together: what a downloader reads first.
    public static let prefixSize = headerSize + UEB.encodedSize

    public let geometry: SegmentGeometry

    public init(geometry: SegmentGeometry) { self.geometry = geometry }

    public var blocksOffset: UInt64 { UInt64(Self.prefixSize) }
    public var blocksLength: UInt64 {
        UInt64(geometry.segmentCount - 1) * UInt64(geometry.blockSize) + UInt64(geometry.tailBlockSize)
    }
    public var treeNodeCount: Int { HashTree.nodeCount(forLeaves: geometry.segmentCount) }
    public var blockTreeOffset: UInt64 { blocksOffset + blocksLength }
    public var crypttextTreeOffset: UInt64 { blockTreeOffset + UInt64(treeNodeCount * 32) }
    public var shareChainOffset: UInt64 { crypttextTreeOffset + UInt64(treeNodeCount * 32) }
    public var shareChainCount: Int { HashTree.depth(forLeaves: geometry.n) }
    public var shareSize: UInt64 { shareChainOffset + UInt64(shareChainCount * 32) }

    public func blockOffset(segment i: Int) -> UInt64 {
        blocksOffset + UInt64(i) * UInt64(geometry.blockSize)
    }

    /// The byte range holding both trees and the share chain (one read after the prefix).
    public var hashesRange: Range<UInt64> { blockTreeOffset..<shareSize }

    public static func header(shareNumber: Int) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize)
        w.raw(magic)
        w.u16(formatVersion)
        w.u16(UInt16(shareNumber))
        w.u16(UInt16(UEB.encodedSize))
        w.u16(0)
        return w.bytes
    }

    /// Checks a share's first `prefixSize` bytes against the cap's UEB hash and the expected share number.
    public static func parsePrefix(_ bytes: [UInt8], shareNumber: Int, uebHash: Digest) throws -> UEB {
        guard bytes.count == prefixSize else { throw FormatError.invalid("share is truncated") }
        guard Array(bytes[0..<headerSize]) == header(shareNumber: shareNumber) else {
            throw FormatError.invalid("share header is damaged or names another share")
        }
        let uebBytes = Array(bytes[headerSize...])
        guard TaggedHash.hash(Tags.ueb, uebBytes) == uebHash else {
            throw FormatError.invalid("UEB does not match the cap")
        }
        return try UEB(parsing: uebBytes)
    }

    /// Verified hashes of one share: its block tree and the file's crypttext tree.
    public struct Hashes: Sendable {
        public let blockTree: HashTree
        public let crypttextTree: HashTree
    }

    /// Checks the trees and share chain read from `hashesRange` against the UEB's roots.
    public func parseHashes(_ bytes: [UInt8], shareNumber: Int, ueb: UEB) throws -> Hashes {
        guard bytes.count == Int(shareSize - blockTreeOffset) else { throw FormatError.invalid("share hashes truncated") }
        guard let blockTree = blockTree(bytes, shareNumber: shareNumber, ueb: ueb) else {
            throw FormatError.invalid("block hash tree or share hash chain does not match the UEB")
        }
        guard let ctTree = crypttextTree(bytes, ueb: ueb) else {
            throw FormatError.invalid("crypttext hash tree does not match the UEB")
        }
        return Hashes(blockTree: blockTree, crypttextTree: ctTree)
    }

    private func digests(_ bytes: [UInt8], _ start: Int, _ count: Int) -> [Digest] {
        (0..<count).map { Array(bytes[(start + $0 * 32)..<(start + $0 * 32 + 32)]) }
    }

    /// The share's block tree from `hashesRange` bytes, if it and the share chain lead to the UEB's share root.
    /// Each part is checked on its own, so damage to one part does not discard the others (repair uses any).
    public func blockTree(_ bytes: [UInt8], shareNumber: Int, ueb: UEB) -> HashTree? {
        guard bytes.count == Int(shareSize - blockTreeOffset), shareNumber >= 0, shareNumber < geometry.n else { return nil }
        let nodes = treeNodeCount
        guard let tree = HashTree(storedNodes: digests(bytes, 0, nodes), leafCount: geometry.segmentCount) else { return nil }
        let chain = digests(bytes, 2 * nodes * 32, shareChainCount)
        let root = HashTree.root(leaf: tree.root, index: shareNumber, chain: chain, leafCount: geometry.n)
        return root == ueb.shareRoot ? tree : nil
    }

    /// The file's crypttext tree from `hashesRange` bytes, if it leads to the UEB's crypttext root.
    public func crypttextTree(_ bytes: [UInt8], ueb: UEB) -> HashTree? {
        guard bytes.count == Int(shareSize - blockTreeOffset) else { return nil }
        let nodes = treeNodeCount
        guard let tree = HashTree(storedNodes: digests(bytes, nodes * 32, nodes), leafCount: geometry.segmentCount),
              tree.root == ueb.crypttextRoot else { return nil }
        return tree
    }

    /// The UEB from a share's first `prefixSize` bytes if it matches the cap, whatever the header says.
    public static func parseUEB(_ prefix: [UInt8], uebHash: Digest) -> UEB? {
        guard prefix.count == prefixSize else { return nil }
        let uebBytes = Array(prefix[headerSize...])
        guard TaggedHash.hash(Tags.ueb, uebBytes) == uebHash else { return nil }
        return try? UEB(parsing: uebBytes)
    }

    public func encodeHashes(blockTree: HashTree, crypttextTree: HashTree, shareChain: [Digest]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Int(shareSize - blockTreeOffset))
        for d in blockTree.nodes { out += d }
        for d in crypttextTree.nodes { out += d }
        for d in shareChain { out += d }
        return out
    }

    public static func blockHash(_ block: UnsafeRawBufferPointer) -> Digest { TaggedHash.hash(Tags.block, block) }

    /// A crypttext segment's leaf is the hash of its K primary block hashes, so the ciphertext is
    /// never hashed twice (the primary blocks are the ciphertext).
    public static func crypttextLeaf(primaryBlockHashes: [Digest]) -> Digest {
        TaggedHash.hash(Tags.crypttextSegment, primaryBlockHashes.flatMap { $0 })
    }
}
