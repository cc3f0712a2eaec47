import CairnPrimitives
import ArgumentParser
import CairnGrid

struct GridOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The grid directory (default: $CAIRN_GRID, else $XDG_DATA_HOME/cairn/grid).", valueName: "DIR"))
    var grid: String?
    @OptionGroup var bandwidth: BandwidthOptions

    var resolved: (path: String, isDefault: Bool) {
        LocalGrid.resolvePath(explicit: grid, environment: ProcessEnvironment.current)
    }

    /// Opens the grid as configured; only the default location is created on first use.
    func open(createDefault: Bool = false) throws -> Grid {
        let (path, isDefault) = resolved
        do {
            return try ConfiguredGrids().open(at: path)
        } catch GridError.noGrid where isDefault && createDefault {
            try LocalGrid.create(at: path, servers: 10, parameters: try .init(k: 3, n: 10, happy: 7))
            Terminal.warning("created a new local grid at \(path) (10 servers, 3-of-10, happy 7)")
            return try ConfiguredGrids().open(at: path)
        }
    }
}

/// Bandwidth limits for this process's transfers to network servers (Tahoe nodes; local folders are never
/// limited): the options, else CAIRN_LIMIT_UPLOAD / CAIRN_LIMIT_DOWNLOAD, else the grid's defaults.
struct BandwidthOptions: ParsableArguments {
    @Option(name: .customLong("limit-upload"), help: ArgumentHelp("Upload at most RATE to network servers (K = KiB/s, M = MiB/s; 0 = no limit).", valueName: "RATE"))
    var limitUpload: String?
    @Option(name: .customLong("limit-download"), help: ArgumentHelp("Download at most RATE from network servers (K = KiB/s, M = MiB/s; 0 = no limit).", valueName: "RATE"))
    var limitDownload: String?

    func validate() throws { try Self.apply(upload: limitUpload, download: limitDownload) }

    /// Sets the process's limits from the given rates, each else from its environment variable.
    static func apply(upload: String?, download: String?) throws {
        func rate(_ text: String?, _ variable: String) throws -> Double? {
            guard let text = text ?? ProcessEnvironment.current[variable], !text.isEmpty else { return nil }
            if text == "0" { return 0 }
            do { return try BandwidthRate.parse(text) } catch { throw ValidationError("\(variable == "CAIRN_LIMIT_UPLOAD" ? "--limit-upload" : "--limit-download"): \(error)") }
        }
        let up = try rate(upload, "CAIRN_LIMIT_UPLOAD"), down = try rate(download, "CAIRN_LIMIT_DOWNLOAD")
        LocalGrid.processLimits.withLock { $0 = (up, down) }
    }
}
