import CairnPrimitives

/// Key derivation for mutable slots (Formats.md, "Mutable slots"). Each step is one-way, so a cap
/// gives away only the weaker caps below it: seed → read key → storage index.
public enum SlotKeys {
    public static let seedSize = SigningKey.seedSize
    public static let readKeySize = 32
    public static let fingerprintSize = 32
    public static let storageIndexSize = 16

    public static func readKey(seed: [UInt8]) -> [UInt8] { TaggedHash.hash(Tags.slotReadKey, seed) }

    public static func storageIndex(readKey: [UInt8]) -> [UInt8] {
        TaggedHash.hash(Tags.slotStorageIndex, readKey, outputSize: storageIndexSize)
    }

    public static func fingerprint(publicKey: [UInt8]) -> [UInt8] { TaggedHash.hash(Tags.slotFingerprint, publicKey) }

    /// The secret behind every per-server write enabler; only write-cap holders can compute it.
    public static func writeSecret(seed: [UInt8]) -> [UInt8] { TaggedHash.hash(Tags.slotWriteSecret, seed) }

    /// What one server stores with the slot and demands on every later write: different per server, so
    /// a server cannot replay it to another.
    public static func writeEnabler(writeSecret: [UInt8], serverID: [UInt8]) -> [UInt8] {
        TaggedHash.hash(Tags.slotWriteEnabler, writeSecret + serverID)
    }
}

/// A slot's write cap: the Ed25519 seed. Whoever holds it can publish new versions.
public struct SlotWriteCap: Sendable, Hashable {
    public let seed: [UInt8]

    public init(seed: [UInt8]) {
        precondition(seed.count == SlotKeys.seedSize, "a slot seed is 32 bytes")
        self.seed = seed
    }

    /// A new slot with a fresh random key pair.
    public static func generate() -> SlotWriteCap { SlotWriteCap(seed: SecureRandom.bytes(SlotKeys.seedSize)) }

    public var signingKey: SigningKey { SigningKey(seed: seed) }
    public var writeSecret: [UInt8] { SlotKeys.writeSecret(seed: seed) }
    /// Attenuation: a read cap decrypts and verifies but cannot sign.
    public var readCap: SlotReadCap {
        SlotReadCap(readKey: SlotKeys.readKey(seed: seed), fingerprint: SlotKeys.fingerprint(publicKey: signingKey.publicKey))
    }
    public var verifyCap: SlotVerifyCap { readCap.verifyCap }
    public var storageIndex: [UInt8] { readCap.storageIndex }

    public var string: String { "cairn:slot:" + Base32.encode(seed) }
}

/// A slot's read cap: the key that decrypts every version and the fingerprint of the signing key.
public struct SlotReadCap: Sendable, Hashable {
    public let readKey: [UInt8]
    public let fingerprint: [UInt8]

    public init(readKey: [UInt8], fingerprint: [UInt8]) {
        precondition(readKey.count == SlotKeys.readKeySize && fingerprint.count == SlotKeys.fingerprintSize)
        self.readKey = readKey
        self.fingerprint = fingerprint
    }

    public var storageIndex: [UInt8] { SlotKeys.storageIndex(readKey: readKey) }
    /// Attenuation: a verify cap checks signatures and hashes but cannot decrypt.
    public var verifyCap: SlotVerifyCap { SlotVerifyCap(storageIndex: storageIndex, fingerprint: fingerprint) }

    public var string: String { "cairn:slot-ro:\(Base32.encode(readKey)):\(Base32.encode(fingerprint))" }
}

/// Finds a slot's shares and checks their signatures without being able to decrypt them.
public struct SlotVerifyCap: Sendable, Hashable {
    public let storageIndex: [UInt8]
    public let fingerprint: [UInt8]

    public init(storageIndex: [UInt8], fingerprint: [UInt8]) {
        precondition(storageIndex.count == SlotKeys.storageIndexSize && fingerprint.count == SlotKeys.fingerprintSize)
        self.storageIndex = storageIndex
        self.fingerprint = fingerprint
    }

    public var string: String { "cairn:slot-v:\(Base32.encode(storageIndex)):\(Base32.encode(fingerprint))" }
}
