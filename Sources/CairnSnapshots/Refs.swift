import CairnPrimitives

/// What a repository's slot holds (encrypted by the slot): its convergence secret, the index cap,
/// branches and tags.
///
/// ```
/// "CRNREFS1" | convergence secret 32 | index cap (u16 length + bytes; 0 = none)
/// | branch count u16 | (name u16 length + bytes | snapshot id 32)… | tag count u16 | (same)…
/// ```
public struct Refs: Sendable, Equatable {
    static let magic = Array("CRNREFS1".utf8)

    public var secret: [UInt8]
    public var indexCap: String?
    public var branches: [String: ObjectID]
    public var tags: [String: ObjectID]

    public init(secret: [UInt8], indexCap: String? = nil, branches: [String: ObjectID] = [:], tags: [String: ObjectID] = [:]) {
        self.secret = secret; self.indexCap = indexCap; self.branches = branches; self.tags = tags
    }

    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.raw(Self.magic)
        w.raw(secret)
        w.bytes16(Array((indexCap ?? "").utf8))
        for table in [branches, tags] {
            w.u16(UInt16(table.count))
            for (name, id) in table.sorted(by: { $0.key < $1.key }) { w.bytes16(Array(name.utf8)); w.raw(id.bytes) }
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = ByteReader(bytes)
            guard try r.raw(8) == Self.magic else { throw ObjectError.malformed("the slot does not hold Cairn refs") }
            secret = try r.raw(32)
            let cap = String(decoding: try r.bytes16(), as: UTF8.self)
            indexCap = cap.isEmpty ? nil : cap
            var tables: [[String: ObjectID]] = []
            for _ in 0..<2 {
                var t: [String: ObjectID] = [:]
                for _ in 0..<Int(try r.u16()) { t[String(decoding: try r.bytes16(), as: UTF8.self)] = try r.id() }
                tables.append(t)
            }
            branches = tables[0]; tags = tables[1]
            try r.expectEnd()
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("refs: \(e.description)")
        }
    }

    /// Branch and tag names: like git's, conservatively (no spaces, no "..", no leading '-' or '/').
    public static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 200, !name.hasPrefix("-"), !name.hasPrefix("/"), !name.hasSuffix("/"),
              !name.contains(".."), !name.contains("//"), !name.contains("@{"), !name.hasSuffix(".lock") else { return false }
        return name.unicodeScalars.allSatisfy { s in
            s.value > 0x20 && s.value != 0x7F && !"~^:?*[\\".unicodeScalars.contains(s)
        }
    }
}

/// Where refs live. The grid implementation is a mutable slot; moves are test-and-set on the version read.
public protocol RefStore: Sendable {
    var isWritable: Bool { get }
    /// The current refs and the slot version they came from.
    func load() async throws -> (refs: Refs, version: UInt64)
    /// Publishes `refs` only if the slot is still at `version`; returns the new version.
    /// Throws `RefStoreError.moved` when another writer got there first.
    func publish(_ refs: Refs, replacing version: UInt64) async throws -> UInt64
}

public enum RefStoreError: Error, CustomStringConvertible, Equatable {
    case moved(current: UInt64)
    case readOnly

    public var description: String {
        switch self {
        case .moved(let v): return "the repository's refs moved (now at version \(v))"
        case .readOnly: return "this is a read-only clone (made from a read cap): it cannot commit or move refs"
        }
    }
}
