import CISAL

/// ISA-L's expanded tables for one coefficient matrix, and the multiply-add that uses them.
/// The only code that calls ISA-L: `ec_encode_data` accepts any matrix, so zfec's generator rows (encode)
/// and rows of an inverted submatrix (decode) both run in its SIMD kernels (5–14 GB/s here).
/// Immutable after init, hence safe to share between threads.
final class ISALTables: @unchecked Sendable {
    /// Number of input blocks (matrix columns).
    let inputs: Int
    /// Number of output blocks (matrix rows).
    let outputs: Int
    /// 32 bytes per coefficient, owned by this object.
    private let tables: UnsafeMutablePointer<UInt8>

    init(_ matrix: GFMatrix) {
        precondition(matrix.rows >= 1 && matrix.columns >= 1, "ISA-L tables need a non-empty matrix")
        inputs = matrix.columns
        outputs = matrix.rows
        tables = .allocate(capacity: 32 * matrix.rows * matrix.columns)
        matrix.entries.withUnsafeBufferPointer { coefficients in
            ec_init_tables(Int32(matrix.columns), Int32(matrix.rows),
                           UnsafeMutablePointer(mutating: coefficients.baseAddress!), tables)
        }
    }

    deinit { tables.deallocate() }

    /// `output(r) = Σ_c M[r][c] · input(c)` over `length` bytes. The pointer arrays ISA-L wants live in one
    /// stack scratch allocation for the duration of the call; no pointer escapes.
    func apply(length: Int, input: (Int) -> UnsafeRawPointer, output: (Int) -> UnsafeMutableRawPointer) {
        guard length > 0 else { return }
        precondition(length <= Int(Int32.max), "block too large for ISA-L (at most 2 GiB - 1)")
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<UInt8>?.self, capacity: inputs + outputs) { scratch in
            for c in 0..<inputs {
                scratch[c] = UnsafeMutableRawPointer(mutating: input(c)).assumingMemoryBound(to: UInt8.self)
            }
            for r in 0..<outputs {
                scratch[inputs + r] = output(r).assumingMemoryBound(to: UInt8.self)
            }
            let base = scratch.baseAddress!
            ec_encode_data(Int32(length), Int32(inputs), Int32(outputs), tables, base, base + inputs)
        }
    }
}
