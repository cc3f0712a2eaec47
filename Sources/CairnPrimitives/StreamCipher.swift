/// XChaCha20 keystream XOR that can start at any byte offset of the stream.
///
/// Safe with a fixed nonce only because Cairn derives a fresh key for every distinct plaintext and
/// parameter set: each (key, nonce, counter) encrypts exactly one byte string (DESIGN §3).
public struct StreamCipher: Sendable {
    public static let keySize = 32
    public static let nonceSize = 24
    static let blockSize = 64

    public let key: [UInt8]
    public let nonce: [UInt8]

    public init(key: [UInt8], nonce: [UInt8] = [UInt8](repeating: 0, count: 24)) {
        precondition(key.count == Self.keySize && nonce.count == Self.nonceSize)
        self.key = key
        self.nonce = nonce
    }

    /// XORs the keystream bytes `[offset, offset + buffer.count)` into `buffer` in place.
    public func apply(_ buffer: UnsafeMutableRawBufferPointer, atOffset offset: UInt64) {
        guard buffer.count > 0 else { return }
        key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                var position = 0
                var counter = offset / UInt64(Self.blockSize)
                let skip = Int(offset % UInt64(Self.blockSize))
                if skip != 0 {
                    // Misaligned start: run one block through a scratch buffer and use its tail.
                    var scratch = [UInt8](repeating: 0, count: Self.blockSize)
                    let take = min(Self.blockSize - skip, buffer.count)
                    for i in 0..<take { scratch[skip + i] = buffer[i] }
                    scratch.withUnsafeMutableBytes {
                        Sodium.xchacha20Xor($0, nonce: n.baseAddress!, blockCounter: counter, key: k.baseAddress!)
                    }
                    for i in 0..<take { buffer[i] = scratch[skip + i] }
                    position = take
                    counter += 1
                }
                if position < buffer.count {
                    let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[position...])
                    Sodium.xchacha20Xor(rest, nonce: n.baseAddress!, blockCounter: counter, key: k.baseAddress!)
                }
            }
        }
    }

    public func apply(_ bytes: inout [UInt8], atOffset offset: UInt64) {
        bytes.withUnsafeMutableBytes { apply($0, atOffset: offset) }
    }
}
