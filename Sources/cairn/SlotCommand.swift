import CairnFiles
import ArgumentParser
import CairnFormats
import CairnGrid
#if canImport(Glibc)
import Glibc
#endif

struct Slot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mutable slots: small payloads that change, each version signed, encrypted and erasure-coded.",
        discussion: "A slot has a write cap (cairn:slot:…), a read cap (cairn:slot-ro:…) and a verify cap (cairn:slot-v:…). Payloads are at most 16 MiB.",
        subcommands: [SlotCreate.self, SlotPublish.self, SlotRead.self, SlotCaps.self])
}

struct SlotCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Make a new slot holding FILE as version 1; print its write cap.")

    @OptionGroup var gridOptions: GridOptions
    @Argument(help: ArgumentHelp("The first payload, or '-' for standard input.", valueName: "FILE")) var file = "-"

    func run() async throws {
        let payload = try readPayload(file)
        let cap = try await SlotClient(grid: try gridOptions.open(createDefault: true)).create(payload: payload)
        Terminal.writeOut(cap.string + "\n")
    }
}

struct SlotPublish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish", abstract: "Publish FILE as the slot's next version; print the new version number.",
        discussion: "Without --if-version the new version goes on top of whatever version is current. With --if-version N it goes on top of version N only: if someone published since, nothing changes and the command exits 4.")

    @OptionGroup var gridOptions: GridOptions
    @Argument(help: "The slot's write cap (cairn:slot:…).") var cap: String
    @Argument(help: ArgumentHelp("The new payload, or '-' for standard input.", valueName: "FILE")) var file: String
    @Option(name: .customLong("if-version"), help: ArgumentHelp("Publish only on top of this version.", valueName: "N"))
    var ifVersion: UInt64?

    func run() async throws {
        guard case .slotWrite(let writeCap) = try parseCap(cap) else {
            throw Failure(code: Code.usage, "publishing needs the slot's write cap (cairn:slot:…)")
        }
        let payload = try readPayload(file)
        let client = SlotClient(grid: try gridOptions.open())
        let current = try await client.read(writeCap)
        if let ifVersion {
            if current.seqnum > ifVersion { throw SlotError.stale(current: current.seqnum, replacing: ifVersion) }
            if current.seqnum < ifVersion { throw SlotError.noSuchVersion(requested: ifVersion, current: current.seqnum) }
        }
        let published = try await client.publish(writeCap, payload: payload, replacing: current)
        Terminal.writeOut("\(published.seqnum)\n")
    }
}

struct SlotRead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read", abstract: "Write the slot's current payload to stdout or a file.",
        discussion: "With the write cap, servers found holding an older or damaged share are repaired.")

    @OptionGroup var gridOptions: GridOptions
    @Argument(help: "The slot's read or write cap.") var cap: String
    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file instead of stdout.", valueName: "OUT"))
    var output: String?
    @Flag(name: .customLong("version"), help: "Also print 'version N' (the seqnum read) on stderr.")
    var printVersion = false

    func run() async throws {
        let parsed = try parseCap(cap)
        guard parsed.isSlot else { throw Failure(code: Code.usage, "not a slot cap; read files with 'cairn get'") }
        let version = try await SlotClient(grid: try gridOptions.open()).read(parsed)
        if let output, output != "-" {  // "-" is standard output, as everywhere
            try FileSystem.writeAtomically(output, version.payload, permissions: 0o644)
        } else {
            try FileDescriptor.standardOutput.write(version.payload)
        }
        if printVersion { Terminal.writeErr("version \(version.seqnum)\n") }
    }
}

struct SlotCaps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cap", abstract: "Print the weaker caps of a slot cap: read cap (from a write cap), then verify cap.")

    @Argument(help: "A slot write or read cap.") var cap: String

    func run() throws {
        switch try parseCap(cap) {
        case .slotWrite(let c): Terminal.writeOut(c.readCap.string + "\n" + c.verifyCap.string + "\n")
        case .slotRead(let c): Terminal.writeOut(c.verifyCap.string + "\n")
        case .slotVerify(let c): Terminal.writeOut(c.string + "\n")
        default: throw Failure(code: Code.usage, "not a slot cap")
        }
    }
}

/// A whole payload from a file or stdin ('-'); slots are small, so it is read into memory.
func readPayload(_ name: String) throws -> [UInt8] {
    let file: FileDescriptor
    do {
        file = name == "-" ? .standardInput : try FileDescriptor.open(name, flags: O_RDONLY)
        if try file.status().isDirectory { throw GridError.io(path: name, reason: "is a directory") }
    } catch {
        throw Failure(code: Code.noInput, "\(name): cannot open: \(Failure.from(error).message)")
    }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = try buffer.withUnsafeMutableBytes { try file.readSome(into: $0) }
        if n == 0 { return out }
        out += buffer[0..<n]
        if UInt64(out.count) > SlotHeader.maximumPayload {
            throw SlotError.tooLarge(size: UInt64(out.count), limit: SlotHeader.maximumPayload)
        }
    }
}

/// File commands refuse slot caps with a pointer to `cairn slot`.
func rejectSlotCap(_ cap: Cap, _ command: String) throws {
    guard cap.isSlot else { return }
    throw Failure(code: Code.usage, "'cairn \(command)' takes file caps; use 'cairn slot read' for a slot (with its write cap it also repairs)")
}
