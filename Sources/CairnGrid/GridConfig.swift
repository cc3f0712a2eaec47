import CairnFiles
import CairnFormats
import CairnPrimitives
import CairnStorage
#if canImport(Glibc)
import Glibc
#endif

/// An embedded local grid: N server folders under one directory, a config and a private convergence
/// secret. Layout (Documentation/LocalGrid.md):
///
/// ```
/// GRID/cairn-grid.conf          format, encoding, happy, segment size, one line per server
/// GRID/private/convergence      base32 secret, mode 0600 (folder 0700)
/// GRID/servers/NN/              one LocalDirectoryServer each
/// ```
public struct GridConfig: Sendable, Equatable {
    public static let fileName = "cairn-grid.conf"
    public static let formatVersion = 1

    public struct Server: Sendable, Equatable {
        public let id: ServerID
        /// Relative to the grid directory.
        public let path: String
    }

    public var parameters: EncodingParameters
    public var servers: [Server]

    public var text: String {
        var s = "# Cairn local grid (Documentation/LocalGrid.md)\n"
        s += "format = \(Self.formatVersion)\n"
        s += "encoding = \(parameters.k)-of-\(parameters.n)\n"
        s += "happy = \(parameters.happy)\n"
        s += "segment-size = \(parameters.maximumSegmentSize)\n"
        for server in servers { s += "server = \(server.id.hex) \(server.path)\n" }
        return s
    }

    public init(parameters: EncodingParameters, servers: [Server]) {
        self.parameters = parameters
        self.servers = servers
    }

    public init(parsing text: String, path: String) throws {
        func bad(_ why: String) -> GridError { .badConfig(path: path, reason: why) }
        var values: [String: String] = [:]
        var servers: [Server] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else { throw bad("line \(number + 1) is not 'key = value'") }
            let key = line[..<eq].trimmingCharacters(in: " \t")
            let value = line[line.index(after: eq)...].trimmingCharacters(in: " \t")
            if key == "server" {
                let parts = value.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, parts[0].count == 64, let id = hexBytes(parts[0]),
                      !parts[1].hasPrefix("/"), !parts[1].split(separator: "/").contains("..") else {
                    throw bad("line \(number + 1): a server is '<64 hex digits> <relative folder>'")
                }
                servers.append(Server(id: ServerID(id), path: String(parts[1])))
            } else {
                values[key] = value
            }
        }
        guard values["format"] == String(Self.formatVersion) else {
            throw bad("unknown format '\(values["format"] ?? "")' (this Cairn reads format \(Self.formatVersion))")
        }
        guard let enc = values["encoding"], let happyText = values["happy"], let happy = Int(happyText),
              let segText = values["segment-size"], let seg = Int(segText) else {
            throw bad("encoding, happy and segment-size are required")
        }
        do {
            let (k, n) = try EncodingParameters.parseEncoding(enc)
            parameters = try EncodingParameters(k: k, n: n, happy: happy, maximumSegmentSize: seg)
        } catch let e as FormatError {
            throw bad(e.description)
        }
        guard !servers.isEmpty else { throw bad("no servers") }
        guard Set(servers.map(\.id)).count == servers.count else { throw bad("two servers share an id") }
        self.servers = servers
    }
}

func hexBytes(_ s: Substring) -> [UInt8]? {
    guard s.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        guard let b = UInt8(s[i..<j], radix: 16) else { return nil }
        out.append(b)
        i = j
    }
    return out
}


/// Finds, creates and opens local grids.
public enum LocalGrid {
    public static let environmentVariable = "CAIRN_GRID"

