import Foundation
import Testing
@testable import CairnErasure

/// zfec's `.fec` share files: the fixture written by zfec 1.6.0.0, plus round trips across batch boundaries.
@Suite struct FECFileTests {
    static let fixture = Vectors.manifest.filefec

    func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-fec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    func fixturePath(_ name: String) -> String {
        Vectors.directory.appendingPathComponent("\(Self.fixture.dir)/\(name)").path
    }

    @Test func headersMatchZfecs() throws {
        for (name, entry) in Self.fixture.files {
            let bytes = try read(fixturePath(name))
            #expect(bytes.count == entry.len)
            let (header, length) = try FECHeader.parse(bytes)
            #expect(Array(bytes.prefix(length)) == Vectors.hex(entry.header_hex), "\(name)")
            #expect(header.m == 10 && header.k == 3 && header.padLength == 2)
            #expect(name == FECFile.shareFileName(prefix: "input.bin", shareNumber: header.shareNumber, m: 10, suffix: ".fec"))
        }
    }

    @Test func headerPackingByHand() throws {
        #expect(try FECHeader(m: 1, k: 1, padLength: 0, shareNumber: 0).bytes == [0x00, 0x00])
        #expect(try FECHeader(m: 2, k: 2, padLength: 1, shareNumber: 1).bytes == [0x01, 0xE0])
        #expect(try FECHeader(m: 256, k: 256, padLength: 255, shareNumber: 255).bytes == [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try FECHeader(m: 10, k: 3, padLength: 2, shareNumber: 9).bytes == [0x09, 0x2A, 0x40])
    }

    @Test func headerRoundTripsForEveryShape() throws {
        for m in 1...256 {
            for k in Set([1, 2, (m + 1) / 2, max(1, m - 1), m]) where k <= m {
                for pad in Set([0, k - 1]) {
                    for share in Set([0, m - 1]) {
                        let header = try FECHeader(m: m, k: k, padLength: pad, shareNumber: share)
                        let bytes = header.bytes
                        let (parsed, length) = try FECHeader.parse(bytes + [0xAA, 0xBB])
                        #expect(parsed == header && length == bytes.count, "m=\(m) k=\(k) pad=\(pad) sh=\(share)")
                    }
                }
            }
        }
    }

    @Test func truncatedOrImpossibleHeadersAreRejected() {
        #expect(throws: FECFileError.self) { try FECHeader.parse([]) }
        #expect(throws: FECFileError.self) { try FECHeader.parse([0x09]) }
        #expect(throws: FECFileError.self) { try FECHeader.parse([0x00]) }       // M=1 still needs 2 bytes
        #expect(throws: FECFileError.self) { try FECHeader.parse([0x02, 0xC0]) }  // M=3 but K=4
    }

