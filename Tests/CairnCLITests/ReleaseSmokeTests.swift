import Foundation
import Testing

/// The rest of the suite runs debug builds; Swift 6.3.1 has miscompiled task-group code at -O
/// (Benchmarks/Repro) in ways only a release build shows. This builds `cairn` in release mode (in a
/// scratch folder of its own) and runs the main paths with it: put twice, get, check, a repository with
/// two commits, restore, clone.
@Suite struct ReleaseSmokeTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func sh(_ args: [String], cwd: String, env: [String: String] = [:]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func releaseBuildRunsTheMainPaths() throws {
        let root = Self.packageRoot.path
        let scratch = root + "/.build-release-smoke"
        let (code, log) = try sh(["swift", "build", "-c", "release", "--product", "cairn", "--scratch-path", scratch], cwd: root)
        try #require(code == 0, "release build failed:\n\(log.suffix(3000))")
        let cairn = scratch + "/release/cairn"
        let dir = TemporaryDirectory()
        let env = ["CAIRN_GRID": dir.file("grid")]
        func run(_ args: [String], cwd: String? = nil) throws -> (Int32, String) { try sh([cairn] + args, cwd: cwd ?? dir.path, env: env) }
        #expect(try run(["grid", "create", dir.file("grid")]).0 == 0)
        let data = Data(testBytes(3_500_000, seed: 12))
        try data.write(to: URL(fileURLWithPath: dir.file("f")))
        try Data(testBytes(3000, seed: 13)).write(to: URL(fileURLWithPath: dir.file("small")))
        let first = try run(["put", dir.file("f"), dir.file("small")])
        let second = try run(["put", dir.file("f"), dir.file("small")])
        #expect(first.0 == 0 && second.0 == 0 && first.1 == second.1, "\(first.1)\n\(second.1)")
        let cap = String(first.1.split(separator: "\n").first ?? "")
        #expect(try run(["get", cap, "-o", dir.file("back")]).0 == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("back"))) == data)
        #expect(try run(["check", "--verify", cap]).0 == 0)

        let work = dir.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        for i in 0..<40 { try Data(testBytes(1000 + i * 997, seed: UInt64(i))).write(to: URL(fileURLWithPath: work + "/f\(i)")) }
        try data.write(to: URL(fileURLWithPath: work + "/big"))
        let initOut = try run(["init"], cwd: work)
        #expect(initOut.0 == 0, "\(initOut.1)")
        #expect(try run(["commit", "-m", "one", "--date", "2026-01-01T00:00:00Z"], cwd: work).0 == 0)
        try Data("changed".utf8).write(to: URL(fileURLWithPath: work + "/f3"))
        #expect(try run(["commit", "-m", "two"], cwd: work).0 == 0)
        let restored = try run(["restore", "f3", "--at", "2026-01-02", "-o", dir.file("f3-old")], cwd: work)
        #expect(restored.0 == 0, "\(restored.1)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("f3-old"))) == Data(testBytes(1000 + 3 * 997, seed: 3)))
        let writeCap = String(initOut.1.split(separator: "\n").first { $0.hasPrefix("cairn:slot:") } ?? "")
        #expect(try run(["clone", writeCap, dir.file("clone")]).0 == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("clone") + "/big")) == data)
        #expect(try run(["check"], cwd: work).0 == 0)
    }
}
