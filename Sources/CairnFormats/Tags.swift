import CairnPrimitives

/// Every BLAKE2b personalization tag of the immutable-file format, in one place so none is reused.
/// The list is mirrored in Documentation/Formats.md.
public enum Tags {
    public static let chunk = HashTag("cairn:chk:chunk")
    public static let convergentKey = HashTag("cairn:chk:key")
    public static let storageIndex = HashTag("cairn:chk:si")
    public static let block = HashTag("cairn:chk:block")
    public static let crypttextSegment = HashTag("cairn:chk:ctseg")
    public static let treeNode = HashTag("cairn:tree:node")
    public static let treePad = HashTag("cairn:tree:pad")
    public static let ueb = HashTag("cairn:chk:ueb")
    public static let permute = HashTag("cairn:permute")
}
