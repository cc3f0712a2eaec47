import CairnPrimitives

/// Snapshot-layer objects, encoded canonically (Documentation/Snapshots.md): the same value always has
/// the same bytes, so its id (the hash of those bytes) names it everywhere.
public enum ObjectKind: UInt8, Sendable {
    case snapshot = 1
    case tree = 2
    case fileVersion = 3
}

public enum ObjectError: Error, CustomStringConvertible, Equatable {
    case malformed(String)
    public var description: String {
        switch self { case .malformed(let m): return "damaged object: \(m)" }
    }
}

enum ObjectCoding {
    static let magic: [UInt8] = Array("CRNO".utf8)
    static let version: UInt8 = 1
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
        guard (try? r.u8()) == version else { throw ObjectError.malformed("unknown object version") }
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

/// Who and when, with the zone offset kept (as git does) so times print as they were written.
public struct Signature: Sendable, Equatable {
    public var name: String
    public var email: String
    /// Seconds since 1970 UTC.
    public var time: Int64
    /// Minutes east of UTC.
    public var zoneOffset: Int16

    public init(name: String, email: String, time: Int64, zoneOffset: Int16) {
        self.name = name; self.email = email; self.time = time; self.zoneOffset = zoneOffset
    }

    func encode(_ w: inout ByteWriter) {
        w.bytes16(Array(name.utf8)); w.bytes16(Array(email.utf8)); w.i64(time); w.u16(UInt16(bitPattern: zoneOffset))
    }

    static func decode(_ r: inout ByteReader) throws -> Signature {
        Signature(name: String(decoding: try r.bytes16(), as: UTF8.self), email: String(decoding: try r.bytes16(), as: UTF8.self),
                  time: try r.i64(), zoneOffset: Int16(bitPattern: try r.u16()))
    }
}

/// A commit: a tree, its parents, who made it and why.
public struct Snapshot: Sendable, Equatable {
    public var tree: ObjectID
    public var parents: [ObjectID]
    public var author: Signature
    public var committer: Signature
    public var message: [UInt8]
    /// Extra headers (e.g. a git import's encoding and signature lines), in order.
    public var extraHeaders: [(key: String, value: [UInt8])]

    public init(tree: ObjectID, parents: [ObjectID], author: Signature, committer: Signature, message: [UInt8],
                extraHeaders: [(key: String, value: [UInt8])] = []) {
        self.tree = tree; self.parents = parents; self.author = author; self.committer = committer
        self.message = message; self.extraHeaders = extraHeaders
    }

    public static func == (a: Snapshot, b: Snapshot) -> Bool { a.encoded == b.encoded }

    public var encoded: [UInt8] {
        var w = ObjectCoding.header(.snapshot)
        w.raw(tree.bytes)
        w.u16(UInt16(parents.count))
        for p in parents { w.raw(p.bytes) }
        author.encode(&w)
        committer.encode(&w)
        w.bytes32(message)
        w.u16(UInt16(extraHeaders.count))
        for h in extraHeaders { w.bytes16(Array(h.key.utf8)); w.bytes32(h.value) }
        return w.bytes
    }

    public var id: ObjectID { ObjectCoding.id(of: encoded) }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = try ObjectCoding.reader(bytes, expecting: .snapshot)
            tree = try r.id()
            parents = try (0..<Int(try r.u16())).map { _ in try r.id() }
            author = try Signature.decode(&r)
            committer = try Signature.decode(&r)
            message = try r.bytes32()
            extraHeaders = try (0..<Int(try r.u16())).map { _ in (String(decoding: try r.bytes16(), as: UTF8.self), try r.bytes32()) }
            try r.expectEnd()
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("snapshot: \(e.description)")
        }
    }
}

/// One name in a directory.
public struct TreeEntry: Sendable, Equatable {
    public enum Kind: UInt8, Sendable { case file = 1, directory = 2, symlink = 3, gitlink = 4 }

    /// Raw name bytes (file names need not be UTF-8).
    public var name: [UInt8]
    public var kind: Kind
    /// Full mode: file type and permission bits as `st_mode`, which is also git's raw mode number
    /// (0o100644, 0o100755, 0o120000, 0o160000, 0o040000 and odd legacy ones like 0o100664).
    public var mode: UInt32
    public var size: UInt64
    public var mtimeSeconds: Int64
    public var mtimeNanoseconds: UInt32
    /// Files and symlinks: the content hash; directories: the tree id; gitlinks: the commit id.
    public var hash: [UInt8]
    /// Files and symlinks: the file-version object holding the bytes; nil otherwise.
    public var version: ObjectID?

    public init(name: [UInt8], kind: Kind, mode: UInt32, size: UInt64, mtimeSeconds: Int64, mtimeNanoseconds: UInt32,
                hash: [UInt8], version: ObjectID?) {
        self.name = name; self.kind = kind; self.mode = mode; self.size = size
        self.mtimeSeconds = mtimeSeconds; self.mtimeNanoseconds = mtimeNanoseconds; self.hash = hash; self.version = version
    }

    public var nameString: String { String(decoding: name, as: UTF8.self) }
}

/// A directory: entries sorted by name bytes, names unique. Empty directories are trees with no entries.
public struct Tree: Sendable, Equatable {
    public private(set) var entries: [TreeEntry]

    public init(entries: [TreeEntry]) throws {
        let sorted = entries.sorted { $0.name.lexicographicallyPrecedes($1.name) }
        for (i, e) in sorted.enumerated() {
            guard Tree.isValidName(e.name) else {
                throw ObjectError.malformed("invalid entry name '\(e.nameString)'")
            }
            if i > 0 && sorted[i - 1].name == e.name { throw ObjectError.malformed("duplicate entry '\(e.nameString)'") }
        }
        self.entries = sorted
    }

    static func isValidName(_ name: [UInt8]) -> Bool {
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

    public var encoded: [UInt8] {
        var w = ObjectCoding.header(.tree)
        w.u32(UInt32(entries.count))
        for e in entries {
            w.bytes16(e.name)
            w.u8(e.kind.rawValue)
            w.u32(e.mode)
            w.u64(e.size)
            w.i64(e.mtimeSeconds)
            w.u32(e.mtimeNanoseconds)
            w.u8(UInt8(e.hash.count)); w.raw(e.hash)
            if let v = e.version { w.u8(32); w.raw(v.bytes) } else { w.u8(0) }
        }
        return w.bytes
    }

    public var id: ObjectID { ObjectCoding.id(of: encoded) }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = try ObjectCoding.reader(bytes, expecting: .tree)
            let count = Int(try r.u32())
            guard count <= r.remaining / 20 else { throw ObjectError.malformed("tree entry count too large") }
            var entries: [TreeEntry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let name = try r.bytes16()
                guard let kind = TreeEntry.Kind(rawValue: try r.u8()) else { throw ObjectError.malformed("unknown entry kind") }
                let mode = try r.u32(), size = try r.u64(), s = try r.i64(), ns = try r.u32()
                let hash = try r.raw(Int(try r.u8()))
                let vlen = try r.u8()
                guard vlen == 0 || vlen == 32 else { throw ObjectError.malformed("bad version reference") }
                let version = vlen == 32 ? try r.id() : nil
                entries.append(TreeEntry(name: name, kind: kind, mode: mode, size: size, mtimeSeconds: s, mtimeNanoseconds: ns,
                                         hash: hash, version: version))
            }
            try r.expectEnd()
            try self.init(entries: entries)
            guard self.entries.map(\.name) == entries.map(\.name) else { throw ObjectError.malformed("tree entries out of order") }
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("tree: \(e.description)")
        }
    }
}
