import CairnFiles
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking system calls (pread, fsync, flock, directory scans, file creation) on threads of their own,
/// so a stuck disk never occupies Swift's cooperative pool (two threads on a two-core machine): work on
/// other servers goes on. A call that has not returned within `deadline` fails as unavailable; the stuck
/// system call keeps only its own thread, and its result, if it ever comes, is dropped.
///
/// Each server has threads of its own (at most `threadLimit`, started on demand), not the process-wide
/// dispatch pool: on Linux that pool grows by about one thread a second, so a few calls stuck in the kernel
/// would delay every other server's calls for seconds (measured). Deadlines are kept by one watchdog thread
/// for the whole process that looks at the calls in flight a few times per deadline, so a call costs two
/// lock operations rather than a timer of its own. (Not a dispatch timer: under a tiny descriptor limit
/// libdispatch could not create its timer machinery and trapped, seen with `ulimit -n 20`.)
final class BlockingIO: Sendable {
    static let threadLimit = 4
    private let threads: WorkerThreads
    private let inFlight: Registry
    let server: ServerLabel
    let deadline: Duration

    /// Calls in flight of one server, shared with the watchdog (which must not hold on to `self`).
    final class Registry: Sendable {
        struct State {
            var next: UInt64 = 0
            var calls: [UInt64: (started: DispatchTime, fail: @Sendable (StorageError) -> Void)] = [:]
        }
        let state = Mutex(State())
        let limit: UInt64
        let failure: StorageError
        init(limit: UInt64, failure: StorageError) {
            self.limit = limit
            self.failure = failure
        }
        func withLock<R>(_ body: (inout State) -> R) -> R { state.withLock { body(&$0) } }

        /// Fails every call older than the deadline. `now` was read before the lock: a call registered in
        /// between started after it and is not late (a wrapping subtraction once failed such calls at once,
        /// with "no answer within 120 s", under load).
        func expire(now: UInt64) {
            let overdue = withLock { s -> [@Sendable (StorageError) -> Void] in
                let late = s.calls.filter { now > $0.value.started.uptimeNanoseconds && now - $0.value.started.uptimeNanoseconds >= limit }
                for id in late.keys { s.calls[id] = nil }
                return late.values.map(\.fail)
            }
            for fail in overdue { fail(failure) }
        }
    }

    init(server: ServerLabel, deadline: Duration) {
        self.server = server
        self.deadline = deadline
        threads = WorkerThreads(limit: Self.threadLimit)
        inFlight = Registry(limit: UInt64(max(1, Self.nanoseconds(deadline))),
                            failure: .unreachable(server: server, reason: "no answer from its disk within \(deadline) (a stuck or very slow file system)"))
        Watchdog.shared.watch(inFlight)
    }

    deinit {
        Watchdog.shared.forget(inFlight)
        threads.close()
    }

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
            threads.submit { [inFlight] in
                let r = Result { () throws(StorageError) -> T in try body() }
                inFlight.withLock { _ = $0.calls.removeValue(forKey: id) }
                once.resume(r)
            }
        }
        return try result.get()
    }
}

/// One thread for the process that expires overdue calls of every server, started with the first server.
final class Watchdog: @unchecked Sendable {
    static let shared = Watchdog()
    // Guarded by `lock`; the thread only reads a snapshot.
    private let lock = Mutex<[ObjectIdentifier: BlockingIO.Registry]>([:])
    private let started = Mutex(false)

    func watch(_ registry: BlockingIO.Registry) {
        lock.withLock { $0[ObjectIdentifier(registry)] = registry }
        let start = started.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        if start {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            if pthread_create(&thread, nil, { raw in
                Unmanaged<Watchdog>.fromOpaque(raw!).takeRetainedValue().loop()
                return nil
            }, context) == 0 {
                pthread_detach(thread)
            } else {
                Unmanaged<Watchdog>.fromOpaque(context).release()
                started.withLock { $0 = false }  // the next server tries again; until then no deadlines
            }
        }
    }

    func forget(_ registry: BlockingIO.Registry) { _ = lock.withLock { $0.removeValue(forKey: ObjectIdentifier(registry)) } }

    private func loop() {
        while true {
            let registries = lock.withLock { Array($0.values) }
            // A quarter of the shortest deadline, between 1 ms and 1 s.
            let period = max(1_000_000, min(registries.map { $0.limit / 4 }.min() ?? 1_000_000_000, 1_000_000_000))
            var wait = timespec(tv_sec: Int(period / 1_000_000_000), tv_nsec: Int(period % 1_000_000_000))
            var left = timespec()
            while nanosleep(&wait, &left) != 0 && errno == EINTR { wait = left }
            let now = DispatchTime.now().uptimeNanoseconds
            for r in registries { r.expire(now: now) }
        }
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
