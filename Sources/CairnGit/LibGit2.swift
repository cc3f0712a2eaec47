import CGit2
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Every libgit2 call Cairn makes, and its return code, is here (research notes: `../shared/research/git-import.md`).
/// Objects are read raw (`git_odb_read`): libgit2's parsed objects normalise modes, trim names and drop
/// headers, which would make an exact round trip impossible.

public enum GitError: Error, CustomStringConvertible, Equatable {
    /// A libgit2 call failed: what Cairn was doing, and libgit2's message.
    case library(String, String)
    case notARepository(String)
    case sha256(String)
    case url(String)
    case missingObject(GitOID, String)
    case malformed(GitOID, String)
    case verification(String)

    public var description: String {
        switch self {
        case .library(let what, let message): return "\(what): \(message)"
        case .notARepository(let p): return "\(p) is not a git repository"
        case .sha256(let p): return "\(p) is a SHA-256 git repository: Cairn imports SHA-1 repositories only"
        case .url(let u): return "\(u) is a URL: clone it first (git clone --mirror \(u) DIR), then import DIR"
        case .missingObject(let id, let what): return "git object \(id) (\(what)) is not in the source repository"
        case .malformed(let id, let what): return "git object \(id) is malformed: \(what)"
        case .verification(let m): return m
        }
    }
}

/// A git object id (SHA-1, 20 bytes), held inline: an import maps every object of a history by it.
public struct GitOID: Hashable, Comparable, Sendable, CustomStringConvertible {
    // Big-endian words, so comparing them in order compares the bytes.
    private let w0: UInt64, w1: UInt64, w2: UInt32

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == 20 else { return nil }
        self.init(unchecked: bytes.withUnsafeBytes { $0 })
    }

    /// `raw` holds at least 20 bytes; the first 20 are the id.
    init(unchecked raw: UnsafeRawBufferPointer) {
        w0 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
    }

    /// Lower-case hex only, as git writes ids into objects; anything else is not an id.
    public init?<S: Collection>(hex: S) where S.Element == UInt8 {
        guard hex.count == 40 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(20)
        var high: UInt8?
        for c in hex {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        self.init(out)
    }

    init(_ oid: git_oid) {
        var copy = oid
        self = withUnsafeBytes(of: &copy.id) { GitOID(unchecked: $0) }
    }

    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        out.withUnsafeMutableBytes { b in
            b.storeBytes(of: w0.bigEndian, toByteOffset: 0, as: UInt64.self)
            b.storeBytes(of: w1.bigEndian, toByteOffset: 8, as: UInt64.self)
            b.storeBytes(of: w2.bigEndian, toByteOffset: 16, as: UInt32.self)
        }
        return out
    }

    var gitOID: git_oid {
        var oid = git_oid()
        let b = bytes
        withUnsafeMutableBytes(of: &oid.id) { $0.copyBytes(from: b) }
        return oid
    }

    public var hexBytes: [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(40)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return out
    }

    public var description: String { String(decoding: hexBytes, as: UTF8.self) }
    public var short: String { String(description.prefix(12)) }
    public static func < (a: GitOID, b: GitOID) -> Bool { (a.w0, a.w1, a.w2) < (b.w0, b.w1, b.w2) }
    public func hash(into hasher: inout Hasher) { hasher.combine(w0) }
}

public enum GitObjectType: Int32, Sendable {
    case commit = 1, tree = 2, blob = 3, tag = 4

    public var name: String {
        switch self { case .commit: "commit"; case .tree: "tree"; case .blob: "blob"; case .tag: "tag" }
    }

    public init?(name: [UInt8]) {
        switch String(decoding: name, as: UTF8.self) {
        case "commit": self = .commit
        case "tree": self = .tree
        case "blob": self = .blob
        case "tag": self = .tag
        default: return nil
        }
    }

    var raw: git_object_t { git_object_t(rawValue: rawValue) }
}

/// One ref as the source has it: a direct ref names an object, a symbolic one another ref.
public struct GitRef: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        case object(GitOID)
        case symbolic([UInt8])
    }
    public var name: [UInt8]
    public var target: Target
    public init(name: [UInt8], target: Target) { self.name = name; self.target = target }
}

/// Process-wide libgit2 set-up, once: hash verification off (`--verify` proves every id instead), no
/// object cache, small mapped windows that keep pack mappings within the memory bound, and the
/// repository extensions Cairn can read through (partial clones, per-worktree config).
enum LibGit2 {
    private static let ready = Mutex(false)

