import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A few threads that run submitted work in order of arrival; more start (up to `limit`) only when every
/// running one is busy, so a stuck thread never holds up work that another could do. `close` lets idle
/// threads end; a stuck one ends when its system call returns.
public final class WorkerThreads: @unchecked Sendable {
    // Everything below is guarded by `mutex`; the pthread objects live at fixed addresses, freed by the last
    // thread or owner to let go (reference counting of this object).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [(@Sendable () -> Void)?] = []
    private var head = 0
    private var idle = 0
    private var running = 0
    private var closed = false
    public let limit: Int

    public init(limit: Int) {
        self.limit = limit
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
    }

    deinit {
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        wake.deallocate()
        mutex.deallocate()
    }

    public func submit(_ work: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(mutex)
        queue.append(work)
        var start = false
        if idle > 0 {
            pthread_cond_signal(wake)
        } else if running < limit {
            running += 1
            start = true
        }
        pthread_mutex_unlock(mutex)
        if start { spawn() }
    }

    public func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
    }

    private func spawn() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            let pool = Unmanaged<WorkerThreads>.fromOpaque(raw!).takeRetainedValue()
            pool.loop()
            return nil
        }, context)
        if started == 0 {
            pthread_detach(thread)
        } else {
            // No thread: run the work here rather than lose it (the caller's thread blocks instead).
            Unmanaged<WorkerThreads>.fromOpaque(context).release()
            pthread_mutex_lock(mutex)
            running -= 1
            pthread_mutex_unlock(mutex)
            loopOnce()
        }
    }

    private func loop() {
        pthread_mutex_lock(mutex)
        while true {
            while head == queue.count && !closed {
                idle += 1
                pthread_cond_wait(wake, mutex)
                idle -= 1
            }
            if head == queue.count {  // closed and nothing left
                running -= 1
                pthread_mutex_unlock(mutex)
                return
            }
            let work = take()
            pthread_mutex_unlock(mutex)
            work()
            pthread_mutex_lock(mutex)
        }
    }

    private func loopOnce() {
        pthread_mutex_lock(mutex)
        guard head < queue.count else { pthread_mutex_unlock(mutex); return }
        let work = take()
        pthread_mutex_unlock(mutex)
        work()
    }

    /// The next work item (under `mutex`); compacts the queue now and then.
    private func take() -> @Sendable () -> Void {
        let work = queue[head]!
        queue[head] = nil  // what the work captured (often its server) must not outlive it
        head += 1
        if head > 64 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return work
    }
}

extension WorkerThreads {
    /// Runs `body` on one of these threads and waits for it without holding a cooperative thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in submit { c.resume(returning: body()) } }
    }
}
