import CairnFiles
import CMalloc
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// What must happen before any command runs.
///
/// libdispatch, which runs Swift concurrency on Linux, creates its epoll and event descriptors the
/// first time a worker thread starts, its main-queue descriptor the first time a task hops to the main
/// queue, and a timer descriptor for the first sleep; when it cannot, it traps (SIGILL). Under a small
/// `ulimit -n`, or with many descriptors inherited, that moment came in the middle of a command. So
/// cairn's entry point is synchronous: it checks that descriptors are free, then makes libdispatch take
/// what it needs while they are, and only then starts the command.
enum Startup {
    /// Free descriptors needed at start: libdispatch takes five (measured: epoll, two event
    /// descriptors, two timers), the loader one more for a moment (libgcc_s, when the main thread
    /// leaves for `dispatchMain`), and a command needs a few for its first files.
    static let descriptorsNeeded = 10

    /// glibc's malloc, tuned for a data path that allocates and frees megabyte buffers on several threads
    /// (chunks, packs, shares). By default glibc raises its mmap threshold after the first large free and
    /// gives each thread an arena (up to 8 per core) that keeps the buffers it freed: a 1.2 GB `cat`
    /// peaked at 240 MB. A fixed 1 MiB threshold bounded that (110 MB) but made every buffer fresh pages:
    /// 2.2 million page faults and 4.9 s of system time restoring 1.5 GB. Buffers up to 32 MiB now come
    /// from one arena a core (two here), reused instead of faulted in: that restore 8.5 s → 7.5 s,
    /// 118 MB (Performance.md, "Big files").
    static let mmapThreshold: Int32 = 32 << 20
    /// One arena a core (at least two).
    static var arenas: Int32 { Int32(max(2, min(64, sysconf(Int32(_SC_NPROCESSORS_ONLN))))) }

    static func prepareOrExit() {
        // glibc's own variables, when set, win (measurements, or a user who knows better).
        if getenv("MALLOC_MMAP_THRESHOLD_") == nil { _ = mallopt(M_MMAP_THRESHOLD, mmapThreshold) }
        if getenv("MALLOC_ARENA_MAX") == nil { _ = mallopt(M_ARENA_MAX, arenas) }
        let (free, limit) = FileDescriptor.headroom(upTo: descriptorsNeeded)
        guard free >= descriptorsNeeded else {
            Terminal.error("only \(free) file descriptors are free under this process's limit of \(limit) (ulimit -n); "
                           + "cairn needs at least \(descriptorsNeeded) to start: raise the limit or close inherited descriptors")
            Glibc.exit(Code.ioError)
        }
        let ready = DispatchSemaphore(value: 0)
        // A worker thread and a sleep (epoll, event and timer descriptors)...
        Task.detached {
            try? await Task.sleep(for: .milliseconds(1))
            ready.signal()
        }
        ready.wait()
        // ...and a hop to the main queue (its event descriptor); the block itself runs under dispatchMain.
        DispatchQueue.global().async {
            DispatchQueue.main.async {}
            ready.signal()
        }
        ready.wait()
    }
}
