/// gitignore-syntax patterns (`.cairnignore` files and `commit --exclude`).
///
/// Supported as git does: `#` comments, `!` negation (last match wins), a trailing `/` for directories
/// only, a leading or inner `/` anchoring the pattern to its file's directory, `*`, `?`, `[…]` classes
/// (with `!`/`^` negation and ranges), `**/` at the start, `/**` at the end, `/**/` inside, and `\` escapes.
public struct IgnorePattern: Sendable {
    let pattern: [UInt8]
    let negated: Bool
    let directoryOnly: Bool
    let anchored: Bool
    /// The directory (relative to the worktree, "" for the root) whose ignore file held the pattern.
    let base: [UInt8]

    public init?(line: [UInt8], base: [UInt8] = []) {
        var p = line
        if p.last == 0x0D { p.removeLast() }  // CRLF files
        // Trailing spaces are dropped unless escaped.
        while p.last == 0x20 && !(p.count >= 2 && p[p.count - 2] == 0x5C) { p.removeLast() }
        if p.isEmpty || p.first == 0x23 { return nil }
        var negated = false
        if p.first == 0x21 { negated = true; p.removeFirst() }
        else if p.count >= 2 && p[0] == 0x5C && (p[1] == 0x21 || p[1] == 0x23) { p.removeFirst() }
        var directoryOnly = false
        if p.last == 0x2F { directoryOnly = true; p.removeLast() }
        if p.isEmpty { return nil }
        let anchored = p.dropLast().contains(0x2F)
        if p.first == 0x2F { p.removeFirst() }
        self.pattern = p
        self.negated = negated
        self.directoryOnly = directoryOnly
        self.anchored = anchored
        self.base = base
    }

    /// Does the pattern match `path` (relative to the worktree, no leading slash)?
    func matches(_ path: [UInt8], isDirectory: Bool) -> Bool {
        if directoryOnly && !isDirectory { return false }
        var rel = path
        if !base.isEmpty {
            guard path.count > base.count, Array(path[0..<base.count]) == base, path[base.count] == 0x2F else { return false }
            rel = Array(path[(base.count + 1)...])
        }
        if anchored { return Glob.match(pattern, rel) }
        // Unanchored: match the last component (git matches the name at any depth).
        let name = rel.split(separator: 0x2F).last.map(Array.init) ?? rel
        return Glob.match(pattern, name)
    }
}

public struct IgnoreRules: Sendable {
    var patterns: [IgnorePattern] = []
    /// Command-line `--exclude` patterns: they win over every ignore file, as git's command line does.
    var overrides: [IgnorePattern] = []
    public init() {}

    public mutating func add(override pattern: String) {
        if let p = IgnorePattern(line: Array(pattern.utf8)) { overrides.append(p) }
    }

    public mutating func add(fileContents: [UInt8], base: [UInt8]) {
        for line in fileContents.split(separator: 0x0A, omittingEmptySubsequences: false) {
            if let p = IgnorePattern(line: Array(line), base: base) { patterns.append(p) }
        }
    }

    public mutating func add(pattern: String) {
        if let p = IgnorePattern(line: Array(pattern.utf8)) { patterns.append(p) }
    }

    /// The last matching pattern decides; no match means not ignored.
    public func isIgnored(_ path: [UInt8], isDirectory: Bool) -> Bool {
        for p in overrides.reversed() where p.matches(path, isDirectory: isDirectory) { return !p.negated }
        for p in patterns.reversed() where p.matches(path, isDirectory: isDirectory) { return !p.negated }
        return false
    }
}

/// Wildcard matching over bytes where `*` and `?` never cross `/`, and `**` may.
enum Glob {
    static func match(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        matchFrom(pattern[...], text[...])
    }

    private static func matchFrom(_ p: ArraySlice<UInt8>, _ t: ArraySlice<UInt8>) -> Bool {
        var p = p, t = t
        while let c = p.first {
            switch c {
            case 0x2A:  // '*'
                if p.count >= 2 && p[p.startIndex + 1] == 0x2A {
                    // '**': "**/" matches zero or more directories; a trailing "/**" everything below.
                    var rest = p.dropFirst(2)
                    if rest.first == 0x2F {
                        rest = rest.dropFirst()
                        if matchFrom(rest, t) { return true }
                        var i = t.startIndex
                        while i < t.endIndex {
                            if t[i] == 0x2F && matchFrom(rest, t[(i + 1)...]) { return true }
                            i += 1
                        }
                        return false
                    }
                    if rest.isEmpty { return true }
                    var i = t.startIndex
                    while i <= t.endIndex {
                        if matchFrom(rest, t[i...]) { return true }
                        i += 1
                    }
                    return false
                }
                let rest = p.dropFirst()
                var i = t.startIndex
                while true {
                    if matchFrom(rest, t[i...]) { return true }
                    if i == t.endIndex || t[i] == 0x2F { return false }
                    i += 1
                }
            case 0x3F:  // '?'
                guard let x = t.first, x != 0x2F else { return false }
                p = p.dropFirst(); t = t.dropFirst()
            case 0x5B:  // '['
                guard let x = t.first, x != 0x2F, let (ok, consumed) = matchClass(p, x) else {
                    // An unterminated '[' is a literal.
                    if t.first == 0x5B && !hasClassEnd(p) { p = p.dropFirst(); t = t.dropFirst(); continue }
                    return false
                }
                if !ok { return false }
                p = p.dropFirst(consumed); t = t.dropFirst()
            case 0x5C:  // '\'
                let lit = p.count >= 2 ? p[p.startIndex + 1] : 0x5C
                guard t.first == lit else { return false }
                p = p.dropFirst(min(2, p.count)); t = t.dropFirst()
            default:
                guard t.first == c else { return false }
                p = p.dropFirst(); t = t.dropFirst()
            }
        }
        return t.isEmpty
    }

    private static func hasClassEnd(_ p: ArraySlice<UInt8>) -> Bool {
        var i = p.startIndex + 1
        if i < p.endIndex && (p[i] == 0x21 || p[i] == 0x5E) { i += 1 }
        if i < p.endIndex && p[i] == 0x5D { i += 1 }
        while i < p.endIndex { if p[i] == 0x5D { return true }; i += 1 }
        return false
    }

    /// Matches `x` against the class starting at p's '['; returns (matched, pattern bytes consumed).
    private static func matchClass(_ p: ArraySlice<UInt8>, _ x: UInt8) -> (Bool, Int)? {
        guard hasClassEnd(p) else { return nil }
        var i = p.startIndex + 1
        var negate = false
        if p[i] == 0x21 || p[i] == 0x5E { negate = true; i += 1 }
        var matched = false
        var first = true
        while i < p.endIndex && (p[i] != 0x5D || first) {
            first = false
            var lo = p[i]
            if lo == 0x5C && i + 1 < p.endIndex { i += 1; lo = p[i] }
            if i + 2 < p.endIndex && p[i + 1] == 0x2D && p[i + 2] != 0x5D {
                var hi = p[i + 2]
                var step = 3
                if hi == 0x5C && i + 3 < p.endIndex { hi = p[i + 3]; step = 4 }
                if x >= lo && x <= hi { matched = true }
                i += step
            } else {
                if x == lo { matched = true }
                i += 1
            }
        }
        return (matched != negate, i - p.startIndex + 1)
    }
}
