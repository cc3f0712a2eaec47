/// A finished small share's bytes in memory, with room for its pack record header in front, so that a flush
/// writes header and data with one iovec and no copy. Written only while its allocation is open (under the
/// server's state lock), immutable after `finish`, freed in deinit.
/// `@unchecked Sendable`: the raw buffer is mutated only under `LocalDirectoryServer`'s state lock before
/// `finish`, and only read afterwards.
final class ShareBuffer: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer
    let length: Int

    init(length: Int) {
        self.length = length
        storage = .allocate(byteCount: PackFormat.recordHeaderSize + length, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { storage.deallocate() }

    var data: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[PackFormat.recordHeaderSize...])
    }
    var record: UnsafeRawBufferPointer { UnsafeRawBufferPointer(storage) }
}

/// Where the latest version of a share is.
enum SharePlace {
    /// In pack `pack` (an index into the server's pack table), record header at `recordOffset`.
    case pack(pack: Int32, recordOffset: UInt64)
    /// Finished in this instance, not yet written to a pack.
    case memory(ShareBuffer)
    /// Dropped (reported corrupt): hides every older entry.
    case dropped
}

struct LocatedShare {
    var share: UInt32
    var sequence: UInt64
    var length: UInt64
    var place: SharePlace

    var isDropped: Bool { if case .dropped = place { true } else { false } }
}

/// The latest entry per (storage index, share number), across every index file and this instance's unsynced
/// shares. Most storage indexes hold one share per server, so the value is a tiny array.
struct ShareMap {
    private(set) var entries: [IndexKey: [LocatedShare]] = [:]

    /// Inserts `located` unless a newer entry for the share is already known (equal sequence: replace, so an
    /// on-disk location supersedes this instance's in-memory copy of the same version).
    mutating func update(_ index: IndexKey, _ located: LocatedShare) {
        if var list = entries[index] {
            if let i = list.firstIndex(where: { $0.share == located.share }) {
                guard list[i].sequence <= located.sequence else { return }
                list[i] = located
            } else {
                list.append(located)
            }
            entries[index] = list
        } else {
            entries[index] = [located]
        }
    }

    /// Sets the place of a share if its latest entry still has `sequence`.
    mutating func relocate(_ key: ShareKey, sequence: UInt64, to place: SharePlace) {
        let index = key.index
        guard var list = entries[index], let i = list.firstIndex(where: { $0.share == key.share }),
              list[i].sequence == sequence else { return }
        list[i].place = place
        entries[index] = list
    }

    func lookup(_ key: ShareKey) -> LocatedShare? {
        guard let l = entries[key.index]?.first(where: { $0.share == key.share }), !l.isDropped else { return nil }
        return l
    }

    func shares(of index: IndexKey) -> [UInt32] {
        (entries[index] ?? []).filter { !$0.isDropped }.map(\.share)
    }

    var count: Int { entries.count }
}
