/// VCDIFF (RFC 3284) forward deltas, readable and writable by xdelta3 3.0.11. See Documentation/Delta.md.
///
/// `encode(source:target:options:)` and `apply(_:to:)` live in Encoder.swift and Decoder.swift.
public enum VCDIFF {
    /// The header magic: 'V' 'C' 'D' with the high bits set, then version 0.
    public static let magic: [UInt8] = [0xD6, 0xC3, 0xC4, 0x00]

    /// The largest target window we write. xdelta3 3.0.11 rejects windows over 16 MiB
    /// (`XD3_HARDMAXWINSIZE`); half of that leaves room and still amortizes window headers.
    public static let maxEncodeWindow = 8 << 20

    /// The largest source segment one window of ours refers to. Every segment must also fit beside the
    /// target window in xdelta3's 32-bit window arithmetic; 64 MiB matches its default `-B` buffer.
    public static let maxSourceSegment = 64 << 20

    /// The largest target window we accept when decoding: larger than anything xdelta3 writes, small enough
    /// that a forged size cannot make us allocate without bound.
    public static let maxDecodeWindow = 64 << 20

    /// The default bound on a whole decoded target (`apply`'s `maxTargetSize`).
    public static let defaultMaxTargetSize = 4 << 30
}

/// Bits of the header indicator byte (RFC 3284 §4.1).
enum HeaderIndicator {
    static let decompress: UInt8 = 0x01
    static let codeTable: UInt8 = 0x02
    static let appHeader: UInt8 = 0x04
    static let known: UInt8 = 0x07
}

/// Bits of the window indicator byte (RFC 3284 §4.2; `adler32` is xdelta3's extension).
enum WindowIndicator {
    static let source: UInt8 = 0x01
    static let target: UInt8 = 0x02
    static let adler32: UInt8 = 0x04
    static let known: UInt8 = 0x07
}
