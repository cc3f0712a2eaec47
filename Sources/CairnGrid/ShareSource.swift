import CairnFormats
import CairnPrimitives
import CairnStorage

/// One share on one server whose UEB and hash trees have been checked against the cap.
struct VerifiedShare: Sendable {
    let server: any StorageServer
    let number: ShareNumber
    let ueb: UEB
    let hashes: ShareLayout.Hashes
    var layout: ShareLayout { ShareLayout(geometry: ueb.geometry) }

    /// Reads and checks the header, UEB, both trees and the share chain (two ranges, one request).
    static func open(server: any StorageServer, index: StorageIndex, number: ShareNumber,
                     uebHash: Digest, expectedSize: UInt64, k: Int, n: Int) async throws -> VerifiedShare {
        let prefixRange: Range<UInt64> = 0..<UInt64(ShareLayout.prefixSize)
        let prefix = try await server.read(index, share: number, ranges: [prefixRange])[0]
        let ueb = try ShareLayout.parsePrefix(prefix, shareNumber: number, uebHash: uebHash)
        guard ueb.dataSize == expectedSize, ueb.k == k, ueb.n == n else {
            throw GridError.integrity("share \(number) on server \(server.name) describes another file")
        }
        let layout = ShareLayout(geometry: ueb.geometry)
        let hashBytes = try await server.read(index, share: number, ranges: [layout.hashesRange])[0]
        let hashes = try layout.parseHashes(hashBytes, shareNumber: number, ueb: ueb)
        return VerifiedShare(server: server, number: number, ueb: ueb, hashes: hashes)
    }

    /// Fetches block `segment` and checks it against this share's block tree.
    func block(_ segment: Int, index: StorageIndex) async throws -> (block: [UInt8], hash: Digest) {
        let g = ueb.geometry
        let start = layout.blockOffset(segment: segment)
        let bytes = try await server.read(index, share: number, ranges: [start..<(start + UInt64(g.blockLength(segment)))])[0]
        let hash = bytes.withUnsafeBytes { ShareLayout.blockHash($0) }
        guard bytes.count == g.blockLength(segment), hash == hashes.blockTree.leaf(segment) else {
            throw BadBlock(share: number, server: server.name, segment: segment)
        }
        return (bytes, hash)
    }
}

/// A block that failed its hash (or could not be read at all).
struct BadBlock: Error, CustomStringConvertible {
    let share: ShareNumber
    let server: String
    let segment: Int
    var description: String { "share \(share) on server \(server): block \(segment) fails its hash" }
}
