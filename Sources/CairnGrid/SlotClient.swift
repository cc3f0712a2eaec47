import CairnFormats

/// Mutable slots on a grid: small payloads (refs, manifests) that change, each version signed, encrypted
/// and erasure-coded like files (Documentation/Formats.md, "Mutable slots").
///
/// Publishing is compare-and-swap: a writer names the version it read, and loses (`SlotError.stale`)
/// if someone published on top of it first. Because a publish needs `happy` > N/2 servers, two writers
/// racing from the same version can never both win.
public struct SlotClient: Sendable {
    public let grid: Grid
    public init(grid: Grid) { self.grid = grid }

    /// Makes a new slot holding `payload` as version 1 and returns its write cap.
    public func create(payload: [UInt8]) async throws -> SlotWriteCap {
        let cap = SlotWriteCap.generate()
        _ = try await SlotPublisher(grid: grid).publish(cap, payload: payload, replacing: nil)
        return cap
    }

    /// The newest version K good shares agree on.
    public func read(_ cap: SlotReadCap) async throws -> SlotVersion {
        try await SlotReader(grid: grid).read(cap, writeCap: nil).0
    }

    /// Reads with the write cap, which also repairs servers left behind (their write enablers derive
    /// from it, so only a writer can repair).
    public func read(_ cap: SlotWriteCap) async throws -> SlotVersion {
        try await readWithReport(cap).version
    }

    /// Reads a slot write or read cap given as a `Cap`.
    public func read(_ cap: Cap) async throws -> SlotVersion {
        switch cap {
        case .slotWrite(let c): return try await read(c)
        case .slotRead(let c): return try await read(c)
        case .slotVerify: throw SlotError.usage("a slot verify cap cannot decrypt the slot; use its read or write cap")
        case .literal, .read, .verify: throw SlotError.usage("\(cap.string.prefix(14))… is not a slot cap; read files with 'cairn get'")
        }
    }

    /// Like `read`, with what was ignored and repaired.
    public func readWithReport(_ cap: SlotWriteCap) async throws -> (version: SlotVersion, report: SlotReadReport) {
        let (version, report) = try await SlotReader(grid: grid).read(cap.readCap, writeCap: cap)
        return (version, report)
    }

    public func readWithReport(_ cap: SlotReadCap) async throws -> (version: SlotVersion, report: SlotReadReport) {
        let (version, report) = try await SlotReader(grid: grid).read(cap, writeCap: nil)
        return (version, report)
    }

    /// Publishes `payload` on top of `expected` (a version read from this slot) as seqnum
    /// `expected.seqnum + 1`. Throws `SlotError.stale` if the slot moved past `expected` meanwhile.
    public func publish(_ cap: SlotWriteCap, payload: [UInt8], replacing expected: SlotVersion) async throws -> SlotVersion {
        try await SlotPublisher(grid: grid).publish(cap, payload: payload, replacing: expected)
    }
}
