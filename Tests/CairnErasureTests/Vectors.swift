import Foundation
import Testing

/// The zfec 1.6.0.0 known-answer vectors in Fixtures/zfec-vectors, found relative to this source file.
enum Vectors {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/zfec-vectors")

    struct Manifest: Decodable {
        let cases: [Case]
        let filefec: FileFEC
    }

    struct Case: Decodable, CustomTestStringConvertible {
        let name: String
        let dir: String
        let k: Int
        let n: Int
        let seed: UInt64
        let input_len: Int
        let block_size: Int
        let pad_len: Int
        let enc_matrix_hex: [String]
        let decode_subsets_verified: [[Int]]
        let shares: [Share]
        var testDescription: String { name }
    }

    struct Share: Decodable {
        let sharenum: Int
        let file: String
    }

    struct FileFEC: Decodable {
        let dir: String
        let k: Int
        let m: Int
        let input_len: Int
        let seed: UInt64
        let files: [String: FECFileEntry]
    }

    struct FECFileEntry: Decodable {
        let len: Int
        let header_hex: String
    }

    static let manifest: Manifest = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    static func bytes(_ relativePath: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(relativePath)))
    }

    /// The manifest's generator: 64-bit LCG, each byte the top byte of the state.
    static func prng(seed: UInt64, count: Int) -> [UInt8] {
        var s = seed
        return (0..<count).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: s >> 56)
        }
    }

    static func hex(_ string: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = string.startIndex
        while index < string.endIndex {
            let next = string.index(index, offsetBy: 2)
            out.append(UInt8(string[index..<next], radix: 16)!)
            index = next
        }
        return out
    }
}
