import CSodium

/// The one place that calls libsodium. Every other file in Cairn goes through these wrappers,
/// so C types and return codes never leak into the rest of the code.
enum Sodium {
    /// `sodium_init` is idempotent (0 = done now, 1 = already done, -1 = failure).
    static let ready: Bool = sodium_init() >= 0

    static func require() {
        precondition(ready, "libsodium failed to initialise")
    }

    static func blake2b(into out: UnsafeMutableRawBufferPointer, _ data: UnsafeRawBufferPointer,
                        key: UnsafeRawBufferPointer?, personal: UnsafeRawPointer) {
        require()
        // libsodium wants non-null pointers even for empty input.
        var empty: UInt8 = 0
        let rc = withUnsafeMutablePointer(to: &empty) { emptyPtr -> Int32 in
            let inPtr = data.count == 0 ? UnsafeRawPointer(emptyPtr) : data.baseAddress!
            return crypto_generichash_blake2b_salt_personal(
                out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count,
                inPtr.assumingMemoryBound(to: UInt8.self), UInt64(data.count),
                key?.baseAddress?.assumingMemoryBound(to: UInt8.self), key?.count ?? 0,
                nil, personal.assumingMemoryBound(to: UInt8.self))
        }
        precondition(rc == 0, "crypto_generichash_blake2b_salt_personal failed")
    }

    static func xchacha20Xor(_ buffer: UnsafeMutableRawBufferPointer, nonce: UnsafeRawPointer,
                             blockCounter: UInt64, key: UnsafeRawPointer) {
        require()
        guard buffer.count > 0 else { return }
        let p = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let rc = crypto_stream_xchacha20_xor_ic(p, p, UInt64(buffer.count),
                                                nonce.assumingMemoryBound(to: UInt8.self), blockCounter,
                                                key.assumingMemoryBound(to: UInt8.self))
        precondition(rc == 0, "crypto_stream_xchacha20_xor_ic failed")
    }

    static func randomBytes(_ buffer: UnsafeMutableRawBufferPointer) {
        require()
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        randombytes_buf(base, buffer.count)
    }

    static func signSeedKeypair(seed: [UInt8]) -> (publicKey: [UInt8], secretKey: [UInt8]) {
        require()
        var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        let rc = crypto_sign_seed_keypair(&pk, &sk, seed)
        precondition(rc == 0, "crypto_sign_seed_keypair failed")
        return (pk, sk)
    }

    static func signDetached(_ message: [UInt8], secretKey: [UInt8]) -> [UInt8] {
        require()
        var sig = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        var one: UInt8 = 0
        let rc = message.isEmpty
            ? crypto_sign_detached(&sig, nil, &one, 0, secretKey)
            : crypto_sign_detached(&sig, nil, message, UInt64(message.count), secretKey)
        precondition(rc == 0, "crypto_sign_detached failed")
        return sig
    }

    static func verifyDetached(_ signature: [UInt8], _ message: [UInt8], publicKey: [UInt8]) -> Bool {
        require()
        guard signature.count == Int(crypto_sign_BYTES), publicKey.count == Int(crypto_sign_PUBLICKEYBYTES) else {
            return false
        }
        var one: UInt8 = 0
        return message.isEmpty
            ? crypto_sign_verify_detached(signature, &one, 0, publicKey) == 0
            : crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        require()
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return sodium_memcmp(a, b, a.count) == 0
    }
}
