import CairnFiles
import Synchronization

/// Bytes promised to allocations but not yet written to the file system, shared by every server of a grid
/// that lives on one file system. Ten servers on one disk must not each believe the free space is theirs:
/// an upload that would not fit is refused at allocation, before anything is written, so a full disk
/// leaves the grid exactly as it was (Documentation/LocalGrid.md, "Space").
public final class SpaceBudget: Sendable {
    /// Kept free beyond every promise: file systems round files up to blocks.
    static let margin: UInt64 = 64 << 10
    /// The free space is measured again once this much was written since the last measurement.
    static let remeasureAfter: UInt64 = 1 << 20

    private struct State {
        var reserved: UInt64 = 0
        var free: UInt64?
        var writtenSinceMeasure: UInt64 = 0
        var measuredAt: Double = 0
    }
    private let state = Mutex(State())
    /// Where free space is measured (any folder on the file system).
    let path: String

    public init(path: String) { self.path = path }

    /// One budget per file system among `directories` (by device number); a folder that cannot be examined
    /// gets a budget of its own.
    public static func perFileSystem(_ directories: [String]) -> [String: SpaceBudget] {
        var byDevice: [UInt64: SpaceBudget] = [:]
        var out: [String: SpaceBudget] = [:]
        for d in directories {
            guard let st = try? FileSystem.status(d) else { out[d] = SpaceBudget(path: d); continue }
            if let shared = byDevice[st.device] { out[d] = shared; continue }
            let b = SpaceBudget(path: d)
            byDevice[st.device] = b
            out[d] = b
        }
        return out
    }

    /// Promises `bytes`, or throws `full` naming what was needed and what is free.
    func reserve(_ bytes: UInt64, server: ServerLabel) throws {
        try state.withLock { s throws in
            let now = FileSystem.monotonicSeconds()
            if s.free == nil || s.writtenSinceMeasure >= Self.remeasureAfter || now - s.measuredAt > 1
                || s.reserved + bytes + Self.margin > s.free! {
                s.free = try FileSystem.availableSpace(path)
                s.writtenSinceMeasure = 0
                s.measuredAt = now
            }
            guard s.reserved + bytes + Self.margin <= s.free! else {
                throw StorageError.full(server: server,
                    reason: "\(bytes) bytes needed, \(s.free! > s.reserved ? s.free! - s.reserved : 0) free on the disk of \(path) beyond what uploads in progress already hold")
            }
            s.reserved += bytes
        }
    }

    /// Promises `bytes` if the last measurement still vouches for them (no system call); false when a fresh
    /// measurement is due, which the caller then makes with `reserve` on its I/O threads.
    func reserveWithoutMeasuring(_ bytes: UInt64) -> Bool {
        state.withLock { s in
            guard let free = s.free, s.writtenSinceMeasure < Self.remeasureAfter,
                  FileSystem.monotonicSeconds() - s.measuredAt <= 1, s.reserved + bytes + Self.margin <= free else { return false }
            s.reserved += bytes
            return true
        }
    }

    /// Gives back a promise: its bytes were written (they now count in the file system's own usage) or
    /// will never be.
    func release(_ bytes: UInt64, written: Bool) {
        state.withLock { s in
            s.reserved -= min(bytes, s.reserved)
            if written { s.writtenSinceMeasure += bytes }
        }
    }

    var reserved: UInt64 { state.withLock { $0.reserved } }
}
