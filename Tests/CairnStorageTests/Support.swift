import CairnStorage
import Foundation
import Testing

/// A fresh temporary directory, removed when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path + "/cairn-storage-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func server(_ sub: String = "server", name: String = "s") throws -> LocalDirectoryServer {
        try LocalDirectoryServer(directory: path + "/" + sub, id: ServerID([UInt8](repeating: 1, count: 32)), name: name)
    }
}

struct DeterministicBytes {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

func storageIndex(_ n: Int) -> StorageIndex {
    var g = DeterministicBytes(seed: UInt64(n) + 1)
    return StorageIndex(g.bytes(16))!
}

func shareData(_ n: Int, size: Int) -> [UInt8] {
    var g = DeterministicBytes(seed: UInt64(n) &+ 1_000_003)
    return g.bytes(size)
}

/// Allocates, writes in one piece and finishes one share.
func put(_ server: LocalDirectoryServer, _ index: StorageIndex, share: Int = 0, _ data: [UInt8]) async throws {
    let a = try await server.allocate(index, shares: [share], shareSize: UInt64(data.count), secrets: testSecrets)
    #expect(a.allocated == [share])
    try await server.write(ShareUpload(index: index, share: share, secret: testSecrets.upload), offset: 0, data: data)
    try await server.finish(ShareUpload(index: index, share: share, secret: testSecrets.upload))
}

func readAll(_ server: LocalDirectoryServer, _ index: StorageIndex, share: Int = 0) async throws -> [UInt8] {
    let size = try await server.shareSize(index, share: share)
    return try await server.read(index, share: share, ranges: [0..<size])[0]
}

func packFiles(_ dir: String, suffix: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir + "/packs").filter { $0.hasSuffix(suffix) }.sorted()
        .map { dir + "/packs/" + $0 }
}

func appendBytes(_ bytes: [UInt8], to path: String) throws {
    let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try h.seekToEnd()
    try h.write(contentsOf: Data(bytes))
    try h.close()
}

func fileSize(_ path: String) throws -> UInt64 {
    (try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).uint64Value
}

/// The secrets the tests' uploads present (any fixed values: servers only compare them).
let testSecrets = UploadSecrets(upload: [UInt8](repeating: 0xA1, count: 32),
                                lease: LeaseSecrets(renew: [UInt8](repeating: 0xB2, count: 32), cancel: [UInt8](repeating: 0xC3, count: 32)))
