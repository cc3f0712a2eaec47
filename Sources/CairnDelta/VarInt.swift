/// RFC 3284 §2 integers: base 128, most significant digit first, high bit set on all but the last byte.
enum VarInt {
    /// The number of bytes `value` takes.
    static func size(_ value: Int) -> Int {
        var n = 1
        var v = value >> 7
        while v > 0 { n += 1; v >>= 7 }
        return n
    }

    /// Appends `value` (non-negative) to `out`.
    static func append(_ value: Int, to out: inout [UInt8]) {
        precondition(value >= 0)
        var shift = (size(value) - 1) * 7
        while shift > 0 {
            out.append(UInt8(truncatingIfNeeded: value >> shift) | 0x80)
            shift -= 7
        }
        out.append(UInt8(value & 0x7F))
    }
}

/// A bounds-checked cursor over part of the delta. Every read names what it reads, for the error message.
struct DeltaReader {
    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var position: Int
    let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) {
        self.bytes = bytes
        self.position = start
        self.end = end
    }

    var remaining: Int { end - position }
    var isAtEnd: Bool { position == end }

    mutating func byte(_ what: String) throws(DeltaError) -> UInt8 {
        guard position < end else { throw .truncated(what) }
        defer { position += 1 }
        return bytes[position]
    }

    /// Reads an integer; values above 2^62 are refused so sums of two never overflow `Int`.
    mutating func integer(_ what: String) throws(DeltaError) -> Int {
        var value = 0
        while true {
            guard position < end else { throw .truncated(what) }
            let b = bytes[position]
            position += 1
            guard value < (1 << 55) else { throw .integerOverflow(what) }
            value = (value << 7) | Int(b & 0x7F)
            if b & 0x80 == 0 { return value }
        }
    }

    mutating func skip(_ count: Int, _ what: String) throws(DeltaError) {
        guard count <= remaining else { throw .truncated(what) }
        position += count
    }
}
