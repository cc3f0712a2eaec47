/// Big-endian fixed-width integers for Cairn's binary formats.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { append(v) }
    public mutating func u32(_ v: UInt32) { append(v) }
    public mutating func u64(_ v: UInt64) { append(v) }
    public mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    public mutating func raw(_ b: ArraySlice<UInt8>) { bytes.append(contentsOf: b) }

    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

public struct ByteReaderError: Error, CustomStringConvertible {
    public let description: String
}

/// Reads what `ByteWriter` wrote; every read is bounds-checked.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var position: Int

    public init(_ bytes: [UInt8], at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var remaining: Int { bytes.count - position }

    public mutating func u8() throws -> UInt8 { try integer() }
    public mutating func u16() throws -> UInt16 { try integer() }
    public mutating func u32() throws -> UInt32 { try integer() }
    public mutating func u64() throws -> UInt64 { try integer() }

    public mutating func raw(_ count: Int) throws -> [UInt8] {
        guard count >= 0, remaining >= count else { throw ByteReaderError(description: "truncated data") }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    private mutating func integer<T: FixedWidthInteger>() throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw ByteReaderError(description: "truncated data") }
        var v: T = 0
        for i in 0..<size { v = (v << 8) | T(bytes[position + i]) }
        position += size
        return v
    }
}
