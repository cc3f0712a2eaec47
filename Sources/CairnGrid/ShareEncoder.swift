import CairnErasure
import CairnFormats
import CairnPrimitives
import CairnStorage
import Synchronization

/// Turns ciphertext segments into shares on servers: erasure-codes each segment, hashes every block,
/// writes the blocks of the target shares, then the trees, the UEB and the headers.
/// Shared by upload (segments from the encrypted source) and repair (segments decoded from good shares).
struct ShareEncoder: Sendable {
    let geometry: SegmentGeometry
    let code: ErasureCode
    var layout: ShareLayout { ShareLayout(geometry: geometry) }
    /// Segments in flight at once: enough to keep both cores busy while writes wait.
    static let window = 3

    init(geometry: SegmentGeometry) throws {
        self.geometry = geometry
        self.code = try ErasureCode(k: geometry.k, n: geometry.n)
    }

    /// `ciphertext(i)` returns segment i's ciphertext, zero-padded to K × its block length.
    /// Returns the UEB; shares in `targets` are written and finished (not yet synced). `accept` sees the UEB
    /// before any share is finished: if it throws, nothing is finished (repair checks it against the cap).
    ///
    /// With `dropping`, a destination whose write or finish fails is recorded there and left out from then
    /// on (a server that died mid-upload), instead of failing the whole encode: the caller decides whether
    /// the destinations left are enough.
    func encode(index: StorageIndex, targets: [ShareNumber: any StorageServer], extra: [(share: ShareNumber, server: any StorageServer)] = [],
                secret: [UInt8], dropping: DroppedDestinations? = nil, accept: (UEB) throws -> Void = { _ in },
                ciphertext: @escaping @Sendable (Int) async throws -> [UInt8]) async throws -> UEB {
        let g = geometry
        let layout = self.layout
        let code = self.code
        var blockHashes = [[Digest]](repeating: [], count: g.segmentCount)
        let destinations = targets.map { (share: $0.key, server: $0.value) } + extra

        try await withThrowingTaskGroup(of: (Int, [Digest]).self) { group in
            var next = 0
            func launch(_ i: Int) {
                group.addTask {
                    let segment = try await ciphertext(i)
                    let blockLength = g.blockLength(i)
                    precondition(segment.count == blockLength * g.k)
                    let (blocks, hashes) = Self.encodeSegment(segment, blockLength: blockLength, code: code)
                    let offset = layout.blockOffset(segment: i)
                    try await withThrowingTaskGroup(of: Void.self) { writes in
                        for (share, server) in destinations where !(dropping?.dropped(server.id) ?? false) {
                            let block = blocks[share]
                            let upload = ShareUpload(index: index, share: share, secret: secret)
                            writes.addTask {
                                do { try await server.write(upload, offset: offset, data: block) } catch {
                                    guard let dropping else { throw error }
                                    dropping.add(share, server, error)
                                }
                            }
                        }
                        try await writes.waitForAll()
                    }
                    return (i, hashes)
                }
            }
            while next < min(Self.window, g.segmentCount) { launch(next); next += 1 }
            while let (i, hashes) = try await group.next() {
                blockHashes[i] = hashes
                if next < g.segmentCount { launch(next); next += 1 }
            }
        }

        let blockTrees = (0..<g.n).map { share in HashTree(leaves: blockHashes.map { $0[share] }) }
        let crypttextTree = HashTree(leaves: blockHashes.map { ShareLayout.crypttextLeaf(primaryBlockHashes: Array($0[0..<g.k])) })
        let shareTree = HashTree(leaves: blockTrees.map(\.root))
        let ueb = UEB(geometry: g, shareRoot: shareTree.root, crypttextRoot: crypttextTree.root)
        try accept(ueb)
        let uebBytes = ueb.bytes

        try await withThrowingTaskGroup(of: Void.self) { group in
            for (share, server) in destinations where !(dropping?.dropped(server.id) ?? false) {
                group.addTask {
                    let prefix = ShareLayout.header(shareNumber: share) + uebBytes
                    let hashes = layout.encodeHashes(blockTree: blockTrees[share], crypttextTree: crypttextTree,
                                                     shareChain: shareTree.chain(forLeaf: share))
                    let upload = ShareUpload(index: index, share: share, secret: secret)
                    do {
                        try await server.write(upload, offset: 0, data: prefix)
                        try await server.write(upload, offset: layout.blockTreeOffset, data: hashes)
                        try await server.finish(upload)
                    } catch {
                        guard let dropping else { throw error }
                        dropping.add(share, server, error)
                    }
                }
            }
            try await group.waitForAll()
        }
        return ueb
    }

    /// All N blocks of one segment and their hashes.
    static func encodeSegment(_ segment: [UInt8], blockLength: Int, code: ErasureCode) -> ([[UInt8]], [Digest]) {
        let k = code.k, n = code.n
        var blocks = (0..<k).map { Array(segment[($0 * blockLength)..<(($0 + 1) * blockLength)]) }
        if n > k {
            // One contiguous parity buffer: ISA-L writes all N−K rows in one pass.
            var parity = [UInt8](repeating: 0, count: (n - k) * blockLength)
            segment.withUnsafeBytes { seg in
                parity.withUnsafeMutableBytes { out in
                    let data = (0..<k).map { UnsafeRawPointer(seg.baseAddress! + $0 * blockLength) }
                    let outs = (0..<(n - k)).map { out.baseAddress! + $0 * blockLength }
                    code.encode(data: data, parity: outs, blockSize: blockLength)
                }
            }
            for j in 0..<(n - k) { blocks.append(Array(parity[(j * blockLength)..<((j + 1) * blockLength)])) }
        }
        let hashes = blocks.map { b in b.withUnsafeBytes { ShareLayout.blockHash($0) } }
        return (blocks, hashes)
    }
}

/// Destinations an encode gave up on, with why (shared by its concurrent writes).
final class DroppedDestinations: Sendable {
    struct Dropped: @unchecked Sendable {
        let share: ShareNumber
        let server: any StorageServer
        let error: any Error
    }
    private let state = Mutex<[Dropped]>([])

    func add(_ share: ShareNumber, _ server: any StorageServer, _ error: any Error) {
        state.withLock { list in
            if !list.contains(where: { $0.share == share && $0.server.id == server.id }) { list.append(Dropped(share: share, server: server, error: error)) }
        }
    }
    /// Once one write to a server fails, none of its other destinations is tried again.
    func dropped(_ server: ServerID) -> Bool {
        state.withLock { $0.contains { $0.server.id == server } }
    }
    var all: [Dropped] { state.withLock { $0 } }
}
