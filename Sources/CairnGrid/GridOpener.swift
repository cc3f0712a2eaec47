import CairnStorage

/// Where grids come from: a location (a grid folder holding `cairn-grid.conf`) becomes a `Grid` whose
/// servers are built from the configuration. Everything above the grid layer (repositories, commands) opens
/// grids only through this, so networked servers, or a test's own servers, plug in without touching them.
public protocol GridOpener: Sendable {
    func open(at location: String) throws -> Grid
}

/// Grids as configured on disk (`cairn-grid.conf`; today every server line names a local folder), every
/// server call bounded by `deadline`.
public struct ConfiguredGrids: GridOpener {
    public var deadline: Duration
    public init(deadline: Duration = LocalDirectoryServer.defaultDeadline) { self.deadline = deadline }
    public func open(at location: String) throws -> Grid { try LocalGrid.open(at: location, deadline: deadline) }
}
