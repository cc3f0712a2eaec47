/// A 32-byte BLAKE2b digest.
public typealias Digest = [UInt8]

/// BLAKE2b-256 with a purpose tag in BLAKE2b's 16-byte personalization field.
///
/// Domain separation costs nothing this way: no tag bytes are hashed, and two purposes can never
/// collide. Every tag used by Cairn is listed in `Documentation/Formats.md`; never reuse one.
public struct HashTag: Sendable, Hashable {
    /// Exactly 16 bytes: the ASCII tag, zero-padded.
    public let personal: [UInt8]

    public init(_ name: String) {
        let bytes = Array(name.utf8)
        precondition(bytes.count <= 16, "hash tag '\(name)' is longer than 16 bytes")
        personal = bytes + [UInt8](repeating: 0, count: 16 - bytes.count)
    }
}

public enum TaggedHash {
    public static let digestSize = 32

    /// BLAKE2b of `data` under `tag`, `outputSize` bytes (16...64), optionally keyed (key ≤ 64 bytes).
    public static func hash(_ tag: HashTag, _ data: UnsafeRawBufferPointer, key: [UInt8]? = nil,
                            outputSize: Int = digestSize) -> Digest {
        var out = [UInt8](repeating: 0, count: outputSize)
        out.withUnsafeMutableBytes { o in
            tag.personal.withUnsafeBytes { p in
                if let key {
                    key.withUnsafeBytes { k in Sodium.blake2b(into: o, data, key: k, personal: p.baseAddress!) }
                } else {
                    Sodium.blake2b(into: o, data, key: nil, personal: p.baseAddress!)
                }
            }
        }
        return out
    }

    public static func hash(_ tag: HashTag, _ data: [UInt8], key: [UInt8]? = nil, outputSize: Int = digestSize) -> Digest {
        data.withUnsafeBytes { hash(tag, $0, key: key, outputSize: outputSize) }
    }

    public static func hash(_ tag: HashTag, _ data: ArraySlice<UInt8>, key: [UInt8]? = nil, outputSize: Int = digestSize) -> Digest {
        data.withUnsafeBytes { hash(tag, $0, key: key, outputSize: outputSize) }
    }
}

public enum ConstantTime {
    /// Compares secrets and digests without leaking where they differ.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool { Sodium.constantTimeEqual(a, b) }
}
