import CairnFormats
import CairnGrid
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Section 3: many small files, through the library in one process and through the `cairn` CLI.
struct SmallFilesResult {
    let count: Int
    let size: Int
    let library: Run
    let cli: Run?
    let cliNote: String?
}

enum SmallFilesBench {
    static func run(directory: String, count: Int, size: Int, k: Int, n: Int, happy: Int,
                    libraryBatch: Int, cliBatch: Int, cli: String?, cliNote: String?) async throws -> SmallFilesResult {
        let parameters = try EncodingParameters(k: k, n: n, happy: happy)
        let folder = directory + "/small"
        guard mkdir(folder, 0o755) == 0 else { throw BenchError.io("\(folder): \(errnoText())") }
        note("writing \(count) files of \(size) bytes")
        var random = FastRandom()
        let paths = (0..<count).map { folder + "/f" + String($0) }
        let buffer = alignedBuffer(size)
        defer { buffer.deallocate() }
        for p in paths {
            random.fill(buffer)
            try RawFile(p, write: true).write(UnsafeRawBufferPointer(buffer))
        }

        // (a) Library: putBatch in batches, as `cairn put` does (FileSource opening included).
        let libraryGrid = directory + "/small-lib-grid"
        try LocalGrid.create(at: libraryGrid, servers: n, parameters: parameters)
        let grid = try LocalGrid.open(at: libraryGrid)
        let uploader = Uploader(grid: grid)
        note("library: putBatch × \((count + libraryBatch - 1) / libraryBatch) batches of up to \(libraryBatch)")
        let c0 = cpuSeconds(), t0 = now()
        var failures = 0
        var start = 0
        while start < count {
            let sources: [any ByteSource] = try paths[start..<min(start + libraryBatch, count)].map { try FileSource(path: $0) }
            for result in try await uploader.putBatch(sources) { if case .failure = result { failures += 1 } }
            start += libraryBatch
        }
        let library = Run(seconds: now() - t0, cpu: cpuSeconds() - c0)
        if failures > 0 { throw BenchError.check("\(failures) library puts failed") }
        removeTree(libraryGrid)

        // (b) CLI: one `cairn put --grid G f1 f2 …` per chunk of paths.
        var cliRun: Run?
        if let cli {
            let cliGrid = directory + "/small-cli-grid"
            try LocalGrid.create(at: cliGrid, servers: n, parameters: parameters)
            let capsPath = directory + "/caps.txt", errPath = directory + "/cli-stderr.txt"
            _ = FileManager.default.createFile(atPath: capsPath, contents: nil)
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            let caps = try FileHandle(forWritingTo: URL(fileURLWithPath: capsPath))
            let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            note("CLI: \(cli) put × \((count + cliBatch - 1) / cliBatch) invocations of up to \(cliBatch) files")
            let c0 = cpuSeconds(children: true), t0 = now()
            var start = 0
            while start < count {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: cli)
                process.arguments = ["put", "--grid", cliGrid] + paths[start..<min(start + cliBatch, count)]
                process.standardOutput = caps
                process.standardError = errors
                process.standardInput = FileHandle.nullDevice
                try process.run()
                process.waitUntilExit()
                guard process.terminationStatus == 0 else {
                    let text = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
                    throw BenchError.check("cairn put exited with \(process.terminationStatus): \(text.suffix(500))")
                }
                start += cliBatch
            }
            cliRun = Run(seconds: now() - t0, cpu: cpuSeconds(children: true) - c0)
            try caps.close()
            try errors.close()
            let lines = ((try? String(contentsOfFile: capsPath, encoding: .utf8)) ?? "").split(separator: "\n")
            guard lines.count == count, lines.allSatisfy({ $0.hasPrefix("cairn:chk:") }) else {
                throw BenchError.check("cairn put printed \(lines.count) caps for \(count) files")
            }
            removeTree(cliGrid)
        }
        removeTree(folder)
        return SmallFilesResult(count: count, size: size, library: library, cli: cliRun, cliNote: cliNote)
    }

    static func table(_ r: SmallFilesResult, libraryBatch: Int, cliBatch: Int) -> String {
        var t = Table("\(r.count) files × \(r.size) B, 3-of-10 local grid", "seconds", "puts/s", "MB/s (plaintext)",
                      "CPU s", "cores busy")
        func add(_ name: String, _ run: Run) {
            t.add(name, f(run.seconds, 2), f(Double(r.count) / run.seconds), f(mbps(Double(r.count * r.size), run.seconds), 1),
                  f(run.cpu, 2), f(run.cpu / run.seconds, 2))
        }
        add("(a) library, putBatch of \(libraryBatch)", r.library)
        if let cli = r.cli {
            add("(b) cairn put CLI, \(cliBatch) files per process", cli)
        } else {
            t.add("(b) cairn put CLI", "skipped", "", "", "", "")
        }
        return t.render() + (r.cliNote.map { "\n" + $0 } ?? "")
    }
}
