import CairnPrimitives

/// Every BLAKE2b personalization tag of Cairn's formats, in one place so none is reused.
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

    // Leases (StorageProtocol.md, "Leases").
    public static let leaseClient = HashTag("cairn:lease:cli")
    public static let leaseRenew = HashTag("cairn:lease:rnw")
    public static let leaseCancel = HashTag("cairn:lease:cnc")

    // Mutable slots (Formats.md, "Mutable slots").
    public static let slotReadKey = HashTag("cairn:slot:rkey")
    public static let slotStorageIndex = HashTag("cairn:slot:si")
    public static let slotFingerprint = HashTag("cairn:slot:fpr")
    public static let slotWriteSecret = HashTag("cairn:slot:wsec")
    public static let slotWriteEnabler = HashTag("cairn:slot:we")
    public static let slotBlock = HashTag("cairn:slot:block")
}
