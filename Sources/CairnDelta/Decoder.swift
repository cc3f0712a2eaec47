import CairnPrimitives

extension VCDIFF {
    /// Applies an RFC 3284 delta to `source` and returns the target.
    ///
    /// Reads the default code table only, without secondary compression (what `xdelta3 -S none` writes);
    /// skips any application header; verifies xdelta3's Adler-32 window checksums when present.
    /// Throws `DeltaError` for anything malformed. `maxTargetSize` bounds the memory a delta can make us
    /// allocate, since a few bytes of RUN instructions can declare gigabytes of output.
    public static func apply(_ delta: [UInt8], to source: [UInt8],
                             maxTargetSize: Int = defaultMaxTargetSize) throws -> [UInt8] {
        try delta.withUnsafeBufferPointer { d in
            try source.withUnsafeBufferPointer { s in
                try apply(d, to: s, maxTargetSize: maxTargetSize)
            }
        }
    }

    /// `apply` over buffers the caller already holds (e.g. a memory-mapped source).
    public static func apply(_ delta: UnsafeBufferPointer<UInt8>, to source: UnsafeBufferPointer<UInt8>,
                             maxTargetSize: Int = defaultMaxTargetSize) throws -> [UInt8] {
        var reader = DeltaReader(delta, from: 0, to: delta.count)
        try readHeader(&reader)
        var target: [UInt8] = []
        var window = 0
        while !reader.isAtEnd {
            try decodeWindow(&reader, number: window, source: source, target: &target, maxTargetSize: maxTargetSize)
            window += 1
        }
        return target
    }

    private static func readHeader(_ r: inout DeltaReader) throws(DeltaError) {
        for i in 0..<3 {
            guard try r.byte("header") == magic[i] else { throw .notVCDIFF }
        }
        let version = try r.byte("header")
        guard version == 0 else { throw .unsupportedVersion(version) }
        let indicator = try r.byte("header indicator")
        guard indicator & ~HeaderIndicator.known == 0 else {
            throw .unknownIndicatorBits(field: "header indicator", value: indicator)
        }
        if indicator & HeaderIndicator.decompress != 0 { throw .secondaryCompression }
        if indicator & HeaderIndicator.codeTable != 0 { throw .customCodeTable }
        if indicator & HeaderIndicator.appHeader != 0 {
            let length = try r.integer("application header length")
            try r.skip(length, "application header")
        }
    }

    /// Decodes one window (RFC 3284 §4.2–4.3) and appends its bytes to `target`.
    private static func decodeWindow(_ r: inout DeltaReader, number: Int, source: UnsafeBufferPointer<UInt8>,
                                     target: inout [UInt8], maxTargetSize: Int) throws {
        let indicator = try r.byte("window indicator")
        guard indicator & ~WindowIndicator.known == 0 else {
            throw DeltaError.unknownIndicatorBits(field: "window indicator", value: indicator)
        }
        let fromSource = indicator & WindowIndicator.source != 0
        let fromTarget = indicator & WindowIndicator.target != 0
        guard !(fromSource && fromTarget) else {
            throw DeltaError.malformed("window \(number) sets both VCD_SOURCE and VCD_TARGET")
        }
        var segmentLength = 0
        var segmentPosition = 0
        if fromSource || fromTarget {
            segmentLength = try r.integer("source segment length")
            segmentPosition = try r.integer("source segment position")
            let available = fromSource ? source.count : target.count
            guard segmentPosition <= available, segmentLength <= available - segmentPosition else {
                throw DeltaError.segmentOutOfRange(
                    "window \(number) copies \(segmentLength) bytes at offset \(segmentPosition) of the "
                    + (fromSource ? "source, which has \(available) bytes"
                                  : "target, of which only \(available) bytes are decoded"))
            }
        }
        let encodingLength = try r.integer("delta encoding length")
        let encodingStart = r.position
        guard encodingLength <= r.remaining else { throw DeltaError.truncated("window \(number)") }
        let windowLength = try r.integer("target window length")
        guard windowLength <= maxDecodeWindow else {
            throw DeltaError.tooLarge(what: "target window \(number)", size: windowLength, limit: maxDecodeWindow)
        }
        guard windowLength <= maxTargetSize - target.count else {
            throw DeltaError.tooLarge(what: "target", size: target.count + windowLength, limit: maxTargetSize)
        }
        let deltaIndicator = try r.byte("delta indicator")
        guard deltaIndicator == 0 else {
            if deltaIndicator & ~0x07 != 0 {
                throw DeltaError.unknownIndicatorBits(field: "delta indicator", value: deltaIndicator)
            }
            throw DeltaError.secondaryCompression
        }
        let dataLength = try r.integer("data section length")
        let instLength = try r.integer("instruction section length")
        let addrLength = try r.integer("address section length")
        var expectedChecksum: UInt32?
        if indicator & WindowIndicator.adler32 != 0 {
            var sum: UInt32 = 0
            for _ in 0..<4 { sum = sum << 8 | UInt32(try r.byte("window checksum")) }
            expectedChecksum = sum
        }
        let headerBytes = r.position - encodingStart
        guard dataLength <= encodingLength, instLength <= encodingLength, addrLength <= encodingLength,
              headerBytes + dataLength + instLength + addrLength == encodingLength else {
            throw DeltaError.malformed("window \(number): delta encoding length \(encodingLength) does not match "
                                       + "its sections (\(headerBytes) + \(dataLength) + \(instLength) + \(addrLength))")
        }
        let dataStart = r.position
        var data = DeltaReader(r.bytes, from: dataStart, to: dataStart + dataLength)
        var inst = DeltaReader(r.bytes, from: data.end, to: data.end + instLength)
        var addr = DeltaReader(r.bytes, from: inst.end, to: inst.end + addrLength)
        try r.skip(dataLength + instLength + addrLength, "window \(number)")

        let windowStart = target.count
        target.append(contentsOf: repeatElement(0, count: windowLength))
        try target.withUnsafeMutableBufferPointer { out in
            let window = UnsafeMutableBufferPointer(rebasing: out[windowStart...])
            let segment: UnsafeBufferPointer<UInt8>
            if fromSource {
                segment = UnsafeBufferPointer(rebasing: source[segmentPosition..<segmentPosition + segmentLength])
            } else if fromTarget {
                segment = UnsafeBufferPointer(rebasing: UnsafeBufferPointer(out)[segmentPosition..<segmentPosition + segmentLength])
            } else {
                segment = UnsafeBufferPointer(start: nil, count: 0)
            }
            var machine = WindowMachine(segment: segment, window: window, number: number)
            try machine.run(data: &data, instructions: &inst, addresses: &addr)
            if let expected = expectedChecksum {
                let actual = Adler32.checksum(UnsafeRawBufferPointer(window))
                guard actual == expected else {
                    throw DeltaError.checksumMismatch(window: number, expected: expected, actual: actual)
                }
            }
        }
    }
}

