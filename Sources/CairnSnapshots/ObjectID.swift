import CairnPrimitives

/// A 32-byte object id: the tagged BLAKE2b of an object's canonical bytes.
public struct ObjectID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let size = 32
    public let bytes: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        self.bytes = bytes
    }

    public init?(hex: String) {
        guard hex.count == 64, let b = hexDecode(hex) else { return nil }
        bytes = b
    }

    public var hex: String { hexEncode(bytes) }
    public var description: String { hex }
    public var short: String { String(hex.prefix(12)) }

    public static func < (a: ObjectID, b: ObjectID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// Ids are uniform hashes: eight bytes are plenty, and much faster than hashing 32 one at a time.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine($0.loadUnaligned(as: UInt64.self)) }
    }
    public static func == (a: ObjectID, b: ObjectID) -> Bool { a.bytes == b.bytes }
}

/// A byte string as a dictionary key (paths, content hashes), hashed in one call rather than byte by byte.
public struct ByteKey: Hashable, Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    public static func == (a: ByteKey, b: ByteKey) -> Bool { a.bytes == b.bytes }
}

/// The content hash of a file's bytes (what tree entries carry and dedup keys on).
public enum ContentHash {
    public static let tag = HashTag("cairn:content")
    public static func of(_ data: [UInt8]) -> [UInt8] { TaggedHash.hash(tag, data) }
}

let hexDigits = Array("0123456789abcdef".utf8)

func hexEncode(_ bytes: [UInt8]) -> String {
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes { out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
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
