import CairnErasure
import CairnFormats
import CairnPrimitives
import CairnStorage

/// One decoded version of a slot.
public struct SlotVersion: Sendable, Equatable {
    /// The slot it belongs to, so a version is never published on top of in another slot.
    public let storageIndex: [UInt8]
    public let seqnum: UInt64
    public let root: Digest
    public let payload: [UInt8]

    public init(storageIndex: [UInt8], seqnum: UInt64, root: Digest, payload: [UInt8]) {
        self.storageIndex = storageIndex
        self.seqnum = seqnum
        self.root = root
        self.payload = payload
    }

    var checkstring: [UInt8] { SlotHeader.checkstring(seqnum: seqnum, root: root) }
}

/// Encrypts, erasure-codes and signs slot versions, and decodes them back (Formats.md, "Mutable slots").
enum SlotCodec {
    /// The N shares of a new version, by share number, and its header (share 0's).
    static func encode(payload: [UInt8], seqnum: UInt64, cap: SlotWriteCap, k: Int, n: Int) throws -> (header: SlotHeader, shares: [[UInt8]]) {
        let readCap = cap.readCap
        let nonce = SecureRandom.bytes(SlotHeader.nonceSize)  // fresh per version: no keystream is ever reused
        var ciphertext = payload
        StreamCipher(key: readCap.readKey, nonce: nonce).apply(&ciphertext, atOffset: 0)
        let blocks = try blocks(ciphertext: ciphertext, k: k, n: n)
        let tree = HashTree(leaves: blocks.map(SlotShareBody.blockHash))
        let key = cap.signingKey
        var header = SlotHeader(seqnum: seqnum, root: tree.root, nonce: nonce, k: k, n: n,
                                payloadLength: UInt64(payload.count), shareNumber: 0,
                                publicKey: key.publicKey, signature: [])
        header.signature = key.sign(header.signedMessage(storageIndex: readCap.storageIndex))
        return (header, shares(header: header, blocks: blocks, tree: tree))
    }

    /// All N blocks of a ciphertext: K primaries (zero-padded) and N−K parity blocks.
    static func blocks(ciphertext: [UInt8], k: Int, n: Int) throws -> [[UInt8]] {
        let length = SlotHeader.blockLength(payloadLength: UInt64(ciphertext.count), k: k)
        let padded = ciphertext + [UInt8](repeating: 0, count: length * k - ciphertext.count)
        let data = (0..<k).map { Array(padded[($0 * length)..<(($0 + 1) * length)]) }
        guard n > k else { return data }
        return data + (try ErasureCode(k: k, n: n)).encode(data)
    }

    /// Every share's bytes from the blocks and a signed header (which any share of the version carries).
    static func shares(header: SlotHeader, blocks: [[UInt8]], tree: HashTree) -> [[UInt8]] {
        (0..<header.n).map { i in
            var h = header
            h.shareNumber = i
            return h.bytes + SlotShareBody.encode(chain: tree.chain(forLeaf: i), block: blocks[i])
        }
    }

    /// Decodes verified blocks (at least K distinct share numbers) into the payload, re-encoding all N
    /// blocks to check they give the signed root, so every reader gets the same bytes whichever K it used.
    /// Returns the payload and every share of the version (for repair).
    static func decode(header: SlotHeader, blocks: [ShareNumber: [UInt8]], readKey: [UInt8]) throws -> (payload: [UInt8], shares: [[UInt8]]) {
        let k = header.k, length = header.blockLength
        let numbers = Array(blocks.keys.sorted().prefix(k))
        precondition(numbers.count == k)
        var padded = [UInt8](repeating: 0, count: length * k)
        if numbers == Array(0..<k) {
            padded = numbers.flatMap { blocks[$0]! }
        } else if length > 0 {
            let code = try ErasureCode(k: k, n: header.n)
            try padded.withUnsafeMutableBytes { out in
                let outs = (0..<k).map { out.baseAddress! + $0 * length }
                try withPointers(numbers.map { blocks[$0]! }) { ins in
                    try code.decode(numbers: numbers, blocks: ins, into: outs, blockSize: length)
                }
            }
        }
        var ciphertext = Array(padded[0..<Int(header.payloadLength)])
        let all = try Self.blocks(ciphertext: ciphertext, k: k, n: header.n)
        let tree = HashTree(leaves: all.map(SlotShareBody.blockHash))
        guard tree.root == header.root else {
            throw GridError.integrity("slot version \(header.seqnum): shares \(numbers.map(String.init).joined(separator: ",")) decode to data that does not re-encode to the signed root hash")
        }
        StreamCipher(key: readKey, nonce: header.nonce).apply(&ciphertext, atOffset: 0)
        return (ciphertext, shares(header: header, blocks: all, tree: tree))
    }
}
