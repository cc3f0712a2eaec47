/// Arithmetic in GF(2^8) with the polynomial x^8+x^4+x^3+x^2+1 (0x11D) and generator α = 2, the field zfec
/// uses. Only matrices are built here (small, once per code or row set); bulk multiply-add runs in ISA-L.
/// The slow `mulAdd` also serves as the test oracle for the ISA-L path.
public enum GF256 {
    /// exp[i] = α^i for 0 ≤ i < 510, doubled so that exp[log a + log b] needs no reduction mod 255.
    static let exp: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 510)
        var x = 1
        for i in 0..<255 {
            table[i] = UInt8(x)
            table[i + 255] = UInt8(x)
            x <<= 1
            if x & 0x100 != 0 { x ^= 0x11D }
        }
        return table
    }()

    /// log[a] for a ≠ 0; log[0] is unused.
    static let log: [Int] = {
        var table = [Int](repeating: 0, count: 256)
        for i in 0..<255 { table[Int(exp[i])] = i }
        return table
    }()

    /// Full 64 KiB product table, so the oracle's inner loop is one lookup per byte.
    static let mulTable: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256 * 256)
        for a in 1..<256 {
            for b in 1..<256 { table[a << 8 | b] = exp[log[a] + log[b]] }
        }
        return table
    }()

    @inlinable public static func add(_ a: UInt8, _ b: UInt8) -> UInt8 { a ^ b }

    public static func mul(_ a: UInt8, _ b: UInt8) -> UInt8 { mulTable[Int(a) << 8 | Int(b)] }

    /// Multiplicative inverse; `a` must not be zero.
    public static func inverse(_ a: UInt8) -> UInt8 {
        precondition(a != 0, "0 has no inverse in GF(2^8)")
        return exp[255 - log[Int(a)]]
    }

    /// α^e for any e ≥ 0.
    public static func power(of e: Int) -> UInt8 { exp[e % 255] }

    /// `dst ^= c · src`, byte by byte (slow reference; ISA-L does the real work).
    public static func mulAdd(_ c: UInt8, _ src: [UInt8], into dst: inout [UInt8]) {
        precondition(src.count == dst.count, "mulAdd needs equal lengths")
        if c == 0 { return }
        let row = Int(c) << 8
        mulTable.withUnsafeBufferPointer { table in
            for i in 0..<src.count { dst[i] ^= table[row | Int(src[i])] }
        }
    }
}
