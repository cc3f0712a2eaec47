import CairnPrimitives

/// What a repository's slot holds (encrypted by the slot): its convergence secret, the default branch,
/// the index segments, and every ref by full name (`refs/heads/…`, `refs/tags/…`, any namespace).
///
/// ```
/// "CRNREFS2" | convergence secret 32 | default branch bytes16 (a full ref name; empty = none)
/// | segment count u8 (≤ 16) | segment caps, bytes16 each, oldest first
/// | ref count u32 | per ref (sorted by name bytes): name bytes16 | target kind u8 | target u8 length + bytes
/// ```
public struct Refs: Sendable, Equatable {
    static let magic = Array("CRNREFS2".utf8)
    public static let headsPrefix = Array("refs/heads/".utf8)
    public static let tagsPrefix = Array("refs/tags/".utf8)

    public var secret: [UInt8]
    /// What a clone checks out (HEAD itself is local state in `.cairn/`, as in git).
    public var defaultBranch: [UInt8]?
    /// The index segments, oldest first.
    public var segments: [String]
    /// Every ref, by full name.
    public var all: [[UInt8]: RefTarget]

    public init(secret: [UInt8], defaultBranch: [UInt8]? = Array("refs/heads/main".utf8), segments: [String] = [],
                all: [[UInt8]: RefTarget] = [:]) {
        self.secret = secret; self.defaultBranch = defaultBranch; self.segments = segments; self.all = all
    }

    /// Branches (`refs/heads/NAME` → snapshot) by short name. Setting it changes only the entries that
    /// differ from what it read: refs it does not show (another target kind, a name that is not UTF-8)
    /// are never touched.
    public var branches: [String: ObjectID] {
        get { table(Self.headsPrefix).compactMapValues { $0.kind == .snapshot ? $0.id : nil } }
        set {
            let old = branches
            for name in old.keys where newValue[name] == nil { all[Self.headsPrefix + Array(name.utf8)] = nil }
            for (name, id) in newValue where old[name] != id { all[Self.headsPrefix + Array(name.utf8)] = .snapshot(id) }
        }
    }

    /// Tags (`refs/tags/NAME`) by short name: any target. Setting it changes only what differs.
    public var tags: [String: RefTarget] {
        get { table(Self.tagsPrefix) }
        set {
            let old = tags
            for name in old.keys where newValue[name] == nil { all[Self.tagsPrefix + Array(name.utf8)] = nil }
            for (name, target) in newValue where old[name] != target { all[Self.tagsPrefix + Array(name.utf8)] = target }
        }
    }

    /// The default branch's short name, when it is a branch.
    public var defaultBranchName: String? {
        guard let d = defaultBranch, d.starts(with: Self.headsPrefix) else { return nil }
        return String(decoding: d[Self.headsPrefix.count...], as: UTF8.self)
    }

    private func table(_ prefix: [UInt8]) -> [String: RefTarget] {
        var out: [String: RefTarget] = [:]
        // Only names a String can stand for exactly (valid UTF-8); others are reached by full name.
        for (name, target) in all where name.count > prefix.count && name.starts(with: prefix) {
            guard let short = String(validating: name[prefix.count...], as: UTF8.self), Array(short.utf8) == Array(name[prefix.count...]),
                  out[short] == nil else { continue }
            out[short] = target
        }
        return out
    }

    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.raw(Self.magic)
        w.raw(secret)
        w.bytes16(defaultBranch ?? [])
        w.u8(UInt8(segments.count))
        for cap in segments { w.bytes16(Array(cap.utf8)) }
        w.u32(UInt32(all.count))
        for (name, target) in all.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            w.bytes16(name)
            target.encode(&w)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = ByteReader(bytes)
            let magic = try r.raw(8)
            if magic == Array("CRNREFS1".utf8) {
                throw RepositoryError.unsupportedFormat("its refs are format 1, made by an older Cairn")
            }
            guard magic == Self.magic else { throw ObjectError.malformed("the slot does not hold Cairn refs") }
            secret = try r.raw(32)
            let d = try r.bytes16()
            defaultBranch = d.isEmpty ? nil : d
            let count = Int(try r.u8())
            guard count <= SegmentPolicy.maxSegments else { throw ObjectError.malformed("refs name more than \(SegmentPolicy.maxSegments) index segments") }
            segments = try (0..<count).map { _ in String(decoding: try r.bytes16(), as: UTF8.self) }
            let refs = Int(try r.u32())
            guard refs <= r.remaining / 4 else { throw ObjectError.malformed("refs: count too large") }
            all = [:]
            var previous: [UInt8]?
            for _ in 0..<refs {
                let name = try r.bytes16()
                if let previous, !previous.lexicographicallyPrecedes(name) { throw ObjectError.malformed("refs out of order") }
                previous = name
                all[name] = try RefTarget.decode(&r)
            }
            try r.expectEnd()
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("refs: \(e.description)")
        }
    }

    /// Short branch and tag names: like git's, conservatively (no spaces, no "..", no leading '-' or '/').
    public static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 200, !name.hasPrefix("-"), !name.hasPrefix("/"), !name.hasSuffix("/"),
              !name.contains(".."), !name.contains("//"), !name.contains("@{"), !name.hasSuffix(".lock") else { return false }
        return name.unicodeScalars.allSatisfy { s in
            s.value > 0x20 && s.value != 0x7F && !"~^:?*[\\".unicodeScalars.contains(s)
        }
    }

    /// Full ref names as git's check-ref-format allows them (bytes, not necessarily UTF-8): "refs/"
    /// and at least one more component; no component empty or starting with "."; no "..", "@{", control
    /// bytes, space, ~ ^ : ? * [ \; not ending in ".lock" or "/".
    public static func isValidFullName(_ name: [UInt8]) -> Bool {
        guard name.count > 5, name.count <= 4096, name.starts(with: Array("refs/".utf8)), name.last != 0x2F,
              !name.contains(where: { $0 < 0x20 || $0 == 0x7F || " ~^:?*[\\".utf8.contains($0) }) else { return false }
        for i in 0..<(name.count - 1) where (name[i] == 0x2E && name[i + 1] == 0x2E) || (name[i] == 0x40 && name[i + 1] == 0x7B) {
            return false
        }
        for component in name.split(separator: 0x2F, omittingEmptySubsequences: false) {
            if component.isEmpty || component.first == 0x2E || Array(component).reversed().starts(with: Array(".lock".utf8).reversed()) {
                return false
            }
        }
        return true
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
