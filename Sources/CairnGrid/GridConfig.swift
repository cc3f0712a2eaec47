import CairnFiles
import CairnFormats
import CairnPrimitives
import CairnStorage
import CairnTahoe
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A grid's configuration: encoding, bandwidth defaults and its servers, local folders and Tahoe-LAFS storage
/// nodes alike. Layout (Documentation/LocalGrid.md, Documentation/Tahoe.md):
///
/// ```
/// GRID/cairn-grid.conf          format, encoding, happy, segment size, limits, one line per server
/// GRID/private/convergence      base32 secret, mode 0600 (folder 0700)
/// GRID/servers/NN/              one LocalDirectoryServer each (the grid's own folders)
/// ```
///
/// Format 1 (only plain local folders under the grid) is still written for such grids, so earlier
/// versions read them; anything more (Tahoe nodes, near servers, nicknames, limits) is format 2.
public struct GridConfig: Sendable, Equatable {
    public static let fileName = "cairn-grid.conf"
    public static let formatVersion = 2

    public struct Server: Sendable, Equatable {
        public enum Location: Sendable, Equatable {
            /// A folder, relative to the grid directory or absolute.
            case local(String)
            /// A Tahoe-LAFS storage node's NURL (it holds the node's swissnum: the file is private).
            case tahoe(String)
        }
        public let id: ServerID
        public var location: Location
        public var nickname: String?
        /// Read first (rank 0).
        public var near: Bool
        /// Also holds shares 0…K−1 of every upload, so a read from it alone needs no decoding.
        public var primaries: Bool

        public init(id: ServerID, location: Location, nickname: String? = nil, near: Bool = false, primaries: Bool = false) {
            self.id = id
            self.location = location
            self.nickname = nickname
            self.near = near
            self.primaries = primaries
        }

        /// The folder of a local server, nil for a network one.
        public var localPath: String? { if case .local(let p) = location { return p } else { return nil } }
        var isPlainLocal: Bool {
            guard let p = localPath else { return false }
            return nickname == nil && !near && !primaries && !p.hasPrefix("/")
        }
    }

    public var parameters: EncodingParameters
    public var servers: [Server]
    /// Per-grid default bandwidth limits in bytes per second (network servers only).
    public var limitUpload: Double?
    public var limitDownload: Double?

    public var text: String {
        let plain = !servers.isEmpty && servers.allSatisfy(\.isPlainLocal) && limitUpload == nil && limitDownload == nil
        var s = "# Cairn grid (Documentation/LocalGrid.md, Documentation/Tahoe.md)\n"
        s += "format = \(plain ? 1 : Self.formatVersion)\n"
        s += "encoding = \(parameters.k)-of-\(parameters.n)\n"
        s += "happy = \(parameters.happy)\n"
        s += "segment-size = \(parameters.maximumSegmentSize)\n"
        if let limitUpload { s += "limit-upload = \(BandwidthRate.text(limitUpload))\n" }
        if let limitDownload { s += "limit-download = \(BandwidthRate.text(limitDownload))\n" }
        for server in servers {
            if plain {
                s += "server = \(server.id.hex) \(server.localPath!)\n"
                continue
            }
            var line = "server = \(server.id.hex)"
            switch server.location {
            case .local: line += " local"
            case .tahoe: line += " tahoe"
            }
            if server.near { line += " near" }
            if server.primaries { line += " primaries" }
            if let nick = server.nickname { line += " nickname=\(nick)" }
            switch server.location {
            case .local(let p): line += " " + p
            case .tahoe(let n): line += " " + n
            }
            s += line + "\n"
        }
        return s
    }

    /// Whether the file holds secrets (a Tahoe node's swissnum) and must be readable by its owner only.
    public var isPrivate: Bool { servers.contains { if case .tahoe = $0.location { return true } else { return false } } }

    public init(parameters: EncodingParameters, servers: [Server], limitUpload: Double? = nil, limitDownload: Double? = nil) {
        self.parameters = parameters
        self.servers = servers
        self.limitUpload = limitUpload
        self.limitDownload = limitDownload
    }

