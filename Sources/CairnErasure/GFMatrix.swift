/// A dense row-major matrix over GF(2^8). Used to build the code's generator matrix and to invert the
/// k×k submatrix of the shares at hand; never on the data path.
public struct GFMatrix: Equatable, Sendable {
    public let rows: Int
    public let columns: Int
    /// Row-major entries, `rows * columns` bytes: the layout ISA-L's `ec_init_tables` expects.
    public private(set) var entries: [UInt8]

    public init(rows: Int, columns: Int, entries: [UInt8]) {
        precondition(entries.count == rows * columns, "matrix needs rows*columns entries")
        self.rows = rows
        self.columns = columns
        self.entries = entries
    }

    public static func identity(_ size: Int) -> GFMatrix {
        var m = GFMatrix(rows: size, columns: size, entries: [UInt8](repeating: 0, count: size * size))
        for i in 0..<size { m[i, i] = 1 }
        return m
    }

    public subscript(row: Int, column: Int) -> UInt8 {
        get { entries[row * columns + column] }
        set { entries[row * columns + column] = newValue }
    }

    /// The given rows, in the given order.
    public func selecting(rows picked: [Int]) -> GFMatrix {
        var out: [UInt8] = []
        out.reserveCapacity(picked.count * columns)
        for r in picked { out += entries[(r * columns)..<((r + 1) * columns)] }
        return GFMatrix(rows: picked.count, columns: columns, entries: out)
    }

    public static func * (lhs: GFMatrix, rhs: GFMatrix) -> GFMatrix {
        precondition(lhs.columns == rhs.rows, "matrix dimensions do not match")
        var out = GFMatrix(rows: lhs.rows, columns: rhs.columns,
                           entries: [UInt8](repeating: 0, count: lhs.rows * rhs.columns))
        for i in 0..<lhs.rows {
            for j in 0..<rhs.columns {
                var acc: UInt8 = 0
                for t in 0..<lhs.columns { acc ^= GF256.mul(lhs[i, t], rhs[t, j]) }
                out[i, j] = acc
            }
        }
        return out
    }

    /// The inverse by Gauss–Jordan elimination, or nil when the matrix is singular.
    public func inverted() -> GFMatrix? {
        precondition(rows == columns, "only square matrices have inverses")
        let size = rows
        var a = self
        var inv = GFMatrix.identity(size)
        for col in 0..<size {
            guard let pivot = (col..<size).first(where: { a[$0, col] != 0 }) else { return nil }
            if pivot != col {
                a.swapRows(pivot, col)
                inv.swapRows(pivot, col)
            }
            let scale = GF256.inverse(a[col, col])
            if scale != 1 {
                a.scaleRow(col, by: scale)
                inv.scaleRow(col, by: scale)
            }
            for r in 0..<size where r != col {
                let factor = a[r, col]
                if factor != 0 {
                    a.addRow(col, times: factor, to: r)
                    inv.addRow(col, times: factor, to: r)
                }
            }
        }
        return inv
    }

    private mutating func swapRows(_ i: Int, _ j: Int) {
        for c in 0..<columns { entries.swapAt(i * columns + c, j * columns + c) }
    }

    private mutating func scaleRow(_ r: Int, by factor: UInt8) {
        addRow(r, times: factor, to: r, replacing: true)
    }

    /// `row[dst] ^= factor · row[src]` (or `=` when `replacing`), through one row of the product table:
    /// inversion is O(k³), so this inner loop decides how long a 255-of-256 decode plan takes.
    private mutating func addRow(_ src: Int, times factor: UInt8, to dst: Int, replacing: Bool = false) {
        let columns = columns
        GF256.mulTable.withUnsafeBufferPointer { table in
            let product = UnsafeBufferPointer(rebasing: table[(Int(factor) << 8)..<((Int(factor) + 1) << 8)])
            entries.withUnsafeMutableBufferPointer { e in
                let s = src * columns, d = dst * columns
                for c in 0..<columns {
                    let term = product[Int(e[s + c])]
                    e[d + c] = replacing ? term : e[d + c] ^ term
                }
            }
        }
    }

    /// zfec's generator matrix: G = V·T⁻¹ where V is the n×k Vandermonde matrix at the points
    /// 0, 1, α, α², …, α^(n−2) (row i = [x_i^0, …, x_i^(k−1)]) and T its top k×k part. The top k rows are the
    /// identity, so shares 0..k−1 are the data itself; any k rows are invertible (distinct points).
    public static func zfecEncoding(k: Int, n: Int) -> GFMatrix {
        precondition(1 <= k && k <= n && n <= 256, "K must be between 1 and N, and N at most 256")
        // Without parity rows G is the identity; skipping the inversion matters for k = n = 256.
        if k == n { return identity(k) }
        var v = GFMatrix(rows: n, columns: k, entries: [UInt8](repeating: 0, count: n * k))
        v[0, 0] = 1  // point 0: 0^0 = 1, 0^j = 0
        for row in 1..<n {
            let logPoint = row - 1  // x = α^(row-1)
            for col in 0..<k { v[row, col] = GF256.power(of: logPoint * col) }
        }
        guard let tInverse = v.selecting(rows: Array(0..<k)).inverted() else {
            preconditionFailure("a Vandermonde matrix at distinct points is invertible")
        }
        // Top rows: T·T⁻¹ = I by construction; only the parity rows need the product.
        let parity = v.selecting(rows: Array(k..<n)) * tInverse
        return GFMatrix(rows: n, columns: k, entries: identity(k).entries + parity.entries)
    }
}
