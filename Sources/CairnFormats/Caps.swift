import CairnPrimitives

public enum CapError: Error, CustomStringConvertible, Equatable {
    case malformed(String)
    public var description: String {
        switch self { case .malformed(let m): return m }
    }
}

/// An immutable file's read cap: the key decrypts, the UEB hash pins every share's contents.
public struct ReadCap: Sendable, Hashable {
    public static let keySize = 32
    public let key: [UInt8]
    public let uebHash: Digest
    public let k: Int
    public let n: Int
    public let size: UInt64

    public init(key: [UInt8], uebHash: Digest, k: Int, n: Int, size: UInt64) {
        self.key = key
        self.uebHash = uebHash
        self.k = k
        self.n = n
        self.size = size
    }

    public var storageIndex: [UInt8] { ImmutableKeys.storageIndex(forKey: key) }
    /// Attenuation: a verify cap can check and repair but not decrypt.
    public var verifyCap: VerifyCap { VerifyCap(storageIndex: storageIndex, uebHash: uebHash, k: k, n: n, size: size) }

    public var string: String {
        "cairn:chk:\(Base32.encode(key)):\(Base32.encode(uebHash)):\(k):\(n):\(size)"
    }
}

/// Lets a holder find, check and repair shares without being able to read them.
public struct VerifyCap: Sendable, Hashable {
    public let storageIndex: [UInt8]
    public let uebHash: Digest
    public let k: Int
    public let n: Int
    public let size: UInt64

    public var string: String {
        "cairn:chk-v:\(Base32.encode(storageIndex)):\(Base32.encode(uebHash)):\(k):\(n):\(size)"
    }
}

/// Any cap string Cairn understands.
public enum Cap: Sendable, Hashable, CustomStringConvertible {
    /// Tiny data lives in the cap itself; no server is involved.
    case literal([UInt8])
    case read(ReadCap)
    case verify(VerifyCap)
    /// A mutable slot's write cap (holds the signing seed).
    case slotWrite(SlotWriteCap)
    case slotRead(SlotReadCap)
    case slotVerify(SlotVerifyCap)

    /// Files of at most this many bytes get literal caps (the same limit as Tahoe-LAFS's LIT caps):
    /// a CHK cap is about 125 characters, so a literal one is never longer than the cap it replaces.
    public static let literalLimit = 55

    public var string: String {
        switch self {
        case .literal(let data): return "cairn:lit:" + Base32.encode(data)
        case .read(let cap): return cap.string
        case .verify(let cap): return cap.string
        case .slotWrite(let cap): return cap.string
        case .slotRead(let cap): return cap.string
        case .slotVerify(let cap): return cap.string
        }
    }

    public var description: String { string }

    /// An immutable file's size. A slot's size changes with every version, so its caps say 0: read the
    /// slot to learn its current size.
    public var size: UInt64 {
        switch self {
        case .literal(let d): return UInt64(d.count)
        case .read(let c): return c.size
        case .verify(let c): return c.size
        case .slotWrite, .slotRead, .slotVerify: return 0
        }
    }

    /// True for the three slot caps (mutable data, read with `SlotClient`).
    public var isSlot: Bool {
        switch self {
        case .slotWrite, .slotRead, .slotVerify: return true
        case .literal, .read, .verify: return false
        }
    }

