import CairnPrimitives

/// A 32-byte object id: the tagged BLAKE2b of an object's canonical bytes. Held inline (four words, no
/// allocation): an index of a million entries would otherwise spend most of its memory on array headers.
public struct ObjectID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let size = 32
    // Big-endian words, so comparing them in order compares the bytes lexicographically.
    private let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        self.init(unchecked: bytes.withUnsafeBytes { $0 })
    }

    /// `raw` must hold at least 32 bytes; the first 32 are the id.
    public init(unchecked raw: UnsafeRawBufferPointer) {
        w0 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    public init?(hex: String) {
        guard hex.count == 64, let b = hexDecode(hex) else { return nil }
        self.init(b)
    }

    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBytes { b in
            b.storeBytes(of: w0.bigEndian, toByteOffset: 0, as: UInt64.self)
            b.storeBytes(of: w1.bigEndian, toByteOffset: 8, as: UInt64.self)
            b.storeBytes(of: w2.bigEndian, toByteOffset: 16, as: UInt64.self)
            b.storeBytes(of: w3.bigEndian, toByteOffset: 24, as: UInt64.self)
        }
        return out
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
    public var short: String { String(hex.prefix(12)) }

    public static func < (a: ObjectID, b: ObjectID) -> Bool { (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3) }

    /// Ids are uniform hashes: one word is plenty.
    public func hash(into hasher: inout Hasher) { hasher.combine(w0) }
}

/// A byte string as a dictionary key (paths, content hashes), hashed in one call rather than byte by byte.
public struct ByteKey: Hashable, Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    public static func == (a: ByteKey, b: ByteKey) -> Bool { a.bytes == b.bytes }
}

/// A file's content hash: the root of a hash tree over fixed 1 MiB leaves of its bytes, bound to its size
/// (Documentation/Snapshots.md). Storage records keep the leaf hashes, so any leaf (and so any byte
/// range) can be checked on its own before it is output.
///
/// leaf = H("cairn:leaf", bytes); node = H("cairn:node", left ‖ right), an odd last node moving up as it
/// is; content hash = H("cairn:content", size u64 ‖ root). An empty file has one empty leaf.
public enum ContentHash {
    public static let leafSize = 1 << 20
    static let tag = HashTag("cairn:content")
    static let leafTag = HashTag("cairn:leaf")
    static let nodeTag = HashTag("cairn:node")

    public static func of(_ data: [UInt8]) -> [UInt8] { root(leaves: leaves(of: data), size: UInt64(data.count)) }

    /// The leaf hashes of `data` (one for an empty or small file).
    public static func leaves(of data: [UInt8]) -> [Digest] {
        if data.count <= leafSize { return [leaf(data[...])] }
        return stride(from: 0, to: data.count, by: leafSize).map { leaf(data[$0..<min($0 + leafSize, data.count)]) }
    }

    public static func leaf(_ bytes: ArraySlice<UInt8>) -> Digest { TaggedHash.hash(leafTag, bytes) }

    /// How many leaves a file of `size` bytes has.
    public static func leafCount(size: UInt64) -> Int {
        let leaf = UInt64(leafSize)
        return max(1, Int(size / leaf + (size % leaf == 0 ? 0 : 1)))  // no overflow, whatever a record claims
    }

    public static func root(leaves: [Digest], size: UInt64) -> [UInt8] {
        var level = leaves
        while level.count > 1 {
            var next: [Digest] = []
            next.reserveCapacity((level.count + 1) / 2)
            var i = 0
            while i + 1 < level.count {
                next.append(TaggedHash.hash(nodeTag, level[i] + level[i + 1]))
                i += 2
            }
            if i < level.count { next.append(level[i]) }
            level = next
        }
        var w = ByteWriter(capacity: 40)
        w.u64(size)
        w.raw(level.first ?? leaf([][...]))
        return TaggedHash.hash(tag, w.bytes)
    }
}

/// Checks a file's leaves one at a time against leaf hashes that were first checked against its
/// content hash: a reader can output a verified byte range without the rest of the file.
public struct LeafVerifier: Sendable {
    public let contentHash: [UInt8]
    public let size: UInt64
    public let leaves: [Digest]

    /// Fails unless the leaf hashes are the right number and rebuild `contentHash`.
    public init(contentHash: [UInt8], size: UInt64, leaves: [Digest]) throws {
        guard leaves.count == ContentHash.leafCount(size: size), leaves.allSatisfy({ $0.count == 32 }),
              ContentHash.root(leaves: leaves, size: size) == contentHash else {
            throw StoreError.damaged("the leaf hashes do not match the content hash \(Hex.encode(Array(contentHash.prefix(6))))")
        }
        self.contentHash = contentHash; self.size = size; self.leaves = leaves
    }

    /// The byte range leaf `index` covers.
    public func range(ofLeaf index: Int) -> Range<UInt64> {
        let start = UInt64(index) * UInt64(ContentHash.leafSize)
        return start..<min(start + UInt64(ContentHash.leafSize), size)
    }

    /// Whether `bytes` are exactly leaf `index`.
    public func check(leaf index: Int, _ bytes: ArraySlice<UInt8>) -> Bool {
        index >= 0 && index < leaves.count && UInt64(bytes.count) == UInt64(range(ofLeaf: index).count)
            && ContentHash.leaf(bytes) == leaves[index]
    }
}

func hexDecode(_ text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count % 2 == 0 else { return nil }
    func v(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        default: return nil
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(chars.count / 2)
    var i = 0
    while i < chars.count {
        guard let hi = v(chars[i]), let lo = v(chars[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}