    @Test func zfecShareFilesDecode() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let expected = try read(fixturePath("input.bin"))
        let names = Self.fixture.files.keys.sorted()
        for subset in [names, Array(names.suffix(3)), [names[1], names[9], names[4]], Array(names.prefix(3))] {
            let out = dir + "/out-\(UUID().uuidString)"
            let result = try FECFile.decode(sharePaths: subset.map(fixturePath), outputPath: out)
            #expect(try read(out) == expected, "\(subset)")
            #expect(result.bytesWritten == Int64(expected.count) && result.k == 3 && result.m == 10)
        }
    }

    @Test func reencodingIsByteIdenticalToZfec() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let paths = try FECFile.encode(inputPath: fixturePath("input.bin"), directory: dir, k: 3, m: 10)
        let names = paths.map { URL(fileURLWithPath: $0).lastPathComponent }
        #expect(names == Self.fixture.files.keys.sorted())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == names)
        for name in names { #expect(try read(dir + "/" + name) == read(fixturePath(name)), "\(name)") }
    }

    /// Streams across several batches with a short tail, against an in-memory model of zfec's layout:
    /// share j = header + for each K×4096-byte segment, block j of `ZFEC.encode(segment)`.
    @Test(arguments: [(3, 10, 3 * 4096 * 90 + 12_345), (1, 1, 5000), (1, 3, 4096), (7, 8, 0),
                      (2, 3, 1), (10, 20, 10 * 4096 * 26 + 40_961), (255, 256, 30_000)])
    func streamingMatchesTheModelAndRoundTrips(_ p: (Int, Int, Int)) throws {
        let (k, m, size) = p
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = Vectors.prng(seed: UInt64(size + k), count: size)
        let inputPath = dir + "/data.bin"
        try Data(input).write(to: URL(fileURLWithPath: inputPath))
        let paths = try FECFile.encode(inputPath: inputPath, directory: dir, prefix: "p", suffix: ".x", k: k, m: m)
        #expect(paths.first.map { URL(fileURLWithPath: $0).lastPathComponent } == FECFile.shareFileName(prefix: "p", shareNumber: 0, m: m, suffix: ".x"))

        let code = try ErasureCode(k: k, n: m)
        var model = (0..<m).map { try! FECHeader(m: m, k: k, padLength: (k - size % k) % k, shareNumber: $0).bytes }
        var offset = 0
        while offset < size {
            let segment = Array(input[offset..<min(size, offset + k * 4096)])
            for (j, block) in ZFEC.encode(segment, with: code).enumerated() { model[j] += block }
            offset += k * 4096
        }
        for j in 0..<m { #expect(try read(paths[j]) == model[j], "share \(j)") }

        let subsets = [Array(paths.prefix(k)), Array(paths.suffix(k)), Array(paths.reversed())]
        for subset in subsets {
            let out = dir + "/out-\(UUID().uuidString)"
            try FECFile.decode(sharePaths: subset, outputPath: out)
            #expect(try read(out) == input)
        }
    }

    @Test func existingShareFilesNeedOverwrite() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inputPath = dir + "/in"
        try Data([1, 2, 3, 4, 5]).write(to: URL(fileURLWithPath: inputPath))
        let blocker = dir + "/in.5_8.fec"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: blocker))
        let error = #expect(throws: FECFileError.fileExists(path: blocker)) {
            try FECFile.encode(inputPath: inputPath, directory: dir)
        }
        #expect(error?.description.contains("use -f to overwrite") == true)
        // Nothing half-written is left, and the existing file is untouched.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["in", "in.5_8.fec"])
        #expect(try read(blocker) == Array("keep".utf8))
        let paths = try FECFile.encode(inputPath: inputPath, directory: dir, overwrite: true)
        #expect(paths.count == 8)
        #expect(try read(blocker) != Array("keep".utf8))
    }

    @Test func decodeErrors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let names = Self.fixture.files.keys.sorted()
        let out = dir + "/out"
        #expect(throws: FECFileError.insufficientShareFiles(needed: 3, got: 2)) {
            try FECFile.decode(sharePaths: [names[0], names[5]].map(fixturePath), outputPath: out)
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(throws: FECFileError.insufficientShareFiles(needed: 3, got: 2)) {
            try FECFile.decode(sharePaths: [names[0], names[5], names[5]].map(fixturePath), outputPath: out)
        }
        try Data().write(to: URL(fileURLWithPath: out))
        #expect(throws: FECFileError.fileExists(path: out)) {
            try FECFile.decode(sharePaths: names.map(fixturePath), outputPath: out)
        }
        // A share of another encoding (different K) is refused by name.
        let inputPath = dir + "/other"
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: inputPath))
        let other = try FECFile.encode(inputPath: inputPath, directory: dir, k: 2, m: 10)
        let copied = dir + "/" + names[0]  // sorts before "other.*", so K=3 is seen first
        try Data(try read(fixturePath(names[0]))).write(to: URL(fileURLWithPath: copied))
        let error = #expect(throws: FECFileError.self) {
            try FECFile.decode(sharePaths: [other[1], copied, other[2]], outputPath: dir + "/o2")
        }
        #expect(error?.description.contains("k=2") == true)
        // A truncated share is reported, not decoded into garbage.
        let cut = dir + "/" + names[1]
        try Data(try read(fixturePath(names[1])).prefix(100)).write(to: URL(fileURLWithPath: cut))
        #expect(throws: FECFileError.self) {
            try FECFile.decode(sharePaths: [fixturePath(names[0]), cut, fixturePath(names[2])], outputPath: dir + "/o3")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/o3"))
    }

    /// File-layer failures keep their wording: "cannot OPERATION 'PATH': strerror".
    @Test func systemCallFailuresNameTheFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = dir + "/missing"
        #expect(throws: FECFileError.io(path: missing, operation: "open", errno: ENOENT)) {
            try FECFile.encode(inputPath: missing, directory: dir)
        }
        #expect(throws: FECFileError.notARegularFile(path: dir)) { try FECFile.encode(inputPath: dir, directory: dir) }
        let input = dir + "/in"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: input))
        let error = #expect(throws: FECFileError.self) { try FECFile.encode(inputPath: input, directory: dir + "/no/such") }
        #expect(error?.description == "cannot create '\(dir)/no/such/in.0_8.fec': No such file or directory")
    }
}
