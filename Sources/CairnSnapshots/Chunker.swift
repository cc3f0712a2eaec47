import CairnPrimitives

/// Content-defined chunking for big files (FastCDC: a gear rolling hash with normalized chunking), so an
/// append or an insertion changes only the chunks around it. The gear table is derived from the
/// repository's secret, as restic and borg key their chunkers: with a public table, chunk sizes seen
/// through shares and ranged reads would fingerprint known files (Documentation/Snapshots.md, "Big files").
public struct Chunker: Sendable {
    /// No boundary is looked for in a chunk's first `minSize` bytes (they are skipped unhashed).
    public static let minSize = 256 << 10
    /// Boundaries are rarer before this size and likelier after it (normalized chunking, level 2).
    public static let averageSize = 1 << 20
    /// A chunk ends here if no boundary came first.
    public static let maxSize = 4 << 20

    /// 22 bits before the average (rarer cuts), 18 after (likelier cuts); the top bits of the gear hash,
    /// which depend on the last 64 bytes rather than the last few.
    static let maskSmall: UInt64 = ((1 << 22) - 1) << 42
    static let maskLarge: UInt64 = ((1 << 18) - 1) << 46

    static let gearTag = HashTag("cairn:gear")

    let gear: [UInt64]

    /// The table for a repository: 256 words from BLAKE2b keyed by its secret.
    public init(secret: [UInt8]) {
        var table: [UInt64] = []
        table.reserveCapacity(256)
        for i in 0..<64 {
            // 32 bytes a hash: four words each.
            let d = TaggedHash.hash(Self.gearTag, [UInt8(i)], key: secret)
            for w in 0..<4 {
                var v: UInt64 = 0
                for b in 0..<8 { v = v << 8 | UInt64(d[w * 8 + b]) }
                table.append(v)
            }
        }
        gear = table
    }

    /// The length of the chunk that starts `bytes`: a boundary found by the gear hash, or `maxSize`, or
    /// all of `bytes` when they are the end of the file and shorter than that. Callers pass at least
    /// `maxSize` bytes unless they pass the file's last bytes.
    public func cut(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, Self.maxSize)
        if n <= Self.minSize { return n }
        let normal = min(Self.averageSize, n)
        var h: UInt64 = 0
        var i = Self.minSize
        return gear.withUnsafeBufferPointer { g in
            while i < normal {
                h = (h << 1) &+ g[Int(bytes[i])]
                if h & Self.maskSmall == 0 { return i + 1 }
                i += 1
            }
            while i < n {
                h = (h << 1) &+ g[Int(bytes[i])]
                if h & Self.maskLarge == 0 { return i + 1 }
                i += 1
            }
            return n
        }
    }

    /// Chunk lengths of a whole buffer (tests and small inputs).
    public func lengths(of data: [UInt8]) -> [Int] {
        var out: [Int] = []
        data.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                let len = cut(UnsafeRawBufferPointer(rebasing: raw[start...]))
                out.append(len)
                start += len
            }
        }
        return out
    }
}
