import CairnPrimitives

extension VCDIFF {
    /// How `encode` writes a delta.
    public struct EncodeOptions: Sendable {
        /// Target bytes per window; clamped to 1...`VCDIFF.maxEncodeWindow` (8 MiB).
        public var windowSize: Int
        /// The most source bytes one window may refer to; clamped to 1...`VCDIFF.maxSourceSegment`.
        /// Sources up to this size are referred to whole by every window.
        public var maxSourceSegment: Int
        /// Writes xdelta3's Adler-32 of every target window, which decoders verify.
        public var checksum: Bool
        /// The application header (VCD_APPHEADER), or nil for none. The default, "cairn", has no '/', so
        /// xdelta3 takes no file names from it.
        public var applicationHeader: [UInt8]?

        public init(windowSize: Int = VCDIFF.maxEncodeWindow, maxSourceSegment: Int = VCDIFF.maxSourceSegment,
                    checksum: Bool = true, applicationHeader: [UInt8]? = Array("cairn".utf8)) {
            self.windowSize = windowSize
            self.maxSourceSegment = maxSourceSegment
            self.checksum = checksum
            self.applicationHeader = applicationHeader
        }
    }

    /// A delta that turns `source` (the previous version) into `target` (the new one), readable by
    /// `apply` and by `xdelta3 -d -s SOURCE`.
    public static func encode(source: [UInt8], target: [UInt8], options: EncodeOptions = EncodeOptions()) -> [UInt8] {
        source.withUnsafeBufferPointer { s in
            target.withUnsafeBufferPointer { t in encode(source: s, target: t, options: options) }
        }
    }

    /// `encode` over buffers the caller already holds.
    public static func encode(source: UnsafeBufferPointer<UInt8>, target: UnsafeBufferPointer<UInt8>,
                              options: EncodeOptions = EncodeOptions()) -> [UInt8] {
        let windowSize = min(max(options.windowSize, 1), maxEncodeWindow)
        let maxSegment = min(max(options.maxSourceSegment, 1), maxSourceSegment)
        var out = magic
        if let header = options.applicationHeader {
            out.append(HeaderIndicator.appHeader)
            VarInt.append(header.count, to: &out)
            out += header
        } else {
            out.append(0)
        }
        var matcher = Matcher(source: source, target: target, windowSize: windowSize)
        var anchor: Int?
        var start = 0
        repeat {  // an empty target still gets one (empty) window, as xdelta3 writes it
            let end = min(start + windowSize, target.count)
            let segment = sourceSegment(forWindowAt: start, length: end - start, sourceCount: source.count,
                                        targetCount: target.count, limit: maxSegment, anchor: anchor)
            var writer = InstructionWriter(segmentLength: segment.count, expectedSize: end - start)
            if let lastSourceEnd = matcher.encode(start..<end, segment: segment, into: &writer) {
                anchor = lastSourceEnd
            }
            writer.finish()
            let checksum = options.checksum
                ? Adler32.checksum(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: target[start..<end]))) : nil
            appendWindow(&out, segment: segment, targetLength: end - start, writer: writer, checksum: checksum)
            start = end
        } while start < target.count
        return out
    }

    /// The source bytes a window may copy from: all of a source that fits the limit; otherwise a
    /// limit-sized region starting a quarter of it before where the previous window's last source copy
    /// ended (edits rarely move data far), or proportionally placed when there was none.
    static func sourceSegment(forWindowAt start: Int, length: Int, sourceCount: Int, targetCount: Int,
                              limit: Int, anchor: Int?) -> Range<Int> {
        guard sourceCount > limit else { return 0..<sourceCount }
        let guess = anchor ?? Int(Double(start) / Double(max(targetCount, 1)) * Double(sourceCount))
        let lower = min(max(guess - limit / 4, 0), sourceCount - limit)
        return lower..<lower + limit
    }

    /// Appends one window (RFC 3284 §4.2) with xdelta3's checksum placement: after the three section
    /// lengths, counted in the delta encoding length.
    static func appendWindow(_ out: inout [UInt8], segment: Range<Int>, targetLength: Int,
                                     writer: InstructionWriter, checksum: UInt32?) {
        var indicator: UInt8 = 0
        if !segment.isEmpty { indicator |= WindowIndicator.source }
        if checksum != nil { indicator |= WindowIndicator.adler32 }
        out.append(indicator)
        if !segment.isEmpty {
            VarInt.append(segment.count, to: &out)
            VarInt.append(segment.lowerBound, to: &out)
        }
        let d = writer.data.count, i = writer.instructions.count, a = writer.addresses.count
        let encodingLength = VarInt.size(targetLength) + 1 + VarInt.size(d) + VarInt.size(i) + VarInt.size(a)
            + (checksum == nil ? 0 : 4) + d + i + a
        out.reserveCapacity(out.count + encodingLength + 8)
        VarInt.append(encodingLength, to: &out)
        VarInt.append(targetLength, to: &out)
        out.append(0)  // delta indicator: no secondary compression
        VarInt.append(d, to: &out)
        VarInt.append(i, to: &out)
        VarInt.append(a, to: &out)
        if let sum = checksum {
            out += [UInt8(sum >> 24), UInt8(truncatingIfNeeded: sum >> 16), UInt8(truncatingIfNeeded: sum >> 8),
                    UInt8(truncatingIfNeeded: sum)]
        }
        out += writer.data
        out += writer.instructions
        out += writer.addresses
    }
}

extension VCDIFF {
    /// A delta from known copies, without searching: `copies` (ascending, non-overlapping target ranges)
    /// say which target bytes equal which source bytes; everything else is added. For a caller that built
    /// the target from the source and knows what it kept (a tree with a few entries changed). One window
    /// with the whole source; nil when the target or source is too large for that (use `encode`).
    public static func encode(source: [UInt8], target: [UInt8], copies: [(target: Range<Int>, source: Int)]) -> [UInt8]? {
        guard target.count <= maxEncodeWindow, source.count <= maxSourceSegment else { return nil }
        var out = magic
        out.append(HeaderIndicator.appHeader)
        let header = Array("cairn".utf8)
        VarInt.append(header.count, to: &out)
        out += header
        var writer = InstructionWriter(segmentLength: source.count, expectedSize: target.count)
        var at = 0
        target.withUnsafeBufferPointer { t in
            for c in copies {
                guard c.target.lowerBound >= at, c.target.upperBound <= t.count, c.source >= 0,
                      c.source + c.target.count <= source.count else { continue }
                writer.add(UnsafeBufferPointer(rebasing: t[at..<c.target.lowerBound]))
                if !c.target.isEmpty { writer.copy(from: c.source, size: c.target.count) }
                at = c.target.upperBound
            }
            writer.add(UnsafeBufferPointer(rebasing: t[at...]))
        }
        writer.finish()
        // No checksum: such a caller checks the result itself (a tree against its id).
        appendWindow(&out, segment: 0..<source.count, targetLength: target.count, writer: writer, checksum: nil)
        return out
    }
}
