import Dispatch
import Synchronization

/// Runs blocking system calls (pread, fsync, flock, directory scans, file creation) on threads of their own,
/// so a stuck disk never occupies Swift's cooperative pool (two threads on a two-core machine): work on
/// other servers goes on. A call that has not returned within `deadline` fails as unavailable; the stuck
/// system call keeps only its own thread, and its result, if it ever comes, is dropped.
///
/// Deadlines are kept by one watchdog timer per server that looks at the calls in flight a few times per
/// deadline, so a call costs two lock operations rather than a timer of its own.
final class BlockingIO: Sendable {
    private let queue: DispatchQueue
    /// Set up once in init, cancelled in deinit; dispatch sources are thread-safe but not marked Sendable.
    nonisolated(unsafe) private let watchdog: DispatchSourceTimer
    private let inFlight = Registry()
    let server: String
    let deadline: Duration

    /// Calls in flight, shared with the watchdog's handler (which must not hold on to `self`).
    private final class Registry: Sendable {
        struct State {
            var next: UInt64 = 0
            var calls: [UInt64: (started: DispatchTime, fail: @Sendable (StorageError) -> Void)] = [:]
        }
        let state = Mutex(State())
        func withLock<R>(_ body: (inout State) -> R) -> R { state.withLock { body(&$0) } }
    }

    init(server: String, deadline: Duration) {
        self.server = server
        self.deadline = deadline
        queue = DispatchQueue(label: "cairn.server.\(server)", attributes: .concurrent)
        watchdog = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "cairn.server.\(server).watchdog"))
        let limit = Self.nanoseconds(deadline)
        let period = max(1_000_000, min(limit / 4, 1_000_000_000))
        watchdog.schedule(deadline: .now() + .nanoseconds(period), repeating: .nanoseconds(period), leeway: .nanoseconds(period / 4))
        watchdog.setEventHandler { [inFlight, server, deadline] in
            let now = DispatchTime.now().uptimeNanoseconds
            let overdue = inFlight.withLock { s -> [@Sendable (StorageError) -> Void] in
                let late = s.calls.filter { now &- $0.value.started.uptimeNanoseconds >= UInt64(limit) }
                for id in late.keys { s.calls[id] = nil }
                return late.values.map(\.fail)
            }
            for fail in overdue {
                fail(.unreachable(server: server, reason: "no answer from its disk within \(deadline) (a stuck or very slow file system)"))
            }
        }
        watchdog.resume()
    }

    deinit { watchdog.cancel() }

    private static func nanoseconds(_ d: Duration) -> Int {
        let (seconds, attoseconds) = d.components
        return Int(clamping: seconds) &* 1_000_000_000 &+ Int(attoseconds / 1_000_000_000)
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws(StorageError) -> T) async throws(StorageError) -> T {
        let result: Result<T, StorageError> = await withCheckedContinuation { c in
            let once = ResumeOnce(c)
            let id = inFlight.withLock { s in
                s.next += 1
                s.calls[s.next] = (DispatchTime.now(), { @Sendable e in once.resume(.failure(e)) })
                return s.next
            }
            queue.async { [inFlight] in
                let r = Result { () throws(StorageError) -> T in try body() }
                inFlight.withLock { _ = $0.calls.removeValue(forKey: id) }
                once.resume(r)
            }
        }
        return try result.get()
    }
}

/// Resumes a continuation at most once: whichever of the work and its deadline comes first.
private final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Result<T, StorageError>, Never>?>
    init(_ c: CheckedContinuation<Result<T, StorageError>, Never>) { continuation = Mutex(c) }
    func resume(_ r: Result<T, StorageError>) {
        continuation.withLock { c in
            c?.resume(returning: r)
            c = nil
        }
    }
}
