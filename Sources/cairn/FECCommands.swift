import ArgumentParser
import CairnErasure
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `cairn fec`: zfec-compatible share files on disk (`zfec` / `zunfec`), for moving data by hand and for
/// checking Cairn's erasure code against zfec's tools.
struct FEC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fec",
        abstract: "Split a file into zfec-compatible share files, or rebuild it from any K of them.",
        subcommands: [Encode.self, Decode.self])

    struct Encode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encode FILE into M share files PREFIX.NN_MM.SUFFIX, any K of which rebuild it (as zfec).")

        @Option(name: [.customShort("k"), .customLong("requiredshares")], help: "Share files needed to rebuild.")
        var k: Int = FECFile.defaultK

        @Option(name: [.customShort("m"), .customLong("totalshares")], help: "Share files to create (at most 256).")
        var m: Int = FECFile.defaultM

        @Option(name: [.customShort("d"), .customLong("output-dir")], help: "Directory for the share files.")
        var directory: String = "."

        @Option(name: [.customShort("p"), .customLong("prefix")], help: "Share file name prefix (default: FILE's name).")
        var prefix: String?

        @Option(name: [.customShort("s"), .customLong("suffix")], help: "Share file name suffix.")
        var suffix: String = FECFile.defaultSuffix

        @Flag(name: [.customShort("f"), .customLong("force")], help: "Overwrite existing share files.")
        var force = false

        @Flag(name: [.customShort("v"), .customLong("verbose")], help: "List the share files written.")
        var verbose = false

        @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No warnings about silly choices of K and M.")
        var quiet = false

        @Argument(help: "The file to encode.")
        var file: String

        func validate() throws {
            if verbose && quiet { throw ValidationError("Please choose only one of --verbose and --quiet.") }
        }

        func run() async throws {
            if !quiet && 1 <= k && k <= m && m <= 256 {
                if k == 1 { printError("warning: K=1: every share file is a complete copy of the file") }
                if k == m { printError("warning: K=M: every share file will be needed to rebuild the file") }
            }
            let paths = try reportingErrors {
                try FECFile.encode(inputPath: file, directory: directory, prefix: prefix, suffix: suffix,
                                   k: k, m: m, overwrite: force)
            }
            if verbose { for path in paths { print(path) } }
        }
    }

    struct Decode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild a file from share files (as zunfec): the first K distinct shares in name order are used.")

        @Option(name: [.customShort("o"), .customLong("outputfile")], help: "The file to write.")
        var output: String

        @Flag(name: [.customShort("f"), .customLong("force")], help: "Overwrite an existing output file.")
        var force = false

        @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Say which share files were used.")
        var verbose = false

        @Argument(help: "Share files (at least K of them).")
        var shareFiles: [String]

        func validate() throws {
            if shareFiles.isEmpty { throw ValidationError("Give at least one share file.") }
        }

        func run() async throws {
            let result = try reportingErrors {
                try FECFile.decode(sharePaths: shareFiles, outputPath: output, overwrite: force)
            }
            if verbose {
                print("decoded \(result.bytesWritten) bytes (K=\(result.k), M=\(result.m)) from "
                      + result.sharesUsed.joined(separator: ", "))
            }
        }
    }
}

/// Runs `body`; a failure becomes one line `cairn: <message>` on stderr and exit status 1.
private func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

/// Writes `cairn: <message>` to stderr (without Foundation, which would slow every command's start).
func printError(_ message: String) {
    let line = "cairn: \(message)\n"
    var bytes = Array(line.utf8)
    bytes.withUnsafeMutableBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
            if written <= 0 { break }
            offset += written
        }
    }
}