    /// A nickname is one word of printable characters (it shares the server line with the location).
    /// Printable ASCII only: a combining mark after `nickname=` would fuse with the `=` and make the line
    /// unreadable (a node's operator chooses its announced nickname).
    public static func validNickname(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    public init(parsing text: String, path: String) throws {
        func bad(_ why: String) -> GridError { .badConfig(path: path, reason: why) }
        var values: [String: String] = [:]
        var serverLines: [(Int, String)] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else { throw bad("line \(number + 1) is not 'key = value'") }
            let key = line[..<eq].trimmingCharacters(in: " \t")
            let value = line[line.index(after: eq)...].trimmingCharacters(in: " \t")
            if key == "server" { serverLines.append((number + 1, value)) } else { values[key] = value }
        }
        guard let format = values["format"].flatMap({ Int($0) }), (1...Self.formatVersion).contains(format) else {
            throw bad("unknown format '\(values["format"] ?? "")' (this Cairn reads formats 1 and \(Self.formatVersion))")
        }
        var servers: [Server] = []
        for (number, value) in serverLines {
            if format == 1 {
                let parts = value.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, parts[0].count == 64, let id = hexBytes(parts[0]),
                      !parts[1].hasPrefix("/"), !parts[1].split(separator: "/").contains("..") else {
                    throw bad("line \(number): a server is '<64 hex digits> <relative folder>'")
                }
                servers.append(Server(id: ServerID(id), location: .local(String(parts[1]))))
                continue
            }
            // ID KIND [near] [primaries] [nickname=N] LOCATION (the location is the rest of the line)
            var rest = Substring(value)
            func word() -> Substring? {
                rest = rest.drop { $0 == " " || $0 == "\t" }
                guard !rest.isEmpty else { return nil }
                let w = rest.prefix { $0 != " " && $0 != "\t" }
                rest = rest.dropFirst(w.count)
                return w
            }
            guard let idText = word(), idText.count == 64, let id = hexBytes(idText), let kind = word() else {
                throw bad("line \(number): a server is '<64 hex digits> local|tahoe [near] [primaries] [nickname=NAME] <folder or NURL>'")
            }
            var server = Server(id: ServerID(id), location: .local(""))
            while true {
                let save = rest
                guard let w = word() else { break }
                if w == "near" { server.near = true } else if w == "primaries" { server.primaries = true } else if w.utf8.starts(with: "nickname=".utf8) {
                    server.nickname = String(decoding: w.utf8.dropFirst("nickname=".utf8.count), as: UTF8.self)
                } else {
                    rest = save
                    break
                }
            }
            let location = rest.trimmingCharacters(in: " \t")
            guard !location.isEmpty else { throw bad("line \(number): the server has no folder or NURL") }
            switch kind {
            case "local":
                guard !location.split(separator: "/").contains("..") else { throw bad("line \(number): a folder with '..' in it") }
                server.location = .local(location)
            case "tahoe":
                do { _ = try NURL(parsing: location) } catch { throw bad("line \(number): \(error)") }
                server.location = .tahoe(location)
            default:
                throw bad("line \(number): unknown server kind '\(kind)' (local or tahoe)")
            }
            servers.append(server)
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
        if format == 1 { guard !servers.isEmpty else { throw bad("no servers") } }
        guard Set(servers.map(\.id)).count == servers.count else { throw bad("two servers share an id") }
        self.servers = servers
        do {
            limitUpload = try values["limit-upload"].map { try BandwidthRate.parse($0) }
            limitDownload = try values["limit-download"].map { try BandwidthRate.parse($0) }
        } catch {
            throw bad("\(error)")
        }
    }
}

/// Bandwidth rates as people write them: `K` is KiB/s, `M` MiB/s, `G` GiB/s, a bare number bytes/s.
public enum BandwidthRate {
    public static func parse(_ text: String) throws(GridError) -> Double {
        let t = text.trimmingCharacters(in: " ")
        var number = Substring(t)
        var scale = 1.0
        switch t.last?.uppercased() {
        case "K": scale = 1024; number = number.dropLast()
        case "M": scale = 1024 * 1024; number = number.dropLast()
        case "G": scale = 1024 * 1024 * 1024; number = number.dropLast()
        default: break
        }
        guard let v = Double(number), v.isFinite, v > 0, v * scale >= 1, v * scale <= 1e15 else {
            throw GridError.usage("'\(text)' is not a rate: write e.g. 500K (KiB/s) or 6M (MiB/s)")
        }
        return v * scale
    }

