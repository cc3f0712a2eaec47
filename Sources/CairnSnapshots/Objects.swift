import CairnPrimitives

/// Snapshot-layer objects, encoded canonically (Documentation/Snapshots.md): the same value always has
/// the same bytes, so its id (the hash of those bytes) names it everywhere.
public enum ObjectKind: UInt8, Sendable {
    case snapshot = 1
    case tree = 2
    case fileVersion = 3
    case tag = 4
}

public enum ObjectError: Error, CustomStringConvertible, Equatable {
    case malformed(String)
    public var description: String {
        switch self { case .malformed(let m): return "damaged object: \(m)" }
    }
}

enum ObjectCoding {
    static let magic: [UInt8] = Array("CRNO".utf8)
    static let version: UInt8 = 2
    static let idTag = HashTag("cairn:obj:id")

    static func header(_ kind: ObjectKind) -> ByteWriter {
        var w = ByteWriter(capacity: 256)
        w.raw(magic)
        w.u8(version)
        w.u8(kind.rawValue)
        return w
    }

    static func reader(_ bytes: [UInt8], expecting kind: ObjectKind) throws -> ByteReader {
        var r = ByteReader(bytes)
        guard (try? r.raw(4)) == magic else { throw ObjectError.malformed("bad magic") }
        switch try? r.u8() {
        case version?: break
        case 1?: throw ObjectError.malformed("a format-1 object: this repository was made by an older Cairn and cannot be read")
        default: throw ObjectError.malformed("unknown object version")
        }
        guard (try? r.u8()) == kind.rawValue else { throw ObjectError.malformed("expected a \(kind) object") }
        return r
    }

    static func id(of bytes: [UInt8]) -> ObjectID { ObjectID(TaggedHash.hash(idTag, bytes))! }

    static func kind(of bytes: [UInt8]) -> ObjectKind? {
        guard bytes.count >= 6, Array(bytes[0..<4]) == magic, bytes[4] == version else { return nil }
        return ObjectKind(rawValue: bytes[5])
    }
}

extension ByteWriter {
    mutating func bytes16(_ b: [UInt8]) { u16(UInt16(b.count)); raw(b) }
    mutating func bytes32(_ b: [UInt8]) { u32(UInt32(b.count)); raw(b) }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
}

extension ByteReader {
    mutating func bytes16() throws -> [UInt8] { try raw(Int(try u16())) }
    mutating func bytes32() throws -> [UInt8] { try raw(Int(try u32())) }
    mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }
    mutating func id() throws -> ObjectID { ObjectID(try raw(32))! }
    func expectEnd() throws { guard remaining == 0 else { throw ObjectError.malformed("trailing bytes") } }
}

/// Who and when, as raw bytes: git allows names and emails in any encoding and zone text such as
/// "-0000" that no offset can express, and a git id is only recomputed from the exact bytes.
public struct Signature: Sendable, Equatable {
    public var nameBytes: [UInt8]
    public var emailBytes: [UInt8]
    /// Seconds since 1970 UTC.
    public var time: Int64
    /// The zone as written: "+0100", "-0000", or whatever a git object held.
    public var zone: [UInt8]

    public init(nameBytes: [UInt8], emailBytes: [UInt8], time: Int64, zone: [UInt8]) {
        self.nameBytes = nameBytes; self.emailBytes = emailBytes; self.time = time; self.zone = zone
    }

    /// `zoneOffset`: minutes east of UTC, written "+hhmm" as git does.
    public init(name: String, email: String, time: Int64, zoneOffset: Int16) {
        self.init(nameBytes: Array(name.utf8), emailBytes: Array(email.utf8), time: time, zone: Self.zoneText(zoneOffset))
    }

    public var name: String { String(decoding: nameBytes, as: UTF8.self) }
    public var email: String { String(decoding: emailBytes, as: UTF8.self) }

