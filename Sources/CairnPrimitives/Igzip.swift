import CISAL

/// ISA-L's igzip, for the zlib format (RFC 1950) only: several times faster than zlib at level 1 and
/// when inflating, with byte streams that zlib reads and writes too. The only file calling igzip.
enum Igzip {
    /// Level-1 compression into a zlib stream; nil if ISA-L refuses (the caller falls back to zlib).
    static func compressZlib(_ input: [UInt8]) -> [UInt8]? {
        let stream = UnsafeMutablePointer<isal_zstream>.allocate(capacity: 1)
        defer { stream.deallocate() }
        isal_deflate_init(stream)
        // ISAL_DEF_LVL1_DEFAULT (a macro Swift cannot import) is 4 KiB + 2 × hash size + 256 KiB; this covers it.
        let levelBufferSize = 512 << 10
        let levelBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: levelBufferSize)
        defer { levelBuffer.deallocate() }
        // Stateless output must fit at once: stored blocks cost 5 bytes per 64 KiB, plus header and trailer.
        var output = [UInt8](repeating: 0, count: input.count + input.count / 8 + 1024)
        var one: UInt8 = 0
        // An empty input has no buffer: point at `one` instead, for as long as the call runs (a pointer
        // returned out of withUnsafeMutablePointer would be undefined behaviour).
        let rc: Int32 = withUnsafeMutablePointer(to: &one) { placeholder in input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress) ?? placeholder
                stream.pointee.avail_in = UInt32(inBuf.count)
                stream.pointee.next_out = outBuf.baseAddress
                stream.pointee.avail_out = UInt32(outBuf.count)
                stream.pointee.level = 1
                stream.pointee.level_buf = levelBuffer
                stream.pointee.level_buf_size = UInt32(levelBufferSize)
                stream.pointee.gzip_flag = UInt16(IGZIP_ZLIB)
                stream.pointee.end_of_stream = 1
                stream.pointee.flush = UInt16(NO_FLUSH)
                return isal_deflate_stateless(stream)
            }
        } }
        guard rc == COMP_OK, input.count < Int(UInt32.max) else { return nil }
        output.removeSubrange(Int(stream.pointee.total_out)...)
        return output
    }

    /// Inflates a zlib stream that must expand to exactly `expectedSize` bytes (adler32 checked).
    static func inflateZlib(_ input: [UInt8], expectedSize: Int) -> [UInt8]? {
        guard input.count < Int(UInt32.max), expectedSize < Int(UInt32.max) else { return nil }
        let state = UnsafeMutablePointer<inflate_state>.allocate(capacity: 1)
        defer { state.deallocate() }
        isal_inflate_init(state)
        var output = [UInt8](repeating: 0, count: expectedSize + 1)  // one spare byte detects overlong streams
        var one: UInt8 = 0
        let (rc, finished): (Int32, Bool) = withUnsafeMutablePointer(to: &one) { placeholder in input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                state.pointee.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress) ?? placeholder
                state.pointee.avail_in = UInt32(inBuf.count)
                state.pointee.next_out = outBuf.baseAddress
                state.pointee.avail_out = UInt32(outBuf.count)
                state.pointee.crc_flag = UInt32(ISAL_ZLIB)
                let rc = isal_inflate(state)
                return (rc, state.pointee.block_state == ISAL_BLOCK_FINISH)
            }
        } }
        guard rc == ISAL_DECOMP_OK, finished, Int(state.pointee.total_out) == expectedSize else { return nil }
        output.removeLast()
        return output
    }
}
