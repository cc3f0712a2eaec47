import CairnSnapshots

/// Git's object formats, parsed from raw bytes and written back canonically. Parsing is lenient (it
/// takes what it can from odd objects); writing is canonical; an import compares the two and keeps the
/// raw bytes wherever they differ, so nothing a git object holds is ever lost (Documentation/Git.md).
enum GitFormat {
    /// Commit and tag headers with their values: continuation lines (starting with a space) join the
    /// value with "\n", as git writes multi-line headers such as `gpgsig` and `mergetag`.
    struct Headers {
        var items: [ExtraHeader] = []
        var message: [UInt8] = []
    }

    static func headers(_ bytes: [UInt8]) -> Headers {
        var out = Headers()
        var i = 0
        while i < bytes.count {
            let end = bytes[i...].firstIndex(of: 0x0A) ?? bytes.count
            if end == i {  // the blank line: the message follows
                out.message = Array(bytes[(i + 1)...])
                return out
            }
            let line = bytes[i..<end]
            if line.first == 0x20, !out.items.isEmpty {
                out.items[out.items.count - 1].value += [0x0A] + line.dropFirst()
            } else if let space = line.firstIndex(of: 0x20) {
                out.items.append(ExtraHeader(key: Array(line[..<space]), value: Array(line[(space + 1)...])))
            } else {
                out.items.append(ExtraHeader(key: Array(line), value: []))
            }
            i = end + 1
        }
        return out
    }

    static func writeHeader(_ key: [UInt8], _ value: [UInt8], into out: inout [UInt8]) {
        out += key
        out.append(0x20)
        for b in value {
            out.append(b)
            if b == 0x0A { out.append(0x20) }
        }
        out.append(0x0A)
    }

