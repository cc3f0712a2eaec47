/// Slots (mutable shares) of a local server live apart from the immutable packs: see `SlotStore`.
extension LocalDirectoryServer {
    var slotStore: SlotStore { SlotStore(root: directory + "/slots", server: label) }

    public func readMutable(_ index: StorageIndex, shares: Set<ShareNumber>?, ranges: [Range<UInt64>]) async throws -> [ShareNumber: [[UInt8]]] {
        try await io.run { [self] () throws(StorageError) in try mapped { try slotStore.read(index, shares: shares, ranges: ranges) } }
    }

    /// Atomic against every other writer of the slot (any process) and durable when it returns: no
    /// `sync()` is needed.
    public func testAndWriteMutable(_ index: StorageIndex, writeEnabler: [UInt8],
                                    vectors: [ShareNumber: MutableWrite]) async throws -> MutableWriteResult {
        try await io.run { [self] () throws(StorageError) in
            try mapped { try slotStore.testAndWrite(index, writeEnabler: writeEnabler, vectors: vectors) }
        }
    }

    /// The folder holding a slot's share files (for tests that damage or roll them back).
    public func slotDirectory(_ index: StorageIndex) -> String { slotStore.directory(index) }
}
