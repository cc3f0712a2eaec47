import CairnFiles
import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// Flush and sync: how finished shares become durable (Documentation/LocalGrid.md, "Writing and durability"),
/// and what a failed batch gives back.
extension LocalDirectoryServer {
    // MARK: Flush and sync (under the writer lock)

    /// Runs `body`; if it fails, the packs being written are given up (their unindexed tails are truncated by
    /// whoever takes them next) and this instance forgets every unsynced share and reloads its map from the
    /// index files, so that it never serves a share a failed sync did not store.
    func guarded(_ w: inout WriterState, _ body: (inout WriterState) throws -> Void) throws {
        do {
            try body(&w)
        } catch {
            // Give back what the failed batch wrote: pack tails cut to the last durable end, temporary files
            // of finished large shares removed. A cleanup that fails too is noted; the next writer of the
            // pack trims the tail anyway (recovery), and the stale-file sweep removes temporaries.
            var cleanup: [String] = []
            for pw in w.retired + (w.current.map { [$0] } ?? []) {
                do { try pw.discardUnsynced() } catch { cleanup.append("\(error)") }
            }
            w.current = nil
            w.retired = []
            let large = reader.withLock { r in
                r.index.reset()
                return state.withLock { s in
                    s.lostBatch = "\(error)"
                    s.map = ShareMap()
                    let dropped = s.pending.reduce(UInt64(0)) { $0 + Self.reservation(UInt64($1.buffer.length)) }
                    budget.release(dropped, written: false)
                    s.pending = []
                    s.pendingBytes = 0
                    let large = Array(s.finishedLarge.values)
                    s.finishedLarge = [:]
                    return large
                }
            }
            for f in large {
                do { try FileSystem.unlink(f.temporaryPath) } catch { cleanup.append("\(error)") }
            }
            do { try refreshNow() } catch let e { cleanup.append("\(e)") }
            if !cleanup.isEmpty {
                reader.withLock { $0.index.problems.append("after a failed sync: " + cleanup.joined(separator: "; ")) }
            }
            throw error
        }
    }

    /// Writes every finished small share to the current pack (rolling over to new packs as they fill), without
    /// fsync; records the index entries to append at the next sync.
    func flushLocked(_ w: inout WriterState) throws {
        let batch = state.withLock { s in
            let b = s.pending
            s.pending = []
            s.pendingBytes = 0
            return b
        }
        guard !batch.isEmpty else { return }
        // The batch's promises end here: its bytes are now the file system's to count, or will never be.
        var wrote = false
        defer {
            let promised = batch.reduce(UInt64(0)) { $0 + Self.reservation(UInt64($1.buffer.length)) }
            budget.release(promised, written: wrote)
        }
        var placed: [(key: ShareKey, sequence: UInt64, base: String, offset: UInt64)] = []
        placed.reserveCapacity(batch.count)
        try withExtendedLifetime(batch) {
            var i = 0
            while i < batch.count {
                let pw = try w.take(layout)
                let start = pw.end
                var end = start
                var buffers: [UnsafeRawBufferPointer] = []
                while i < batch.count {
                    let r = batch[i]
                    let n = UInt64(r.buffer.storage.count)
                    if end + n > PackFormat.packSizeLimit && end > UInt64(PackFormat.fileHeaderSize) { break }
                    buffers.append(r.buffer.record)
                    pw.unsyncedEntries.append(.init(key: r.key, flags: 0, recordOffset: end, length: UInt64(r.buffer.length),
                                                    sequence: r.sequence, dataCRC: r.dataCRC))
                    placed.append((r.key, r.sequence, pw.base, end))
                    end += n
                    i += 1
                }
                if !buffers.isEmpty {
                    try pw.pack.write(gathering: buffers, at: start)
                    pw.end = end
                    pw.dirty = true
                }
                if i < batch.count || pw.isFull {
                    w.retired.append(pw)
                    w.current = nil
                }
            }
        }
        wrote = true
        state.withLock { s in
            for p in placed {
                let pack = s.packID(p.base)
                s.map.relocate(p.key, sequence: p.sequence, to: .pack(pack: pack, recordOffset: p.offset))
            }
        }
    }

    /// Makes every finished share durable: pack records written and fsynced, index entries appended and
    /// fsynced, large-share files fsynced and renamed into place, and every directory that gained (or lost)
    /// an entry fsynced. One fsync per file touched, whatever the number of shares.
    /// Nothing finished since the last sync: answered at once, without waiting for the I/O threads (which may
    /// all be stuck on a dead disk while this server received nothing to store).
    public func sync() async throws {
        guard state.withLock({ $0.dirty || $0.lostBatch != nil }) else { return }
        try await io.run { [self] () throws(StorageError) in try mapped {
            let lost = state.withLock { s -> String? in
                defer { s.lostBatch = nil }
                return s.lostBatch
            }
            if let lost {
                throw StorageError.io(server: label, path: directory,
                    reason: "shares finished before a failed write were discarded, not stored (\(lost))")
            }
            try writer.withLock { (w: inout WriterState) throws -> Void in
                try guarded(&w) { try syncLocked(&$0) }
            }
        } }
    }

    func syncLocked(_ w: inout WriterState) throws {
        state.withLock { $0.dirty = false }
        try flushLocked(&w)
        let large = state.withLock { Array($0.finishedLarge.values) }
        let writers = w.retired + (w.current.map { [$0] } ?? [])
        for pw in writers { try pw.syncPack() }
        for pw in writers { try pw.syncIndex() }

        var dirs: Set<String> = []
        if w.createdEntry { dirs.insert(layout.packs) }
        for f in large { try f.fd.sync() }
        for f in large {
            let prefix = layout.largePrefixDirectory(f.index)
            let dir = layout.largeDirectory(f.index)
            if try FileSystem.makeDirectory(prefix) { dirs.insert(layout.large) }
            if try FileSystem.makeDirectory(dir) { dirs.insert(prefix) }
            try FileSystem.rename(f.temporaryPath, to: layout.largePath(f.index, f.share))
            dirs.insert(dir)
        }
        for d in dirs.sorted(by: { $0.count > $1.count }) { try FileSystem.syncDirectoryIfExists(d) }
        w.createdEntry = false
        w.retired = []
        state.withLock { s in
            for f in large {
                let k = ShareKey(f.index, f.share)
                if s.finishedLarge[k] === f { s.finishedLarge[k] = nil }
            }
        }
    }
}
