import CairnFiles
import CairnGrid

/// What every change of the refs shares (a commit, an annotated tag): the new objects' index segment is
/// saved and cached, then named in the refs, folding the newest segments when there would be more than 16.
extension Repository {
    /// Saves what `objects` added as a segment, cached here at once (the next command, or one run while
    /// the grid is unreachable, need not download what this one wrote).
    func saveSegment(_ objects: ObjectStore) async throws -> String? {
        guard let (cap, file) = try await objects.saveSegment() else { return nil }
        cacheSegment(cap, file: file)
        return cap
    }

    /// Names `segment` in `refs` (once), folding the newest segments when there would be more than 16.
    func add(_ segment: String?, to refs: inout Refs, grid: Grid, folding: () -> Void = {}) async throws {
        if let segment, !refs.segments.contains(segment) { refs.segments.append(segment) }
        if let start = SegmentPolicy.foldStart(sizes: refs.segments.map(SegmentPolicy.size)) {
            folding()
            let folded = try await fold(Array(refs.segments[start...]), grid: grid)
            refs.segments = Array(refs.segments[..<start]) + [folded]
        }
    }

    /// Saves what `objects` added as one index segment, then moves refs by test-and-set: `change` edits
    /// the latest refs (read again after another writer got there first, so it is called once per try and
    /// may throw to give up). The objects are convergent: a retry finds them stored. Returns the refs as
    /// published.
    @discardableResult
    public func publish(_ objects: ObjectStore, change: (inout Refs) throws -> Void) async throws -> Refs {
        guard refStore.isWritable else { throw RepositoryError.readOnly }
        let segment = try await saveSegment(objects)
        while true {
            var (refs, version) = try await loadRefs()
            try await add(segment, to: &refs, grid: repositoryGrid(refs))
            try change(&refs)
            do {
                let published = try await refStore.publish(refs, replacing: version)
                try state.write("seen", Array("\(published)\n".utf8))
                return refs
            } catch RefStoreError.moved {
                continue
            }
        }
    }

    /// Creates tag `name` (refs/tags/NAME) pointing at a new annotated tag object on `target`, by test-and-set;
    /// the tag object is stored first, in a segment of its own. Retries by itself when other refs moved;
    /// refuses (`exists`) when `name` appeared meanwhile.
    public func createAnnotatedTag(_ name: String, target: RefTarget, message: [UInt8], tagger: Signature? = nil) async throws -> ObjectID {
        guard refStore.isWritable else { throw RepositoryError.readOnly }
        let full = Refs.tagsPrefix + Array(name.utf8)
        let now = FileSystem.now().0
        let tag = AnnotatedTag(target: target, name: Array(name.utf8),
                               tagger: tagger ?? defaultSignature(time: now, zone: localZoneOffsetMinutes(at: now)), message: message)
        while true {
            var (refs, version) = try await loadRefs()
            guard refs.all[full] == nil else { throw RepositoryError.exists(name) }
            let objects = try await objectStore(refs)
            let id = try await objects.put(tag.encoded)
            let segment = try await saveSegment(objects)
            try await add(segment, to: &refs, grid: repositoryGrid(refs))
            refs.all[full] = RefTarget(kind: .tag, hash: id.bytes)
            do {
                _ = try await refStore.publish(refs, replacing: version)
                return id
            } catch RefStoreError.moved {
                continue  // the tag object and its segment are convergent: the retry finds them stored
            }
        }
    }
}
