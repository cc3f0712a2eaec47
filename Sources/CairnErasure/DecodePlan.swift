#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of share numbers (0...255) as a 256-bit mask: a cache key that costs no allocation.
struct ShareSet: Hashable, Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    static func == (a: ShareSet, b: ShareSet) -> Bool { a.words == b.words }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    func contains(_ number: Int) -> Bool {
        let bit = UInt64(1) << UInt64(number & 63)
        switch number >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    mutating func insert(_ number: Int) {
        let bit = UInt64(1) << UInt64(number & 63)
        switch number >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }
}

/// How to rebuild the missing primary blocks from one set of k shares: the shares in ascending order
/// (the input order of `tables`) and, per missing primary, its row of the inverted submatrix.
final class DecodePlan: Sendable {
    /// The k share numbers used, ascending.
    let shares: [Int]
    /// Primary block numbers absent from `shares`, ascending; `tables` has one output row for each.
    let missing: [Int]
    let tables: ISALTables

    init(shares: [Int], generator: GFMatrix) {
        self.shares = shares
        let k = generator.columns
        guard let inverse = generator.selecting(rows: shares).inverted() else {
            preconditionFailure("any k rows of zfec's generator matrix are invertible")
        }
        let present = Set(shares.filter { $0 < k })
        missing = (0..<k).filter { !present.contains($0) }
        tables = ISALTables(inverse.selecting(rows: missing))
    }
}

/// A small lock-protected cache of decode plans per share set: inverting a k×k matrix costs O(k³) (about
/// 16 M field operations at k = 256), far more than decoding a small segment. Bounded; cleared when full.
final class DecodePlanCache: @unchecked Sendable {
    private let limit: Int
    private var plans: [ShareSet: DecodePlan] = [:]
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init(limit: Int = 64) {
        self.limit = limit
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func plan(for key: ShareSet, make: () -> DecodePlan) -> DecodePlan {
        pthread_mutex_lock(mutex)
        let cached = plans[key]
        pthread_mutex_unlock(mutex)
        if let cached { return cached }
        // Built outside the lock so a large inversion does not stall other decoders.
        let fresh = make()
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let raced = plans[key] { return raced }
        if plans.count >= limit { plans.removeAll(keepingCapacity: true) }
        plans[key] = fresh
        return fresh
    }
}