    /// Minutes east of UTC for display and dates; 0 for zone text that is not "±hhmm".
    public var zoneOffset: Int16 {
        get {
            guard zone.count == 5, zone[0] == 0x2B || zone[0] == 0x2D,
                  zone[1...].allSatisfy({ (0x30...0x39).contains($0) }) else { return 0 }
            let d = zone[1...].map { Int($0 - 0x30) }
            let minutes = (d[0] * 10 + d[1]) * 60 + d[2] * 10 + d[3]
            return Int16(clamping: zone[0] == 0x2D ? -minutes : minutes)
        }
        set { zone = Self.zoneText(newValue) }
    }

    static func zoneText(_ offset: Int16) -> [UInt8] {
        let m = abs(Int(offset))
        let digits = [m / 600 % 10, m / 60 % 10, m % 60 / 10, m % 10].map { UInt8(0x30 + $0) }
        return [offset < 0 ? 0x2D : 0x2B] + digits
    }

    func encode(_ w: inout ByteWriter) {
        w.bytes32(nameBytes); w.bytes32(emailBytes); w.i64(time); w.bytes16(zone)
    }

    static func decode(_ r: inout ByteReader) throws -> Signature {
        Signature(nameBytes: try r.bytes32(), emailBytes: try r.bytes32(), time: try r.i64(), zone: try r.bytes16())
    }
}

/// Extra headers in order, keys and values as bytes (a git import's encoding, gpgsig, mergetag…).
public struct ExtraHeader: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public init(key: [UInt8], value: [UInt8]) { self.key = key; self.value = value }

    static func encode(_ headers: [ExtraHeader], _ w: inout ByteWriter) {
        w.u32(UInt32(headers.count))
        for h in headers { w.bytes32(h.key); w.bytes32(h.value) }
    }

    static func decode(_ r: inout ByteReader) throws -> [ExtraHeader] {
        let count = Int(try r.u32())
        guard count <= r.remaining / 8 else { throw ObjectError.malformed("too many extra headers") }
        return try (0..<count).map { _ in ExtraHeader(key: try r.bytes32(), value: try r.bytes32()) }
    }
}

/// A commit: a tree, its parents, who made it and why.
public struct Snapshot: Sendable, Equatable {
    public var tree: ObjectID
    public var parents: [ObjectID]
    public var author: Signature
    public var committer: Signature
    public var message: [UInt8]
    public var extraHeaders: [ExtraHeader]

    public init(tree: ObjectID, parents: [ObjectID], author: Signature, committer: Signature, message: [UInt8],
                extraHeaders: [ExtraHeader] = []) {
        self.tree = tree; self.parents = parents; self.author = author; self.committer = committer
        self.message = message; self.extraHeaders = extraHeaders
    }

    public var encoded: [UInt8] {
        var w = ObjectCoding.header(.snapshot)
        w.raw(tree.bytes)
        w.u32(UInt32(parents.count))
        for p in parents { w.raw(p.bytes) }
        author.encode(&w)
        committer.encode(&w)
        w.bytes32(message)
        ExtraHeader.encode(extraHeaders, &w)
        return w.bytes
    }

    public var id: ObjectID { ObjectCoding.id(of: encoded) }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = try ObjectCoding.reader(bytes, expecting: .snapshot)
            tree = try r.id()
            let count = Int(try r.u32())
            guard count <= r.remaining / 32 else { throw ObjectError.malformed("too many parents") }
            parents = try (0..<count).map { _ in try r.id() }
            author = try Signature.decode(&r)
            committer = try Signature.decode(&r)
            message = try r.bytes32()
            extraHeaders = try ExtraHeader.decode(&r)
            try r.expectEnd()
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("snapshot: \(e.description)")
        }
    }
}

/// What a ref or an annotated tag points at: a snapshot, a tree, a file's content (by content hash) or
/// an annotated tag object.
public struct RefTarget: Sendable, Hashable {
    public enum Kind: UInt8, Sendable { case snapshot = 1, tree = 2, content = 3, tag = 4 }
    public var kind: Kind
    /// An object id, or a content hash for `.content`.
    public var hash: [UInt8]

    public init(kind: Kind, hash: [UInt8]) { self.kind = kind; self.hash = hash }
    public static func snapshot(_ id: ObjectID) -> RefTarget { RefTarget(kind: .snapshot, hash: id.bytes) }
    public var id: ObjectID? { ObjectID(hash) }

