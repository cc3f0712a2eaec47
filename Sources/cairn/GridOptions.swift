import CairnPrimitives
import ArgumentParser
import CairnGrid

struct GridOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The grid directory (default: $CAIRN_GRID, else $XDG_DATA_HOME/cairn/grid).", valueName: "DIR"))
    var grid: String?

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
