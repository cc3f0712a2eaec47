import CairnFiles
import Yams

/// The storage nodes a Tahoe-LAFS client node knows: those its operator listed in `private/servers.yaml`
/// and those its introducers announced (`private/introducer_*_cache.yaml`), each with the node key that
/// becomes its Cairn server id, its nickname and its HTTP NURL. Nodes that announce no NURL (Foolscap only,
/// before Tahoe 1.19) are counted but cannot be used.
public struct AnnouncedNode: Sendable, Equatable {
    public let key: String
    public let nickname: String?
    public let nurls: [String]
}

public enum NodeDirectory {
    public static func announcedNodes(_ nodeDir: String) throws(TahoeError) -> [AnnouncedNode] {
        let privateDir = nodeDir + "/private"
        let listed: [String]?
        do { listed = try FileSystem.list(privateDir) } catch {
            throw .badNodeFile(path: privateDir, reason: "cannot be read (\(error))")
        }
        guard let names = listed else { throw .badNodeFile(path: nodeDir, reason: "not a Tahoe node folder (it has no private/ folder)") }
        var found: [String: AnnouncedNode] = [:]
        var order: [String] = []
        func add(_ node: AnnouncedNode) {
            if found[node.key] == nil { order.append(node.key) }
            // servers.yaml first: what the operator wrote wins over an introducer's announcement.
            if found[node.key] == nil || found[node.key]!.nurls.isEmpty { found[node.key] = node }
        }
        if names.contains("servers.yaml") {
            let path = privateDir + "/servers.yaml"
            guard case .mapping(let root)? = try load(path), let storage = root["storage"]?.mapping else {
                throw .badNodeFile(path: path, reason: "no 'storage' section")
            }
            for (key, value) in storage {
                guard let k = key.string else { continue }
                add(node(key: k, announcement: value.mapping?["ann"]?.mapping))
            }
        }
        for name in names.sorted() where name.hasPrefix("introducer_") && name.hasSuffix("_cache.yaml") {
            let path = privateDir + "/" + name
            guard let doc = try load(path) else { continue }
            guard case .sequence(let entries) = doc else { throw .badNodeFile(path: path, reason: "not a list of announcements") }
            for entry in entries {
                guard let m = entry.mapping, let key = m["key_s"]?.string else { continue }
                add(node(key: key, announcement: m["ann"]?.mapping))
            }
        }
        return order.compactMap { found[$0] }
    }

    private static func node(key: String, announcement: Node.Mapping?) -> AnnouncedNode {
        let nurls = announcement?["anonymous-storage-NURLs"]?.sequence?.compactMap(\.string) ?? []
        let nickname = announcement?["nickname"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        return AnnouncedNode(key: key.hasPrefix("pub-") ? String(key.dropFirst(4)) : key, nickname: nickname, nurls: nurls)
    }

    private static func load(_ path: String) throws(TahoeError) -> Node? {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch { throw .badNodeFile(path: path, reason: "\(error)") }
        do { return try Yams.compose(yaml: String(decoding: bytes, as: UTF8.self)) } catch {
            throw .badNodeFile(path: path, reason: "not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
    }
}
