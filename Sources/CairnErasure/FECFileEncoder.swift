import CairnFiles

/// Streams an input file into zfec share files, a batch of whole K×4096-byte segments at a time.
/// Share j's blocks of consecutive segments are adjacent in its output, and the code is linear byte by byte,
/// so one ISA-L call per batch encodes every segment of it (the short, zero-padded tail included).
struct ShareFileEncoder {
    let code: ErasureCode

    /// Returns the number of input bytes read; headers are already written.
    func run(input: FileDescriptor, outputs: [FileDescriptor], progress: (Int64) -> Void) throws -> Int64 {
        let k = code.k, m = code.n, chunk = FECFile.chunkSize
        let segment = k * chunk
        let segmentsPerBatch = max(1, FECFile.batchBytes / segment)
        let inputBytes = segment * segmentsPerBatch
        let shareStride = chunk * segmentsPerBatch
        let inBuffer = UnsafeMutableRawPointer.allocate(byteCount: inputBytes, alignment: 64)
        let outBuffer = UnsafeMutableRawPointer.allocate(byteCount: m * shareStride, alignment: 64)
        defer {
            inBuffer.deallocate()
            outBuffer.deallocate()
        }
        var data = (0..<k).map { UnsafeRawPointer(outBuffer + $0 * shareStride) }
        let parity = (k..<m).map { outBuffer + $0 * shareStride }

        var total: Int64 = 0
        while true {
            let got = try input.read(into: UnsafeMutableRawBufferPointer(start: inBuffer, count: inputBytes))
            if got == 0 { break }
            total += Int64(got)
            let full = got / segment, rest = got % segment
            // Gather block i of every full segment into share i's area.
            for s in 0..<full {
                for i in 0..<k {
                    (outBuffer + i * shareStride + s * chunk)
                        .copyMemory(from: inBuffer + s * segment + i * chunk, byteCount: chunk)
                }
            }
            var perShare = full * chunk
            if rest > 0 {
                // zfec's easyfec: the tail segment is split into K blocks of ceil(rest/K), zero-padded.
                let block = (rest + k - 1) / k
                for i in 0..<k {
                    let destination = outBuffer + i * shareStride + perShare
                    let start = min(i * block, rest), length = min(block, rest - start)
                    destination.copyMemory(from: inBuffer + full * segment + start, byteCount: length)
                    (destination + length).initializeMemory(as: UInt8.self, repeating: 0, count: block - length)
                }
                perShare += block
            }
            for i in 0..<k { data[i] = UnsafeRawPointer(outBuffer + i * shareStride) }
            code.encode(data: data, parity: parity, blockSize: perShare)
            for j in 0..<m { try outputs[j].write(UnsafeRawBufferPointer(start: outBuffer + j * shareStride, count: perShare)) }
            progress(total)
            if got < inputBytes { break }  // a short read means end of file
        }
        return total
    }
}
