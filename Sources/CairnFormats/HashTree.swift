import CairnPrimitives

/// A complete binary Merkle tree over 32-byte leaves, padded to a power of two with a fixed pad hash.
///
/// Stored in heap order: node 0 is the root, node i has children 2i+1 and 2i+2, and the leaves sit at
/// `leafBase ..< leafBase + leafCapacity`. Any leaf can be checked alone with its sibling chain.
public struct HashTree: Sendable, Equatable {
    public static let padLeaf: Digest = TaggedHash.hash(Tags.treePad, [])

    public let nodes: [Digest]
    public let leafCount: Int

    public static func capacity(forLeaves count: Int) -> Int {
        var p = 1
        while p < count { p <<= 1 }
        return p
    }

    public static func nodeCount(forLeaves count: Int) -> Int { 2 * capacity(forLeaves: count) - 1 }

    /// The number of siblings on a path from a leaf to the root.
    public static func depth(forLeaves count: Int) -> Int {
        capacity(forLeaves: count).trailingZeroBitCount
    }

    public static func parent(_ left: Digest, _ right: Digest) -> Digest {
        TaggedHash.hash(Tags.treeNode, left + right)
    }

    public init(leaves: [Digest]) {
        precondition(!leaves.isEmpty)
        let cap = Self.capacity(forLeaves: leaves.count)
        var nodes = [Digest](repeating: Self.padLeaf, count: 2 * cap - 1)
        for (i, leaf) in leaves.enumerated() { nodes[cap - 1 + i] = leaf }
        var i = cap - 2
        while i >= 0 {
            nodes[i] = Self.parent(nodes[2 * i + 1], nodes[2 * i + 2])
            i -= 1
        }
        self.nodes = nodes
        self.leafCount = leaves.count
    }

    /// Rebuilds a tree from stored nodes, accepting it only if every internal node and every pad
    /// leaf is what the leaves imply (so no stored byte goes unchecked).
    public init?(storedNodes: [Digest], leafCount: Int) {
        guard leafCount >= 1, storedNodes.count == Self.nodeCount(forLeaves: leafCount) else { return nil }
        let cap = Self.capacity(forLeaves: leafCount)
        let rebuilt = HashTree(leaves: Array(storedNodes[(cap - 1)..<(cap - 1 + leafCount)]))
        guard rebuilt.nodes == storedNodes else { return nil }
        self = rebuilt
    }

    public var root: Digest { nodes[0] }
    public var leafBase: Int { nodes.count / 2 }
    public func leaf(_ i: Int) -> Digest { nodes[leafBase + i] }

    /// Sibling hashes from leaf `i` up to (not including) the root.
    public func chain(forLeaf i: Int) -> [Digest] {
        var out: [Digest] = []
        var node = leafBase + i
        while node > 0 {
            out.append(nodes[node % 2 == 1 ? node + 1 : node - 1])
            node = (node - 1) / 2
        }
        return out
    }

    /// The root implied by a leaf and its sibling chain.
    public static func root(leaf: Digest, index: Int, chain: [Digest], leafCount: Int) -> Digest {
        var node = capacity(forLeaves: leafCount) - 1 + index
        var hash = leaf
        for sibling in chain {
            hash = node % 2 == 1 ? parent(hash, sibling) : parent(sibling, hash)
            node = (node - 1) / 2
        }
        return hash
    }
}
