/// Revision syntax: full or unique-prefix snapshot ids, branch and tag names, HEAD, and suffixes
/// `~N`, `^`, `^N` and `@{DATE}` (the first snapshot on REV's first-parent line whose commit time is
/// at or before DATE, to the second, like `git rev-list -1 --first-parent --before`).
public struct RevisionResolver: Sendable {
    let repository: Repository
    let refs: Refs
    let objects: ObjectStore
    let now: Int64

    public init(repository: Repository, refs: Refs, objects: ObjectStore, now: Int64) {
        self.repository = repository; self.refs = refs; self.objects = objects; self.now = now
    }

    public func resolve(_ text: String) async throws -> ObjectID {
        var rest = Substring(text)
        // The base name runs up to the first suffix character outside @{…}.
        var baseEnd = rest.endIndex
        if let i = rest.firstIndex(where: { $0 == "~" || $0 == "^" }) { baseEnd = i }
        var j = rest.startIndex
        while j < baseEnd {
            if rest[j] == "@", rest.index(after: j) < rest.endIndex, rest[rest.index(after: j)] == "{" { baseEnd = j; break }
            j = rest.index(after: j)
        }
        let base = String(rest[..<baseEnd])
        rest = rest[baseEnd...]
        var id = try await resolveBase(base.isEmpty ? "HEAD" : base, whole: text)
        while let c = rest.first {
            if c == "~" || c == "^" {
                rest.removeFirst()
                let digits = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(digits.count)
                let n = digits.isEmpty ? 1 : (Int(digits) ?? -1)
                guard n >= 0 else { throw RepositoryError.unknownRevision(text) }
                if c == "~" {
                    for _ in 0..<n { id = try await parent(of: id, number: 1, text) }
                } else if n > 0 {
                    id = try await parent(of: id, number: n, text)
                }
            } else if rest.hasPrefix("@{") {
                guard let close = rest.firstIndex(of: "}") else { throw RepositoryError.unknownRevision(text) }
                let dateText = String(rest[rest.index(rest.startIndex, offsetBy: 2)..<close])
                rest = rest[rest.index(after: close)...]
                let (date, _) = try DateParser.parse(dateText, now: now)
                id = try await asOf(date, from: id, text)
            } else {
                throw RepositoryError.unknownRevision(text)
            }
        }
        return id
    }

    /// First snapshot on the first-parent line from `tip` with commit time ≤ `date`.
    public func asOf(_ date: Int64, from tip: ObjectID, _ text: String) async throws -> ObjectID {
        var current: ObjectID? = tip
        while let id = current {
            let s = try await objects.snapshot(id)
            if s.committer.time <= date { return id }
            current = s.parents.first
        }
        throw RepositoryError.revisionNotFound(text, because: "nothing was committed at or before \(DateParser.format(date, zone: localZoneOffsetMinutes(at: date)))")
    }

    private func parent(of id: ObjectID, number: Int, _ text: String) async throws -> ObjectID {
        let s = try await objects.snapshot(id)
        guard number >= 1, number <= s.parents.count else { throw RepositoryError.unknownRevision(text) }
        return s.parents[number - 1]
    }

    private func resolveBase(_ name: String, whole: String) async throws -> ObjectID {
        if name == "HEAD" {
            guard let id = try repository.headSnapshot(refs) else {
                throw RepositoryError.unknownRevision("HEAD (nothing committed yet)")
            }
            return id
        }
        if let id = refs.branches[name] { return id }
        if let target = refs.tags[name] ?? refs.all[Array(name.utf8)] { return try await peel(target, name) }
        let lower = name.lowercased()
        if lower.count >= 4, lower.count <= 64, lower.allSatisfy({ $0.isHexDigit }) {
            let index = await objects.index
            let matches = index.objects(withHexPrefix: lower)
            var snapshots: [ObjectID] = []
            for m in matches where (try? await objects.snapshot(m)) != nil { snapshots.append(m) }
            if snapshots.count == 1 { return snapshots[0] }
            if snapshots.count > 1 { throw RepositoryError.revisionNotFound(whole, because: "ambiguous: \(snapshots.count) snapshots start with \(lower)") }
        }
        throw RepositoryError.unknownRevision(whole)
    }

    /// The snapshot a ref's target comes to, through annotated tags.
    func peel(_ target: RefTarget, _ name: String) async throws -> ObjectID {
        var target = target
        for _ in 0..<16 {
            guard let id = target.id else { break }
            switch target.kind {
            case .snapshot: return id
            case .tag: target = try await objects.annotatedTag(id).target
            case .tree, .content:
                throw RepositoryError.revisionNotFound(name, because: "it points at a \(target.kind == .tree ? "tree" : "file's content"), not a snapshot")
            }
        }
        throw RepositoryError.revisionNotFound(name, because: "a chain of annotated tags too long")
    }

    /// Splits "REV:PATH" at the first ':' outside @{…}.
    public static func splitPath(_ text: String) -> (rev: String, path: String?) {
        var depth = 0
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "{" { depth += 1 } else if c == "}" { depth -= 1 } else if c == ":" && depth == 0 {
                return (String(text[..<i]), String(text[text.index(after: i)...]))
            }
            i = text.index(after: i)
        }
        return (text, nil)
    }
}
