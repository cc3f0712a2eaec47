import Foundation
import Synchronization

/// A real Tahoe-LAFS 1.20 grid on loopback for the tests: an introducer, five storage nodes and a gateway,
/// started once per test process (about 20 s) by `tahoe-grid.sh`, on ports the system says are free, and
/// stopped by PID when the process exits (or by the script's watchdog if it dies). A missing `tahoe`
/// executable fails the test with how to install it: these tests are never skipped.
public final class TahoeTestGrid: Sendable {
    public struct Node: Sendable {
        public let nickname: String
        public let nurl: String
        /// The announced node key, `v0-` and base32.
        public let key: String
        /// The node's folder (its shares live under `storage/shares`).
        public let directory: String
    }

    public let directory: String
    public let nodes: [Node]
    public let gatewayURL: String
    public let gatewayDirectory: String
    public let tahoe: String

    public static let storageNodes = 5
    public static let installHint = "install Tahoe-LAFS 1.20 for the tests: python3 -m venv .tahoe-venv && .tahoe-venv/bin/pip install tahoe-lafs==1.20.0 (or set CAIRN_TAHOE to a tahoe executable)"
    static let environmentKey = "CAIRN_TEST_TAHOE_GRID"

    private static let started = Mutex<Task<TahoeTestGrid, any Error>?>(nil)

    /// The process's grid, started on first use; an exit test's child process attaches to its parent's.
    public static func shared() async throws -> TahoeTestGrid {
        let task = started.withLock { t -> Task<TahoeTestGrid, any Error> in
            if let t { return t }
            let new = Task { try start() }
            t = new
            return new
        }
        return try await task.value
    }

