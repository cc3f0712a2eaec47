/// An Ed25519 key pair derived from a 32-byte seed (the seed is what a write cap holds).
public struct SigningKey: Sendable {
    public static let seedSize = 32
    public let seed: [UInt8]
    public let publicKey: [UInt8]
    private let secretKey: [UInt8]

    public init(seed: [UInt8]) {
        precondition(seed.count == Self.seedSize, "an Ed25519 seed is 32 bytes")
        self.seed = seed
        (publicKey, secretKey) = Sodium.signSeedKeypair(seed: seed)
    }

    public static func generate() -> SigningKey { SigningKey(seed: SecureRandom.bytes(seedSize)) }

    public func sign(_ message: [UInt8]) -> [UInt8] { Sodium.signDetached(message, secretKey: secretKey) }
}

public enum SignatureVerifier {
    /// True when `signature` is a valid Ed25519 signature of `message` by `publicKey`.
    public static func isValid(_ signature: [UInt8], of message: [UInt8], by publicKey: [UInt8]) -> Bool {
        Sodium.verifyDetached(signature, message, publicKey: publicKey)
    }
}
