/// The byte ranges of a share written so far: sorted, disjoint, adjacent ranges merged.
/// Sequential writes keep it at one range, so the common case costs O(1) per write.
struct WrittenRanges: Sendable {
    private(set) var ranges: [Range<UInt64>] = []

    mutating func insert(_ r: Range<UInt64>) {
        guard !r.isEmpty else { return }
        if let last = ranges.last, last.upperBound <= r.lowerBound {
            if last.upperBound == r.lowerBound { ranges[ranges.count - 1] = last.lowerBound..<r.upperBound }
            else { ranges.append(r) }
            return
        }
        // First range whose end reaches r's start (binary search), then swallow every range r touches.
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < r.lowerBound { lo = mid + 1 } else { hi = mid }
        }
        var merged = r
        var end = lo
        while end < ranges.count && ranges[end].lowerBound <= merged.upperBound {
            merged = min(merged.lowerBound, ranges[end].lowerBound)..<max(merged.upperBound, ranges[end].upperBound)
            end += 1
        }
        ranges.replaceSubrange(lo..<end, with: [merged])
    }

    /// The first gap in 0..<size, or nil if every byte is covered.
    func firstGap(in size: UInt64) -> Range<UInt64>? {
        var position: UInt64 = 0
        for r in ranges {
            if r.lowerBound > position { return position..<min(r.lowerBound, size) }
            position = max(position, r.upperBound)
            if position >= size { return nil }
        }
        return position < size ? position..<size : nil
    }

    var coveredBytes: UInt64 { ranges.reduce(0) { $0 + UInt64($1.count) } }
}
