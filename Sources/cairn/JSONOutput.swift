import CairnPrimitives
import CairnSnapshots
import FoundationEssentials

/// `--json` output: Codable values written by Foundation's JSON encoder (sorted keys, one document per
/// command), never assembled by hand. Names are raw bytes: valid UTF-8 is a JSON string; otherwise the
/// string has U+FFFD where bytes were invalid and a `…_hex` field beside it holds the exact bytes.
enum JSONOutput {
    static func write<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        Terminal.writeOut(String(decoding: data, as: UTF8.self) + "\n")
    }

    /// The exact bytes of a name that is not valid UTF-8 (nil when it is).
    static func hexIfNotUTF8(_ bytes: [UInt8]) -> String? {
        String(validating: bytes, as: UTF8.self) == nil ? Hex.encode(bytes) : nil
    }

    struct Signature: Encodable {
        let name: String
        let email: String
        let time: Int64
        let zone: Int16
        let date: String
        init(_ s: CairnSnapshots.Signature) {
            name = s.name; email = s.email; time = s.time; zone = s.zoneOffset
            date = DateParser.format(s.time, zone: s.zoneOffset)
        }
    }

    struct Snapshot: Encodable {
        let id: String
        let tree: String
        let parents: [String]
        let author: Signature
        let committer: Signature
        let message: String
        init(_ id: ObjectID, _ s: CairnSnapshots.Snapshot) {
            self.id = id.hex; tree = s.tree.hex; parents = s.parents.map(\.hex)
            author = Signature(s.author); committer = Signature(s.committer)
            message = String(decoding: s.message, as: UTF8.self)
        }
    }

    /// One changed path: `kind` is A, M or D.
    struct Change: Encodable {
        let kind: String
        let path: String
        let pathHex: String?
        enum CodingKeys: String, CodingKey { case kind, path, pathHex = "path_hex" }
        init(_ c: CairnSnapshots.Change) {
            kind = c.kind.rawValue
            path = String(decoding: c.path, as: UTF8.self)
            pathHex = JSONOutput.hexIfNotUTF8(c.path)
        }
    }

    /// A tree entry as `ls` lists it.
    struct Entry: Encodable {
        let name: String
        let nameHex: String?
        let kind: String
        let mode: String
        let size: UInt64
        let mtime: Int64
        let hash: String
        enum CodingKeys: String, CodingKey { case name, nameHex = "name_hex", kind, mode, size, mtime, hash }
        init(_ e: TreeEntry) {
            name = String(decoding: e.name, as: UTF8.self)
            nameHex = JSONOutput.hexIfNotUTF8(e.name)
            kind = "\(e.kind)"
            mode = modeString(e.mode)
            size = e.size
            mtime = e.mtimeSeconds
            hash = Hex.encode(e.hash)
        }
    }

    struct Status: Encodable {
        let branch: String?
        let detached: String?
        let changes: [Change]
    }

    struct Show: Encodable {
        let snapshot: Snapshot
        let changes: [Change]
    }

    struct Check: Encodable {
        let snapshots: Int
        let trees: Int
        let versions: Int
        let caps: Int
        let missing: Int
        let dataRead: Bool
        let problems: [String]
        let repaired: [String]
        enum CodingKeys: String, CodingKey { case snapshots, trees, versions, caps, missing, dataRead = "data_read", problems, repaired }
    }
}
