/// Finds COPY matches for target windows: against the source (through a `SourceIndex` built once) and
/// against the earlier part of the same window (a per-encode table of target positions, which also turns
/// long runs and repeated blocks into cheap self-copies). Greedy: the longest of the two candidates at a
/// position, extended forward and backward, is taken when it spans at least one hash block. Long
/// unmatched stretches are probed with a growing stride, so unrelated data costs little.
struct Matcher {
    /// Runs of a byte at least this long inside literal stretches become RUN instructions.
    static let minRun = 8

    private let source: UnsafeBufferPointer<UInt8>
    private let target: UnsafeBufferPointer<UInt8>
    private let index: SourceIndex
    private let selfBits: Int
    /// Absolute target positions plus one; entries before the current window are ignored.
    private var selfSlots: [UInt32]

    init(source: UnsafeBufferPointer<UInt8>, target: UnsafeBufferPointer<UInt8>, windowSize: Int) {
        self.source = source
        self.target = target
        index = SourceIndex(source: source)
        var bits = 10
        while (1 << bits) < min(windowSize, target.count) && bits < 21 { bits += 1 }
        selfBits = bits
        selfSlots = [UInt32](repeating: 0, count: 1 << bits)
    }

    /// Encodes `window` of the target into `writer`; returns where the last COPY from the source ended
    /// (an absolute source offset), if there was one.
    mutating func encode(_ window: Range<Int>, segment: Range<Int>, into writer: inout InstructionWriter) -> Int? {
        let width = BlockHash.width
        let (start, end) = (window.lowerBound, window.upperBound)
        var literal = start
        var lastSourceEnd: Int?
        if end - start >= width, let t = target.baseAddress {
            let s = source.baseAddress
            let sourceBits = index.bits, selfBits = self.selfBits, target = self.target
            let sourceStep = index.step, maxSkip = max(1, 32 / index.step)
            var slots = selfSlots  // moved out for the loop, so emitting does not overlap its borrow
            selfSlots = []
            defer { selfSlots = slots }
            index.slots.withUnsafeBufferPointer { sourceSlots in
                slots.withUnsafeMutableBufferPointer { selfSlots in
                    var p = start
                    var h = BlockHash.hash(t + p)
                    while p + width <= end {
                        var bestLength = 0, bestAddress = 0, bestBack = 0
                        let cs = Int(sourceSlots[BlockHash.slot(h, bits: sourceBits)]) - 1
                        if let s, cs >= segment.lowerBound, cs + width <= segment.upperBound {
                            let forward = Self.forward(s + cs, t + p, min(segment.upperBound - cs, end - p))
                            if forward >= width {
                                let back = Self.backward(s + cs, t + p, min(cs - segment.lowerBound, p - literal))
                                bestLength = forward + back
                                bestBack = back
                                bestAddress = cs - back - segment.lowerBound
                            }
                        }
                        let slot = BlockHash.slot(h, bits: selfBits)
                        let ct = Int(selfSlots[slot]) - 1
                        if ct >= start {
                            let forward = Self.forward(t + ct, t + p, end - p)
                            if forward >= width {
                                let back = Self.backward(t + ct, t + p, min(ct - start, p - literal))
                                if forward + back > bestLength {
                                    bestLength = forward + back
                                    bestBack = back
                                    bestAddress = segment.count + ct - back - start
                                }
                            }
                        }
                        selfSlots[slot] = UInt32(p + 1)
                        if bestLength > 0 {
                            Self.emitLiteral(target, literal..<p - bestBack, into: &writer)
                            writer.copy(from: bestAddress, size: bestLength)
                            if bestAddress < segment.count { lastSourceEnd = segment.lowerBound + bestAddress + bestLength }
                            p += bestLength - bestBack
                            literal = p
                            if p + width <= end { h = BlockHash.hash(t + p) }
                            continue
                        }
                        let misses = (p - literal) >> 8
                        if misses == 0 {
                            if p + width < end { h = BlockHash.roll(h, out: t[p], in: t[p + width]) }
                            p += 1
                        } else {
                            // Long unmatched stretch: probe more sparsely (each probe is two cache misses).
                            // A stride of 1 + k*step meets every residue of the source index's step, and
                            // backward extension recovers the bytes skipped before a match.
                            p += 1 + sourceStep * min(misses, maxSkip)
                            if p + width <= end { h = BlockHash.hash(t + p) }
                        }
                    }
                }
            }
        }
        Self.emitLiteral(target, literal..<end, into: &writer)
        return lastSourceEnd
    }

    /// ADDs for unmatched bytes, with long runs of one byte split out as RUNs.
    private static func emitLiteral(_ target: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                                    into writer: inout InstructionWriter) {
        guard !range.isEmpty else { return }
        var addFrom = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            var j = i + 1
            while j < range.upperBound && target[j] == target[i] { j += 1 }
            if j - i >= minRun {
                writer.add(UnsafeBufferPointer(rebasing: target[addFrom..<i]))
                writer.run(target[i], count: j - i)
                addFrom = j
            }
            i = j
        }
        writer.add(UnsafeBufferPointer(rebasing: target[addFrom..<range.upperBound]))
    }

    /// How many bytes from `a` and `b` on are equal, up to `limit`; eight at a time.
    @inline(__always)
    static func forward(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ limit: Int) -> Int {
        var n = 0
        while n + 8 <= limit {
            let x = UnsafeRawPointer(a + n).loadUnaligned(as: UInt64.self)
                ^ UnsafeRawPointer(b + n).loadUnaligned(as: UInt64.self)
            if x != 0 { return n + x.littleEndian.trailingZeroBitCount / 8 }
            n += 8
        }
        while n < limit && a[n] == b[n] { n += 1 }
        return n
    }

    /// How many bytes just before `a` and `b` are equal, up to `limit`.
    @inline(__always)
    static func backward(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ limit: Int) -> Int {
        var n = 0
        while n < limit && a[-1 - n] == b[-1 - n] { n += 1 }
        return n
    }
}
