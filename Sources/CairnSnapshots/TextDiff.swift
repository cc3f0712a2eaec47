/// Unified diffs of text (Myers' O(ND) algorithm over lines), as `diff -u` and git print them.
public enum TextDiff {
    /// Text means no NUL byte in the first 8000 bytes (git's heuristic).
    public static func isBinary(_ bytes: [UInt8]) -> Bool { bytes.prefix(8000).contains(0) }

    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            out.append(bytes[start...i])
            start = i + 1
        }
        if start < bytes.count { out.append(bytes[start...]) }
        return out
    }

    enum Op: Equatable { case same(Int, Int), delete(Int), insert(Int) }

    /// Beyond this many differing lines the script gives up finding common lines and replaces the
    /// whole text: Myers' trace costs D² integers, which stays small below this.
    static let maxEdits = 4000

    /// The edit script turning `a` into `b` (indices into each).
    static func script(_ a: [ArraySlice<UInt8>], _ b: [ArraySlice<UInt8>]) -> [Op] {
        let n = a.count, m = b.count
        if n + m == 0 { return [] }
        let limit = min(n + m, maxEdits)
        // v[k] for diagonals -d…d, offset by `limit`; trace[d] keeps only that round's slice.
        var v = [Int](repeating: 0, count: 2 * limit + 3)
        var trace: [[Int]] = []
        var found = false
        round: for d in 0...limit {
            trace.append(Array(v[(limit - d)...(limit + d + 2)]))
            var k = -d
            while k <= d {
                var x = (k == -d || (k != d && v[limit + k - 1] < v[limit + k + 1])) ? v[limit + k + 1] : v[limit + k - 1] + 1
                var y = x - k
                while x < n && y < m && a[x] == b[y] { x += 1; y += 1 }
                v[limit + k] = x
                if x >= n && y >= m { found = true; break round }
                k += 2
            }
        }
        guard found else {
            return (0..<n).map { Op.delete($0) } + (0..<m).map { Op.insert($0) }
        }
        var ops: [Op] = []
        var x = n, y = m
        for d in stride(from: trace.count - 1, through: 0, by: -1) {
            let slice = trace[d]  // v before round d; diagonal k is at index k + d
            func at(_ k: Int) -> Int { slice[k + d] }
            let k = x - y
            let prevK = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1
            let prevX = d == 0 ? 0 : at(prevK)
            let prevY = prevX - prevK
            while x > prevX && y > prevY { x -= 1; y -= 1; ops.append(.same(x, y)) }
            if d > 0 {
                if x == prevX { y -= 1; ops.append(.insert(y)) } else { x -= 1; ops.append(.delete(x)) }
            }
        }
        while x > 0 && y > 0 { x -= 1; y -= 1; ops.append(.same(x, y)) }
        return ops.reversed()
    }

    /// `--- a/PATH` / `+++ b/PATH` and hunks with 3 lines of context; empty when equal.
    public static func unified(_ old: [UInt8], _ new: [UInt8], oldName: String, newName: String, context: Int = 3) -> String {
        let a = lines(old), b = lines(new)
        let ops = script(a, b)
        func isChange(_ op: Op) -> Bool { if case .same = op { return false } else { return true } }
        guard ops.contains(where: isChange) else { return "" }
        // Line positions in a and b before each op.
        var aPos = [Int](), bPos = [Int]()
        var x = 0, y = 0
        for op in ops {
            aPos.append(x); bPos.append(y)
            switch op {
            case .same: x += 1; y += 1
            case .delete: x += 1
            case .insert: y += 1
            }
        }
        var out = "--- \(oldName)\n+++ \(newName)\n"
        var i = 0
        while let start = ops[i...].firstIndex(where: isChange) {
            // Extend over changes separated by at most 2 × context unchanged lines.
            var last = start
            var j = start + 1
            while j < ops.count {
                if isChange(ops[j]) { last = j } else if j - last > 2 * context { break }
                j += 1
            }
            let from = max(i, start - context)
            let end = min(ops.count, last + context + 1)
            var aCount = 0, bCount = 0
            var body = ""
            for op in ops[from..<end] {
                switch op {
                case .same(let x, _): aCount += 1; bCount += 1; body += " " + text(a[x])
                case .delete(let x): aCount += 1; body += "-" + text(a[x])
                case .insert(let y): bCount += 1; body += "+" + text(b[y])
                }
            }
            out += "@@ -\(range(aPos[from], aCount)) +\(range(bPos[from], bCount)) @@\n" + body
            i = end
            if i >= ops.count { break }
        }
        return out
    }

    private static func range(_ start: Int, _ count: Int) -> String {
        count == 0 ? "\(start),0" : count == 1 ? "\(start + 1)" : "\(start + 1),\(count)"
    }

    private static func text(_ line: ArraySlice<UInt8>) -> String {
        let s = String(decoding: line, as: UTF8.self)
        return s.hasSuffix("\n") ? s : s + "\n\\ No newline at end of file\n"
    }
}
