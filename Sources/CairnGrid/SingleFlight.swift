import Synchronization

/// At most one piece of work per key in flight: later callers with the same key await the first one's result
/// instead of starting their own. Uploads use it per storage index, so two identical files in one commit (or
/// `put f f`) never race for the same shares on the same servers.
final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let inFlight = Mutex<[Key: Task<Value, Error>]>([:])

    init() {}

    func run(_ key: Key, _ work: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let task = inFlight.withLock { running -> Task<Value, Error> in
            if let existing = running[key] { return existing }
            // The entry is removed by the task itself when it ends: it cannot run before this lock is released.
            let task = Task<Value, Error> { [self] in
                defer { _ = inFlight.withLock { $0.removeValue(forKey: key) } }
                return try await work()
            }
            running[key] = task
            return task
        }
        return try await task.value
    }
}