    static func setUp() throws {
        try ready.withLock { done in
            guard !done else { return }
            guard git_libgit2_init() >= 0 else { throw GitError.library("starting libgit2", lastMessage()) }
            try check(cairn_git_set_strict_hash_verification(0), "setting libgit2 options")
            // No object cache: every object is read once (trees kept by the importer itself), and each
            // repository (the importer's and its blob worker's) would keep its own.
            try check(cairn_git_set_caching(0), "setting libgit2 options")
            // Mapped pack pages count in the process's memory: 32 MiB windows, at most 96 MiB mapped in all
            // (the defaults, 1 GiB windows and 8 GiB, keep a whole pack mapped in each repository).
            try check(cairn_git_set_mwindow_size(32 << 20), "setting libgit2 options")
            try check(cairn_git_set_mwindow_mapped_limit(96 << 20), "setting libgit2 options")
            // Ownership checks compare the folder's owner with the user: importing a copy someone else
            // owns is what a backup operator does.
            try check(cairn_git_set_owner_validation(0), "setting libgit2 options")
            let names = ["partialclone", "worktreeconfig", "preciousobjects"]
            let cStrings = names.map { strdup($0) }
            defer { cStrings.forEach { free($0) } }
            var pointers = cStrings.map { UnsafePointer<CChar>($0) }
            try pointers.withUnsafeMutableBufferPointer { buffer in
                try check(cairn_git_set_extensions(buffer.baseAddress, buffer.count), "setting libgit2 options")
            }
            done = true
        }
    }

    static func lastMessage() -> String {
        guard let e = git_error_last(), let m = e.pointee.message else { return "unknown libgit2 error" }
        return String(decoding: UnsafeRawBufferPointer(start: m, count: strlen(m)), as: UTF8.self)
    }

    static func check(_ code: Int32, _ what: @autoclosure () -> String) throws {
        if code < 0 { throw GitError.library(what(), lastMessage()) }
    }

    /// Names are bytes (ref names need not be UTF-8): passed to C as they are, NUL-terminated.
    static func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (bytes + [0]).withUnsafeBufferPointer { b in
            try b.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    static func bytes(_ c: UnsafePointer<CChar>?) -> [UInt8] {
        guard let c else { return [] }
        return Array(UnsafeRawBufferPointer(start: c, count: strlen(c)))
    }
}

/// An open git repository with its object database. Not Sendable: libgit2 serialises reads of one odb
/// behind a lock, so each worker opens its own.
public final class GitRepository {
    let repo: OpaquePointer
    let odb: OpaquePointer
    public let path: String

    /// Opens the repository at `path` (a worktree or a bare repository; no search upwards).
    public convenience init(path: String) throws {
        if path.contains("://") || path.hasPrefix("git@") { throw GitError.url(path) }
        try LibGit2.setUp()
        var repo: OpaquePointer?
        let flags = GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue
        let code = git_repository_open_ext(&repo, path, flags, nil)
        guard code >= 0, let repo else {
            let message = LibGit2.lastMessage()
            if message.contains("objectformat") { throw GitError.sha256(path) }
            if code == GIT_ENOTFOUND.rawValue { throw GitError.notARepository(path) }
            throw GitError.library("opening \(path)", message)
        }
        try self.init(taking: repo, path: path)
    }

    /// Owns `repo` from here on (freed if its object database cannot be opened).
    private init(taking repo: OpaquePointer, path: String) throws {
        var odb: OpaquePointer?
        guard git_repository_odb(&odb, repo) >= 0, let odb else {
            let message = LibGit2.lastMessage()
            git_repository_free(repo)
            throw GitError.library("opening the object database of \(path)", message)
        }
        self.repo = repo
        self.odb = odb
        self.path = path
    }

    /// Creates an empty bare repository at `path` (export).
    public convenience init(creatingBareAt path: String) throws {
        try LibGit2.setUp()
        var repo: OpaquePointer?
        try LibGit2.check(git_repository_init(&repo, path, 1), "creating a git repository at \(path)")
        guard let repo else { throw GitError.library("creating a git repository at \(path)", "no repository") }
        try self.init(taking: repo, path: path)
    }

    deinit {
        git_odb_free(odb)
        git_repository_free(repo)
    }

    /// The git directory (`.git/` of a worktree, or the bare repository itself).
    public var gitDirectory: String { String(decoding: LibGit2.bytes(git_repository_path(repo)), as: UTF8.self) }

    /// Reads one object raw; nil when the odb does not have it (a partial clone's missing blob).
    public func read<R>(_ id: GitOID, _ body: (GitObjectType, UnsafeRawBufferPointer) throws -> R) throws -> R? {
        var oid = id.gitOID
        var object: OpaquePointer?
        let code = git_odb_read(&object, odb, &oid)
        if code == GIT_ENOTFOUND.rawValue { return nil }
        try LibGit2.check(code, "reading git object \(id)")
        guard let object else { return nil }
        defer { git_odb_object_free(object) }
        guard let type = GitObjectType(rawValue: git_odb_object_type(object).rawValue) else {
            throw GitError.malformed(id, "unknown object type")
        }
        return try body(type, UnsafeRawBufferPointer(start: git_odb_object_data(object), count: git_odb_object_size(object)))
    }

