import CairnFiles
#if canImport(Glibc)
import Glibc
#endif

/// The share files a decode will use: the first K with distinct share numbers, in the given order, with
/// their headers checked against each other and the length of their block data.
struct ShareFileSet {
    let header: FECHeader
    let files: [FileDescriptor]
    let numbers: [Int]
    /// Bytes after the header, equal in every file.
    let blockBytes: Int64

    static func open(_ paths: [String]) throws -> ShareFileSet {
        var first: (header: FECHeader, path: String, blockBytes: Int64)?
        var files: [FileDescriptor] = []
        var numbers: [Int] = []
        for path in paths {
            if let first, files.count == first.header.k { break }
            let file = try FileDescriptor.open(path, flags: O_RDONLY)
            var consumed = 0
            let header = try FECHeader.parse(path: path) {
                var byte: UInt8 = 0
                guard try withUnsafeMutableBytes(of: &byte, { try file.read(into: $0) }) == 1 else { return nil }
                consumed += 1
                return byte
            }
            let blockBytes = Int64(try file.size) - Int64(consumed)
            if let first {
                for (field, value, other) in [("m", header.m, first.header.m), ("k", header.k, first.header.k),
                                              ("pad length", header.padLength, first.header.padLength)]
                where value != other {
                    throw FECFileError.mismatchedShareFiles(path: path, field: field, value: value,
                                                            otherPath: first.path, otherValue: other)
                }
                guard blockBytes == first.blockBytes else {
                    throw FECFileError.unequalShareLengths(path: path, length: blockBytes, otherPath: first.path,
                                                           otherLength: first.blockBytes)
                }
            } else {
                first = (header, path, blockBytes)
            }
            if numbers.contains(header.shareNumber) { continue }  // the same share twice adds nothing
            files.append(file)
            numbers.append(header.shareNumber)
        }
        guard let first else { throw FECFileError.insufficientShareFiles(needed: 1, got: 0) }
        guard files.count == first.header.k else {
            throw FECFileError.insufficientShareFiles(needed: first.header.k, got: files.count)
        }
        let padded = Int64(first.header.k) * first.blockBytes
        guard Int64(first.header.padLength) <= padded else {
            throw FECFileError.corruptHeader(path: first.path,
                                             reason: "pad length \(first.header.padLength) exceeds the \(padded) bytes the shares hold")
        }
        return ShareFileSet(header: first.header, files: files, numbers: numbers, blockBytes: first.blockBytes)
    }
}

/// Streams share files back into the original file. zunfec decodes 4096-byte chunks of every share in
/// turn, each yielding K consecutive blocks of output; batches of such chunks are read at once and the
/// output is written once per batch, without the trailing pad.
struct ShareFileDecoder {
    let shares: ShareFileSet

    /// Returns the number of bytes written.
    func run(output: FileDescriptor) throws -> Int64 {
        let k = shares.header.k, chunk = FECFile.chunkSize
        let code = try ErasureCode(k: k, n: shares.header.m)
        let perShareBatch = chunk * max(1, FECFile.batchBytes / (k * chunk))
        let inBuffer = UnsafeMutableRawPointer.allocate(byteCount: k * perShareBatch, alignment: 64)
        let outBuffer = UnsafeMutableRawPointer.allocate(byteCount: k * perShareBatch, alignment: 64)
        defer {
            inBuffer.deallocate()
            outBuffer.deallocate()
        }
        var blocks = [UnsafeRawPointer](repeating: UnsafeRawPointer(inBuffer), count: k)
        var outputs = [UnsafeMutableRawPointer](repeating: outBuffer, count: k)
        var remaining = Int64(k) * shares.blockBytes - Int64(shares.header.padLength)
        var consumed: Int64 = 0
        var written: Int64 = 0
        while consumed < shares.blockBytes {
            let want = Int(min(Int64(perShareBatch), shares.blockBytes - consumed))
            for (c, file) in shares.files.enumerated() {
                let got = try file.read(into: UnsafeMutableRawBufferPointer(start: inBuffer + c * perShareBatch, count: want))
                guard got == want else {
                    throw FECFileError.unequalShareLengths(path: file.path, length: consumed + Int64(got),
                                                           otherPath: shares.files[0].path, otherLength: shares.blockBytes)
                }
            }
            consumed += Int64(want)
            var produced = 0
            var offset = 0
            while offset < want {
                let length = min(chunk, want - offset)
                for c in 0..<k { blocks[c] = UnsafeRawPointer(inBuffer + c * perShareBatch + offset) }
                for j in 0..<k { outputs[j] = outBuffer + produced + j * length }
                try code.decode(numbers: shares.numbers, blocks: blocks, into: outputs, blockSize: length)
                produced += k * length
                offset += length
            }
            let count = Int(min(Int64(produced), remaining))
            try output.write(UnsafeRawBufferPointer(start: outBuffer, count: count))
            remaining -= Int64(count)
            written += Int64(count)
        }
        return written
    }
}
