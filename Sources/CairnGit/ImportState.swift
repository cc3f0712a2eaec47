import CairnPrimitives
import CairnSnapshots

/// What an import remembers, on the grid (so another machine can continue): the refs it imported, the
/// source's HEAD, every git id it mapped to a Cairn object, and the raw bytes of trees Cairn's fields
/// cannot reproduce. Kept as a snapshot on `refs/cairn-import/state/NAME` whose tree holds three files,
/// `refs`, `map` and `raw` (Documentation/Git.md gives their bytes); a re-import with nothing new
/// reads only `refs`.
struct ImportState {
    /// What a git id maps to. `hash`: a snapshot, tree or tag id, or a blob's content hash (zero for a
    /// missing blob); `size`: a blob's size.
    struct Mapped: Equatable {
        enum Kind: UInt8 { case commit = 1, tree = 2, blob = 3, tag = 4, missingBlob = 5 }
        var kind: Kind
        var hash: ObjectID
        var size: UInt64

        /// What a Cairn ref naming this object holds (nil for a blob the source did not have).
        var refTarget: RefTarget? {
            switch kind {
            case .commit: return .snapshot(hash)
            case .tree: return RefTarget(kind: .tree, hash: hash.bytes)
            case .blob: return RefTarget(kind: .content, hash: hash.bytes)
            case .tag: return RefTarget(kind: .tag, hash: hash.bytes)
            case .missingBlob: return nil
            }
        }
    }

    var refs: [GitRef] = []
    var head: GitRef.Target?
    var map: [GitOID: Mapped] = [:]
    var rawTrees: [GitOID: [UInt8]] = [:]

    static let refsMagic = Array("CRNGITR1".utf8), mapMagic = Array("CRNGITM1".utf8), rawMagic = Array("CRNGITT1".utf8)
    static let zeroID = ObjectID([UInt8](repeating: 0, count: 32))!

    // MARK: refs file
    // "CRNGITR1" | HEAD: kind u8 (0 none, 1 an object, 2 symbolic) + target | ref count u32 |
    // per ref (sorted by name): name bytes16 | kind u8 | target (an object: 20 bytes; symbolic: bytes16)

    static func encode(target: GitRef.Target?, _ w: inout ByteWriter) {
        switch target {
        case nil: w.u8(0)
        case .object(let id)?: w.u8(1); w.raw(id.bytes)
        case .symbolic(let name)?: w.u8(2); w.u16(UInt16(name.count)); w.raw(name)
        }
    }

    static func decodeTarget(_ r: inout ByteReader) throws -> GitRef.Target? {
        switch try r.u8() {
        case 0: return nil
        case 1: return .object(GitOID(try r.raw(20))!)
        case 2: return .symbolic(try r.raw(Int(try r.u16())))
        default: throw GitError.verification("the import state's refs are damaged (unknown target kind)")
        }
    }

    static func encodeRefs(_ refs: [GitRef], head: GitRef.Target?) -> [UInt8] {
        var w = ByteWriter()
        w.raw(refsMagic)
        encode(target: head, &w)
        w.u32(UInt32(refs.count))
        for r in refs.sorted(by: { $0.name.lexicographicallyPrecedes($1.name) }) {
            w.u16(UInt16(r.name.count)); w.raw(r.name)
            encode(target: r.target, &w)
        }
        return w.bytes
    }

    static func decodeRefs(_ bytes: [UInt8]) throws -> (refs: [GitRef], head: GitRef.Target?) {
        do {
            var r = ByteReader(bytes)
            guard try r.raw(8) == refsMagic else { throw GitError.verification("the import state's refs file is not Cairn's") }
            let head = try decodeTarget(&r)
            let count = Int(try r.u32())
            guard count <= r.remaining / 3 else { throw GitError.verification("the import state's refs are damaged") }
            var refs: [GitRef] = []
            for _ in 0..<count {
                let name = try r.raw(Int(try r.u16()))
                guard let target = try decodeTarget(&r) else { throw GitError.verification("the import state's refs are damaged") }
                refs.append(GitRef(name: name, target: target))
            }
            guard r.remaining == 0 else { throw GitError.verification("the import state's refs are damaged (trailing bytes)") }
            return (refs, head)
        } catch let e as ByteReaderError {
            throw GitError.verification("the import state's refs are damaged: \(e.description)")
        }
    }

    // MARK: map file
    // "CRNGITM1" | count u32 | per git id (sorted): id 20 | kind u8 | hash 32 | size u64

    func encodeMap() -> [UInt8] {
        var w = ByteWriter(capacity: 12 + map.count * 61)
        w.raw(Self.mapMagic)
        w.u32(UInt32(map.count))
        for (id, m) in map.sorted(by: { $0.key < $1.key }) {
            w.raw(id.bytes); w.u8(m.kind.rawValue); w.raw(m.hash.bytes); w.u64(m.size)
        }
        return w.bytes
    }

