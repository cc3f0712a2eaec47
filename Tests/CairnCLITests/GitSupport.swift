import Foundation
import Testing

/// The real `git` (installed by .ci/run), with fixed identities and dates so histories are reproducible.
struct Git {
    let dir: String

    static let environment: [String: String] = [
        "GIT_AUTHOR_NAME": "A U Thor", "GIT_AUTHOR_EMAIL": "author@example.com", "GIT_AUTHOR_DATE": "1700000000 +0100",
        "GIT_COMMITTER_NAME": "C O Mitter", "GIT_COMMITTER_EMAIL": "committer@example.com", "GIT_COMMITTER_DATE": "1700000000 +0100",
        "GIT_CONFIG_NOSYSTEM": "1", "HOME": NSTemporaryDirectory(), "GIT_CONFIG_GLOBAL": "/dev/null",
    ]

    /// Runs git in `dir`; fails the test (and throws) on a non-zero exit unless `check` is false.
    @discardableResult
    func run(_ args: [String], stdin: Data? = nil, env: [String: String] = [:], check: Bool = true) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/git") else {
            throw GitTestError("git is not installed (.ci/run installs it)")
        }
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in Self.environment { environment[k] = v }
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        nonisolated(unsafe) var outData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        if check && p.terminationStatus != 0 {
            throw GitTestError("git \(args.joined(separator: " ")) failed (\(p.terminationStatus)): \(String(decoding: errData, as: UTF8.self))")
        }
        return outData
    }

    func text(_ args: [String], stdin: Data? = nil, env: [String: String] = [:]) throws -> String {
        String(decoding: try run(args, stdin: stdin, env: env), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes raw bytes as an object of `type`, however odd (`hash-object --literally`); returns its id.
    func literal(_ type: String, _ bytes: [UInt8]) throws -> String {
        try text(["hash-object", "-t", type, "-w", "--literally", "--stdin"], stdin: Data(bytes))
    }

    func literal(_ type: String, _ text: String) throws -> String { try literal(type, Array(text.utf8)) }

    /// Raw tree bytes from (mode text, name bytes, hex id), in the order given.
    static func treeBytes(_ entries: [(String, [UInt8], String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (mode, name, hex) in entries {
            out += Array(mode.utf8) + [0x20] + name + [0]
            var i = hex.startIndex
            while i < hex.endIndex {
                let j = hex.index(i, offsetBy: 2)
                out.append(UInt8(hex[i..<j], radix: 16)!)
                i = j
            }
        }
        return out
    }

    /// Every object of the repository: "id type size" lines, sorted.
    func objectSet() throws -> [String] {
        try text(["cat-file", "--batch-all-objects", "--batch-check"]).split(separator: "\n").map(String.init).sorted()
    }

    /// Every ref with its id, and what HEAD names.
    func refSet() throws -> [String] {
        let refs = try text(["for-each-ref", "--format=%(objectname) %(refname) %(symref)"]).split(separator: "\n").map(String.init)
        let head = (try? text(["symbolic-ref", "HEAD"])) ?? ""
        return refs.filter { !$0.contains(" refs/cairn-import/") } + ["HEAD -> " + head]
    }

    static func make(_ dir: String, bare: Bool = false) throws -> Git {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let git = Git(dir: dir)
        try git.run(["init", "-q", "-b", "main"] + (bare ? ["--bare"] : []))
        return git
    }
}

struct GitTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
