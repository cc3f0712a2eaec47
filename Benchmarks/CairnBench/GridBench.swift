import CairnFiles
import CairnFormats
import CairnGrid
import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// Single-core seconds per byte of each step of a put or get.
struct ByteCosts {
    var hash = 0.0        // BLAKE2b (TaggedHash) over 1 MiB buffers
    var chacha = 0.0      // XChaCha20 (StreamCipher.apply) over 1 MiB buffers
    var isal = 0.0        // ISA-L encode, per data byte (K-of-N of the grid)
    var writeFsync = 0.0  // write() in 1 MiB chunks to N files, then fsync each
    var read = 0.0        // pread() of a page-cached file in 1 MiB chunks
    var write = 0.0       // write() of the output file in 1 MiB chunks, no fsync (as `cairn get -o`)
}

struct Run {
    let seconds: Double
    let cpu: Double
}

struct GridResult {
    let k: Int, n: Int
    let size: Int
    let cores: Int
    let costs: ByteCosts
    let puts: [Run]
    let gets: [Run]

    var expansion: Double { Double(n) / Double(k) }
    /// Seconds of CPU (or device) time per plaintext byte of a put, summed over every step.
    var putSecondsPerByte: Double {
        costs.hash * (1 + expansion) + costs.chacha + costs.isal + costs.writeFsync * expansion
    }
    /// A get reads the K primary shares (ciphertext itself, no decoding) and hashes each block once.
    var getSecondsPerByte: Double { costs.hash + costs.chacha + costs.read + costs.write }
    var putCeiling: Double { Double(cores) / putSecondsPerByte / 1e6 }
    var getCeiling: Double { Double(cores) / getSecondsPerByte / 1e6 }
    var putAchieved: Double { mbps(Double(size), median(puts.map(\.seconds))) }
    var getAchieved: Double { mbps(Double(size), median(gets.map(\.seconds))) }
}

enum GridBench {
    static let chunk = 1 << 20

