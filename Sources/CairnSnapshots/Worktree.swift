import CairnFiles

/// What stands at one path of a tree or the worktree (the two sides of a change).
public struct FlatEntry: Sendable, Equatable {
    public var kind: TreeEntry.Kind
    public var mode: UInt32
    /// Content hash (files, symlinks) or commit id (gitlinks); empty for directories.
    public var hash: [UInt8]
    public var size: UInt64
}

public enum ChangeKind: String, Sendable { case added = "A", modified = "M", deleted = "D" }

public struct Change: Sendable, Equatable {
    public let path: [UInt8]
    public let kind: ChangeKind
    public var pathString: String { String(decoding: path, as: UTF8.self) }
}