    func encode(_ w: inout ByteWriter) { w.u8(kind.rawValue); w.u8(UInt8(hash.count)); w.raw(hash) }

    static func decode(_ r: inout ByteReader) throws -> RefTarget {
        guard let kind = Kind(rawValue: try r.u8()) else { throw ObjectError.malformed("unknown target kind") }
        let hash = try r.raw(Int(try r.u8()))
        guard hash.count == 32 else { throw ObjectError.malformed("bad target id") }
        return RefTarget(kind: kind, hash: hash)
    }
}

/// An annotated tag (git's tag object): a target, the tag's name, who tagged and why, extra headers.
public struct AnnotatedTag: Sendable, Equatable {
    public var target: RefTarget
    public var name: [UInt8]
    public var tagger: Signature?
    public var message: [UInt8]
    public var extraHeaders: [ExtraHeader]

    public init(target: RefTarget, name: [UInt8], tagger: Signature?, message: [UInt8], extraHeaders: [ExtraHeader] = []) {
        self.target = target; self.name = name; self.tagger = tagger; self.message = message; self.extraHeaders = extraHeaders
    }

    public var encoded: [UInt8] {
        var w = ObjectCoding.header(.tag)
        target.encode(&w)
        w.bytes32(name)
        if let tagger { w.u8(1); tagger.encode(&w) } else { w.u8(0) }
        w.bytes32(message)
        ExtraHeader.encode(extraHeaders, &w)
        return w.bytes
    }

    public var id: ObjectID { ObjectCoding.id(of: encoded) }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = try ObjectCoding.reader(bytes, expecting: .tag)
            target = try RefTarget.decode(&r)
            name = try r.bytes32()
            switch try r.u8() {
            case 0: tagger = nil
            case 1: tagger = try Signature.decode(&r)
            default: throw ObjectError.malformed("bad tagger flag")
            }
            message = try r.bytes32()
            extraHeaders = try ExtraHeader.decode(&r)
            try r.expectEnd()
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("tag: \(e.description)")
        }
    }
}

/// One name in a directory: what it is, never where or how its bytes are stored (so housekeeping of
/// the storage never changes a tree id).
public struct TreeEntry: Sendable, Equatable {
    /// `missing`: content known by another id but absent (a blob left out of a partial git clone):
    /// `hash` holds that id (a git blob id) and `size` its size.
    public enum Kind: UInt8, Sendable { case file = 1, directory = 2, symlink = 3, gitlink = 4, missing = 5 }

    /// Raw name bytes (file names need not be UTF-8).
    public var name: [UInt8]
    public var kind: Kind
    /// Full mode: file type and permission bits as `st_mode`, which is also git's raw mode number
    /// (0o100644, 0o100755, 0o120000, 0o160000, 0o040000 and odd legacy ones like 0o100664).
    public var mode: UInt32
    public var size: UInt64
    public var mtimeSeconds: Int64
    public var mtimeNanoseconds: UInt32
    /// Files and symlinks: the content hash; directories: the tree id; gitlinks: the commit id;
    /// missing entries: the id they are known by.
    public var hash: [UInt8]

    public init(name: [UInt8], kind: Kind, mode: UInt32, size: UInt64, mtimeSeconds: Int64, mtimeNanoseconds: UInt32,
                hash: [UInt8]) {
        self.name = name; self.kind = kind; self.mode = mode; self.size = size
        self.mtimeSeconds = mtimeSeconds; self.mtimeNanoseconds = mtimeNanoseconds; self.hash = hash
    }

    public var nameString: String { String(decoding: name, as: UTF8.self) }

    /// Whether two modes of entries of `kind` mean the same: a symlink's permission bits mean nothing
    /// (git stores 120000, lstat says 120777).
    public static func sameMode(_ a: UInt32, _ b: UInt32, kind: Kind) -> Bool { a == b || kind == .symlink }