    /// `--grid`, else `CAIRN_GRID`, else `$XDG_DATA_HOME/cairn/grid` (`~/.local/share/cairn/grid`).
    public static func resolvePath(explicit: String?, environment: [String: String]) -> (path: String, isDefault: Bool) {
        if let explicit, !explicit.isEmpty { return (explicit, false) }
        if let env = environment[environmentVariable], !env.isEmpty { return (env, false) }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return (xdg + "/cairn/grid", true) }
        let home = environment["HOME"] ?? "/"
        return (home + "/.local/share/cairn/grid", true)
    }

    /// Makes a new grid: server folders, config and a fresh convergence secret.
    @discardableResult
    public static func create(at path: String, servers count: Int, parameters: EncodingParameters) throws -> GridConfig {
        guard count >= 1, count <= 1000 else { throw GridError.usage("a grid needs between 1 and 1000 servers") }
        guard count >= parameters.happy else {
            throw GridError.usage("\(count) servers cannot make \(parameters.happy) happy: use at least \(parameters.happy) servers or a lower --happy")
        }
        if FileSystem.exists(path + "/" + GridConfig.fileName) {
            throw GridError.usage("a grid already exists at \(path)")
        }
        return try GridError.mapping {
            try FileSystem.makeDirectories(path, mode: 0o755)
            try FileSystem.makeDirectories(path + "/private", mode: 0o700)
            try FileSystem.makeDirectories(path + "/servers", mode: 0o755)
            let width = max(2, String(count - 1).count)
            var servers: [GridConfig.Server] = []
            for i in 0..<count {
                let name = String(i).leftPadded(to: width)
                let server = GridConfig.Server(id: ServerID(SecureRandom.bytes(32)), path: "servers/" + name)
                try FileSystem.makeDirectories(path + "/" + server.path, mode: 0o700)
                servers.append(server)
            }
            let config = GridConfig(parameters: parameters, servers: servers)
            try FileSystem.writeAtomically(path + "/private/convergence",
                                           Array((Base32.encode(SecureRandom.bytes(32)) + "\n").utf8), permissions: 0o600)
            try FileSystem.writeAtomically(path + "/" + GridConfig.fileName, Array(config.text.utf8), permissions: 0o644)
            return config
        }
    }

    /// A file of the grid folder; nil when it is not there. Any other failure (a permission, a disk
    /// error) is said as it is, never taken for "no grid" or a damaged configuration.
    static func readGridFile(_ path: String) throws -> [UInt8]? {
        do { return try FileSystem.readFile(path) } catch {
            if error.isNotFound || error.code == ENOTDIR { return nil }
            throw GridError(error)
        }
    }

    /// Makes an empty server folder for server `number` (its disk gone for good), keeping its id; repairs
    /// then fill it. A folder that exists and is not empty is refused: it may hold the only copy of a
    /// share, and a missing one is never recreated on its own (it may be an unmounted disk).
    public static func replaceServer(at path: String, number: Int) throws -> String {
        let configPath = path + "/" + GridConfig.fileName
        guard let data = try readGridFile(configPath) else { throw GridError.noGrid(path: path) }
        let config = try GridConfig(parsing: String(decoding: data, as: UTF8.self), path: configPath)
        guard config.servers.indices.contains(number) else {
            throw GridError.usage("the grid has servers 0 to \(config.servers.count - 1), not \(number)")
        }
        let server = config.servers[number]
        let dir = path + "/" + server.path
        if let st = try GridError.mapping({ try FileSystem.status(dir) }) {
            guard st.isDirectory, (try GridError.mapping { try FileSystem.list(dir) } ?? []).isEmpty else {
                throw GridError.usage("\(dir) exists and is not an empty folder: replace-server only makes a missing or empty server folder (nothing there is deleted)")
            }
        } else {
            try GridError.mapping { try FileSystem.makeDirectories(dir, mode: 0o700) }
        }
        // Opening it lays it out (folders, FORMAT), as for a new grid's first use.
        _ = try LocalDirectoryServer(directory: dir, id: server.id, name: String(number))
        return dir
    }

    /// Opens a grid. A server folder that has gone missing is reported as unreachable, not recreated. Every
    /// server call answers within `deadline` or fails as unavailable.
    public static func open(at path: String, deadline: Duration = LocalDirectoryServer.defaultDeadline) throws -> Grid {
        let configPath = path + "/" + GridConfig.fileName
        guard let data = try readGridFile(configPath) else { throw GridError.noGrid(path: path) }
        let config = try GridConfig(parsing: String(decoding: data, as: UTF8.self), path: configPath)
        guard let secretData = try readGridFile(path + "/private/convergence"),
              let secret = Base32.decode(String(decoding: secretData, as: UTF8.self).trimmingCharacters(in: " \n")),
              secret.count == 32 else {
            throw GridError.badConfig(path: path + "/private/convergence", reason: "missing or not a base32 32-byte secret")
        }
        var servers: [any StorageServer] = []
        let budgets = SpaceBudget.perFileSystem(config.servers.map { path + "/" + $0.path })
        for (i, s) in config.servers.enumerated() {
            let dir = path + "/" + s.path
            let name = String(i)
            if (try? FileSystem.status(dir))??.isDirectory == true {
                do {
                    servers.append(try LocalDirectoryServer(directory: dir, id: s.id, name: name, deadline: deadline,
                                                            budget: budgets[dir]))
                } catch {
                    servers.append(UnreachableServer(id: s.id, name: name, reason: describe(error)))
                }
            } else {
                servers.append(UnreachableServer(id: s.id, name: name,
                    reason: "folder \(dir) is missing (if its disk is gone for good, 'cairn grid replace-server \(i)' makes an empty one for repair to fill)"))
            }
        }
        return Grid(parameters: config.parameters, convergenceSecret: secret, servers: servers)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
