import Synchronization

/// A decorator for any server (as restic wraps its backends): at most `connections` calls in flight, and
/// every call answered within `deadline` or failed as unavailable (`StorageError.unreachable`), waiting for a
/// free connection included. A call that overruns is cancelled and abandoned: the caller moves on to other
/// servers. For servers that do not bound their own calls; the local server does (`BlockingIO`).
public final class LimitedServer: StorageServer {
    public let inner: any StorageServer
    public let deadline: Duration
    public let connections: Int
    private let slots: Slots

    public init(_ inner: any StorageServer, deadline: Duration, connections: Int = 8) {
        precondition(connections >= 1)
        self.inner = inner
        self.deadline = deadline
        self.connections = connections
        slots = Slots(connections)
    }

    public var id: ServerID { inner.id }
    public var name: String { inner.name }
    public var isNear: Bool { inner.isNear }
    public var capabilities: ServerCapabilities { inner.capabilities }
    public var rank: Int { inner.rank }

    private func call<T: Sendable>(_ what: String, _ op: @escaping @Sendable (any StorageServer) async throws -> T) async throws -> T {
        let inner = self.inner, slots = self.slots, deadline = self.deadline, name = self.name
        let result: Result<T, Error> = await withCheckedContinuation { c in
            let once = FirstResult(c)
            let work = Task {
                let r: Result<T, Error>
                do {
                    try await slots.acquire()
                    r = await outcome { try await op(inner) }
                    slots.release()
                } catch {
                    r = .failure(error)
                }
                once.resume(r)
            }
            let timer = Task {
                try await Task.sleep(for: deadline)
                once.resume(.failure(StorageError.unreachable(server: label, reason: "no answer to \(what) within \(deadline)")))
            }
            once.onFinish {
                work.cancel()
                timer.cancel()
            }
        }
        return try result.get()
    }

    public func info() async throws -> ServerInfo { try await call("info") { try await $0.info() } }
    public func allocate(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                         secrets: UploadSecrets) async throws -> Allocation {
        try await call("allocate") { try await $0.allocate(index, shares: shares, shareSize: shareSize, secrets: secrets) }
    }
    public func allocateReplacements(_ index: StorageIndex, shares: Set<ShareNumber>, shareSize: UInt64,
                                     secrets: UploadSecrets) async throws -> Set<ShareNumber> {
        try await call("allocate") { try await $0.allocateReplacements(index, shares: shares, shareSize: shareSize, secrets: secrets) }
    }
    public func write(_ upload: ShareUpload, offset: UInt64, data: [UInt8]) async throws {
        try await call("write") { try await $0.write(upload, offset: offset, data: data) }
    }
    public func finish(_ upload: ShareUpload) async throws {
        try await call("finish") { try await $0.finish(upload) }
    }
    public func abort(_ upload: ShareUpload) async throws {
        try await call("abort") { try await $0.abort(upload) }
    }
    public func addLease(_ index: StorageIndex, secrets: LeaseSecrets) async throws {
        try await call("lease") { try await $0.addLease(index, secrets: secrets) }
    }
    public func sync() async throws { try await call("sync") { try await $0.sync() } }
    public func shares(of index: StorageIndex) async throws -> Set<ShareNumber> {
        try await call("list") { try await $0.shares(of: index) }
    }
    public func shareSize(_ index: StorageIndex, share: ShareNumber) async throws -> UInt64 {
        try await call("size") { try await $0.shareSize(index, share: share) }
    }
    public func read(_ index: StorageIndex, share: ShareNumber, ranges: [Range<UInt64>]) async throws -> [[UInt8]] {
        try await call("read") { try await $0.read(index, share: share, ranges: ranges) }
    }
    public func reportCorrupt(_ index: StorageIndex, share: ShareNumber, reason: String) async throws {
        try await call("report") { try await $0.reportCorrupt(index, share: share, reason: reason) }
    }
    public func readMutable(_ index: StorageIndex, shares: Set<ShareNumber>?, ranges: [Range<UInt64>]) async throws -> [ShareNumber: [[UInt8]]] {
        try await call("slot read") { try await $0.readMutable(index, shares: shares, ranges: ranges) }
    }
    public func testAndWriteMutable(_ index: StorageIndex, writeEnabler: [UInt8],
                                    vectors: [ShareNumber: MutableWrite]) async throws -> MutableWriteResult {
        try await call("slot write") { try await $0.testAndWriteMutable(index, writeEnabler: writeEnabler, vectors: vectors) }
    }
}

/// Runs `body` and captures its result (building the Result in a function of its own avoids a Swift 6.3.1
/// -O miscompile of `do { … } catch` in task children; see CairnGrid's `outcome`).
func outcome<T>(_ body: () async throws -> T) async -> Result<T, Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

/// Resumes a continuation with the first result offered (the work's or the deadline's), then runs the
/// cleanup registered with `onFinish`.
private final class FirstResult<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<T, Error>, Never>?
        var cleanup: (@Sendable () -> Void)?
    }
    private let state: Mutex<State>
    init(_ c: CheckedContinuation<Result<T, Error>, Never>) { state = Mutex(State(continuation: c)) }

    func onFinish(_ cleanup: @escaping @Sendable () -> Void) {
        let done = state.withLock { s -> Bool in
            if s.continuation == nil { return true }
            s.cleanup = cleanup
            return false
        }
        if done { cleanup() }
    }

    func resume(_ r: Result<T, Error>) {
        let (c, cleanup) = state.withLock { s in
            let taken = (s.continuation, s.cleanup)
            s.continuation = nil
            s.cleanup = nil
            return taken
        }
        guard let c else { return }
        c.resume(returning: r)
        cleanup?()
    }
}

/// A counting semaphore for async callers; a waiter that is cancelled leaves the queue.
private final class Slots: Sendable {
    private struct State {
        var free: Int
        var waiters: [(id: Int, continuation: CheckedContinuation<Void, Error>)] = []
        var nextID = 0
    }
    private let state: Mutex<State>
    init(_ count: Int) { state = Mutex(State(free: count)) }

    func acquire() async throws {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                // Taking a free slot and queueing are one step, so a release in between cannot be missed.
                let now: Result<Void, Error>? = state.withLock { s in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if s.free > 0 { s.free -= 1; return .success(()) }
                    s.waiters.append((id, c))
                    return nil
                }
                if let now { c.resume(with: now) }
            }
        } onCancel: {
            let c = state.withLock { s -> CheckedContinuation<Void, Error>? in
                guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiters.remove(at: i).continuation
            }
            c?.resume(throwing: CancellationError())
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Error>? in
            if s.waiters.isEmpty { s.free += 1; return nil }
            return s.waiters.removeFirst().continuation
        }
        next?.resume()
    }
}