    /// The mtime a checkout gives the entry: nil for 0, which imported history carries (a git tree has no
    /// times), so the file gets the time it is written, as git checkout does.
    public var checkoutMtime: (Int64, UInt32)? {
        mtimeSeconds == 0 && mtimeNanoseconds == 0 ? nil : (mtimeSeconds, mtimeNanoseconds)
    }

    /// Names never written into a worktree, whatever a tree holds (an imported git tree may hold `.git`).
    public static func isCheckoutSafe(_ name: [UInt8]) -> Bool { name != Array(".git".utf8) && Tree.isValidName(name) }
    /// Whether the entry's bytes are in the repository (files and symlinks).
    public var hasContent: Bool { kind == .file || kind == .symlink }
}

/// A directory: entries sorted by name bytes, names unique. Empty directories are trees with no entries.
public struct Tree: Sendable, Equatable {
    public private(set) var entries: [TreeEntry]

    public init(entries: [TreeEntry]) throws {
        // Entries usually come sorted (a folder listing, an imported git tree): then no copy is made.
        let inOrder = zip(entries, entries.dropFirst()).allSatisfy { !$1.name.lexicographicallyPrecedes($0.name) }
        let sorted = inOrder ? entries : entries.sorted { $0.name.lexicographicallyPrecedes($1.name) }
        for (i, e) in sorted.enumerated() {
            guard Tree.isValidName(e.name) else {
                throw ObjectError.malformed("invalid entry name '\(e.nameString)'")
            }
            if i > 0 && sorted[i - 1].name == e.name { throw ObjectError.malformed("duplicate entry '\(e.nameString)'") }
        }
        self.entries = sorted
    }

    /// Whether a tree may hold `name` (git trees may hold others: an import keeps those trees raw).
    public static func isValidName(_ name: [UInt8]) -> Bool {
        !name.isEmpty && name.count <= 4096 && !name.contains(0x2F) && !name.contains(0) && name != [0x2E] && name != [0x2E, 0x2E]
    }

    public func entry(named name: [UInt8]) -> TreeEntry? {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].name == name { return entries[mid] }
            if entries[mid].name.lexicographicallyPrecedes(name) { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    public var encoded: [UInt8] { encodedWithOffsets.bytes }

    /// The encoding, and where each entry starts in it (then the end): a writer that knows which entries
    /// two trees share can build the delta between them from these ranges.
    public var encodedWithOffsets: (bytes: [UInt8], offsets: [Int]) {
        var w = ObjectCoding.header(.tree)
        w.u32(UInt32(entries.count))
        var offsets: [Int] = []
        offsets.reserveCapacity(entries.count + 1)
        for e in entries {
            offsets.append(w.bytes.count)
            w.bytes16(e.name)
            w.u8(e.kind.rawValue)
            w.u32(e.mode)
            w.u64(e.size)
            w.i64(e.mtimeSeconds)
            w.u32(e.mtimeNanoseconds)
            w.u8(UInt8(e.hash.count)); w.raw(e.hash)
        }
        offsets.append(w.bytes.count)
        return (w.bytes, offsets)
    }

    public var id: ObjectID { ObjectCoding.id(of: encoded) }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = try ObjectCoding.reader(bytes, expecting: .tree)
            let count = Int(try r.u32())
            guard count <= r.remaining / 28 else { throw ObjectError.malformed("tree entry count too large") }
            var entries: [TreeEntry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let name = try r.bytes16()
                guard let kind = TreeEntry.Kind(rawValue: try r.u8()) else { throw ObjectError.malformed("unknown entry kind") }
                let mode = try r.u32(), size = try r.u64(), s = try r.i64(), ns = try r.u32()
                let hash = try r.raw(Int(try r.u8()))
                guard kind == .gitlink || kind == .missing || hash.count == 32 else { throw ObjectError.malformed("bad entry hash") }
                entries.append(TreeEntry(name: name, kind: kind, mode: mode, size: size, mtimeSeconds: s, mtimeNanoseconds: ns,
                                         hash: hash))
            }
            try r.expectEnd()
            try self.init(entries: entries)
            guard self.entries.map(\.name) == entries.map(\.name) else { throw ObjectError.malformed("tree entries out of order") }
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("tree: \(e.description)")
        }
    }
}
