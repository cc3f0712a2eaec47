import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `swift run -c release cairn-bench [--quick] [options]`: erasure code vs raw ISA-L, put/get against
/// per-byte ceilings, small-file puts through the library and the CLI. Documentation/Performance.md.
struct Options {
    var quick = false
    var directory = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    var reps = 5
    var ecMiB = 64
    var fileMiB = 256
    var files = 20_000
    var fileSize = 4096
    var cores = Machine.cores
    var cli: String?
    var buildCLI = true
    var only: Set<String> = ["ec", "grid", "small"]
    var keep = false

    static let usage = """
        usage: swift run -c release cairn-bench [options]
          --quick           small smoke run: 16 MiB EC data, 32 MiB file, 2,000 files, 1 repetition
          --dir DIR         where grids and files go (default $TMPDIR or /tmp); same filesystem is measured
          --reps N          repetitions (median taken; default 5, --quick 1)
          --ec-mib N        data per erasure-code run in MiB (default 64)
          --file-mib N      put/get file size in MiB (default 256)
          --files N         small files to put (default 20000)
          --cores N         cores assumed by the ceilings (default: online CPUs)
          --cli PATH        cairn binary for section 3b (default: build and use .build/release/cairn)
          --no-build        do not run 'swift build --product cairn'; use the binary beside this one
          --only LIST       comma-separated sections: ec,grid,small (default all)
          --keep            keep the temporary directory
        """

    static func parse(_ args: [String]) -> Options {
        var o = Options()
        var explicit: Set<String> = []
        var i = 0
        func value() -> String {
            i += 1
            guard i < args.count else { fail("\(args[i - 1]) needs a value") }
            return args[i]
        }
        func number() -> Int {
            let v = value()
            guard let n = Int(v), n > 0 else { fail("\(args[i - 1]) needs a positive number, not '\(v)'") }
            return n
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--quick": o.quick = true
            case "--dir": o.directory = value()
            case "--reps": o.reps = number(); explicit.insert(a)
            case "--ec-mib": o.ecMiB = number(); explicit.insert(a)
            case "--file-mib": o.fileMiB = number(); explicit.insert(a)
            case "--files": o.files = number(); explicit.insert(a)
            case "--cores": o.cores = number()
            case "--cli": o.cli = value()
            case "--no-build": o.buildCLI = false
            case "--only":
                o.only = Set(value().split(separator: ",").map(String.init))
                let unknown = o.only.subtracting(["ec", "grid", "small"])
                if !unknown.isEmpty { fail("unknown section(s): \(unknown.sorted().joined(separator: ","))") }
            case "--keep": o.keep = true
            case "-h", "--help": print(usage); exit(0)
            default: fail("unknown option '\(a)'")
            }
            i += 1
        }
        if o.quick {
            if !explicit.contains("--reps") { o.reps = 1 }
            if !explicit.contains("--ec-mib") { o.ecMiB = 16 }
            if !explicit.contains("--file-mib") { o.fileMiB = 32 }
            if !explicit.contains("--files") { o.files = 2000 }
        }
        return o
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("cairn-bench: " + message + "\n").utf8))
    exit(2)
}

/// The `cairn` binary to spawn: `--cli`, else built (`swift build -c release --product cairn`) in the
/// package this benchmark was built from and taken from beside this executable.
func locateCLI(_ o: Options) -> (path: String?, note: String?) {
    if let cli = o.cli { return (cli, nil) }
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let binDir = (exe as NSString).deletingLastPathComponent
    let candidate = binDir + "/cairn"
    if o.buildCLI {
        // .build/<triple>/release/cairn-bench → the package root is the parent of .build.
        var root = binDir
        while root != "/" && !FileManager.default.fileExists(atPath: root + "/Package.swift") {
            root = (root as NSString).deletingLastPathComponent
        }
        if root != "/" {
            note("swift build -c release --product cairn (package \(root))")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["swift", "build", "-c", "release", "--product", "cairn", "--package-path", root]
            p.standardOutput = FileHandle.standardError
            p.standardError = FileHandle.standardError
            if (try? p.run()) != nil {
                p.waitUntilExit()
                if p.terminationStatus != 0 {
                    return (nil, "CLI skipped: 'swift build -c release --product cairn' failed (pass --cli PATH)")
                }
            }
        }
    }
    if FileManager.default.isExecutableFile(atPath: candidate) { return (candidate, nil) }
    return (nil, "CLI skipped: no \(candidate) (run 'swift build -c release --product cairn' or pass --cli PATH)")
}

@main
struct Bench {
    static func main() async {
        let o = Options.parse(Array(CommandLine.arguments.dropFirst()))
        do {
            try await run(o)
        } catch {
            fail("\(error)")
        }
    }

    static func run(_ o: Options) async throws {
        let k = 3, n = 10, happy = 7
        let segmentSize = 1 << 20  // Cairn's default maximum segment size
        let cli: (path: String?, note: String?) = o.only.contains("small") ? locateCLI(o) : (nil, nil)
        let directory = try makeTemporaryDirectory(in: o.directory)
        defer { if o.keep { note("kept \(directory)") } else { removeTree(directory) } }

        say("Cairn benchmark\(o.quick ? " (--quick: smoke run, numbers not comparable)" : "")")
        say("date      \(Machine.date)")
        say("machine   \(Machine.cores) online CPUs; \(Machine.cpuModel); SIMD: \(Machine.simd)")
        say("load      \(Machine.loadAverage) (1/5/15 min) at start")
        say("directory \(directory) (\(Machine.filesystem(of: directory)))")
        say("settings  reps \(o.reps) (median), EC data \(o.ecMiB) MiB, file \(o.fileMiB) MiB, \(o.files) small files, ceilings for \(o.cores) cores")

        var ec: [ErasureResult] = []
        if o.only.contains("ec") {
            for (kk, nn) in [(3, 10), (10, 20)] {
                note("erasure code \(kk)-of-\(nn)")
                ec.append(try ErasureBench.run(k: kk, n: nn, segmentSize: segmentSize, dataBytes: o.ecMiB << 20, reps: o.reps))
            }
            say()
            say("1. Erasure code, one core (MB/s of input data bytes; 1 MB = 10^6 B; segments of ~1 MiB split into K blocks)")
            say(ErasureBench.table(ec))
        }

        if o.only.contains("grid") {
            let isal = ec.first { $0.k == k && $0.n == n }?.rawEncodeSecondsPerByte
            let r = try await GridBench.run(directory: directory, size: o.fileMiB << 20, k: k, n: n, happy: happy,
                                            cores: o.cores, reps: o.reps, costReps: o.quick ? 1 : 3,
                                            isalSecondsPerByte: isal)
            say()
            say("2. Put/get of a \(mib(r.size)) random file, \(k)-of-\(n) local grid (\(n) server folders)")
            say("   ceiling = cores / Σ(single-core s/byte × bytes processed per plaintext byte)")
            say(GridBench.tables(r))
        }

        if o.only.contains("small") {
            let libraryBatch = 1024, cliBatch = 2000
            let r = try await SmallFilesBench.run(directory: directory, count: o.files, size: o.fileSize, k: k, n: n,
                                                  happy: happy, libraryBatch: libraryBatch, cliBatch: cliBatch,
                                                  cli: cli.path, cliNote: cli.note)
            say()
            say("3. Small files: distinct random contents, fresh \(k)-of-\(n) local grid each")
            say(SmallFilesBench.table(r, libraryBatch: libraryBatch, cliBatch: cliBatch))
        }
        say()
        say("load      \(Machine.loadAverage) (1/5/15 min) at end")
    }
}
