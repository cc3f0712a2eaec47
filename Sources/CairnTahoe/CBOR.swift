/// A CBOR value (RFC 8949), as much as Tahoe-LAFS storage nodes speak: their request and answer bodies are
/// CBOR maps with text or byte-string keys, unsigned integers, byte strings, arrays, null, booleans, and
/// sets as tag 258 over an array. Floats and other simple values decode (so an unexpected answer is
/// reported by what it holds, not as a parse failure) but are never sent.
public indirect enum CBOR: Sendable, Equatable {
    case unsigned(UInt64)
    /// The value -1 - n (CBOR major type 1).
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBOR])
    /// Pairs in their wire order (keys may repeat on the wire; lookups take the first).
    case map([(CBOR, CBOR)])
    case tagged(UInt64, CBOR)
    case bool(Bool)
    case null
    case undefined
    case float(Double)

    public static func == (a: CBOR, b: CBOR) -> Bool {
        switch (a, b) {
        case (.unsigned(let x), .unsigned(let y)), (.negative(let x), .negative(let y)): return x == y
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.text(let x), .text(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.map(let x), .map(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.tagged(let t, let x), .tagged(let u, let y)): return t == u && x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null), (.undefined, .undefined): return true
        case (.float(let x), .float(let y)): return x == y || (x.isNaN && y.isNaN)
        default: return false
        }
    }

    /// The tag for a set (an array of distinct items), as Tahoe's schemas require for share numbers.
    public static let setTag: UInt64 = 258

    public static func set(_ items: [CBOR]) -> CBOR { .tagged(setTag, .array(items)) }
    public static func int(_ value: Int) -> CBOR { value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(-(value + 1))) }

    // MARK: Reading values out of an answer

    /// The value under a text or byte-string key equal to `key`'s UTF-8 (Tahoe answers use both).
    public subscript(key: String) -> CBOR? {
        guard case .map(let pairs) = self else { return nil }
        let utf8 = Array(key.utf8)
        for (k, v) in pairs {
            switch k {
            case .text(let t) where t == key: return v
            case .bytes(let b) where b == utf8: return v
            default: continue
            }
        }
        return nil
    }

    public var unsignedValue: UInt64? { if case .unsigned(let v) = self { return v } else { return nil } }
    public var bytesValue: [UInt8]? { if case .bytes(let v) = self { return v } else { return nil } }
    public var textValue: String? { if case .text(let v) = self { return v } else { return nil } }
    public var boolValue: Bool? { if case .bool(let v) = self { return v } else { return nil } }
    public var isNull: Bool { self == .null }

    /// The items of an array, or of a set (tag 258 over an array).
    public var arrayValue: [CBOR]? {
        switch self {
        case .array(let items): return items
        case .tagged(Self.setTag, .array(let items)): return items
        default: return nil
        }
    }

    public var mapPairs: [(CBOR, CBOR)]? { if case .map(let p) = self { return p } else { return nil } }
}

public enum CBORError: Error, Equatable, CustomStringConvertible {
    case truncated
    case trailingBytes(Int)
    case malformed(String)
    case tooDeep

    public var description: String {
        switch self {
        case .truncated: return "CBOR value cut short"
        case .trailingBytes(let n): return "\(n) bytes after the CBOR value"
        case .malformed(let why): return "malformed CBOR: \(why)"
        case .tooDeep: return "CBOR nested too deeply"
        }
    }
}

// MARK: - Encoding

extension CBOR {
    /// Definite lengths, shortest heads (RFC 8949 §4.2.1's preferred serialization, as cbor2 writes).
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    func encode(into out: inout [UInt8]) {
        switch self {
        case .unsigned(let v): Self.head(0, v, &out)
        case .negative(let v): Self.head(1, v, &out)
        case .bytes(let b):
            Self.head(2, UInt64(b.count), &out)
            out += b
        case .text(let s):
            let utf8 = Array(s.utf8)
            Self.head(3, UInt64(utf8.count), &out)
            out += utf8
        case .array(let items):
            Self.head(4, UInt64(items.count), &out)
            for item in items { item.encode(into: &out) }
        case .map(let pairs):
            Self.head(5, UInt64(pairs.count), &out)
            for (k, v) in pairs {
                k.encode(into: &out)
                v.encode(into: &out)
            }
        case .tagged(let tag, let value):
            Self.head(6, tag, &out)
            value.encode(into: &out)
        case .bool(let b): out.append(b ? 0xF5 : 0xF4)
        case .null: out.append(0xF6)
        case .undefined: out.append(0xF7)
        case .float(let d):
            out.append(0xFB)
            withUnsafeBytes(of: d.bitPattern.bigEndian) { out += $0 }
        }
    }

