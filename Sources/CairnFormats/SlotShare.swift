import CairnPrimitives

/// The signed header of one slot version, as stored at the start of every share of that version
/// (Formats.md, "Slot share layout"). Every field but the share number is the same in all N shares.
///
/// ```
///   0   6  "CRNSLT"            72  2  K                  92  32  Ed25519 public key
///   6   2  format version = 1  74  2  N                 124  64  signature
///   8   8  seqnum              76  8  payload length    188  d·32 share chain
///  16  32  root hash           84  4  block length      …   block
///  48  24  nonce               88  2  share number
///                              90  2  reserved = 0
/// ```
/// seqnum and root sit at fixed offsets (8 and 16) so a storage server's test vector can compare them
/// without understanding the rest: the first 48 bytes are the version's "checkstring".
public struct SlotHeader: Sendable, Equatable {
    public static let magic = Array("CRNSLT".utf8)
    public static let formatVersion: UInt16 = 1
    public static let seqnumOffset = 8
    public static let rootOffset = 16
    /// Magic, version, seqnum and root: what publishers test and what identifies a version.
    public static let checkstringSize = 48
    public static let nonceSize = 24
    public static let signedFieldsSize = 88
    public static let publicKeyOffset = 92
    public static let signatureOffset = 124
    public static let signatureSize = 64
    /// Everything before the share chain: what a reader fetches first from every server.
    public static let size = 188
    /// Payloads are small (references, manifests); one segment holds the whole payload.
    public static let maximumPayload: UInt64 = 16 << 20

    public var seqnum: UInt64
    public var root: Digest
    public var nonce: [UInt8]
    public var k: Int
    public var n: Int
    public var payloadLength: UInt64
    public var shareNumber: Int
    public var publicKey: [UInt8]
    public var signature: [UInt8]

    public init(seqnum: UInt64, root: Digest, nonce: [UInt8], k: Int, n: Int, payloadLength: UInt64,
                shareNumber: Int, publicKey: [UInt8], signature: [UInt8]) {
        self.seqnum = seqnum
        self.root = root
        self.nonce = nonce
        self.k = k
        self.n = n
        self.payloadLength = payloadLength
        self.shareNumber = shareNumber
        self.publicKey = publicKey
        self.signature = signature
    }

    /// Each of the K primary blocks holds this many ciphertext bytes (the last one zero-padded).
    public static func blockLength(payloadLength: UInt64, k: Int) -> Int {
        Int((payloadLength + UInt64(k) - 1) / UInt64(k))
    }
    public var blockLength: Int { Self.blockLength(payloadLength: payloadLength, k: k) }
    public var chainCount: Int { HashTree.depth(forLeaves: n) }
    public var shareSize: Int { Self.size + chainCount * 32 + blockLength }
    public var checkstring: [UInt8] { Self.checkstring(seqnum: seqnum, root: root) }

    public static func checkstring(seqnum: UInt64, root: Digest) -> [UInt8] {
        var w = ByteWriter(capacity: checkstringSize)
        w.raw(magic)
        w.u16(formatVersion)
        w.u64(seqnum)
        w.raw(root)
        return w.bytes
    }

    /// Bytes 0..<88: every field the signature covers, apart from the storage index.
    private var signedFields: [UInt8] {
        var w = ByteWriter(capacity: Self.signedFieldsSize)
        w.raw(checkstring)
        w.raw(nonce)
        w.u16(UInt16(k))
        w.u16(UInt16(n))
        w.u64(payloadLength)
        w.u32(UInt32(blockLength))
        return w.bytes
    }

    /// What the signature signs: the storage index, then bytes 0..<88 of the share. Binding the storage
    /// index stops a version of one slot from being replayed into another slot with the same key.
    public func signedMessage(storageIndex: [UInt8]) -> [UInt8] { storageIndex + signedFields }

    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: Self.size)
        w.raw(signedFields)
        w.u16(UInt16(shareNumber))
        w.u16(0)
        w.raw(publicKey)
        w.raw(signature)
        return w.bytes
    }

    /// Structural parsing of the first 188 bytes of a share; checks nothing cryptographic.
    public init(parsing bytes: [UInt8]) throws {
        func bad(_ why: String) -> FormatError { .invalid("slot share: \(why)") }
        guard bytes.count >= Self.size else { throw bad("truncated header (\(bytes.count) of \(Self.size) bytes)") }
        guard Array(bytes[0..<6]) == Self.magic else { throw bad("not a slot share (bad magic)") }
        var r = ByteReader(bytes, at: 6)
        do {
            let version = try r.u16()
            guard version == Self.formatVersion else { throw bad("unknown format version \(version)") }
            seqnum = try r.u64()
            root = try r.raw(32)
            nonce = try r.raw(Self.nonceSize)
            k = Int(try r.u16())
            n = Int(try r.u16())
            payloadLength = try r.u64()
            let block = Int(try r.u32())
            shareNumber = Int(try r.u16())
            let reserved = try r.u16()
            publicKey = try r.raw(32)
            signature = try r.raw(Self.signatureSize)
            guard k >= 1, k <= n, n <= 256 else { throw bad("K-of-N \(k)-of-\(n) is impossible") }
            guard payloadLength <= Self.maximumPayload else { throw bad("payload of \(payloadLength) bytes is over the limit") }
            guard block == Self.blockLength(payloadLength: payloadLength, k: k) else { throw bad("block length disagrees with the payload length") }
            guard shareNumber < n else { throw bad("share number \(shareNumber) is not below N = \(n)") }
            guard reserved == 0 else { throw bad("reserved field is not zero") }
        } catch let e as ByteReaderError {
            throw bad(e.description)
        }
    }

    /// Checks that the public key is the one the cap names and that it signed this header for this slot.
    public func verify(storageIndex: [UInt8], fingerprint: [UInt8]) throws {
        guard ConstantTime.equal(SlotKeys.fingerprint(publicKey: publicKey), fingerprint) else {
            throw FormatError.invalid("slot share: public key does not match the cap's fingerprint")
        }
        guard SignatureVerifier.isValid(signature, of: signedMessage(storageIndex: storageIndex), by: publicKey) else {
            throw FormatError.invalid("slot share: bad signature")
        }
    }
}

/// The part of a slot share after the header: the share chain and the block, checked against the root.
public enum SlotShareBody {
    public static func blockHash(_ block: [UInt8]) -> Digest { TaggedHash.hash(Tags.slotBlock, block) }

    public static func encode(chain: [Digest], block: [UInt8]) -> [UInt8] { chain.flatMap { $0 } + block }

    /// Parses bytes `SlotHeader.size..<shareSize` and returns the block once its hash and chain lead to
    /// the header's root.
    public static func verifiedBlock(_ bytes: [UInt8], header: SlotHeader) throws -> [UInt8] {
        let chainBytes = header.chainCount * 32
        guard bytes.count == chainBytes + header.blockLength else {
            throw FormatError.invalid("slot share \(header.shareNumber): body is \(bytes.count) bytes, expected \(chainBytes + header.blockLength)")
        }
        let chain = (0..<header.chainCount).map { Array(bytes[($0 * 32)..<($0 * 32 + 32)]) }
        let block = Array(bytes[chainBytes...])
        let root = HashTree.root(leaf: blockHash(block), index: header.shareNumber, chain: chain, leafCount: header.n)
        guard root == header.root else {
            throw FormatError.invalid("slot share \(header.shareNumber): block does not match the signed root hash")
        }
        return block
    }
}
