import CISAL
import CairnErasure
#if canImport(Glibc)
import Glibc
#endif

/// Section 1: ISA-L called directly vs Cairn's `ErasureCode` pointer API, on the same buffers, one core.
struct ErasureResult {
    let k: Int, n: Int
    let blockSize: Int
    let segments: Int
    let survivors: [Int]
    /// Median seconds over the whole data set.
    let rawEncode: Double, cairnEncode: Double, rawDecode: Double, cairnDecode: Double
    var dataBytes: Double { Double(k * blockSize * segments) }
    /// Seconds per input data byte of the raw ISA-L encode (used by the put ceiling).
    var rawEncodeSecondsPerByte: Double { rawEncode / dataBytes }
}

enum ErasureBench {
    /// `segmentSize` is rounded up to a multiple of K (as Cairn does); blocks are segment / K.
    /// Decoding recovers the K data blocks from the K highest-numbered shares (all parity when N−K ≥ K).
    static func run(k: Int, n: Int, segmentSize: Int, dataBytes: Int, reps: Int) throws -> ErasureResult {
        let code = try ErasureCode(k: k, n: n)
        let m = n - k
        precondition(m >= 1, "benchmark needs parity")
        let segment = (segmentSize + k - 1) / k * k
        let block = segment / k
        let segments = max(1, (dataBytes + segment - 1) / segment)

        // Buffers: data, parity from ISA-L, parity from Cairn, decoded output (raw and Cairn share it).
        let data = alignedBuffer(segments * segment)
        let parityRaw = alignedBuffer(segments * m * block)
        let parityCairn = alignedBuffer(segments * m * block)
        let decoded = alignedBuffer(segments * segment)
        defer { data.deallocate(); parityRaw.deallocate(); parityCairn.deallocate(); decoded.deallocate() }
        var random = FastRandom()
        random.fill(data)

        func dataBlock(_ s: Int, _ j: Int) -> UnsafeMutableRawPointer { data.baseAddress! + s * segment + j * block }
        func parityBlock(_ buf: UnsafeMutableRawBufferPointer, _ s: Int, _ r: Int) -> UnsafeMutableRawPointer {
            buf.baseAddress! + (s * m + r) * block
        }
        func outBlock(_ s: Int, _ j: Int) -> UnsafeMutableRawPointer { decoded.baseAddress! + s * segment + j * block }
        func u8(_ p: UnsafeMutableRawPointer) -> UnsafeMutablePointer<UInt8>? { p.assumingMemoryBound(to: UInt8.self) }

        // --- Raw ISA-L: tables from zfec's parity rows, pointer arrays built once. ---
        var encodeCoefficients = code.matrix.selecting(rows: Array(k..<n)).entries
        var encodeTables = [UInt8](repeating: 0, count: 32 * k * m)
        ec_init_tables(Int32(k), Int32(m), &encodeCoefficients, &encodeTables)
        var rawEncodeIn = [UnsafeMutablePointer<UInt8>?](), rawEncodeOut = [UnsafeMutablePointer<UInt8>?]()
        for s in 0..<segments {
            for j in 0..<k { rawEncodeIn.append(u8(dataBlock(s, j))) }
            for r in 0..<m { rawEncodeOut.append(u8(parityBlock(parityRaw, s, r))) }
        }

        let survivors = Array((n - k)..<n)
        let missing = (0..<k).filter { !survivors.contains($0) }
        let present = (0..<k).filter { survivors.contains($0) }
        guard let inverse = code.matrix.selecting(rows: survivors).inverted() else {
            throw BenchError.check("zfec submatrix not invertible")
        }
        var decodeCoefficients = inverse.selecting(rows: missing).entries
        var decodeTables = [UInt8](repeating: 0, count: 32 * k * missing.count)
        ec_init_tables(Int32(k), Int32(missing.count), &decodeCoefficients, &decodeTables)
        // Inputs are the survivors in ascending order (the inverse's column order), read from Cairn's parity.
        func survivorBlock(_ s: Int, _ share: Int) -> UnsafeMutableRawPointer {
            share < k ? dataBlock(s, share) : parityBlock(parityCairn, s, share - k)
        }
        var rawDecodeIn = [UnsafeMutablePointer<UInt8>?](), rawDecodeOut = [UnsafeMutablePointer<UInt8>?]()
        for s in 0..<segments {
            for share in survivors { rawDecodeIn.append(u8(survivorBlock(s, share))) }
            for j in missing { rawDecodeOut.append(u8(outBlock(s, j))) }
        }

        // --- Cairn pointer API: the caller's pointer arrays, also built once. ---
        let cairnEncodeIn = (0..<segments).map { s in (0..<k).map { UnsafeRawPointer(dataBlock(s, $0)) } }
        let cairnEncodeOut = (0..<segments).map { s in (0..<m).map { parityBlock(parityCairn, s, $0) } }
        let cairnDecodeIn = (0..<segments).map { s in survivors.map { UnsafeRawPointer(survivorBlock(s, $0)) } }
        let cairnDecodeOut = (0..<segments).map { s in (0..<k).map { outBlock(s, $0) } }

        func rawEncode() -> Double {
            timed {
                rawEncodeIn.withUnsafeMutableBufferPointer { ins in
                    rawEncodeOut.withUnsafeMutableBufferPointer { outs in
                        for s in 0..<segments {
                            ec_encode_data(Int32(block), Int32(k), Int32(m), &encodeTables,
                                           ins.baseAddress! + s * k, outs.baseAddress! + s * m)
                        }
                    }
                }
            }
        }
        func cairnEncode() -> Double {
            timed {
                for s in 0..<segments { code.encode(data: cairnEncodeIn[s], parity: cairnEncodeOut[s], blockSize: block) }
            }
        }
        func rawDecode() -> Double {
            timed {
                rawDecodeIn.withUnsafeMutableBufferPointer { ins in
                    rawDecodeOut.withUnsafeMutableBufferPointer { outs in
                        for s in 0..<segments {
                            if !missing.isEmpty {
                                ec_encode_data(Int32(block), Int32(k), Int32(missing.count), &decodeTables,
                                               ins.baseAddress! + s * k, outs.baseAddress! + s * missing.count)
                            }
                            for j in present { outBlock(s, j).copyMemory(from: dataBlock(s, j), byteCount: block) }
                        }
                    }
                }
            }
        }
        func cairnDecode() throws -> Double {
            try timed {
                for s in 0..<segments {
                    try code.decode(numbers: survivors, blocks: cairnDecodeIn[s], into: cairnDecodeOut[s], blockSize: block)
                }
            }
        }

        // Warm-up (page faults, Cairn's decode-plan cache) and correctness checks.
        _ = rawEncode()
        _ = cairnEncode()
        guard memcmp(parityRaw.baseAddress!, parityCairn.baseAddress!, parityRaw.count) == 0 else {
            throw BenchError.check("\(k)-of-\(n): Cairn's parity differs from ISA-L with zfec's matrix")
        }
        _ = rawDecode()
        guard memcmp(decoded.baseAddress!, data.baseAddress!, data.count) == 0 else {
            throw BenchError.check("\(k)-of-\(n): raw ISA-L decode did not recover the data")
        }
        decoded.initializeMemory(as: UInt8.self, repeating: 0)
        _ = try cairnDecode()
        guard memcmp(decoded.baseAddress!, data.baseAddress!, data.count) == 0 else {
            throw BenchError.check("\(k)-of-\(n): Cairn decode did not recover the data")
        }

        // Interleaved repetitions, so that load from other processes hits both sides alike.
        var re: [Double] = [], ce: [Double] = [], rd: [Double] = [], cd: [Double] = []
        for _ in 0..<reps {
            re.append(rawEncode())
            ce.append(cairnEncode())
            rd.append(rawDecode())
            cd.append(try cairnDecode())
        }
        return ErasureResult(k: k, n: n, blockSize: block, segments: segments, survivors: survivors,
                             rawEncode: median(re), cairnEncode: median(ce), rawDecode: median(rd),
                             cairnDecode: median(cd))
    }

    static func table(_ results: [ErasureResult]) -> String {
        var t = Table("code", "block", "data", "op", "ISA-L raw MB/s", "Cairn MB/s", "Cairn/raw", "goal")
        for r in results {
            let shares = "from \(r.survivors.first!)-\(r.survivors.last!)"
                + (r.survivors.allSatisfy { $0 >= r.k } ? ", all parity" : "")
            for (op, raw, cairn) in [("encode", r.rawEncode, r.cairnEncode), ("decode (\(shares))", r.rawDecode, r.cairnDecode)] {
                let ratio = raw / cairn
                t.add("\(r.k)-of-\(r.n)", "\(r.blockSize) B", mib(Int(r.dataBytes)), op,
                      f(mbps(r.dataBytes, raw)), f(mbps(r.dataBytes, cairn)), f(ratio, 2),
                      ratio >= 0.9 ? "ok ≥0.9" : "BELOW 0.9")
            }
        }
        return t.render()
    }
}
