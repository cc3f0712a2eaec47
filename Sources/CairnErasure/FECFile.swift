import CairnFiles
#if canImport(Glibc)
import Glibc
#endif

/// zfec's `filefec` share files (`zfec` / `zunfec` command-line tools), byte for byte: file
/// `PREFIX.NN_MM.SUFFIX` (share number and M zero-padded to the width of M) holds the header (`FECHeader`)
/// and then, for every segment of K×4096 input bytes, that segment's zfec block for this share; the last
/// segment is zero-padded to a multiple of K. Files are streamed in batches of segments, never loaded whole.
public enum FECFile {
    /// zfec's per-share block size for full segments (`filefec.CHUNKSIZE`).
    public static let chunkSize = 4096
    /// zfec's defaults: 3-of-8, suffix ".fec", output directory ".".
    public static let defaultK = 3
    public static let defaultM = 8
    public static let defaultSuffix = ".fec"

    /// Bytes read per batch (rounded down to whole segments): large enough to amortize system calls.
    static let batchBytes = 1 << 20

    /// `PREFIX.NN_MM.SUFFIX` as zfec names share `shareNumber` of `m` (suffix includes its dot).
    public static func shareFileName(prefix: String, shareNumber: Int, m: Int, suffix: String) -> String {
        let width = String(m).count
        func padded(_ value: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(prefix).\(padded(shareNumber))_\(padded(m))\(suffix)"
    }

    /// zfec's default prefix: the input file's name (Cairn takes the last path component, so that
    /// `-d DIR some/path/file` writes into DIR rather than DIR/some/path).
    public static func defaultPrefix(forInput path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        return trimmed.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? trimmed
    }

    /// Encodes `inputPath` into M share files in `directory` and returns their paths. Without `overwrite`,
    /// an existing share file is an error and nothing is left behind; on any error, files created so far
    /// are removed (as zfec does). `progress` is called with (bytes encoded, total) after each batch.
    @discardableResult
    public static func encode(inputPath: String, directory: String = ".", prefix: String? = nil,
                              suffix: String = defaultSuffix, k: Int = defaultK, m: Int = defaultM,
                              overwrite: Bool = false,
                              progress: ((Int64, Int64) -> Void)? = nil) throws -> [String] {
        let code = try ErasureCode(k: k, n: m)
        return try FECFileError.mapping {
            let input = try FileDescriptor.open(inputPath, flags: O_RDONLY)
            let status = try input.status()
            guard status.kind == .file else { throw FECFileError.notARegularFile(path: inputPath) }
            let size = Int64(status.size)
            let pad = ZFEC.padLength(forLength: Int(size % Int64(k)), k: k)
            let name = prefix ?? defaultPrefix(forInput: inputPath)
            let dir = directory.isEmpty || directory.hasSuffix("/") ? directory : directory + "/"
            let paths = (0..<m).map { dir + shareFileName(prefix: name, shareNumber: $0, m: m, suffix: suffix) }

            var outputs: [FileDescriptor] = []
            do {
                for (number, path) in paths.enumerated() {
                    let file = try create(path, overwrite: overwrite)
                    outputs.append(file)
                    try file.write(FECHeader(m: m, k: k, padLength: pad, shareNumber: number).bytes)
                }
                let read = try ShareFileEncoder(code: code).run(input: input, outputs: outputs, progress: { done in
                    progress?(done, size)
                })
                guard read == size else { throw FECFileError.inputChanged(path: inputPath, expected: size, observed: read) }
                for file in outputs { try file.close() }
            } catch {
                for file in outputs { try? file.close() }
                for path in paths.prefix(outputs.count) { _ = try? FileSystem.unlink(path) }
                throw error
            }
            return paths
        }
    }

    /// Creates `path`; when `overwrite` is false an existing file is an error (O_EXCL, as zfec does).
    static func create(_ path: String, overwrite: Bool) throws(FECFileError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(path, flags: O_WRONLY | O_CREAT | (overwrite ? O_TRUNC : O_EXCL), mode: 0o666)
        } catch {
            throw FECFileError(error, creating: true)
        }
    }

    /// What a decode used and produced.
    public struct DecodeResult: Sendable, Equatable {
        public let k: Int
        public let m: Int
        /// The share files read, in the order used.
        public let sharesUsed: [String]
        public let bytesWritten: Int64
    }

    /// Decodes share files into `outputPath`, as zunfec does: the files are sorted by name and the first K
    /// with distinct share numbers are used (extra or duplicate files are ignored); the pad recorded in the
    /// headers is dropped. Without `overwrite` an existing output is an error; on error the output is removed.
    @discardableResult
    public static func decode(sharePaths: [String], outputPath: String,
                              overwrite: Bool = false) throws -> DecodeResult {
        try FECFileError.mapping {
            let shares = try ShareFileSet.open(sorted(sharePaths))
            let output = try create(outputPath, overwrite: overwrite)
            do {
                let written = try ShareFileDecoder(shares: shares).run(output: output)
                try output.close()
                return DecodeResult(k: shares.header.k, m: shares.header.m, sharesUsed: shares.files.map(\.path),
                                    bytesWritten: written)
            } catch {
                try? output.close()
                _ = try? FileSystem.unlink(outputPath)
                throw error
            }
        }
    }

    /// zunfec sorts its arguments (Python string order = code-point order = UTF-8 byte order).
    static func sorted(_ paths: [String]) -> [String] {
        paths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