    /// The repository's root (this file is Tests/TahoeTestGrid/TahoeTestGrid.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    public static func findTahoe() throws -> String {
        let env = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let explicit = env["CAIRN_TAHOE"], !explicit.isEmpty { candidates.append(explicit) }
        candidates.append(root + "/.tahoe-venv/bin/tahoe")
        for dir in (env["PATH"] ?? "").split(separator: ":") { candidates.append(String(dir) + "/tahoe") }
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) {
            let version = try run(c, ["--version"]).output
            guard version.contains("tahoe-lafs: 1.20") || version.contains("1.20.") else {
                throw GridFailure(description: "\(c) is not Tahoe-LAFS 1.20 (\(version.prefix(80))): " + installHint)
            }
            return c
        }
        throw GridFailure(description: "no tahoe executable found: " + installHint)
    }

    /// A grid of its own, for a test that kills nodes (the shared one must stay whole); `stop()` ends it.
    public static func startPrivate() async throws -> TahoeTestGrid {
        try await Task.detached { try launch(NSTemporaryDirectory() + "cairn-tahoe-grid-\(getpid())-\(UUID().uuidString.prefix(8))", shared: false) }.value
    }

    /// Stops this grid's processes (by their recorded PIDs).
    public func stop() {
        for pid in pids().values { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func start() throws -> TahoeTestGrid {
        let env = ProcessInfo.processInfo.environment
        if let dir = env[environmentKey], FileManager.default.fileExists(atPath: dir + "/gateway.url") {
            return try TahoeTestGrid(attachingTo: dir, tahoe: try findTahoe())
        }
        return try launch(NSTemporaryDirectory() + "cairn-tahoe-grid-\(getpid())", shared: true)
    }

    private static func launch(_ dir: String, shared: Bool) throws -> TahoeTestGrid {
        let tahoe = try findTahoe()
        try? FileManager.default.removeItem(atPath: dir)
        let ports = try freePorts(storageNodes + 2)
        let script = root + "/Tests/TahoeTestGrid/tahoe-grid.sh"
        let result = try run("/bin/bash", [script, "start", dir] + ports.map(String.init),
                             environment: ["TAHOE": tahoe, "WATCH_PID": String(getpid())])
        if shared { registerStop(dir) }
        guard result.status == 0 else {
            if !shared { _ = try? run("/bin/bash", [script, "stop", dir], environment: ["TAHOE": tahoe]) }
            throw GridFailure(description: "the Tahoe test grid did not start: \(result.output.suffix(600))")
        }
        if shared { setenv(environmentKey, dir, 1) }
        return try TahoeTestGrid(attachingTo: dir, tahoe: tahoe)
    }

    private init(attachingTo dir: String, tahoe: String) throws {
        directory = dir
        self.tahoe = tahoe
        gatewayDirectory = dir + "/gateway"
        gatewayURL = (try String(contentsOfFile: dir + "/gateway.url", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
        let cache = try String(contentsOfFile: dir + "/gateway/private/introducer_default_cache.yaml", encoding: .utf8)
        var found: [Node] = []
        // The cache as Tahoe writes it: one "- ann:" block per node, the NURL on the line after its key.
        for block in cache.components(separatedBy: "\n- ann:").map({ "- ann:" + $0 }) {
            let lines = block.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let at = lines.firstIndex(where: { $0.hasPrefix("anonymous-storage-NURLs:") }), at + 1 < lines.count,
                  let key = lines.first(where: { $0.hasPrefix("key_s:") }),
                  let nick = lines.first(where: { $0.hasPrefix("nickname:") }) else { continue }
            let nickname = String(nick.dropFirst("nickname:".count)).trimmingCharacters(in: .whitespaces)
            found.append(Node(nickname: nickname,
                              nurl: String(lines[at + 1].dropFirst(2)),
                              key: String(key.dropFirst("key_s:".count)).trimmingCharacters(in: .whitespaces),
                              directory: dir + "/" + nickname))
        }
        guard found.count == Self.storageNodes else {
            throw GridFailure(description: "the gateway knows \(found.count) storage nodes, not \(Self.storageNodes)")
        }
        nodes = found.sorted { $0.nickname < $1.nickname }
    }

    /// The PIDs of the grid's processes (introducer, nodes, gateway), as the script recorded them.
    public func pids() -> [String: Int32] {
        let text = (try? String(contentsOfFile: directory + "/pids", encoding: .utf8)) ?? ""
        var out: [String: Int32] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2, let pid = Int32(parts[0]) { out[(String(parts[1]) as NSString).lastPathComponent] = pid }
        }
        return out
    }

    // MARK: Helpers

    struct GridFailure: Error, CustomStringConvertible { let description: String }

    /// Runs a program to its end, output (both streams) captured. posix_spawn and waitpid on its own PID,
    /// not Foundation's Process: under Swift Testing's exit tests Process.waitUntilExit never saw the
    /// script end (another waiter reaped it) and spun forever.
    static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let out = NSTemporaryDirectory() + "cairn-tahoe-out-\(UUID().uuidString)"
        defer { unlink(out) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0)=\($1)" }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw GridFailure(description: "could not start \(path): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw GridFailure(description: "waitpid: errno \(errno)") }
        }
        let output = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let exited = status & 0x7F == 0
        return (exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F), output)
    }

    /// Ports the kernel hands out now (bound to port 0, then released).
    static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { for s in sockets { close(s) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard s >= 0 else { throw GridFailure(description: "socket: errno \(errno)") }
            sockets.append(s)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0 else { throw GridFailure(description: "bind: errno \(errno)") }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
            ports.append(Int(UInt16(bigEndian: addr.sin_port)))
        }
        return ports
    }

    /// Stops the grid's processes by their recorded PIDs when this process exits normally.
    private static func registerStop(_ dir: String) {
        stopDirectory.withLock { $0 = dir }
        atexit {
            guard let dir = TahoeTestGrid.stopDirectory.withLock({ $0 }) else { return }
            let text = (try? String(contentsOfFile: dir + "/pids", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                if let pid = Int32(line.split(separator: " ").first ?? "") { kill(pid, SIGTERM) }
            }
        }
    }
    private static let stopDirectory = Mutex<String?>(nil)
}
