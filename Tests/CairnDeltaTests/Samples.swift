/// Deterministic test data: a seeded generator (SplitMix64) so failures reproduce.
struct Samples {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: Range<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var v = next()
            for _ in 0..<8 where i < count { out[i] = UInt8(truncatingIfNeeded: v); v >>= 8; i += 1 }
        }
        return out
    }

    /// Text-like lines: numbered, with words from a small vocabulary.
    mutating func text(lines: Int) -> [UInt8] {
        let words = ["cairn", "delta", "window", "source", "target", "copy", "add", "run", "stone", "path",
                     "grid", "share", "hash", "snapshot", "tree", "version"]
        var out: [UInt8] = []
        out.reserveCapacity(lines * 40)
        for n in 0..<lines {
            out += Array("\(n): ".utf8)
            for _ in 0..<int(3..<9) { out += Array(words[int(0..<words.count)].utf8); out.append(0x20) }
            out.append(0x0A)
        }
        return out
    }

    /// A copy of `base` with `count` small random edits (replace, insert, delete).
    mutating func edit(_ base: [UInt8], count: Int) -> [UInt8] {
        var out = base
        for _ in 0..<count {
            let at = int(0..<max(out.count, 1))
            switch int(0..<3) {
            case 0: if !out.isEmpty { out[at] ^= 0x5A }
            case 1: out.insert(contentsOf: bytes(int(1..<40)), at: min(at, out.count))
            default: out.removeSubrange(at..<min(at + int(1..<40), out.count))
            }
        }
        return out
    }
}
