import CairnFiles
import CairnSnapshots

/// What a verify or an export went through.
public struct GitTransferReport: Sendable {
    public var refs = 0
    public var objects = 0
    public var bytes: UInt64 = 0
    /// Blobs the import never had (a partial clone's): named by trees, not rebuilt.
    public var missingBlobs = 0
    public var seconds = 0.0
}

public enum GitTransfer {
    /// `import-git --verify`: for every ref the options select in `source`, the repository's ref names
    /// what the import mapped it to, and the git id recomputed from the grid equals the source's.
    public static func verify(source: GitRepository, session: Session, options: GitImportOptions,
                              progress: (@Sendable (String) -> Void)? = nil) async throws -> GitTransferReport {
        let started = FileSystem.monotonicSeconds()
        let regenerator = try await GitRegenerator(session: session) { _, _, _ in }
        regenerator.progress = progress
        let sourceRefs = try source.refs()
        let byName = Dictionary(sourceRefs.map { ($0.name, $0.target) }, uniquingKeysWith: { a, _ in a })
        var report = GitTransferReport()
        let selected = Set(sourceRefs.map(\.name).filter(options.selects))
        for ref in sourceRefs where options.selects(ref.name) {
            // An alias of a selected ref is checked through that ref (the import keeps it symbolic).
            if case .symbolic(let to) = ref.target, selected.contains(to) { continue }
            let name = String(decoding: ref.name, as: UTF8.self)
            var target = ref.target
            var hops = 0
            while case .symbolic(let to) = target, hops < 8, let next = byName[to] { target = next; hops += 1 }
            guard case .object(let id) = target else { continue }
            guard let expected = regenerator.mapped(id) else {
                throw GitError.verification("ref \(name): \(id) was never imported (run import-git first)")
            }
            guard let cairn = session.refs.all[ref.name] else {
                throw GitError.verification("ref \(name) is not in the repository")
            }
            guard cairn == expected else {
                throw GitError.verification("ref \(name) names another object in the repository than the import recorded for \(id)")
            }
            let got = try await regenerator.emit(cairn, expected: id)
            guard got == id else { throw GitError.verification("ref \(name): the source has \(id), the repository rebuilds \(got)") }
            report.refs += 1
        }
        report.objects = regenerator.objectCount
        report.bytes = regenerator.byteCount
        report.missingBlobs = regenerator.missingBlobs
        report.seconds = FileSystem.monotonicSeconds() - started
        return report
    }

    /// `export-git DST`: a new bare repository holding every ref of the repository (import state and
    /// other `refs/cairn-import/` refs left out) and every object they reach, written from the grid.
    public static func export(session: Session, to path: String, progress: (@Sendable (String) -> Void)? = nil) async throws -> GitTransferReport {
        let started = FileSystem.monotonicSeconds()
        if let names = try? FileSystem.names(in: path), !names.isEmpty {
            throw GitError.verification("\(path) is not empty: export into a new or empty folder")
        }
        let destination = try GitRepository(creatingBareAt: path)
        let regenerator = try await GitRegenerator(session: session) { type, bytes, id in
            let written = try destination.write(type, bytes)
            guard written == id else { throw GitError.verification("git stored \(type.name) \(id) as \(written)") }
        }
        regenerator.progress = progress
        var report = GitTransferReport()
        var written: Set<[UInt8]> = []
        for (name, target) in session.refs.all.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) })
        where !name.starts(with: ImportState.internalPrefix) {
            var expected: GitOID?
            if case .object(let id)? = regenerator.importedRefs[name], regenerator.mapped(id) == target { expected = id }
            let id = try await regenerator.emit(target, expected: expected)
            try destination.setRef(name, to: id)
            written.insert(name)
            report.refs += 1
        }
        // Symbolic refs the source had, where what they name was exported.
        for (name, target) in regenerator.importedRefs where !written.contains(name) {
            if case .symbolic(let to) = target, written.contains(to) {
                try destination.setSymbolicRef(name, to: to)
                report.refs += 1
            }
        }
        if case .symbolic(let to)? = regenerator.importedHead, written.contains(to) {
            try destination.setSymbolicRef(Array("HEAD".utf8), to: to)
        } else if let d = session.refs.defaultBranch, written.contains(d) {
            try destination.setSymbolicRef(Array("HEAD".utf8), to: d)
        }
        // A shallow history stays one git knows as shallow: its boundary commits in `shallow`.
        let shallow = regenerator.shallow
        if !shallow.isEmpty {
            let text: [UInt8] = shallow.flatMap { $0.hexBytes + [UInt8(0x0A)] }
            try FileSystem.writeAtomically(FSPath(destination.gitDirectory).appending(Array("shallow".utf8)), text, permissions: 0o644)
        }
        report.objects = regenerator.objectCount
        report.bytes = regenerator.byteCount
        report.missingBlobs = regenerator.missingBlobs
        report.seconds = FileSystem.monotonicSeconds() - started
        return report
    }
}