    /// Strict parsing: exact prefix, lowercase base32 of the exact length, canonical decimal numbers,
    /// 1 ≤ K ≤ N ≤ 256, nothing extra. Every failure names what is wrong.
    public init(parsing text: String) throws {
        func fail(_ why: String) -> CapError { .malformed("malformed cap: \(why)") }
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count >= 2, fields[0] == "cairn" else {
            if text.lowercased().hasPrefix("cairn:") { throw fail("the prefix must be lowercase 'cairn:'") }
            if text.hasPrefix("URI:") { throw fail("this looks like a Tahoe-LAFS cap; Cairn caps start with 'cairn:'") }
            throw fail("it must start with 'cairn:'")
        }
        func bytes(_ s: Substring, _ count: Int, _ what: String) throws -> [UInt8] {
            guard s.count == Base32.encodedLength(count) else {
                throw fail("the \(what) must be \(Base32.encodedLength(count)) base32 characters, got \(s.count)")
            }
            guard let b = Base32.decode(s) else {
                throw fail("the \(what) is not lowercase unpadded base32")
            }
            return b
        }
        func number(_ s: Substring, _ what: String) throws -> UInt64 {
            guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }),
                  s == "0" || s.first != "0", let v = UInt64(s) else {
                throw fail("the \(what) '\(s)' is not a decimal number")
            }
            return v
        }
        func params(_ k: Substring, _ n: Substring, _ size: Substring) throws -> (Int, Int, UInt64) {
            let kv = try number(k, "K"), nv = try number(n, "N")
            guard kv >= 1, kv <= nv, nv <= 256 else { throw fail("K-of-N \(kv)-of-\(nv) is impossible") }
            let sv = try number(size, "size")
            guard sv > 0 else { throw fail("a chk cap cannot be empty") }
            return (Int(kv), Int(nv), sv)
        }
        let kind = fields[1]
        switch kind {
        case "lit":
            guard fields.count == 3 else { throw fail("a literal cap is 'cairn:lit:<data>'") }
            guard let data = Base32.decode(fields[2]) else { throw fail("the data is not lowercase unpadded base32") }
            guard data.count <= Cap.literalLimit else { throw fail("a literal cap holds at most \(Cap.literalLimit) bytes") }
            self = .literal(data)
        case "chk":
            guard fields.count == 7 else { throw fail("a read cap is 'cairn:chk:<key>:<ueb-hash>:<k>:<n>:<size>'") }
            let key = try bytes(fields[2], ReadCap.keySize, "key")
            let ueb = try bytes(fields[3], TaggedHash.digestSize, "UEB hash")
            let (k, n, size) = try params(fields[4], fields[5], fields[6])
            self = .read(ReadCap(key: key, uebHash: ueb, k: k, n: n, size: size))
        case "chk-v":
            guard fields.count == 7 else { throw fail("a verify cap is 'cairn:chk-v:<storage-index>:<ueb-hash>:<k>:<n>:<size>'") }
            let si = try bytes(fields[2], ImmutableKeys.storageIndexSize, "storage index")
            let ueb = try bytes(fields[3], TaggedHash.digestSize, "UEB hash")
            let (k, n, size) = try params(fields[4], fields[5], fields[6])
            self = .verify(VerifyCap(storageIndex: si, uebHash: ueb, k: k, n: n, size: size))
        case "slot":
            guard fields.count == 3 else { throw fail("a slot write cap is 'cairn:slot:<seed>'") }
            self = .slotWrite(SlotWriteCap(seed: try bytes(fields[2], SlotKeys.seedSize, "seed")))
        case "slot-ro":
            guard fields.count == 4 else { throw fail("a slot read cap is 'cairn:slot-ro:<read-key>:<fingerprint>'") }
            let key = try bytes(fields[2], SlotKeys.readKeySize, "read key")
            let fingerprint = try bytes(fields[3], SlotKeys.fingerprintSize, "fingerprint")
            self = .slotRead(SlotReadCap(readKey: key, fingerprint: fingerprint))
        case "slot-v":
            guard fields.count == 4 else { throw fail("a slot verify cap is 'cairn:slot-v:<storage-index>:<fingerprint>'") }
            let si = try bytes(fields[2], SlotKeys.storageIndexSize, "storage index")
            let fingerprint = try bytes(fields[3], SlotKeys.fingerprintSize, "fingerprint")
            self = .slotVerify(SlotVerifyCap(storageIndex: si, fingerprint: fingerprint))
        default:
            if kind.lowercased() != kind { throw fail("the kind '\(kind)' must be lowercase") }
            throw fail("unknown kind '\(kind)' (expected lit, chk, chk-v, slot, slot-ro or slot-v)")
        }
    }

    /// The immutable verify cap; nil for literal and slot caps.
    public var verifyCap: VerifyCap? {
        switch self {
        case .literal, .slotWrite, .slotRead, .slotVerify: return nil
        case .read(let c): return c.verifyCap
        case .verify(let c): return c
        }
    }

    /// Attenuation of any slot cap to its verify cap; nil for immutable caps.
    public var slotVerifyCap: SlotVerifyCap? {
        switch self {
        case .slotWrite(let c): return c.verifyCap
        case .slotRead(let c): return c.verifyCap
        case .slotVerify(let c): return c
        case .literal, .read, .verify: return nil
        }
    }

    /// Attenuation of a slot write or read cap to its read cap; nil otherwise.
    public var slotReadCap: SlotReadCap? {
        switch self {
        case .slotWrite(let c): return c.readCap
        case .slotRead(let c): return c
        case .slotVerify, .literal, .read, .verify: return nil
        }
    }
}

/// Key and storage-index derivation for immutable files.
public enum ImmutableKeys {
    public static let storageIndexSize = 16
    /// Plaintext is hashed in chunks of this size, in parallel, before the key is derived.
    public static let chunkSize = 1 << 20

    public static func storageIndex(forKey key: [UInt8]) -> [UInt8] {
        TaggedHash.hash(Tags.storageIndex, key, outputSize: storageIndexSize)
    }

    public static func chunkHash(_ chunk: UnsafeRawBufferPointer) -> Digest {
        TaggedHash.hash(Tags.chunk, chunk)
    }

    /// The convergent key: keyed by the convergence secret, over the format version, every encoding
    /// parameter, the size and the plaintext's chunk hashes. Same bytes + same parameters + same
    /// secret → same key; anything else → another key (and so another keystream).
    public static func convergentKey(secret: [UInt8], k: Int, n: Int, segmentSize: Int, size: UInt64,
                                     chunkHashes: [Digest]) -> [UInt8] {
        var w = ByteWriter(capacity: 40 + chunkHashes.count * 32)
        w.u16(ShareLayout.formatVersion)
        w.u16(UInt16(k))
        w.u16(UInt16(n))
        w.u64(UInt64(segmentSize))
        w.u64(size)
        for h in chunkHashes { w.raw(h) }
        return TaggedHash.hash(Tags.convergentKey, w.bytes, key: secret)
    }
}