/// Executes one window's instructions, writing into the window's slice of the target.
private struct WindowMachine {
    let segment: UnsafeBufferPointer<UInt8>
    let window: UnsafeMutableBufferPointer<UInt8>
    let number: Int
    var written = 0
    var cache = AddressCache()

    init(segment: UnsafeBufferPointer<UInt8>, window: UnsafeMutableBufferPointer<UInt8>, number: Int) {
        self.segment = segment
        self.window = window
        self.number = number
    }

    mutating func run(data: inout DeltaReader, instructions: inout DeltaReader,
                      addresses: inout DeltaReader) throws(DeltaError) {
        let table = CodeTable.standard.entries
        while !instructions.isAtEnd {
            let entry = table[Int(try instructions.byte("instruction section"))]
            if entry.type1 != .noop {
                try execute(entry.type1, entry.size1, entry.mode1, &data, &instructions, &addresses)
            }
            if entry.type2 != .noop {
                try execute(entry.type2, entry.size2, entry.mode2, &data, &instructions, &addresses)
            }
        }
        guard written == window.count else {
            throw .malformed("window \(number) decodes to \(written) bytes but declares \(window.count)")
        }
        guard data.isAtEnd else { throw .malformed("window \(number) leaves \(data.remaining) bytes of its data section unused") }
        guard addresses.isAtEnd else {
            throw .malformed("window \(number) leaves \(addresses.remaining) bytes of its address section unused")
        }
    }

    private mutating func execute(_ type: InstructionType, _ tableSize: UInt8, _ mode: UInt8,
                                  _ data: inout DeltaReader, _ instructions: inout DeltaReader,
                                  _ addresses: inout DeltaReader) throws(DeltaError) {
        var size = Int(tableSize)
        if size == 0 { size = try instructions.integer("instruction section") }
        guard size <= window.count - written else {
            throw .malformed("an instruction in window \(number) writes past the declared window length \(window.count)")
        }
        let dst = window.baseAddress.map { $0 + written }
        switch type {
        case .add:
            guard size <= data.remaining else { throw .malformed("ADD in window \(number) needs more bytes than the data section has") }
            if size > 0 { dst!.update(from: data.bytes.baseAddress! + data.position, count: size) }
            try data.skip(size, "data section")
        case .run:
            let byte = try data.byte("data section")
            if size > 0 { dst!.update(repeating: byte, count: size) }
        case .copy:
            let here = segment.count + written
            let address = try cache.decode(mode: Int(mode), here: here, from: &addresses)
            guard address < here else {
                throw .malformed("COPY in window \(number) reads address \(address), beyond the current position \(here)")
            }
            if address < segment.count {
                guard size <= segment.count - address else {
                    throw .malformed("COPY in window \(number) runs past the end of its source segment")
                }
                if size > 0 { dst!.update(from: segment.baseAddress! + address, count: size) }
            } else if size > 0 {
                // From the target window itself; may overlap what it writes, which repeats the
                // `dst - from` bytes before it. Copying from `from` in chunks that double keeps every chunk
                // a whole number of periods, so memcpy-sized steps give the byte-by-byte result.
                let from = window.baseAddress! + (address - segment.count)
                var done = 0
                while done < size {
                    let n = min(size - done, (dst! + done) - from)
                    (dst! + done).update(from: from, count: n)
                    done += n
                }
            }
        case .noop:
            break
        }
        written += size
    }
}
