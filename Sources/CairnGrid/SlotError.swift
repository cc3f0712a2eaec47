/// Failures of slot operations, each a sentence a user can act on.
public enum SlotError: Error, CustomStringConvertible, Equatable {
    /// Someone published on top of the version this writer started from.
    case stale(current: UInt64, replacing: UInt64)
    /// Two writers could both reach `happy`: slots need a strict majority of N.
    case unsafeGrid(n: Int, happy: Int)
    case notEnoughServers(accepted: Int, happy: Int, problems: [String])
    /// No server holds any share of the slot.
    case notFound(storageIndex: String, problems: [String])
    /// Shares exist but no version has K good ones.
    case unrecoverable(needed: Int, problems: [String])
    case wrongSlot(String)
    case tooLarge(size: UInt64, limit: UInt64)
    /// `--if-version` named a version the slot has not reached.
    case noSuchVersion(requested: UInt64, current: UInt64)
    case usage(String)

    public var description: String {
        switch self {
        case .stale(let current, let replacing):
            return "the slot moved: it is at version \(current), you published on top of \(replacing); read it again"
        case .unsafeGrid(let n, let happy):
            return "slots need happy above N/2 so that two writers cannot both succeed; this grid has N = \(n) and happy = \(happy) (use happy ≥ \(n / 2 + 1))"
        case .notEnoughServers(let accepted, let happy, let problems):
            var s = "only \(accepted) servers accepted the new version, but \(happy) are needed (happy); nothing was changed"
            if !problems.isEmpty { s += ": " + problems.joined(separator: "; ") }
            return s
        case .notFound(let si, let problems):
            var s = "no server holds the slot \(si) (wrong grid, or a cap that was never published)"
            if !problems.isEmpty { s += "; " + problems.joined(separator: "; ") }
            return s
        case .unrecoverable(let needed, let problems):
            var s = "no version of the slot has the \(needed) good shares needed to read it"
            if !problems.isEmpty { s += ": " + problems.joined(separator: "; ") }
            return s
        case .wrongSlot(let m): return m
        case .tooLarge(let size, let limit):
            return "a slot payload of \(size) bytes is over the \(limit)-byte limit (slots hold small data; put large data with 'cairn put' and store its cap)"
        case .noSuchVersion(let requested, let current):
            return "the slot is at version \(current); there is no version \(requested) to publish on top of"
        case .usage(let m): return m
        }
    }
}