    static func run(directory: String, size: Int, k: Int, n: Int, happy: Int, cores: Int, reps: Int, costReps: Int,
                    isalSecondsPerByte: Double?) async throws -> GridResult {
        let parameters = try EncodingParameters(k: k, n: n, happy: happy)
        var random = FastRandom()
        let source = directory + "/source.bin"
        note("writing a \(mib(size)) random source file")
        try writeRandomFile(source, size: size, random: &random)

        // --- Per-byte costs, same run, same filesystem. ---
        var costs = ByteCosts()
        let sampleSize = min(size, 64 << 20)
        let sample = alignedBuffer(sampleSize)
        defer { sample.deallocate() }
        random.fill(sample)
        let tag = HashTag("cairn:bench")
        costs.hash = medianSeconds(costReps) {
            timed {
                var offset = 0
                while offset < sampleSize {
                    let part = UnsafeRawBufferPointer(rebasing: sample[offset..<min(offset + chunk, sampleSize)])
                    _ = TaggedHash.hash(tag, part)
                    offset += chunk
                }
            }
        } / Double(sampleSize)
        let cipher = StreamCipher(key: (0..<32).map { _ in UInt8.random(in: 0...255) })
        costs.chacha = medianSeconds(costReps) {
            timed {
                var offset = 0
                while offset < sampleSize {
                    let part = UnsafeMutableRawBufferPointer(rebasing: sample[offset..<min(offset + chunk, sampleSize)])
                    cipher.apply(part, atOffset: UInt64(offset))
                    offset += chunk
                }
            }
        } / Double(sampleSize)
        if let isalSecondsPerByte {
            costs.isal = isalSecondsPerByte
        } else {
            note("measuring ISA-L encode \(k)-of-\(n)")
            costs.isal = try ErasureBench.run(k: k, n: n, segmentSize: parameters.maximumSegmentSize,
                                              dataBytes: 64 << 20, reps: costReps).rawEncodeSecondsPerByte
        }
        note("measuring write+fsync of \(n)/\(k) × \(mib(size)) into \(n) files")
        let shareBytes = (size + k - 1) / k
        costs.writeFsync = try medianSeconds(costReps) {
            let paths = (0..<n).map { directory + "/fsync-\($0).bin" }
            defer { for p in paths { unlink(p) } }
            return try timed {
                var files: [RawFile] = []
                for p in paths {
                    let file = try RawFile(p, write: true)
                    var left = shareBytes
                    while left > 0 {
                        let len = min(left, chunk, sampleSize)
                        try file.write(UnsafeRawBufferPointer(rebasing: sample[0..<len]))
                        left -= len
                    }
                    files.append(file)
                }
                for file in files { try file.sync() }
            }
        } / Double(shareBytes * n)
        costs.read = try medianSeconds(costReps) {
            let file = try RawFile(source, write: false)
            let buffer = alignedBuffer(chunk)
            defer { buffer.deallocate() }
            return try timed {
                var offset = 0
                while true {
                    let got = try file.read(into: buffer, at: offset)
                    if got == 0 { break }
                    offset += got
                }
            }
        } / Double(size)
        costs.write = try medianSeconds(costReps) {
            let path = directory + "/write-out.bin"
            defer { unlink(path) }
            let file = try RawFile(path, write: true)
            return try timed {
                var left = size
                while left > 0 {
                    let len = min(left, chunk, sampleSize)
                    try file.write(UnsafeRawBufferPointer(rebasing: sample[0..<len]))
                    left -= len
                }
            }
        } / Double(size)

        // --- Put: a fresh grid per run (a second put of the same file would find its shares there). ---
        var puts: [Run] = []
        var cap: Cap?
        var keptGrid = ""
        for r in 0..<reps {
            let path = directory + "/put-grid-\(r)"
            try LocalGrid.create(at: path, servers: n, parameters: parameters)
            let grid = try LocalGrid.open(at: path)
            let file = try FileSource(path: source)
            note("put \(r + 1) of \(reps)")
            let c0 = cpuSeconds(), t0 = now()
            let put = try await Uploader(grid: grid).put(file)
            puts.append(Run(seconds: now() - t0, cpu: cpuSeconds() - c0))
            // Each fresh grid has its own convergence secret, so caps differ between runs.
            cap = put
            if !keptGrid.isEmpty { removeTree(keptGrid) }
            keptGrid = path
        }

        // --- Get: reuse the last grid; write the output to a file as `cairn get -o` does. ---
        var gets: [Run] = []
        let grid = try LocalGrid.open(at: keptGrid)
        let output = directory + "/got.bin"
        for r in 0..<reps {
            note("get \(r + 1) of \(reps)")
            let out = try FileDescriptor.open(output, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            let c0 = cpuSeconds(), t0 = now()
            try await Downloader(grid: grid).get(cap!) { bytes in try out.write(bytes) }
            gets.append(Run(seconds: now() - t0, cpu: cpuSeconds() - c0))
            if r == 0, try !sameContents(source, output) { throw BenchError.check("get returned other bytes than put") }
        }
        unlink(output)
        removeTree(keptGrid)
        unlink(source)
        return GridResult(k: k, n: n, size: size, cores: cores, costs: costs, puts: puts, gets: gets)
    }

    static func tables(_ r: GridResult) -> String {
        let e = r.expansion
        func ns(_ x: Double) -> String { f(x * 1e9, 3) }
        var costs = Table("step (one core)", "ns/byte", "MB/s", "put bytes/byte", "put ns/byte", "get bytes/byte", "get ns/byte")
        costs.add("BLAKE2b (TaggedHash, 1 MiB)", ns(r.costs.hash), f(1 / r.costs.hash / 1e6),
                  f(1 + e, 2), ns(r.costs.hash * (1 + e)), "1", ns(r.costs.hash))
        costs.add("XChaCha20 (StreamCipher)", ns(r.costs.chacha), f(1 / r.costs.chacha / 1e6), "1", ns(r.costs.chacha), "1", ns(r.costs.chacha))
        costs.add("ISA-L encode \(r.k)-of-\(r.n) (data bytes)", ns(r.costs.isal), f(1 / r.costs.isal / 1e6), "1", ns(r.costs.isal), "-", "-")
        costs.add("write+fsync, \(r.n) files", ns(r.costs.writeFsync), f(1 / r.costs.writeFsync / 1e6), f(e, 2), ns(r.costs.writeFsync * e), "-", "-")
        costs.add("read (page cache)", ns(r.costs.read), f(1 / r.costs.read / 1e6), "-", "-", "1", ns(r.costs.read))
        costs.add("write output (no fsync)", ns(r.costs.write), f(1 / r.costs.write / 1e6), "-", "-", "1", ns(r.costs.write))
        costs.add("total", "", "", "", ns(r.putSecondsPerByte), "", ns(r.getSecondsPerByte))

        var t = Table("\(mib(r.size)) file, \(r.k)-of-\(r.n) local grid", "ceiling MB/s (\(r.cores) cores)", "achieved MB/s",
                      "achieved/ceiling", "goal", "median s", "runs (s)", "CPU s (median)", "cores busy")
        for (name, ceiling, achieved, runs) in [("put", r.putCeiling, r.putAchieved, r.puts), ("get", r.getCeiling, r.getAchieved, r.gets)] {
            let fraction = achieved / ceiling
            let med = median(runs.map(\.seconds)), cpu = median(runs.map(\.cpu))
            t.add(name, f(ceiling), f(achieved), f(fraction * 100) + " %", fraction >= 0.6 ? "ok ≥60%" : "BELOW 60%",
                  f(med, 3), runs.map { f($0.seconds, 2) }.joined(separator: " "), f(cpu, 2), f(cpu / med, 2))
        }
        return costs.render() + "\n\n" + t.render()
    }
}
