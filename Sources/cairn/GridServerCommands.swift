import ArgumentParser
import CairnFiles
import CairnGrid
import CairnPrimitives
import CairnStorage
import CairnTahoe
#if canImport(Glibc)
import Glibc
#endif

extension GridCommand {
    struct AddServer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-server",
            abstract: "Add a server to the grid: a Tahoe-LAFS storage node (its NURL) or a local folder.",
            discussion: """
            A Tahoe node's id is its announced node key (--key v0-…, as in its announcement or 'grid import-tahoe'); \
            without one, the id is derived from the NURL's swissnum, which a renewed certificate does not change. \
            --near servers are read first; --primaries also places shares 0…K−1 of every upload there, so a read \
            from that server alone needs no decoding.
            """)
        @OptionGroup var gridOptions: GridOptions
        @Argument(help: ArgumentHelp("pb://…#v=1 (a Tahoe storage node) or a folder.", valueName: "NURL|DIR")) var server: String
        @Flag(help: "Read from this server first.") var near = false
        @Flag(help: "Also keep shares 0…K−1 of every upload here (needs --near).") var primaries = false
        @Option(help: "A name for messages and listings (one word).") var nickname: String?
        @Option(help: ArgumentHelp("The Tahoe node's announced key.", valueName: "v0-…")) var key: String?

        func validate() throws {
            if primaries && !near { throw ValidationError("--primaries needs --near: primaries are for the server reads go to first") }
            if let nickname, !GridConfig.validNickname(nickname) { throw ValidationError("a nickname is one word of printable characters (at most 64)") }
        }

        func run() async throws {
            let path = gridOptions.resolved.path
            let entry: GridConfig.Server
            if server.hasPrefix("pb://") || server.contains("://") {
                let nurl: NURL
                do { nurl = try NURL(parsing: server) } catch { throw Failure(error.description, code: Code.usage) }
                let id: ServerID
                if let key {
                    guard let bytes = TahoeNodeKey.bytes(key) else { throw Failure("'\(key)' is not a node key (v0- and 52 base32 characters)", code: Code.usage) }
                    id = ServerID(bytes)
                } else {
                    id = ServerID(TaggedHash.hash(HashTag("cairn:tahoe:id"), Array(nurl.swissnum.utf8)))
                }
                entry = GridConfig.Server(id: id, location: .tahoe(nurl.description), nickname: nickname, near: near, primaries: primaries)
            } else {
                if key != nil { throw ValidationError("--key is for Tahoe nodes") }
                let dir = absolutePath(server)
                do { try FileSystem.makeDirectories(dir, mode: 0o700) } catch { throw Failure("\(dir): \(error)", code: Code.ioError) }
                let id = ServerID(SecureRandom.bytes(32))
                _ = try LocalDirectoryServer(directory: dir, id: id, name: nickname ?? dir)
                entry = GridConfig.Server(id: id, location: .local(dir), nickname: nickname, near: near, primaries: primaries)
            }
            let added = try LocalGrid.addServer(at: path, entry)
            let count = try LocalGrid.configuration(at: path).servers.count
            Terminal.writeOut("added \(describeServer(added)) to grid \(path) (\(count) server\(count == 1 ? "" : "s"))\n")
        }
    }

    struct ImportTahoe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import-tahoe",
            abstract: "Add the storage nodes a Tahoe-LAFS client node knows (its servers.yaml and introducer caches).",
            discussion: "Nodes already in the grid are left as they are; nodes that announce no HTTP NURL (Tahoe before 1.19) are listed and skipped.")
        @OptionGroup var gridOptions: GridOptions
        @Argument(help: ArgumentHelp("The Tahoe client node's folder (e.g. ~/.tahoe).", valueName: "NODEDIR")) var nodeDirectory: String

        func run() async throws {
            let path = gridOptions.resolved.path
            let nodes: [AnnouncedNode]
            do { nodes = try NodeDirectory.announcedNodes(absolutePath(nodeDirectory)) } catch { throw Failure(error.description, code: Code.usage) }
            guard !nodes.isEmpty else { throw Failure("\(nodeDirectory) knows no storage nodes (no servers.yaml entries, no announcements cached yet)", code: Code.usage) }
            var config = try LocalGrid.configuration(at: path)
            var added = 0, skipped = 0
            for node in nodes {
                guard let keyBytes = TahoeNodeKey.bytes(node.key) else {
                    Terminal.warning("skipped \(node.nickname ?? node.key): '\(node.key)' is not a node key")
                    skipped += 1
                    continue
                }
                let id = ServerID(keyBytes)
                if config.servers.contains(where: { $0.id == id }) { continue }
                guard let text = node.nurls.first(where: { (try? NURL(parsing: $0)) != nil }) else {
                    Terminal.warning("skipped \(node.nickname ?? node.key): it announces no usable HTTP NURL (Tahoe 1.19 or later is needed)")
                    skipped += 1
                    continue
                }
                let nurl = try NURL(parsing: text)
                let known = config.servers.contains { other in
                    guard case .tahoe(let t) = other.location, let o = try? NURL(parsing: t) else { return false }
                    return o.swissnum == nurl.swissnum && o.host == nurl.host && o.port == nurl.port
                }
                if known { continue }  // added before by its NURL alone: left as it is
                let nick = node.nickname.flatMap { GridConfig.validNickname($0) ? $0 : nil }
                let entry = GridConfig.Server(id: id, location: .tahoe(text), nickname: nick)
                try LocalGrid.addServer(at: path, entry)
                config.servers.append(entry)
                Terminal.writeOut("added \(describeServer(entry))\n")
                added += 1
            }
            Terminal.writeOut("grid \(path): \(added) node\(added == 1 ? "" : "s") added, \(skipped) skipped, \(config.servers.count) servers in all\n")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the grid's servers: kind, nickname, reachable, version, free space, latency measured now.")
        @OptionGroup var gridOptions: GridOptions
        @Flag(help: "Print a JSON array, one object per server.") var json = false

        struct Row: Encodable {
            let number: Int
            let id: String
            let kind: String
            let nickname: String?
            let location: String
            let near: Bool
            let primaries: Bool
            let reachable: Bool
            let version: String?
            let availableSpace: UInt64?
            let latencyMilliseconds: Double?
            let error: String?
        }

        func run() async throws {
            let path = gridOptions.resolved.path
            let config = try LocalGrid.configuration(at: path)
            let grid = try gridOptions.open()
            let rows = await withTaskGroup(of: Row.self) { group in
                for (i, (entry, server)) in zip(config.servers, grid.servers).enumerated() {
                    group.addTask { await Self.probe(i, entry, server) }
                }
                var rows: [Row] = []
                for await r in group { rows.append(r) }
                return rows.sorted { $0.number < $1.number }
            }
            if json {
                try JSONOutput.write(rows)
                return
            }
            Terminal.writeOut("grid \(path): \(config.parameters.k)-of-\(config.parameters.n), happy \(config.parameters.happy), \(rows.count) server\(rows.count == 1 ? "" : "s")\n")
            for r in rows {
                var line = "\(r.number)  \(r.kind)  \(r.nickname ?? "-")  "
                line += r.reachable ? "reachable" : "UNREACHABLE"
                if let v = r.version { line += "  \(v)" }
                if let s = r.availableSpace { line += "  \(formatBytes(s)) free" }
                if let l = r.latencyMilliseconds { line += "  \(String(format1: l)) ms" }
                if r.near { line += "  near" }
                if r.primaries { line += "  primaries" }
                line += "  \(r.location)"
                if let e = r.error { line += "\n    \(e)" }
                Terminal.writeOut(line + "\n")
            }
        }

        static func probe(_ number: Int, _ entry: GridConfig.Server, _ server: any StorageServer) async -> Row {
            let start = FileSystem.monotonicSeconds()
            var version: String?, space: UInt64?, error: String?
            do {
                // One request: the latency measured is one round trip.
                if let tahoe = server as? TahoeServer {
                    let answer = try await tahoe.version()
                    (space, version) = (answer.info.availableSpace, answer.application)
                } else {
                    (space, version) = (try await server.info().availableSpace, "cairn local folder")
                }
            } catch let e {
                error = "\(e)"
            }
            let elapsed = (FileSystem.monotonicSeconds() - start) * 1000
            let location: String
            switch entry.location {
            case .local(let p): location = p
            case .tahoe(let n): location = (try? NURL(parsing: n).redacted) ?? "?"
            }
            let kind: String = if case .tahoe = entry.location { "tahoe" } else { "local" }
            return Row(number: number, id: entry.id.hex, kind: kind, nickname: entry.nickname, location: location,
                       near: entry.near || server.isNear && kind == "local", primaries: entry.primaries, reachable: error == nil,
                       version: version, availableSpace: space, latencyMilliseconds: error == nil ? elapsed : nil, error: error)
        }
    }
}

/// One server of a grid configuration for messages (a Tahoe NURL without its swissnum).
func describeServer(_ s: GridConfig.Server) -> String {
    var out: String
    switch s.location {
    case .local(let p): out = "local folder \(p)"
    case .tahoe(let n): out = "Tahoe node \((try? NURL(parsing: n).redacted) ?? "?")"
    }
    if let nick = s.nickname { out += " (\(nick))" }
    if s.near { out += ", near" }
    if s.primaries { out += ", with primaries" }
    return out
}
