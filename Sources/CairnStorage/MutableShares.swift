/// One equality test of Tahoe's test vectors: the `size` bytes at `offset` of the share as it is now
/// (fewer past its end, none if it is absent) must equal `specimen`.
public struct MutableTest: Sendable, Equatable {
    public var offset: UInt64
    public var size: UInt64
    public var specimen: [UInt8]

    public init(offset: UInt64, size: UInt64, specimen: [UInt8]) {
        self.offset = offset
        self.size = size
        self.specimen = specimen
    }

    /// The usual test: these exact bytes at `offset`.
    public init(offset: UInt64, specimen: [UInt8]) {
        self.init(offset: offset, size: UInt64(specimen.count), specimen: specimen)
    }

    /// Passes only when the share is absent or empty (Tahoe's `{offset 0, size 1, specimen ""}`): any
    /// existing byte would be read and differ from the empty specimen.
    public static let absent = MutableTest(offset: 0, size: 1, specimen: [])

    public var range: Range<UInt64> { offset..<(offset &+ size < offset ? UInt64.max : offset + size) }

    public func passes(on share: [UInt8]) -> Bool { MutableBytes.read(share, range) == specimen }
}

/// What to do to one mutable share: run the tests, and if every test of the call passes, apply the
/// writes in order (growing the share with zeros as needed), then cut it to `newLength` if that is
/// shorter. A new length of 0 removes the share (as Tahoe does); a longer one changes nothing.
public struct MutableWrite: Sendable {
    public var tests: [MutableTest]
    public var writes: [(offset: UInt64, data: [UInt8])]
    public var newLength: UInt64?

    public init(tests: [MutableTest], writes: [(offset: UInt64, data: [UInt8])], newLength: UInt64? = nil) {
        self.tests = tests
        self.writes = writes
        self.newLength = newLength
    }

    /// Replaces the whole share with `bytes` if the tests pass.
    public static func replace(testing tests: [MutableTest], with bytes: [UInt8]) -> MutableWrite {
        MutableWrite(tests: tests, writes: [(0, bytes)], newLength: UInt64(bytes.count))
    }

    /// Removes the share if the tests pass.
    public static func remove(testing tests: [MutableTest]) -> MutableWrite {
        MutableWrite(tests: tests, writes: [], newLength: 0)
    }

    /// The share after the writes; nil when it ends up removed (or empty).
    public func applied(to share: [UInt8], limit: UInt64) throws(MutableWriteError) -> [UInt8]? {
        var out = share
        for (offset, data) in writes where !data.isEmpty {
            let (end, overflow) = offset.addingReportingOverflow(UInt64(data.count))
            guard !overflow, end <= limit else { throw .tooLarge(end: end, limit: limit) }
            if Int(end) > out.count { out += [UInt8](repeating: 0, count: Int(end) - out.count) }
            out.replaceSubrange(Int(offset)..<Int(end), with: data)
        }
        if let newLength, newLength < UInt64(out.count) { out.removeSubrange(Int(newLength)...) }
        return out.isEmpty ? nil : out
    }
}

public enum MutableWriteError: Error {
    case tooLarge(end: UInt64, limit: UInt64)
}

/// The answer to `testAndWriteMutable`.
public struct MutableWriteResult: Sendable, Equatable {
    /// True when every test passed and the writes were applied.
    public var success: Bool
    /// Per share of the call, the bytes each test's range held before the call (in test order).
    public var data: [ShareNumber: [[UInt8]]]

    public init(success: Bool, data: [ShareNumber: [[UInt8]]]) {
        self.success = success
        self.data = data
    }
}

/// Byte-range helpers shared by the servers' slot implementations.
public enum MutableBytes {
    /// `range` of `share`, cut short at its end.
    public static func read(_ share: [UInt8], _ range: Range<UInt64>) -> [UInt8] {
        let count = UInt64(share.count)
        let lo = min(range.lowerBound, count), hi = min(range.upperBound, count)
        return lo < hi ? Array(share[Int(lo)..<Int(hi)]) : []
    }

    /// Evaluates a whole call against the current shares: the result, and the new contents of every
    /// share of the call when all tests pass (nil entries: remove the share).
    public static func evaluate(_ vectors: [ShareNumber: MutableWrite], current: [ShareNumber: [UInt8]],
                                limit: UInt64) throws(MutableWriteError) -> (MutableWriteResult, [ShareNumber: [UInt8]?]) {
        var data: [ShareNumber: [[UInt8]]] = [:]
        var success = true
        for (share, vector) in vectors {
            let bytes = current[share] ?? []
            data[share] = vector.tests.map { read(bytes, $0.range) }
            if !vector.tests.allSatisfy({ $0.passes(on: bytes) }) { success = false }
        }
        guard success else { return (MutableWriteResult(success: false, data: data), [:]) }
        var updates: [ShareNumber: [UInt8]?] = [:]
        for (share, vector) in vectors {
            updates[share] = .some(try vector.applied(to: current[share] ?? [], limit: limit))
        }
        return (MutableWriteResult(success: true, data: data), updates)
    }
}
