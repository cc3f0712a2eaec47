import CairnFiles
import CairnPrimitives
import ArgumentParser
import CairnFormats
import CairnGrid
#if canImport(Glibc)
import Glibc
#endif

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store files on the grid; print one read cap per file on stdout.",
        discussion: "Caps are printed only once their shares are durable (a batch at a time). '-' reads stdin, which is spooled to a temporary file first because share sizes must be known before upload.")

    @OptionGroup var gridOptions: GridOptions
    @Flag(help: "Use a random key instead of the convergent one (no dedup, no pre-hashing pass).")
    var randomKey = false
    @Argument(help: ArgumentHelp("Files to store, or '-' for standard input.", valueName: "FILE"))
    var files: [String]

    /// Files per durable batch: caps are printed after each batch's single sync.
    @Option(help: .hidden) var batchFiles = 1024
    static let batchBytes: UInt64 = 256 << 20

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one FILE, or '-' for standard input") }
        if files.filter({ $0 == "-" }).count > 1 { throw ValidationError("'-' can be given only once") }
        if batchFiles < 1 { throw ValidationError("--batch-files must be at least 1") }
    }

    func run() async throws {
        let grid = try gridOptions.open(createDefault: true)
        let uploader = Uploader(grid: grid)
        var worst: Int32 = 0
        var batch: [(String, any ByteSource)] = []
        var batchSize: UInt64 = 0
        var done = 0

        func flush() async throws {
            guard !batch.isEmpty else { return }
            let results = try await uploader.putBatch(batch.map(\.1), keyMode: randomKey ? .random : .convergent)
            for ((name, _), result) in zip(batch, results) {
                switch result {
                case .success(let cap): Terminal.writeOut(cap.string + "\n")
                case .failure(let error):
                    let f = Failure.from(error)
                    Terminal.error("\(name): \(f.message)")
                    worst = max(worst, f.code)
                }
            }
            done += batch.count
            Terminal.progress("put \(done) of \(files.count) files")
            batch = []
            batchSize = 0
        }

        for name in files {
            let source: any ByteSource
            do {
                source = name == "-" ? try spoolStandardInput() : try FileSource(path: name)
            } catch {
                let f = Failure.from(error)
                let missing = (try? FileSystem.status(name)).flatMap { $0 } == nil
                Terminal.error(missing ? "\(name): no such file" : f.message)
                worst = max(worst, missing ? Code.noInput : f.code)
                continue
            }
            batch.append((name, source))
            batchSize += source.size
            if batch.count >= batchFiles || batchSize >= Self.batchBytes { try await flush() }
        }
        try await flush()
        Terminal.endProgress()
        if worst != 0 { throw ExitCode(worst) }
    }

    /// Copies stdin to an unlinked temporary file and reads it from there.
    func spoolStandardInput() throws -> any ByteSource {
        let dir = ProcessEnvironment.current["TMPDIR"] ?? "/tmp"
        let out: FileDescriptor
        do {
            out = try FileDescriptor.createTemporary(in: dir, prefix: "cairn-stdin-")
        } catch {
            throw Failure("cannot create a spool file in \(dir): \(error.message)", code: Code.ioError)
        }
        defer { _ = try? FileSystem.unlink(out.path) }  // FileSource keeps it open
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try FileDescriptor.standardInput.readSome(into: $0) }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try out.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return try FileSource(path: out.path)
    }
}
