import CairnFiles
import CairnFormats
import CairnGrid
import Foundation
@testable import CairnSnapshots

/// A real local grid and a scratch folder, removed afterwards.
final class Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "cairn-snap-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func grid(name: String = "grid") throws -> Grid {
        let g = path + "/" + name
        if !FileManager.default.fileExists(atPath: g) {
            try LocalGrid.create(at: g, servers: 10, parameters: try EncodingParameters(k: 3, n: 10, happy: 7))
        }
        return try LocalGrid.open(at: g)
    }

    func dir(_ name: String) throws -> String {
        let d = path + "/" + name
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}

func testBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var s = seed
    return (0..<count).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(s >> 56)
    }
}

/// Text-like test data (compressible, with line structure).
func textBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    let words = ["alpha", "beta", "gamma", "delta", "cairn", "grid", "share", "segment", "tree", "snapshot"]
    var s = seed
    var out: [UInt8] = []
    out.reserveCapacity(count + 16)
    while out.count < count {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        out += Array(words[Int(s >> 60) % words.count].utf8)
        out.append((s >> 50) & 7 == 0 ? 0x0A : 0x20)
    }
    return Array(out.prefix(count))
}

/// Saves what `objects` added as an index segment and opens a fresh store on it, as another machine
/// would (no cache).
func reopened(_ objects: ObjectStore, grid: Grid) async throws -> ObjectStore {
    let saved = try await objects.saveSegment()!
    _ = try? FileSystem.unlink(saved.file)
    let segment = try IndexSegment(decoding: try await ObjectStore.loadSegment(grid: grid, cap: saved.cap))
    return ObjectStore(grid: grid, index: try RepoIndex(segments: [segment]))
}
