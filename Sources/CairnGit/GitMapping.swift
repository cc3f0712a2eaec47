import CairnSnapshots

/// Cairn objects written as git objects: the one serialiser both the import's byte comparison and
/// export/verify use, so an object that compared equal at import is regenerated exactly.
enum GitMapping {
    /// The extra header holding a commit's or tag's raw git bytes where Cairn's fields do not reproduce
    /// them; always the last header (a git object carrying such a header of its own is kept raw too).
    static let rawKey = Array("cairn-git-raw".utf8)

    static func rawFallback(_ headers: [ExtraHeader]) -> [UInt8]? {
        guard let last = headers.last, last.key == rawKey else { return nil }
        return last.value
    }

    /// Git's mode for an entry: directories 40000, symlinks 120000, gitlinks 160000, files 100755 or
    /// 100644 by the owner's execute bit (an imported tree with any other file mode, legacy 100664
    /// included, is kept raw).
    static func gitMode(_ e: TreeEntry) -> UInt32 {
        switch e.kind {
        case .directory: return 0o040000
        case .symlink: return 0o120000
        case .gitlink: return 0o160000
        case .missing: return e.mode
        case .file: return e.mode & 0o100 != 0 ? 0o100755 : 0o100644
        }
    }

    /// A Cairn tree as git tree bytes; nil when `oid` cannot name some entry.
    static func treeBytes(_ tree: Tree, oid: (TreeEntry) throws -> GitOID?) rethrows -> [UInt8]? {
        var items: [GitFormat.TreeItem] = []
        items.reserveCapacity(tree.entries.count)
        for e in tree.entries {
            guard let id = try oid(e) else { return nil }
            items.append(GitFormat.TreeItem(mode: gitMode(e), name: e.name, id: id))
        }
        return GitFormat.treeBytes(items)
    }

    /// A snapshot as git commit bytes: its raw bytes when it carries them; nil when an id is unknown.
    static func commitBytes(_ s: Snapshot, tree: GitOID?, parents: [GitOID?]) -> [UInt8]? {
        if let raw = rawFallback(s.extraHeaders) { return raw }
        guard let tree else { return nil }
        var ids: [GitOID] = []
        for p in parents {
            guard let p else { return nil }
            ids.append(p)
        }
        return GitFormat.commitBytes(tree: tree, parents: ids, author: s.author, committer: s.committer, extra: s.extraHeaders,
                                     message: s.message)
    }

    static func gitType(_ kind: RefTarget.Kind) -> GitObjectType {
        switch kind {
        case .snapshot: .commit
        case .tree: .tree
        case .content: .blob
        case .tag: .tag
        }
    }

    static func tagBytes(_ t: AnnotatedTag, target: GitOID?) -> [UInt8]? {
        if let raw = rawFallback(t.extraHeaders) { return raw }
        guard let target else { return nil }
        return GitFormat.tagBytes(object: target, type: gitType(t.target.kind), name: t.name, tagger: t.tagger, extra: t.extraHeaders,
                                  message: t.message)
    }

    /// A placeholder for an ident that did not parse: the commit then keeps its raw bytes.
    static let noIdent = Signature(nameBytes: [], emailBytes: [], time: 0, zone: [])
}
