import Foundation
import Testing

/// Runs the real xdelta3 (Debian package `xdelta3`, 3.0.11) in a scratch directory: the test oracle.
/// A missing binary fails the calling test with the install hint instead of skipping it.
struct Xdelta3 {
    enum Failure: Error, CustomStringConvertible {
        case missing
        case failed(arguments: [String], status: Int32, stderr: String)
        var description: String {
            switch self {
            case .missing:
                return "xdelta3 is not installed: install the Debian package xdelta3 (apt-get install xdelta3)"
            case .failed(let arguments, let status, let stderr):
                return "xdelta3 \(arguments.joined(separator: " ")) exited with \(status): \(stderr)"
            }
        }
    }

    let executable: URL
    let directory: URL

    init() throws {
        let candidates = ["/usr/bin/xdelta3", "/usr/local/bin/xdelta3", "/opt/homebrew/bin/xdelta3"]
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/xdelta3" }
        guard let found = (path + candidates).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure.missing
        }
        executable = URL(fileURLWithPath: found)
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-delta-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

    /// `xdelta3 -e -S none -A [extra] -s SOURCE TARGET OUT`, returning OUT's bytes.
    func encode(source: [UInt8], target: [UInt8], extra: [String] = []) throws -> [UInt8] {
        let s = try write(source, "source"), t = try write(target, "target")
        let out = directory.appendingPathComponent("delta").path
        try run(["-e", "-f", "-S", "none", "-A"] + extra + ["-s", s, t, out])
        return try read(out)
    }

    /// `xdelta3 -d -s SOURCE DELTA OUT`, returning OUT's bytes.
    func decode(delta: [UInt8], source: [UInt8]) throws -> [UInt8] {
        let s = try write(source, "source"), d = try write(delta, "delta")
        let out = directory.appendingPathComponent("decoded").path
        try run(["-d", "-f", "-s", s, d, out])
        return try read(out)
    }

    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    private func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure.failed(arguments: arguments, status: process.terminationStatus,
                                 stderr: String(decoding: message, as: UTF8.self))
        }
    }
}
