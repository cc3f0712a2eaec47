import CairnFiles
import ArgumentParser
import CairnFormats
import CairnGrid

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fetch a file by its read cap, to stdout or a file.")

    @OptionGroup var gridOptions: GridOptions
    @Argument(help: "A read cap (cairn:chk:… or cairn:lit:…).") var cap: String
    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file instead of stdout (\"-\": stdout).", valueName: "OUT"))
    var output: String?
    @Option(help: ArgumentHelp("Inclusive byte range, like HTTP: START-END, or START- to the end.", valueName: "START-END"))
    var range: String?

    func run() async throws {
        let cap = try parseCap(cap)
        try rejectSlotCap(cap, "get")
        let wanted = try range.map { try Self.parseRange($0, size: cap.size) }
        let grid: Grid
        if case .literal = cap {
            grid = Grid(parameters: try .init(k: 1, n: 1, happy: 1), convergenceSecret: [], servers: [])
        } else {
            grid = try gridOptions.open()
        }
        let total = wanted.map { $0.upperBound - $0.lowerBound } ?? cap.size
        if let output, output != "-" {  // "-" is standard output, as everywhere
            // Written beside the target and renamed at the end: a failed get never leaves half a file, and
            // a finished one is on disk (fsynced, folder too) when cairn exits.
            let out = try AtomicFile(replacing: output, permissions: 0o644)
            do {
                try await fetch(grid, cap, wanted, total, into: out.file)
                try out.commit()
            } catch {
                out.discard()
                throw error
            }
        } else {
            try await fetch(grid, cap, wanted, total, into: .standardOutput)
        }
    }

    private func fetch(_ grid: Grid, _ cap: Cap, _ wanted: Range<UInt64>?, _ total: UInt64, into file: FileDescriptor) async throws {
        let counter = Counter()
        try await Downloader(grid: grid).get(cap, range: wanted) { bytes in
            try file.write(bytes)
            let n = await counter.add(UInt64(bytes.count))
            Terminal.progress("got \(formatBytes(n)) of \(formatBytes(total))")
        }
        Terminal.endProgress()
    }

    /// "START-END" (inclusive) or "START-".
    static func parseRange(_ text: String, size: UInt64) throws -> Range<UInt64> {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let start = UInt64(parts[0]) else {
            throw Failure(code: Code.usage, "range '\(text)' is not START-END or START-")
        }
        guard start < size else { throw Failure(code: Code.usage, "range '\(text)' is outside the file's \(size) bytes") }
        let end: UInt64
        if parts[1].isEmpty {
            guard size > 0 else { throw Failure(code: Code.usage, "range '\(text)' is outside the file's 0 bytes") }
            end = size - 1
        } else {
            guard let e = UInt64(parts[1]) else { throw Failure(code: Code.usage, "range '\(text)' is not START-END or START-") }
            end = e
        }
        guard start <= end else { throw Failure(code: Code.usage, "range '\(text)' ends before it starts") }
        guard end < size else { throw Failure(code: Code.usage, "range '\(text)' is outside the file's \(size) bytes") }
        return start..<(end + 1)
    }
}

actor Counter {
    var total: UInt64 = 0
    func add(_ n: UInt64) -> UInt64 { total += n; return total }
}