    public static func text(_ rate: Double) -> String {
        for (suffix, scale) in [("G", 1024.0 * 1024 * 1024), ("M", 1024.0 * 1024), ("K", 1024.0)] where rate >= scale {
            let v = rate / scale
            if v == v.rounded(), v < 1e15 { return "\(Int(v))\(suffix)" }
        }
        return rate == rate.rounded() && rate < 1e15 ? String(Int(rate)) : String(rate)
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

    /// Makes a new grid: server folders, config and a fresh convergence secret. With no servers (a grid of
    /// network servers to be added), `happy` may exceed the local count.
    @discardableResult
    public static func create(at path: String, servers count: Int, parameters: EncodingParameters) throws -> GridConfig {
        guard count >= 0, count <= 1000 else { throw GridError.usage("a grid has between 0 and 1000 local servers") }
        guard count == 0 || count >= parameters.happy else {
            throw GridError.usage("\(count) servers cannot make \(parameters.happy) happy: use at least \(parameters.happy) servers or a lower --happy (or --servers 0, then add servers with 'cairn grid add-server')")
        }
        if FileSystem.exists(path + "/" + GridConfig.fileName) {
            throw GridError.usage("a grid already exists at \(path)")
        }
        return try GridError.mapping {
            try FileSystem.makeDirectories(path, mode: 0o755)
            try FileSystem.makeDirectories(path + "/private", mode: 0o700)
            try FileSystem.makeDirectories(path + "/servers", mode: 0o755)
            let width = max(2, String(max(count, 1) - 1).count)
            var servers: [GridConfig.Server] = []
            for i in 0..<count {
                let name = String(i).leftPadded(to: width)
                let server = GridConfig.Server(id: ServerID(SecureRandom.bytes(32)), location: .local("servers/" + name))
                try FileSystem.makeDirectories(path + "/" + server.localPath!, mode: 0o700)
                servers.append(server)
            }
            let config = GridConfig(parameters: parameters, servers: servers)
            try FileSystem.writeAtomically(path + "/private/convergence",
                                           Array((Base32.encode(SecureRandom.bytes(32)) + "\n").utf8), permissions: 0o600)
            try write(config, to: path)
            return config
        }
    }

    /// Replaces the configuration file atomically (private when it names Tahoe nodes: NURLs hold swissnums).
    static func write(_ config: GridConfig, to path: String) throws {
        try GridError.mapping {
            try FileSystem.writeAtomically(path + "/" + GridConfig.fileName, Array(config.text.utf8),
                                           permissions: config.isPrivate ? 0o600 : 0o644)
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

    /// The grid's configuration as stored.
    public static func configuration(at path: String) throws -> GridConfig {
        let configPath = path + "/" + GridConfig.fileName
        guard let data = try readGridFile(configPath) else { throw GridError.noGrid(path: path) }
        return try GridConfig(parsing: String(decoding: data, as: UTF8.self), path: configPath)
    }

    /// Adds a server (a local folder or a Tahoe node) to the grid's configuration and returns it. A server
    /// already listed (the same id, folder or node) is refused, not added twice.
    @discardableResult
    public static func addServer(at path: String, _ server: GridConfig.Server) throws -> GridConfig.Server {
        var config = try configuration(at: path)
        if let nick = server.nickname, !GridConfig.validNickname(nick) {
            throw GridError.usage("a nickname is one word of printable characters (at most 64)")
        }
        for other in config.servers {
            if other.id == server.id { throw GridError.usage("the grid already has a server with id \(server.id.hex)") }
            if other.location == server.location { throw GridError.usage("the grid already has this server") }
            if case .tahoe(let a) = other.location, case .tahoe(let b) = server.location,
               let x = try? NURL(parsing: a), let y = try? NURL(parsing: b), x.swissnum == y.swissnum, x.host == y.host, x.port == y.port {
                throw GridError.usage("the grid already has the node at \(y.redacted)")
            }
        }
        config.servers.append(server)
        try write(config, to: path)
        return server
    }

    /// Sets or clears the grid's default bandwidth limits.
    public static func setLimits(at path: String, upload: Double??, download: Double??) throws {
        var config = try configuration(at: path)
        if let upload { config.limitUpload = upload }
        if let download { config.limitDownload = download }
        try write(config, to: path)
    }

    /// Makes an empty server folder for server `number` (its disk gone for good), keeping its id; repairs
    /// then fill it. A folder that exists and is not empty is refused: it may hold the only copy of a
    /// share, and a missing one is never recreated on its own (it may be an unmounted disk).
    public static func replaceServer(at path: String, number: Int) throws -> String {
        let config = try configuration(at: path)
        guard config.servers.indices.contains(number) else {
            throw GridError.usage("the grid has servers 0 to \(config.servers.count - 1), not \(number)")
        }
        let server = config.servers[number]
        guard let folder = server.localPath else {
            throw GridError.usage("server \(number) is a Tahoe node, not a folder: a node that lost its disk is replaced by its operator; 'cairn repair' then puts shares back")
        }
        let dir = resolve(folder, in: path)
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

    static func resolve(_ folder: String, in grid: String) -> String { folder.hasPrefix("/") ? folder : grid + "/" + folder }

    /// The bandwidth buckets of this process, one per direction and rate (Documentation/Tahoe.md: limits
    /// are per process, shared by every connection).
    private static let buckets = Mutex<[String: TokenBucket]>([:])
    static func bucket(_ direction: String, _ rate: Double?) -> TokenBucket? {
        guard let rate else { return nil }
        return buckets.withLock { b in
            let key = "\(direction) \(rate)"
            if let existing = b[key] { return existing }
            let new = TokenBucket(bytesPerSecond: rate)
            b[key] = new
            return new
        }
    }

    /// Limits set for this whole process (`--limit-upload`, `CAIRN_LIMIT_UPLOAD`, …): they override the
    /// grid's defaults in every grid this process opens. 0 means unlimited.
    public static let processLimits = Mutex<(upload: Double?, download: Double?)>((nil, nil))

    /// Opens a grid. A server folder that has gone missing is reported as unreachable, not recreated. Every
    /// local server call answers within `deadline` or fails as unavailable. `limits` override the grid's
    /// default bandwidth limits (nil: keep the grid's; 0: unlimited).
    public static func open(at path: String, deadline: Duration = LocalDirectoryServer.defaultDeadline,
                            limitUpload: Double? = nil, limitDownload: Double? = nil) throws -> Grid {
        let config = try configuration(at: path)
        guard let secretData = try readGridFile(path + "/private/convergence"),
              let secret = Base32.decode(String(decoding: secretData, as: UTF8.self).trimmingCharacters(in: " \n")),
              secret.count == 32 else {
            throw GridError.badConfig(path: path + "/private/convergence", reason: "missing or not a base32 32-byte secret")
        }
        let leases = LeaseKeys(convergenceSecret: secret)
        let process = processLimits.withLock { $0 }
        let upload = bucket("up", (limitUpload ?? process.upload ?? config.limitUpload).flatMap { $0 > 0 ? $0 : nil })
        let download = bucket("down", (limitDownload ?? process.download ?? config.limitDownload).flatMap { $0 > 0 ? $0 : nil })
        var servers: [any StorageServer] = []
        let budgets = SpaceBudget.perFileSystem(config.servers.compactMap { $0.localPath.map { resolve($0, in: path) } })
        for (i, s) in config.servers.enumerated() {
            let name = s.nickname ?? String(i)
            switch s.location {
            case .tahoe(let text):
                let nurl = try NURL(parsing: text)  // checked when the configuration was parsed
                let id = s.id
                servers.append(TahoeServer(nurl: nurl, id: id, name: name, near: s.near, upload: upload, download: download,
                                           slotLease: { leases.secrets($0, id) }))
            case .local(let folder):
                let dir = resolve(folder, in: path)
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
        }
        let primaries = Set(config.servers.filter(\.primaries).map(\.id))
        return Grid(parameters: config.parameters, convergenceSecret: secret, servers: servers, primaryHolders: primaries)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
