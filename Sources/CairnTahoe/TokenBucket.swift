import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A bandwidth limit: one bucket per direction for the whole process, shared by every connection to
/// every network server (local folders are never limited). It starts empty and holds at most `capacity`
/// bytes' worth of tokens, so no transfer ever bursts above the rate; a taker that finds too few tokens
/// reserves them anyway and waits, on its own (non-cooperative) thread, until the rate has paid for them.
public final class TokenBucket: Sendable {
    public static let defaultCapacity = 64 * 1024
    /// The most one upload callback takes at a time: finer steps keep concurrent uploads interleaved.
    static let sendStep = 16 * 1024

    public let bytesPerSecond: Double
    public let capacity: Double
    let clock: any BucketClock
    /// Tokens now (negative: owed by takers already waiting) and when they were counted.
    private let state: Mutex<(tokens: Double, at: UInt64)>

    public init(bytesPerSecond: Double, capacity: Int = TokenBucket.defaultCapacity, clock: any BucketClock = MonotonicClock()) {
        precondition(bytesPerSecond > 0 && capacity > 0)
        self.bytesPerSecond = bytesPerSecond
        self.capacity = Double(capacity)
        self.clock = clock
        state = Mutex((0, clock.nanoseconds()))
    }

    /// Takes `count` tokens, waiting as long as the rate requires.
    public func take(_ count: Int) {
        guard count > 0 else { return }
        let wait = reserve(Double(count))
        if wait > 0 { clock.sleep(nanoseconds: wait) }
    }

    /// Takes up to `count` tokens (at most one send step), waiting for them; returns how many it took.
    @discardableResult
    public func take(upTo count: Int) -> Int {
        let n = min(count, Self.sendStep)
        take(n)
        return n
    }

    /// Reserves `count` tokens and says how long the caller must wait until they are paid for.
    func reserve(_ count: Double) -> UInt64 {
        return state.withLock { s in
            // The clock is read under the lock: a time read before another taker's would run backwards.
            let now = clock.nanoseconds()
            let elapsed = now > s.at ? Double(now - s.at) / 1e9 : 0
            if now > s.at { s.at = now }
            s.tokens = min(capacity, s.tokens + elapsed * bytesPerSecond)
            s.tokens -= count
            return s.tokens >= 0 ? 0 : UInt64((-s.tokens / bytesPerSecond) * 1e9)
        }
    }
}

/// Time for the buckets; tests inject one that only moves when slept on.
public protocol BucketClock: Sendable {
    func nanoseconds() -> UInt64
    func sleep(nanoseconds: UInt64)
}

public struct MonotonicClock: BucketClock {
    public init() {}
    public func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
    public func sleep(nanoseconds: UInt64) {
        var wait = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var left = timespec()
        while nanosleep(&wait, &left) != 0 && errno == EINTR { wait = left }
    }
}
