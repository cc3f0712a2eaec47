import CairnFiles
import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// Mutable shares ("slots") of one local server (Documentation/LocalGrid.md, "Slots"): one file per (slot, share),
/// each replaced whole by temporary file, fsync, rename and directory fsync, under an exclusive `flock`
/// on the slot's lock file, so a test-and-write is atomic against every other writer in any process and
/// durable when it returns.
///
///     <server>/slots/<2 hex>/<32 hex>/lock            empty; flocked by writers
///     <server>/slots/<2 hex>/<32 hex>/write-enabler   the write enabler given at the first write
///     <server>/slots/<2 hex>/<32 hex>/<share>         the share's bytes (share number in decimal)
///     <server>/slots/<2 hex>/<32 hex>/<name>.cairn-tmp-<pid>  a share (or write-enabler) being replaced
struct SlotStore: Sendable {
    static let lockName = "lock"
    static let writeEnablerName = "write-enabler"
    /// Temporary files of builds before CairnFiles' `AtomicFile` (`.tmp-<name>-<16 hex>`).
    static let legacyTemporaryPrefix = ".tmp-"
    /// Slots hold small payloads; a share past this size is refused.
    static let maximumShareSize: UInt64 = 64 << 20

    let root: String
    let server: ServerLabel

    func prefixDirectory(_ index: StorageIndex) -> String { root + "/" + String(index.hex.prefix(2)) }
    func directory(_ index: StorageIndex) -> String { prefixDirectory(index) + "/" + index.hex }

    private func checkShare(_ share: ShareNumber) throws {
        guard share >= 0, share <= Int(UInt16.max) else {
            throw StorageError.outOfRange(server: server, reason: "slot share number \(share) is out of range (0...\(UInt16.max))")
        }
    }

    // MARK: Reading

    func read(_ index: StorageIndex, shares: Set<ShareNumber>?, ranges: [Range<UInt64>]) throws -> [ShareNumber: [[UInt8]]] {
        let dir = directory(index)
        guard let names = try FileSystem.list(dir) else { return [:] }
        var out: [ShareNumber: [[UInt8]]] = [:]
        for name in names {
            guard let share = Self.shareNumber(name), shares?.contains(share) ?? true else { continue }
            // Replaced by rename, never written in place: an open file is one whole version.
            guard let fd = try FileDescriptor.openIfExists(dir + "/" + name, flags: O_RDONLY) else { continue }
            let size = try fd.size
            out[share] = try ranges.map { r in
                let lo = min(r.lowerBound, size), hi = min(r.upperBound, size)
                return lo < hi ? try fd.read(count: Int(hi - lo), at: lo) : []
            }
        }
        return out
    }

    static func shareNumber(_ name: String) -> ShareNumber? {
        guard !name.isEmpty, name.count <= 5, name.allSatisfy({ $0.isASCII && $0.isNumber }),
              name == "0" || !name.hasPrefix("0") else { return nil }
        return Int(name)
    }

    // MARK: Test and write

    func testAndWrite(_ index: StorageIndex, writeEnabler: [UInt8], vectors: [ShareNumber: MutableWrite]) throws -> MutableWriteResult {
        guard !writeEnabler.isEmpty, writeEnabler.count <= 64 else {
            throw StorageError.outOfRange(server: server, reason: "a write enabler is 1 to 64 bytes, got \(writeEnabler.count)")
        }
        for share in vectors.keys { try checkShare(share) }
        let dir = directory(index)
        var created: [String] = []
        for d in [root, prefixDirectory(index), dir] where try FileSystem.makeDirectory(d) { created.append(d) }
        // A new directory entry survives power loss only once its parent is fsynced.
        for d in created.reversed() { try FileSystem.syncDirectory(String(d[..<d.lastIndex(of: "/")!])) }

        let lock = try FileDescriptor.open(dir + "/" + Self.lockName, flags: O_RDWR | O_CREAT)
        try lock.lockExclusive()  // released when `lock` is closed, at the end of this call
        return try withExtendedLifetime(lock) {
            let enablerPath = dir + "/" + Self.writeEnablerName
            let stored = try FileDescriptor.openIfExists(enablerPath, flags: O_RDONLY).map { try $0.read(count: 64, at: 0) }
            if let stored, !ConstantTime.equal(stored, writeEnabler) {
                throw StorageError.badWriteEnabler(server: server, index: index)
            }
            var current: [ShareNumber: [UInt8]] = [:]
            for share in vectors.keys {
                if let fd = try FileDescriptor.openIfExists(dir + "/" + String(share), flags: O_RDONLY) {
                    current[share] = try fd.read(count: Int(try fd.size), at: 0)
                }
            }
            let (result, updates): (MutableWriteResult, [ShareNumber: [UInt8]?])
            do {
                (result, updates) = try MutableBytes.evaluate(vectors, current: current, limit: Self.maximumShareSize)
            } catch MutableWriteError.tooLarge(let end, let limit) {
                throw StorageError.outOfRange(server: server, reason: "a slot share of \(end) bytes exceeds the limit of \(limit) bytes")
            }
            guard result.success, !updates.isEmpty else { return result }

            // Leftovers of a writer that died holding this lock: nobody else can be writing them now.
            for name in try FileSystem.list(dir) ?? []
            where FileSystem.temporaryOwner(Array(name.utf8)) != nil || name.hasPrefix(Self.legacyTemporaryPrefix) {
                try FileSystem.unlink(dir + "/" + name)
            }
            // Each file fsynced before its rename; the folder once, below.
            if stored == nil { try FileSystem.writeAtomically(enablerPath, writeEnabler, durability: .fileOnly) }
            for (share, bytes) in updates.sorted(by: { $0.key < $1.key }) {
                let path = dir + "/" + String(share)
                if let bytes {
                    try FileSystem.writeAtomically(path, bytes, durability: .fileOnly)
                } else {
                    try FileSystem.unlink(path)
                }
            }
            try FileSystem.syncDirectory(dir)
            return result
        }
    }
}