    /// "NAME <EMAIL> TIME ZONE": nil when it is not of that shape (a missing email, a bad date).
    static func ident(_ v: [UInt8]) -> Signature? {
        guard let lt = v.firstIndex(of: 0x3C), let gt = v[lt...].firstIndex(of: 0x3E) else { return nil }
        var name = v[..<lt]
        if name.last == 0x20 { name = name.dropLast() }
        let rest = v[(gt + 1)...]
        guard rest.first == 0x20 else { return nil }
        let fields = rest.dropFirst()
        guard let space = fields.firstIndex(of: 0x20) else { return nil }
        let digits = fields[..<space]
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ (0x30...0x39).contains($0) }),
              let time = Int64(String(decoding: digits, as: UTF8.self)) else { return nil }
        // A zone is short text on one line ("+0100", "-0000", "+1500"); anything else keeps the object raw.
        let zone = fields[(space + 1)...]
        guard zone.count <= 32, !zone.contains(0x0A) else { return nil }
        return Signature(nameBytes: Array(name), emailBytes: Array(v[(lt + 1)..<gt]), time: time, zone: Array(zone))
    }

    static func identBytes(_ s: Signature) -> [UInt8] {
        s.nameBytes + Array(" <".utf8) + s.emailBytes + Array("> ".utf8) + Array(String(s.time).utf8) + [0x20] + s.zone
    }

    // MARK: commits

    /// A commit as far as it parses: tree, parents, author, committer, other headers in order, message.
    struct Commit {
        var tree: GitOID?
        var parents: [GitOID] = []
        var author: Signature?
        var committer: Signature?
        var extra: [ExtraHeader] = []
        var message: [UInt8] = []
    }

    static let treeKey = Array("tree".utf8), parentKey = Array("parent".utf8)
    static let authorKey = Array("author".utf8), committerKey = Array("committer".utf8)

    static func commit(_ bytes: [UInt8]) -> Commit {
        let h = headers(bytes)
        var c = Commit(message: h.message)
        var items = h.items[...]
        if let first = items.first, first.key == treeKey { c.tree = GitOID(hex: first.value); items = items.dropFirst() }
        while let p = items.first, p.key == parentKey, let id = GitOID(hex: p.value) {
            c.parents.append(id)
            items = items.dropFirst()
        }
        if let a = items.first, a.key == authorKey, let s = ident(a.value) { c.author = s; items = items.dropFirst() }
        if let a = items.first, a.key == committerKey, let s = ident(a.value) { c.committer = s; items = items.dropFirst() }
        c.extra = Array(items)
        return c
    }

    /// Only the parent ids (the walk over history reads nothing else), parsed as `commit` parses them:
    /// the headers up to the blank line, not the message.
    static func parents(_ bytes: UnsafeRawBufferPointer) -> [GitOID] {
        var end = 0
        while end < bytes.count {
            guard let nl = bytes[end...].firstIndex(of: 0x0A) else { end = bytes.count; break }
            if nl == end { break }
            end = nl + 1
        }
        return commit(Array(bytes[0..<end])).parents
    }

    static func commitBytes(tree: GitOID, parents: [GitOID], author: Signature, committer: Signature, extra: [ExtraHeader],
                            message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + message.count)
        writeHeader(treeKey, tree.hexBytes, into: &out)
        for p in parents { writeHeader(parentKey, p.hexBytes, into: &out) }
        writeHeader(authorKey, identBytes(author), into: &out)
        writeHeader(committerKey, identBytes(committer), into: &out)
        for h in extra { writeHeader(h.key, h.value, into: &out) }
        out.append(0x0A)
        out += message
        return out
    }

    // MARK: tags

    struct Tag {
        var object: GitOID?
        var type: GitObjectType?
        var name: [UInt8] = []
        var tagger: Signature?
        var extra: [ExtraHeader] = []
        var message: [UInt8] = []
    }

    static let objectKey = Array("object".utf8), typeKey = Array("type".utf8), tagKey = Array("tag".utf8)
    static let taggerKey = Array("tagger".utf8)

    static func tag(_ bytes: [UInt8]) -> Tag {
        let h = headers(bytes)
        var t = Tag(message: h.message)
        var items = h.items[...]
        if let o = items.first, o.key == objectKey { t.object = GitOID(hex: o.value); items = items.dropFirst() }
        if let o = items.first, o.key == typeKey { t.type = GitObjectType(name: o.value); items = items.dropFirst() }
        if let o = items.first, o.key == tagKey { t.name = o.value; items = items.dropFirst() }
        if let o = items.first, o.key == taggerKey, let s = ident(o.value) { t.tagger = s; items = items.dropFirst() }
        t.extra = Array(items)
        return t
    }

    static func tagBytes(object: GitOID, type: GitObjectType, name: [UInt8], tagger: Signature?, extra: [ExtraHeader],
                         message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        writeHeader(objectKey, object.hexBytes, into: &out)
        writeHeader(typeKey, Array(type.name.utf8), into: &out)
        writeHeader(tagKey, name, into: &out)
        if let tagger { writeHeader(taggerKey, identBytes(tagger), into: &out) }
        for h in extra { writeHeader(h.key, h.value, into: &out) }
        out.append(0x0A)
        out += message
        return out
    }

    // MARK: trees

    struct TreeItem {
        var mode: UInt32
        var name: [UInt8]
        var id: GitOID
        var isDirectory: Bool { mode & 0o170000 == 0o040000 }
    }

    /// Entries in stored order (odd trees may be unsorted or repeat a name); throws on a truncated tree.
    static func tree(_ bytes: [UInt8], id: GitOID) throws -> [TreeItem] {
        var canonical = true
        return try tree(bytes, id: id, canonical: &canonical)
    }

    /// The modes git writes, and so the only ones `treeBytes` writes back.
    static func isCanonicalMode(_ mode: UInt32) -> Bool {
        mode == 0o100644 || mode == 0o100755 || mode == 0o040000 || mode == 0o120000 || mode == 0o160000
    }

    /// As `tree(_:id:)`; `canonical` ends true when the bytes are what `treeBytes` writes for these items:
    /// modes git writes, without leading zeros, names strictly in git's order.
    static func tree(_ bytes: [UInt8], id: GitOID, canonical: inout Bool) throws -> [TreeItem] {
        var out: [TreeItem] = []
        canonical = true
        var i = 0
        while i < bytes.count {
            guard let space = bytes[i...].firstIndex(of: 0x20), space > i, space - i <= 12,
                  let nul = bytes[(space + 1)...].firstIndex(of: 0), nul + 21 <= bytes.count else {
                throw GitError.malformed(id, "a truncated tree entry")
            }
            var mode: UInt32 = 0
            for d in bytes[i..<space] {
                guard (0x30...0x37).contains(d) else { throw GitError.malformed(id, "a tree entry mode that is not octal") }
                mode = mode << 3 | UInt32(d - 0x30)  // wraps as git's does; such a tree is never canonical
            }
            let oid = bytes.withUnsafeBytes { GitOID(unchecked: UnsafeRawBufferPointer(rebasing: $0[(nul + 1)...])) }
            let item = TreeItem(mode: mode, name: Array(bytes[(space + 1)..<nul]), id: oid)
            if canonical {
                // The mode's text exactly as written back (a long text can wrap around to a canonical number).
                let digits = space - i
                canonical = digits == (mode == 0o040000 ? 5 : 6) && bytes[i] != 0x30 && isCanonicalMode(mode)
                    && (out.last.map { gitPrecedes($0, item) } ?? true)
            }
            out.append(item)
            i = nul + 21
        }
        return out
    }

    /// Git's order: by name bytes, a directory's name compared as if it ended in "/".
    static func sortedForGit(_ items: [TreeItem]) -> [TreeItem] {
        for i in items.indices.dropFirst() where gitPrecedes(items[i], items[i - 1]) { return items.sorted(by: gitPrecedes) }
        return items
    }

    /// `a` before `b` in git's order, without building the "name/" strings.
    static func gitPrecedes(_ a: TreeItem, _ b: TreeItem) -> Bool {
        a.name.withUnsafeBufferPointer { x in
            b.name.withUnsafeBufferPointer { y in
                let n = min(x.count, y.count)
                for i in 0..<n where x[i] != y[i] { return x[i] < y[i] }
                // One name is a prefix of the other: compare the next byte, a directory's being "/", then
                // (both names at their virtual end) the shorter first.
                let ca = x.count > n ? Int(x[n]) : a.isDirectory ? 0x2F : -1
                let cb = y.count > n ? Int(y[n]) : b.isDirectory ? 0x2F : -1
                if ca != cb { return ca < cb }
                return x.count + (a.isDirectory ? 1 : 0) < y.count + (b.isDirectory ? 1 : 0)
            }
        }
    }

    static func treeBytes(_ items: [TreeItem]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(items.count * 40)
        for item in sortedForGit(items) {
            out += Array(String(item.mode, radix: 8).utf8)
            out.append(0x20)
            out += item.name
            out.append(0)
            out += item.id.bytes
        }
        return out
    }
}
