/// Cryptographically secure random bytes (libsodium's `randombytes_buf`).
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { Sodium.randomBytes($0) }
        return out
    }
}
