import CairnSnapshots

/// What the importer keeps of the trees it built lately, so the next commit's trees — mostly the same
/// entries — are built from them: entries taken over by name, deltas written from the shared ranges.
extension GitImporter {
    /// A tree this run built lately, item by item: the Cairn entry each git entry became (nil: left out)
    /// and, for a folder, whether its tree is exact. The next commit's trees are mostly these.
    struct Built {
        var items: [GitFormat.TreeItem]
        var entries: [TreeEntry?]
        var childExact: [Bool]
        var encoded: [UInt8]
        /// Where each of `tree`'s entries starts in `encoded`, then the end.
        var offsets: [Int]
        var tree: Tree
    }
    static let builtKept = 192
    /// And at most this many entries in all (a folder of 100,000 files is kept once, not 192 times).
    static let builtEntriesKept = 200_000

    /// Finds names in the base folder's entries: in step when entries keep their places (almost always),
    /// else by a dictionary built the first time it is needed.
    struct NameMatcher {
        let items: [GitFormat.TreeItem]
        var next = 0
        var byName: [ByteKey: Int]?
        init(_ items: [GitFormat.TreeItem]) { self.items = items }

        mutating func index(of name: [UInt8]) -> Int? {
            if next < items.count, items[next].name == name { next += 1; return next - 1 }
            if byName == nil {
                var d: [ByteKey: Int] = [:]
                d.reserveCapacity(items.count)
                for (i, item) in items.enumerated() where d[ByteKey(item.name)] == nil { d[ByteKey(item.name)] = i }
                byName = d
            }
            guard let i = byName?[ByteKey(name)] else { return nil }
            next = i + 1
            return i
        }
    }

    /// The byte ranges of `tree`'s encoding (entries at `offsets`) that equal ranges of `base`'s: entries
    /// with the same name and fields (both are sorted by name), adjacent ones merged.
    static func sharedEntries(_ tree: Tree, _ offsets: [Int], _ base: Built) -> [(target: Range<Int>, source: Int)] {
        let baseOffsets = base.offsets
        var out: [(target: Range<Int>, source: Int)] = []
        var k = 0
        for (i, e) in tree.entries.enumerated() {
            while k < base.tree.entries.count, base.tree.entries[k].name.lexicographicallyPrecedes(e.name) { k += 1 }
            guard k < base.tree.entries.count, base.tree.entries[k] == e else { continue }
            let range = offsets[i]..<offsets[i + 1]
            if let last = out.last, last.target.upperBound == range.lowerBound, last.source + last.target.count == baseOffsets[k] {
                out[out.count - 1].target = last.target.lowerBound..<range.upperBound
            } else {
                out.append((range, baseOffsets[k]))
            }
            k += 1
        }
        return out
    }
}
