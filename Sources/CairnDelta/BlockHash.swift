/// A polynomial rolling hash over `BlockHash.width` bytes (Rabin–Karp, modulo 2^32): moving one byte
/// costs a multiply and two adds, so every target position can be looked up.
enum BlockHash {
    /// Matches shorter than this are not found by hashing; a COPY shorter than it rarely pays anyway.
    static let width = 16
    static let multiplier: UInt32 = 0x0100_0193
    /// multiplier^(width-1), to remove the outgoing byte.
    static let outgoing: UInt32 = {
        var p: UInt32 = 1
        for _ in 1..<width { p = p &* multiplier }
        return p
    }()

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>) -> UInt32 {
        var h: UInt32 = 0
        for i in 0..<width { h = h &* multiplier &+ UInt32(p[i]) }
        return h
    }

    /// The hash of the block one byte further on.
    @inline(__always)
    static func roll(_ h: UInt32, out: UInt8, in next: UInt8) -> UInt32 {
        (h &- UInt32(out) &* outgoing) &* multiplier &+ UInt32(next)
    }

    /// A table slot from a hash: Fibonacci hashing spreads the polynomial's low-entropy bits.
    @inline(__always)
    static func slot(_ h: UInt32, bits: Int) -> Int {
        Int((h &* 0x9E37_79B1) >> UInt32(32 - bits))
    }
}

/// Where blocks of the source start, by hash: one position per slot (the last one indexed wins), stored
/// plus one so that 0 means empty. Large sources are indexed every `step` bytes so the table stays
/// bounded (at most 2^22 slots, 16 MiB); a match is then found once it spans `width + step - 1` bytes.
struct SourceIndex {
    static let maxEntries = 1 << 22

    let bits: Int
    let step: Int
    private(set) var slots: [UInt32]

    init(source: UnsafeBufferPointer<UInt8>) {
        let blocks = max(source.count - BlockHash.width + 1, 0)
        step = max(1, (blocks + Self.maxEntries - 1) / Self.maxEntries)
        var tableBits = 10
        while (1 << tableBits) < blocks / step && tableBits < 22 { tableBits += 1 }
        bits = tableBits
        slots = [UInt32](repeating: 0, count: 1 << bits)
        guard blocks > 0, let base = source.baseAddress else { return }
        let bits = self.bits, step = self.step
        slots.withUnsafeMutableBufferPointer { table in
            var h = BlockHash.hash(base)
            var p = 0
            while true {
                if p % step == 0 { table[BlockHash.slot(h, bits: bits)] = UInt32(p + 1) }
                if p + 1 >= blocks { break }
                h = BlockHash.roll(h, out: base[p], in: base[p + BlockHash.width])
                p += 1
            }
        }
    }
}
