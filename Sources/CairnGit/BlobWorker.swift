import CairnPrimitives
import CairnSnapshots

/// Stores blob contents on a task of its own — the delta on the same path's previous version, the
/// compression, the packing — while the import goes on with trees and commits: the second core's work.
/// Jobs are stored in the order they come, so a path's previous version is always stored before the
/// next one rests on it. At most `limit` bytes wait (memory stays bounded; the worker keeps up).
final class BlobWorker: Sendable {
    struct Job: Sendable {
        let bytes: [UInt8]
        let leaves: [Digest]
        /// The content hash of the same path's blob in the first parent, and that blob's git id.
        let previous: [UInt8]?
        let base: GitOID?
    }

    private let continuation: AsyncStream<Job>.Continuation
    private let task: Task<Void, Error>
    private let waiting: InFlight

    /// The worker reads delta bases through a repository of its own (libgit2 serialises the reads of one).
    init(sourcePath: String, content: ContentStore, limit: Int = 24 << 20) {
        let (stream, continuation) = AsyncStream.makeStream(of: Job.self)
        let waiting = InFlight(limit: limit)
        self.continuation = continuation
        self.waiting = waiting
        task = Task {
            do {
                let repository = try GitRepository(path: sourcePath)
                for await job in stream {
                    try Task.checkCancellation()
                    try await content.store(job.bytes, leaves: job.leaves, previous: job.previous) {
                        try job.base.flatMap { try repository.read($0)?.1 }
                    }
                    await waiting.release(job.bytes.count)
                }
            } catch {
                await waiting.fail()
                throw error
            }
        }
    }

    /// Hands a blob over; waits while too many bytes wait. Throws what stopped the worker.
    func submit(_ job: Job) async throws {
        if await !waiting.acquire(job.bytes.count) { try await task.value }
        continuation.yield(job)
    }

    /// Waits for every job; throws the first failure.
    func finish() async throws {
        continuation.finish()
        try await task.value
    }

    /// Stops without waiting (the import failed elsewhere).
    func cancel() {
        continuation.finish()
        task.cancel()
    }
}

/// Bytes handed to the worker and not stored yet, with the importers waiting for room.
actor InFlight {
    private var bytes = 0
    private let limit: Int
    private var waiters: [(Int, CheckedContinuation<Bool, Never>)] = []
    private var failed = false

    init(limit: Int) { self.limit = limit }

    /// Takes room for `count` bytes (one job always fits alone); false once the worker failed.
    func acquire(_ count: Int) async -> Bool {
        if failed { return false }
        if bytes == 0 || bytes + count <= limit {
            bytes += count
            return true
        }
        return await withCheckedContinuation { waiters.append((count, $0)) }
    }

    func release(_ count: Int) {
        bytes -= count
        while let (n, c) = waiters.first, bytes == 0 || bytes + n <= limit {
            waiters.removeFirst()
            bytes += n
            c.resume(returning: true)
        }
    }

    func fail() {
        failed = true
        for (_, c) in waiters { c.resume(returning: false) }
        waiters = []
    }
}
