import Foundation
import Testing

/// `cairn fec encode` / `cairn fec decode` run as real processes against zfec's fixture files.
@Suite struct FECCommandTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixture = packageRoot.appendingPathComponent("Fixtures/zfec-vectors/filefec_k3m10_10000")

    /// The built `cairn`: next to the test bundle, else in the package's .build/debug.
    static let cairn: URL = {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("cairn")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        return packageRoot.appendingPathComponent(".build/debug/cairn")
    }()

    struct Outcome { let status: Int32; let stdout: String; let stderr: String }

    func run(_ arguments: [String], in directory: URL) throws -> Outcome {
        let process = Process()
        process.executableURL = Self.cairn
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func encodeWritesZfecsFilesAndDecodeRebuildsTheInput() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = Self.fixture.appendingPathComponent("input.bin")
        try FileManager.default.copyItem(at: input, to: dir.appendingPathComponent("input.bin"))

        let missingDir = try run(["fec", "encode", "-k", "3", "-m", "10", "-d", "shares", "input.bin"], in: dir)
        #expect(missingDir.status == 1, "a missing output directory is an error")
        #expect(missingDir.stderr.hasPrefix("cairn: ") && missingDir.stderr.split(separator: "\n").count == 1)

        try FileManager.default.createDirectory(at: dir.appendingPathComponent("shares"), withIntermediateDirectories: true)
        let ok = try run(["fec", "encode", "-k", "3", "-m", "10", "-d", "shares", "input.bin"], in: dir)
        #expect(ok.status == 0, "\(ok.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("shares").path).sorted()
        #expect(names == (0..<10).map { String(format: "input.bin.%02d_10.fec", $0) })
        for name in names {
            let ours = try Data(contentsOf: dir.appendingPathComponent("shares/\(name)"))
            #expect(ours == (try Data(contentsOf: Self.fixture.appendingPathComponent(name))), "\(name)")
        }

        let decoded = try run(["fec", "decode", "-o", "back.bin", "shares/input.bin.09_10.fec",
                               "shares/input.bin.04_10.fec", "shares/input.bin.07_10.fec"], in: dir)
        #expect(decoded.status == 0, "\(decoded.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("back.bin")) == Data(contentsOf: input))
    }

    @Test func errorsAreOneLineAndExitNonZero() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent("f"))
        #expect(try run(["fec", "encode", "f"], in: dir).status == 0)

        let again = try run(["fec", "encode", "f"], in: dir)
        #expect(again.status == 1)
        #expect(again.stderr == "cairn: there is already a file named './f.0_8.fec'; use -f to overwrite\n")
        #expect(try run(["fec", "encode", "-f", "-q", "f"], in: dir).status == 0)

        let bad = try run(["fec", "encode", "-k", "9", "-m", "8", "f"], in: dir)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("K must be between 1 and N, and N at most 256"))

        let few = try run(["fec", "decode", "-o", "out", "f.0_8.fec", "f.1_8.fec"], in: dir)
        #expect(few.status == 1)
        #expect(few.stderr == "cairn: 3 distinct share files are required to recover this file, but only 2 were given\n")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))

        #expect(try run(["fec", "decode", "f.0_8.fec"], in: dir).status == 64)  // usage: -o is required
    }
}