    /// Reads one object raw into an array.
    public func read(_ id: GitOID) throws -> (GitObjectType, [UInt8])? {
        try read(id) { type, bytes in (type, Array(bytes)) }
    }

    /// The type of an object without its bytes (header only, no inflate of the whole object).
    public func type(of id: GitOID) throws -> GitObjectType? {
        var oid = id.gitOID
        var size = 0
        var type = GIT_OBJECT_INVALID
        let code = git_odb_read_header(&size, &type, odb, &oid)
        if code == GIT_ENOTFOUND.rawValue { return nil }
        try LibGit2.check(code, "reading git object \(id)")
        return GitObjectType(rawValue: type.rawValue)
    }

    public func contains(_ id: GitOID) -> Bool {
        var oid = id.gitOID
        return git_odb_exists(odb, &oid) == 1
    }

    /// Writes raw bytes as an object; returns its id (the SHA-1 of header and bytes).
    @discardableResult
    public func write(_ type: GitObjectType, _ bytes: [UInt8]) throws -> GitOID {
        var oid = git_oid()
        try bytes.withUnsafeBytes { b in
            try LibGit2.check(git_odb_write(&oid, odb, b.baseAddress, b.count, type.raw), "writing a git \(type.name)")
        }
        return GitOID(oid)
    }

    /// Every ref (not HEAD), loose and packed, with its target as stored (tags unpeeled).
    public func refs() throws -> [GitRef] {
        var iterator: OpaquePointer?
        try LibGit2.check(git_reference_iterator_new(&iterator, repo), "listing the refs of \(path)")
        defer { git_reference_iterator_free(iterator) }
        var out: [GitRef] = []
        while true {
            var ref: OpaquePointer?
            let code = git_reference_next(&ref, iterator)
            if code == GIT_ITEROVER.rawValue { break }
            try LibGit2.check(code, "listing the refs of \(path)")
            guard let ref else { break }
            defer { git_reference_free(ref) }
            if let r = Self.gitRef(ref) { out.append(r) }
        }
        return out.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// HEAD: symbolic (the usual case), detached, or nil when unreadable.
    public func head() -> GitRef.Target? {
        var ref: OpaquePointer?
        guard git_reference_lookup(&ref, repo, "HEAD") >= 0, let ref else { return nil }
        defer { git_reference_free(ref) }
        return Self.gitRef(ref)?.target
    }

    private static func gitRef(_ ref: OpaquePointer) -> GitRef? {
        let name = LibGit2.bytes(git_reference_name(ref))
        if git_reference_type(ref) == GIT_REFERENCE_SYMBOLIC {
            return GitRef(name: name, target: .symbolic(LibGit2.bytes(git_reference_symbolic_target(ref))))
        }
        guard let oid = git_reference_target(ref) else { return nil }
        return GitRef(name: name, target: .object(GitOID(oid.pointee)))
    }

    /// Creates or moves a direct ref (export). Names come from the source, so they are valid ref names.
    public func setRef(_ name: [UInt8], to id: GitOID) throws {
        var oid = id.gitOID
        var ref: OpaquePointer?
        try LibGit2.withCString(name) { cName in
            try LibGit2.check(git_reference_create(&ref, repo, cName, &oid, 1, nil), "writing ref \(String(decoding: name, as: UTF8.self))")
        }
        git_reference_free(ref)
    }

    public func setSymbolicRef(_ name: [UInt8], to target: [UInt8]) throws {
        var ref: OpaquePointer?
        try LibGit2.withCString(name) { cName in
            try LibGit2.withCString(target) { cTarget in
                try LibGit2.check(git_reference_symbolic_create(&ref, repo, cName, cTarget, 1, nil),
                                  "writing ref \(String(decoding: name, as: UTF8.self))")
            }
        }
        git_reference_free(ref)
    }

    /// The SHA-1 id git gives `bytes` as an object of `type`.
    public static func hash(_ type: GitObjectType, _ bytes: [UInt8]) throws -> GitOID {
        try LibGit2.setUp()
        var oid = git_oid()
        try bytes.withUnsafeBytes { b in
            try LibGit2.check(git_odb_hash(&oid, b.baseAddress, b.count, type.raw), "hashing a git \(type.name)")
        }
        return GitOID(oid)
    }
}
