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
    /// This copy: share number and server.
    var key: String { "\(number)@\(server.id.hex)" }

    /// Reads and checks the header, UEB, both trees and the share chain (two reads of one range each).
    /// Throws `CorruptShare` only for bytes read in full that fail their hash; a failed or short read
    /// throws the storage error or `ShortRead` (nothing proven).
    static func open(server: any StorageServer, index: StorageIndex, number: ShareNumber,
                     uebHash: Digest, expectedSize: UInt64, k: Int, n: Int) async throws -> VerifiedShare {
        let prefix = try await readExactly(server, index, number, 0..<UInt64(ShareLayout.prefixSize))
        let ueb: UEB
        do {
            ueb = try ShareLayout.parsePrefix(prefix, shareNumber: number, uebHash: uebHash)
        } catch let e as FormatError {
            throw CorruptShare(share: number, server: server.name, what: e.description)
        }
        guard ueb.dataSize == expectedSize, ueb.k == k, ueb.n == n else {
            throw GridError.integrity("share \(number) on server \(server.name) matches the cap's UEB hash but not its size or encoding: the cap is malformed")
        }
        let layout = ShareLayout(geometry: ueb.geometry)
        let hashBytes = try await readExactly(server, index, number, layout.hashesRange)
        do {
            let hashes = try layout.parseHashes(hashBytes, shareNumber: number, ueb: ueb)
            return VerifiedShare(server: server, number: number, ueb: ueb, hashes: hashes)
        } catch let e as FormatError {
            throw CorruptShare(share: number, server: server.name, what: e.description)
        }
    }

    /// Fetches block `segment` and checks it against this share's block tree.
    func block(_ segment: Int, index: StorageIndex) async throws -> (block: [UInt8], hash: Digest) {
        let g = ueb.geometry
        let start = layout.blockOffset(segment: segment)
        let bytes = try await readExactly(server, index, number, start..<(start + UInt64(g.blockLength(segment))))
        let hash = bytes.withUnsafeBytes { ShareLayout.blockHash($0) }
        guard hash == hashes.blockTree.leaf(segment) else {
            throw BadBlock(share: number, server: server.name, segment: segment)
        }
        return (bytes, hash)
    }
}

/// Reads one range of a share in full; a short answer is `ShortRead`, not corruption.
func readExactly(_ server: any StorageServer, _ index: StorageIndex, _ share: ShareNumber,
                 _ range: Range<UInt64>) async throws -> [UInt8] {
    let answer = try await server.read(index, share: share, ranges: [range])
    guard answer.count == 1, answer[0].count == range.count else {
        throw ShortRead(share: share, server: server.name, range: range, got: answer.first?.count ?? 0)
    }
    return answer[0]
}

/// Share bytes read in full that fail their hash: with `BadBlock`, the only proof that a share is bad.
struct CorruptShare: Error, CustomStringConvertible {
    let share: ShareNumber
    let server: String
    let what: String
    var description: String { "share \(share) on server \(server): \(what)" }
}

/// A block read in full that fails its hash.
struct BadBlock: Error, CustomStringConvertible {
    let share: ShareNumber
    let server: String
    let segment: Int
    var description: String { "share \(share) on server \(server): block \(segment) fails its hash" }
}

/// A server returned fewer bytes than the share must hold there: the read failed, nothing is proven about the
/// stored bytes (a network or disk hiccup looks the same), so it is treated like any unavailable read.
struct ShortRead: Error, CustomStringConvertible {
    let share: ShareNumber
    let server: String
    let range: Range<UInt64>
    let got: Int
    var description: String {
        "share \(share) on server \(server): asked for bytes \(range.lowerBound)..<\(range.upperBound), got \(got)"
    }
}

/// True only for bytes that were read and failed their hash. Everything else (I/O errors, permission, too many
/// open files, timeouts, short reads) proves nothing and must never lead to a report or a replacement in place.
func isProvenCorruption(_ error: Error) -> Bool { error is CorruptShare || error is BadBlock }
