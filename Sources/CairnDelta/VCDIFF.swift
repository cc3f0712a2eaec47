/// VCDIFF (RFC 3284): see README.md.
public enum VCDIFF {
    /// The header magic: 'V' 'C' 'D' with the high bits set, then version 0.
    public static let magic: [UInt8] = [0xD6, 0xC3, 0xC4, 0x00]
}
