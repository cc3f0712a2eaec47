import CairnFormats
import CairnGrid
import CairnPrimitives
import CairnStorage
import Foundation
import Testing

/// Immutable caps known answers: a fixed convergence secret and fixed inputs give fixed caps (and so
/// fixed keys, storage indexes and UEB hashes) and fixed share bytes, kept in
/// Fixtures/grid-format/cap-known-answers.json: an accidental change of the encryption, erasure coding,
/// share layout or cap format fails here.
@Suite struct CapKnownAnswerTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/grid-format/cap-known-answers.json")

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func computed() async throws -> [String: String] {
        var out: [String: String] = [:]
        let cases: [(String, Int, Int, Int, Int)] = [  // name, size, k, n, segment size
            ("literal, 40 bytes", 40, 3, 10, 1 << 20),
            ("3-of-10, 100,000 bytes", 100_000, 3, 10, 1 << 20),
            ("3-of-10, 2,500,000 bytes, 3 segments", 2_500_000, 3, 10, 1 << 20),
            ("2-of-5, 65,537 bytes, 4 KiB segments", 65_537, 2, 5, 4096),
        ]
        for (name, size, k, n, segment) in cases {
            let (grid, servers) = try memoryGrid(k: k, n: n, happy: min(n, 4), servers: n, segment: segment)
            let cap = try await Uploader(grid: grid).put(MemorySource(testBytes(size, seed: 77)))
            out["cap, " + name] = cap.string
            if let verify = cap.verifyCap {
                out["verify cap, " + name] = Cap.verify(verify).string
                // Every share's bytes, hashed in share-number order (wherever placement put them).
                var hashes: [String] = []
                for share in 0..<n {
                    let index = StorageIndex(verify.storageIndex)!
                    let bytes = servers.lazy.compactMap { $0.shareBytes(index, ShareNumber(share)) }.first
                    hashes.append(hex(TaggedHash.hash(HashTag("test:share"), bytes ?? [])))
                }
                out["share hashes, " + name] = hashes.joined(separator: " ")
            }
        }
        return out
    }

    @Test func capsAndSharesAreAsRecorded() async throws {
        let values = try await Self.computed()
        guard let data = FileManager.default.contents(atPath: Self.fixture.path) else {
            let json = try JSONSerialization.data(withJSONObject: values, options: [.prettyPrinted, .sortedKeys])
            Issue.record("no fixture at \(Self.fixture.path); this build computes:\n\(String(decoding: json, as: UTF8.self))")
            return
        }
        let recorded = try #require(try JSONSerialization.jsonObject(with: data) as? [String: String])
        #expect(Set(recorded.keys) == Set(values.keys))
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            #expect(recorded[name] == value, "\(name): recorded \(recorded[name] ?? "nothing"), computed \(value)")
        }
    }
}