    static func decodeMap(_ bytes: [UInt8]) throws -> [GitOID: Mapped] {
        guard bytes.count >= 12, Array(bytes[0..<8]) == mapMagic else { throw GitError.verification("the import state's map is not Cairn's") }
        let count = bytes.withUnsafeBytes { Int(UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self))) }
        guard bytes.count == 12 + count * 61 else { throw GitError.verification("the import state's map is damaged (wrong length)") }
        var map: [GitOID: Mapped] = [:]
        map.reserveCapacity(count)
        try bytes.withUnsafeBytes { b in
            for i in 0..<count {
                let at = 12 + i * 61
                let id = GitOID(unchecked: UnsafeRawBufferPointer(rebasing: b[at...]))
                guard let kind = Mapped.Kind(rawValue: b[at + 20]) else { throw GitError.verification("the import state's map is damaged (unknown kind)") }
                let hash = ObjectID(unchecked: UnsafeRawBufferPointer(rebasing: b[(at + 21)...]))
                let size = UInt64(bigEndian: b.loadUnaligned(fromByteOffset: at + 53, as: UInt64.self))
                map[id] = Mapped(kind: kind, hash: hash, size: size)
            }
        }
        return map
    }

    // MARK: raw file
    // "CRNGITT1" | count u32 | per git id (sorted): id 20 | bytes32

    func encodeRaw() -> [UInt8] {
        var w = ByteWriter()
        w.raw(Self.rawMagic)
        w.u32(UInt32(rawTrees.count))
        for (id, bytes) in rawTrees.sorted(by: { $0.key < $1.key }) {
            w.raw(id.bytes); w.u32(UInt32(bytes.count)); w.raw(bytes)
        }
        return w.bytes
    }

    static func decodeRaw(_ bytes: [UInt8]) throws -> [GitOID: [UInt8]] {
        do {
            var r = ByteReader(bytes)
            guard try r.raw(8) == rawMagic else { throw GitError.verification("the import state's raw objects are not Cairn's") }
            let count = Int(try r.u32())
            guard count <= r.remaining / 24 else { throw GitError.verification("the import state's raw objects are damaged") }
            var out: [GitOID: [UInt8]] = [:]
            for _ in 0..<count {
                let id = GitOID(try r.raw(20))!
                out[id] = try r.raw(Int(try r.u32()))
            }
            guard r.remaining == 0 else { throw GitError.verification("the import state's raw objects are damaged (trailing bytes)") }
            return out
        } catch let e as ByteReaderError {
            throw GitError.verification("the import state's raw objects are damaged: \(e.description)")
        }
    }

    // MARK: on the grid

    static func refName(_ name: String) -> [UInt8] { Array("refs/cairn-import/state/\(name)".utf8) }
    static let internalPrefix = Array("refs/cairn-import/".utf8)

    /// Where the state's three files are: the state snapshot's tree entries by name.
    struct Stored {
        var snapshot: ObjectID
        var files: [String: TreeEntry]
    }

    static func locate(_ session: Session, name: String) async throws -> Stored? {
        guard let target = session.refs.all[refName(name)], target.kind == .snapshot, let id = target.id else { return nil }
        let snapshot = try await session.objects.snapshot(id)
        let tree = try await session.objects.tree(snapshot.tree)
        var files: [String: TreeEntry] = [:]
        for e in tree.entries { files[e.nameString] = e }
        return Stored(snapshot: id, files: files)
    }

    static func read(_ file: String, of stored: Stored, _ content: ContentStore) async throws -> [UInt8]? {
        guard let e = stored.files[file] else { return nil }
        return try await content.content(forHash: e.hash)
    }

    /// The whole state (refs, map, raw trees).
    static func load(_ session: Session, name: String) async throws -> (ImportState, Stored)? {
        guard let stored = try await locate(session, name: name) else { return nil }
        return (try await load(stored, session.content), stored)
    }

    /// The state `stored` holds; `refs`: its refs file, when the caller decoded it already.
    static func load(_ stored: Stored, _ content: ContentStore, refs known: (refs: [GitRef], head: GitRef.Target?)? = nil)
        async throws -> ImportState {
        var state = ImportState()
        if let known {
            (state.refs, state.head) = known
        } else if let refs = try await read("refs", of: stored, content) {
            (state.refs, state.head) = try decodeRefs(refs)
        }
        if let map = try await read("map", of: stored, content) { state.map = try decodeMap(map) }
        if let raw = try await read("raw", of: stored, content) { state.rawTrees = try decodeRaw(raw) }
        return state
    }
}
