import CairnFormats
import CairnGrid
import Synchronization

/// Refs in a mutable slot: loads remember the version read, so a publish can be a test-and-set on it.
public final class SlotRefStore: RefStore {
    let client: SlotClient
    let cap: Cap
    private let last = Mutex<SlotVersion?>(nil)

    public init(grid: Grid, cap: Cap) {
        client = SlotClient(grid: grid)
        self.cap = cap
    }

    public var isWritable: Bool { if case .slotWrite = cap { return true } else { return false } }

    public func load() async throws -> (refs: Refs, version: UInt64) {
        let version = try await client.read(cap)
        let refs = try Refs(decoding: version.payload)
        last.withLock { $0 = version }
        return (refs, version.seqnum)
    }

    public func publish(_ refs: Refs, replacing version: UInt64) async throws -> UInt64 {
        guard case .slotWrite(let writeCap) = cap else { throw RefStoreError.readOnly }
        var expected = last.withLock { $0 }
        if expected?.seqnum != version {
            expected = try await client.read(cap)
            last.withLock { $0 = expected }
        }
        guard let expected, expected.seqnum == version else { throw RefStoreError.moved(current: expected?.seqnum ?? 0) }
        do {
            let published = try await client.publish(writeCap, payload: refs.encoded, replacing: expected)
            last.withLock { $0 = published }
            return published.seqnum
        } catch SlotError.stale(let current, _) {
            throw RefStoreError.moved(current: current)
        }
    }
}

public struct SlotRefStoreProvider: RefStoreProvider {
    public init() {}

    public func create(grid: Grid, refs: Refs) async throws -> (store: any RefStore, writeCap: String) {
        let writeCap = try await SlotClient(grid: grid).create(payload: refs.encoded)
        return (SlotRefStore(grid: grid, cap: .slotWrite(writeCap)), writeCap.string)
    }

    public func open(grid: Grid, cap: String) throws -> any RefStore {
        let parsed = try Cap(parsing: cap)
        switch parsed {
        case .slotWrite, .slotRead: return SlotRefStore(grid: grid, cap: parsed)
        default: throw RepositoryError.corruptState(cap, "a repository cap is cairn:slot:… or cairn:slot-ro:…")
        }
    }

    public func readCap(for cap: String) throws -> String {
        switch try Cap(parsing: cap) {
        case .slotWrite(let w): return w.readCap.string
        case .slotRead(let r): return r.string
        default: throw RepositoryError.corruptState(cap, "not a repository cap")
        }
    }
}
