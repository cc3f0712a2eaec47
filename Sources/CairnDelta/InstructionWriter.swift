/// Builds one window's three sections (data, instructions, addresses) with the default code table.
/// One instruction is held back so that a small ADD followed by a small COPY (or a COPY of 4 followed by
/// an ADD of 1) can share one opcode, as RFC 3284 §5.6 intends.
struct InstructionWriter {
    private(set) var data: [UInt8] = []
    private(set) var instructions: [UInt8] = []
    private(set) var addresses: [UInt8] = []
    private var cache = AddressCache()
    private let table = CodeTable.standard
    /// The address of the next target byte in the window's address space (source segment first).
    private(set) var here: Int
    private var pending: (type: InstructionType, size: Int, mode: Int)?

    init(segmentLength: Int, expectedSize: Int) {
        here = segmentLength
        data.reserveCapacity(expectedSize / 4)
        instructions.reserveCapacity(expectedSize / 64 + 16)
        addresses.reserveCapacity(expectedSize / 64 + 16)
    }

    mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard !bytes.isEmpty else { return }
        data.append(contentsOf: bytes)
        push(.add, bytes.count, 0)
    }

    mutating func run(_ byte: UInt8, count: Int) {
        data.append(byte)
        push(.run, count, 0)
    }

    /// A COPY of `size` bytes from `address` (source segment addresses first, then the target window).
    mutating func copy(from address: Int, size: Int) {
        let mode = cache.encode(address, here: here, into: &addresses)
        push(.copy, size, mode)
    }

    /// Emits the held-back instruction; call once at the end of the window.
    mutating func finish() {
        if let p = pending { emit(p.type, p.size, p.mode) }
        pending = nil
    }

    private mutating func push(_ type: InstructionType, _ size: Int, _ mode: Int) {
        here += size
        if let p = pending, let code = table.opcode(p.type, p.size, p.mode, type, size, mode) {
            instructions.append(code)
            pending = nil
            return
        }
        if let p = pending { emit(p.type, p.size, p.mode) }
        pending = (type, size, mode)
    }

    private mutating func emit(_ type: InstructionType, _ size: Int, _ mode: Int) {
        let (code, explicit) = table.opcode(type, size: size, mode: mode)
        instructions.append(code)
        if explicit { VarInt.append(size, to: &instructions) }
    }
}
