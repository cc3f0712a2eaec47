/// The kind of one half of an instruction-table entry (RFC 3284 §5.4).
enum InstructionType: UInt8, Sendable {
    case noop = 0, add = 1, run = 2, copy = 3
}

/// One entry of an instruction code table: up to two instructions, each with a size (0 = the size
/// follows in the instruction section) and, for COPY, an address mode.
struct CodeEntry: Sendable {
    var type1: InstructionType = .noop
    var size1: UInt8 = 0
    var mode1: UInt8 = 0
    var type2: InstructionType = .noop
    var size2: UInt8 = 0
    var mode2: UInt8 = 0
}

/// The default code table of RFC 3284 §5.6, built from its description rather than typed in, plus the
/// reverse lookups the encoder needs. It is the only table we read or write (xdelta3 removed its
/// support for VCD_CODETABLE as well).
struct CodeTable: Sendable {
    static let nearSize = 4
    static let sameSize = 3
    /// Modes 0 (SELF), 1 (HERE), 2...5 (near), 6...8 (same).
    static let modeCount = 2 + nearSize + sameSize

    static let standard = CodeTable()

    let entries: [CodeEntry]
    /// `single[key(type, size, mode)]` = opcode of a lone instruction with that implicit size, or -1.
    private let single: [Int16]
    /// Opcodes of entries holding two instructions, keyed by both halves.
    private let double: [Int: UInt8]

    private init() {
        var e: [CodeEntry] = []
        e.append(CodeEntry(type1: .run, size1: 0))
        for size in 0...17 { e.append(CodeEntry(type1: .add, size1: UInt8(size))) }
        for mode in 0..<9 {
            e.append(CodeEntry(type1: .copy, size1: 0, mode1: UInt8(mode)))
            for size in 4...18 { e.append(CodeEntry(type1: .copy, size1: UInt8(size), mode1: UInt8(mode))) }
        }
        for mode in 0..<6 {
            for add in 1...4 {
                for copy in 4...6 {
                    e.append(CodeEntry(type1: .add, size1: UInt8(add), type2: .copy, size2: UInt8(copy), mode2: UInt8(mode)))
                }
            }
        }
        for mode in 6..<9 {
            for add in 1...4 {
                e.append(CodeEntry(type1: .add, size1: UInt8(add), type2: .copy, size2: 4, mode2: UInt8(mode)))
            }
        }
        for mode in 0..<9 {
            e.append(CodeEntry(type1: .copy, size1: 4, mode1: UInt8(mode), type2: .add, size2: 1))
        }
        precondition(e.count == 256)
        entries = e

        var single = [Int16](repeating: -1, count: 4 * 19 * 9)
        var double: [Int: UInt8] = [:]
        for (code, entry) in e.enumerated() {
            if entry.type2 == .noop {
                let k = Self.key(entry.type1, Int(entry.size1), Int(entry.mode1))
                if single[k] < 0 { single[k] = Int16(code) }
            } else {
                let k = Self.pairKey(entry.type1, Int(entry.size1), Int(entry.mode1),
                                     entry.type2, Int(entry.size2), Int(entry.mode2))
                double[k] = UInt8(code)
            }
        }
        self.single = single
        self.double = double
    }

    private static func key(_ type: InstructionType, _ size: Int, _ mode: Int) -> Int {
        (Int(type.rawValue) * 19 + size) * 9 + mode
    }

    private static func pairKey(_ t1: InstructionType, _ s1: Int, _ m1: Int,
                                _ t2: InstructionType, _ s2: Int, _ m2: Int) -> Int {
        key(t1, s1, m1) * 4096 + key(t2, s2, m2)
    }

    /// The opcode for a lone instruction, and whether its size must follow explicitly.
    func opcode(_ type: InstructionType, size: Int, mode: Int) -> (code: UInt8, explicitSize: Bool) {
        if size <= 18 {
            let c = single[Self.key(type, size, mode)]
            if c >= 0 { return (UInt8(c), false) }
        }
        return (UInt8(single[Self.key(type, 0, mode)]), true)
    }

    /// The opcode holding both instructions with implicit sizes, if the table has one.
    func opcode(_ t1: InstructionType, _ s1: Int, _ m1: Int,
                _ t2: InstructionType, _ s2: Int, _ m2: Int) -> UInt8? {
        guard s1 <= 18, s2 <= 18 else { return nil }
        return double[Self.pairKey(t1, s1, m1, t2, s2, m2)]
    }
}
