import CairnFiles
import CairnPrimitives

public struct CommitRequest: Sendable {
    public var message: String
    public var author: Signature?
    /// Sets author and commit time (backfilling, tests); default: the scan start.
    public var date: (Int64, Int16)?
    public var allowEmpty = false
    public var excludes: [String] = []
    /// Called with a short status line while files are stored (the CLI draws it only on a terminal).
    public var progress: (@Sendable (String) -> Void)?

    public init(message: String, author: Signature? = nil, date: (Int64, Int16)? = nil, allowEmpty: Bool = false, excludes: [String] = []) {
        self.message = message; self.author = author; self.date = date; self.allowEmpty = allowEmpty; self.excludes = excludes
    }
}

public struct CommitOutcome: Sendable {
    /// nil when there was nothing to commit.
    public let snapshot: ObjectID?
    public let branch: String?
    public let filesRead: Int
    public let skipped: [TreeBuilder.Problem]
    public let unreadable: [TreeBuilder.Problem]
}

extension Repository {
    /// Uploads everything, then moves the branch by test-and-set on the refs slot. If another writer
    /// moved only other refs it retries by itself; if this branch moved, it refuses (non-fast-forward)
    /// and nothing changes. A kill at any point before the move leaves the repository as it was.
    public func commit(_ request: CommitRequest) async throws -> CommitOutcome {
        guard refStore.isWritable else { throw RepositoryError.readOnly }
        let lock = try state.lock()
        defer { withExtendedLifetime(lock) {} }
        var (refs, version) = try await loadRefs()
        try reconcilePending(refs, holdingLock: true)
        let head = try head()
        let parent = try headSnapshot(refs)
        // A worktree checked out before its branch moved on the grid would undo the other commits.
        if case .branch(let b) = head, try base() != parent {
            // The branch moved past this worktree, or was deleted: never start an unrelated history.
            if parent == nil { throw RepositoryError.branchGone(b) }
            throw RepositoryError.nonFastForward(branch: b)
        }
        let objects = try await objectStore(refs)
        let content = ContentStore(objects: objects, remembersStored: false)
        // The parent's tree id: from the local base record when it names the parent (no download).
        var previousTree: ObjectID?
        if let parent {
            if let record = try baseRecord(), record.snapshot == parent, let tree = record.tree {
                previousTree = tree
            } else {
                previousTree = try await objects.snapshot(parent).tree
            }
        }

        var rules = IgnoreRules()
        for pattern in request.excludes { rules.add(override: pattern) }
        let started = FileSystem.now()  // the snapshot's time: when the scan began
        let cache = statCache()
        // Without a stamp on the file system (see `scanStamp`), be safe against a file-system clock that
        // lags this one or keeps whole seconds.
        let scanStart = scanStamp() ?? (started.0 - 2, started.1)
        let builder = TreeBuilder(root: workTree, content: content, rules: rules, cache: cache,
                                  newCache: StatCacheUpdate(replacing: state.path("statcache"), old: cache, scanStart: scanStart))
        builder.carriedPaths = try missingPaths()
        builder.progress = request.progress
        builder.stateFolder = state.dir
        let treeID = try await builder.build(previousTreeID: previousTree)
        if let previousTree, previousTree == treeID, !request.allowEmpty {
            if let parent, try baseRecord()?.tree == nil { try? setBase(parent, tree: treeID) }
            // Nothing read and nothing gone: the cache on disk is still exact, and `save` spares the rewrite.
            try? builder.newCache?.save()
            return CommitOutcome(snapshot: nil, branch: nil, filesRead: builder.filesRead, skipped: builder.skipped, unreadable: builder.unreadable)
        }
        let now = started.0
        let zone = request.date?.1 ?? localZoneOffsetMinutes(at: now)
        let time = request.date?.0 ?? now
        var author = request.author ?? defaultSignature(time: time, zone: zone)
        if request.author != nil, request.date != nil { author.time = time; author.zoneOffset = zone }
        var committer = author
        committer.time = time
        committer.zoneOffset = zone
        let snapshot = Snapshot(tree: treeID, parents: parent.map { [$0] } ?? [], author: author, committer: committer,
                                message: Array(request.message.utf8))
        let snapshotID = try await objects.put(snapshot.encoded)
        request.progress?("uploading the index")
        // What this commit added to the index: one new segment; the old ones are not rewritten.
        let segment = try await saveSegment(objects)
        let grid = repositoryGrid(refs)

        // Move the ref by test-and-set; on a race, retry on the latest refs unless our branch moved.
        try state.write("pending", Array((snapshotID.hex + "\n").utf8))
        while true {
            var next = refs
            try await add(segment, to: &next, grid: grid) { request.progress?("consolidating the index") }
            switch head {
            case .branch(let b): next.branches[b] = snapshotID
            case .detached: break
            }
            do {
                version = try await refStore.publish(next, replacing: version)
                try state.write("seen", Array("\(version)\n".utf8))
                break
            } catch RefStoreError.moved {
                // Segments another writer added stay: the next list starts from theirs.
                let (latest, latestVersion) = try await loadRefs()
                if case .branch(let b) = head, latest.branches[b] != parent { throw RepositoryError.nonFastForward(branch: b) }
                refs = latest
                version = latestVersion
            }
        }
        if case .detached = head { try setHead(.detached(snapshotID)) }
        try setBase(snapshotID, tree: treeID)
        try? FileSystem.remove(state.path("pending"))
        try? builder.newCache?.save()
        let branch: String? = if case .branch(let b) = head { b } else { nil }
        return CommitOutcome(snapshot: snapshotID, branch: branch, filesRead: builder.filesRead,
                             skipped: builder.skipped, unreadable: builder.unreadable)
    }

    func defaultSignature(time: Int64, zone: Int16) -> Signature {
        let env = ProcessEnvironment.current
        let name = env["CAIRN_AUTHOR_NAME"] ?? env["USER"] ?? "cairn"
        let email = env["CAIRN_AUTHOR_EMAIL"] ?? "\(name)@localhost"
        return Signature(name: name, email: email, time: time, zoneOffset: zone)
    }
}