    private static func head(_ major: UInt8, _ value: UInt64, _ out: inout [UInt8]) {
        let m = major << 5
        switch value {
        case 0..<24: out.append(m | UInt8(value))
        case 24...0xFF: out += [m | 24, UInt8(value)]
        case 0x100...0xFFFF: out += [m | 25, UInt8(value >> 8), UInt8(value & 0xFF)]
        case 0x1_0000...0xFFFF_FFFF:
            out.append(m | 26)
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((value >> UInt64(shift)) & 0xFF)) }
        default:
            out.append(m | 27)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((value >> UInt64(shift)) & 0xFF)) }
        }
    }
}

// MARK: - Decoding

extension CBOR {
    /// Nesting deeper than this is refused (an answer of ours is three or four levels deep).
    public static let maximumDepth = 64

    /// Decodes exactly one value filling `bytes`. Never traps: lengths are checked against the bytes left
    /// before anything is allocated.
    public init(decoding bytes: [UInt8]) throws(CBORError) {
        var reader = Reader(bytes: bytes)
        self = try reader.value(depth: 0)
        if reader.position != bytes.count { throw .trailingBytes(bytes.count - reader.position) }
    }

    struct Reader {
        let bytes: [UInt8]
        var position = 0

        mutating func byte() throws(CBORError) -> UInt8 {
            guard position < bytes.count else { throw .truncated }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func take(_ count: UInt64) throws(CBORError) -> ArraySlice<UInt8> {
            guard count <= UInt64(bytes.count - position) else { throw .truncated }
            let end = position + Int(count)
            defer { position = end }
            return bytes[position..<end]
        }

        mutating func argument(_ info: UInt8) throws(CBORError) -> UInt64 {
            switch info {
            case 0..<24: return UInt64(info)
            case 24...27:
                let width = 1 << (info - 24)
                var v: UInt64 = 0
                for b in try take(UInt64(width)) { v = v << 8 | UInt64(b) }
                return v
            case 31: throw .malformed("indefinite lengths are not used by Tahoe storage nodes")
            default: throw .malformed("reserved additional information \(info)")
            }
        }

        /// A count of items that each take at least one byte: more than the bytes left is cut short.
        mutating func count(_ info: UInt8) throws(CBORError) -> Int {
            let n = try argument(info)
            guard n <= UInt64(bytes.count - position) else { throw .truncated }
            return Int(n)
        }

        mutating func value(depth: Int) throws(CBORError) -> CBOR {
            guard depth < CBOR.maximumDepth else { throw .tooDeep }
            let initial = try byte()
            let major = initial >> 5, info = initial & 0x1F
            switch major {
            case 0: return .unsigned(try argument(info))
            case 1: return .negative(try argument(info))
            case 2: return .bytes(Array(try take(try argument(info))))
            case 3:
                let raw = try take(try argument(info))
                guard let s = String(validating: raw, as: UTF8.self) else { throw .malformed("text string is not UTF-8") }
                return .text(s)
            case 4:
                let n = try count(info)
                var items: [CBOR] = []
                items.reserveCapacity(n)
                for _ in 0..<n { items.append(try value(depth: depth + 1)) }
                return .array(items)
            case 5:
                let n = try count(info)
                var pairs: [(CBOR, CBOR)] = []
                pairs.reserveCapacity(n)
                for _ in 0..<n {
                    let k = try value(depth: depth + 1)
                    pairs.append((k, try value(depth: depth + 1)))
                }
                return .map(pairs)
            case 6:
                let tag = try argument(info)
                return .tagged(tag, try value(depth: depth + 1))
            default:
                switch info {
                case 20: return .bool(false)
                case 21: return .bool(true)
                case 22: return .null
                case 23: return .undefined
                case 25:
                    let raw = try take(2)
                    return .float(Double(Float16Bits.decode(UInt16(raw.first!) << 8 | UInt16(raw.last!))))
                case 26:
                    var v: UInt32 = 0
                    for b in try take(4) { v = v << 8 | UInt32(b) }
                    return .float(Double(Float(bitPattern: v)))
                case 27:
                    var v: UInt64 = 0
                    for b in try take(8) { v = v << 8 | UInt64(b) }
                    return .float(Double(bitPattern: v))
                default: throw .malformed("simple value \(info) is not used by Tahoe storage nodes")
                }
            }
        }
    }
}

/// IEEE half precision, decoded by hand (Float16 is not available on every platform Swift targets).
enum Float16Bits {
    static func decode(_ h: UInt16) -> Double {
        let sign: Double = h & 0x8000 != 0 ? -1 : 1
        let exponent = Int((h >> 10) & 0x1F), fraction = Double(h & 0x3FF)
        switch exponent {
        case 0: return sign * fraction * 0x1p-24
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1 + fraction / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }
}
