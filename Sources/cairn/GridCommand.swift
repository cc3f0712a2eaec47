import CairnPrimitives
import ArgumentParser
import CairnFormats
import CairnGrid
import CairnStorage

struct GridCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grid", abstract: "Manage grids: local folders and Tahoe-LAFS storage nodes.",
                                                    subcommands: [Create.self, AddServer.self, ImportTahoe.self, Status.self, ReclaimQuarantine.self, ReplaceServer.self])

    struct ReplaceServer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "replace-server",
            abstract: "Make an empty folder for a server whose disk is gone for good; repairs then fill it.",
            discussion: "Refuses a folder that exists and is not empty. The server keeps its id.")
        @OptionGroup var gridOptions: GridOptions
        @Argument(help: "The server's number (as in 'cairn check').") var number: Int

        func run() async throws {
            let dir = try LocalGrid.replaceServer(at: gridOptions.resolved.path, number: number)
            Terminal.writeOut("server \(number): empty folder \(dir); run 'cairn repair' (per cap, or inside each repository) to fill it\n")
        }
    }

    struct ReclaimQuarantine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reclaim-quarantine",
            abstract: "Delete the share bytes repairs superseded and kept in each server's quarantine folder.",
            discussion: "Repairs never delete a share: the copy a replacement superseded is kept. This is the only command that removes those copies.")
        @OptionGroup var gridOptions: GridOptions
        @Flag(help: "Only count what would be deleted.") var dryRun = false

        func run() async throws {
            let grid = try gridOptions.open()
            var files = 0, bytes: UInt64 = 0
            for server in grid.servers {
                guard let local = server as? LocalDirectoryServer else { continue }
                let r = try await local.reclaimQuarantine(dryRun: dryRun)
                if r.files > 0 { Terminal.writeOut("server \(server.name): \(r.files) file\(r.files == 1 ? "" : "s"), \(r.bytes) bytes\n") }
                files += r.files
                bytes += r.bytes
            }
            Terminal.writeOut("\(dryRun ? "would reclaim" : "reclaimed") \(files) quarantined file\(files == 1 ? "" : "s"), \(bytes) bytes\n")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a local grid of N server folders.")

        @Argument(help: ArgumentHelp("Where to create it (default: $CAIRN_GRID, else $XDG_DATA_HOME/cairn/grid).", valueName: "DIR"))
        var directory: String?
        @Option(help: "Number of server folders.") var servers = 10
        @Option(help: ArgumentHelp("Erasure coding, K-of-N.", valueName: "K-of-N")) var encoding = "3-of-10"
        @Option(help: "Distinct servers an upload must reach.") var happy = 7
        @Option(help: ArgumentHelp("Maximum segment size in bytes.", valueName: "BYTES"))
        var segmentSize = EncodingParameters.defaultMaximumSegmentSize

        func run() async throws {
            let params: EncodingParameters
            do {
                let (k, n) = try EncodingParameters.parseEncoding(encoding)
                params = try EncodingParameters(k: k, n: n, happy: happy, maximumSegmentSize: segmentSize)
            } catch let e as FormatError {
                throw ValidationError(e.description)
            }
            let path = LocalGrid.resolvePath(explicit: directory, environment: ProcessEnvironment.current).path
            try LocalGrid.create(at: path, servers: servers, parameters: params)
            Terminal.writeOut("created grid \(path): \(servers) servers, \(params.k)-of-\(params.n), happy \(params.happy)\n")
        }
    }
}
