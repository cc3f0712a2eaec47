/// The COPY address cache of RFC 3284 §5.1–5.3 ("near" and "same" caches), reset at each window.
/// Encoder and decoder must update it identically, so both sides use this one type.
struct AddressCache {
    private var near = [Int](repeating: 0, count: CodeTable.nearSize)
    private var nextSlot = 0
    private var same = [Int](repeating: 0, count: CodeTable.sameSize * 256)

    mutating func update(_ address: Int) {
        near[nextSlot] = address
        nextSlot = (nextSlot + 1) % CodeTable.nearSize
        same[address % same.count] = address
    }

    /// Chooses the cheapest mode for `address` at position `here` of the window's address space, appends
    /// the encoded address to `out` and returns the mode.
    mutating func encode(_ address: Int, here: Int, into out: inout [UInt8]) -> Int {
        let slot = address % same.count
        if same[slot] == address {
            update(address)
            out.append(UInt8(truncatingIfNeeded: address))
            return 2 + CodeTable.nearSize + slot / 256
        }
        var bestMode = 0
        var bestValue = address
        if here - address < bestValue { bestMode = 1; bestValue = here - address }
        for i in 0..<CodeTable.nearSize where address >= near[i] && address - near[i] < bestValue {
            bestMode = 2 + i
            bestValue = address - near[i]
        }
        update(address)
        VarInt.append(bestValue, to: &out)
        return bestMode
    }

    /// Reads one address in `mode` from the address section.
    mutating func decode(mode: Int, here: Int, from addresses: inout DeltaReader) throws(DeltaError) -> Int {
        let address: Int
        switch mode {
        case 0:
            address = try addresses.integer("address section")
        case 1:
            let back = try addresses.integer("address section")
            guard back <= here else { throw .malformed("COPY address points before the start of the window") }
            address = here - back
        case 2..<(2 + CodeTable.nearSize):
            address = near[mode - 2] + (try addresses.integer("address section"))
        default:
            let b = Int(try addresses.byte("address section"))
            address = same[(mode - 2 - CodeTable.nearSize) * 256 + b]
        }
        update(address)
        return address
    }
}
