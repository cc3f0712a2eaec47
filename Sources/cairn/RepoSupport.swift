import CairnFiles
import CairnPrimitives
import ArgumentParser
import CairnGrid
import CairnSnapshots

/// Opens the repository around the current directory.
func openRepository() throws -> Repository {
    let cwd = FSPath(ProcessEnvironment.currentDirectory)
    let state = try Repository.find(from: cwd)
    return try Repository.open(state: state, provider: SlotRefStoreProvider())
}


func absolutePath(_ p: String) -> String {
    if p.hasPrefix("/") { return p }
    if p == "." || p.isEmpty { return ProcessEnvironment.currentDirectory }
    return ProcessEnvironment.currentDirectory + "/" + (p.hasPrefix("./") ? String(p.dropFirst(2)) : p)
}

/// "Name <email>".
func parseAuthor(_ text: String, time: Int64, zone: Int16) throws -> Signature {
    guard let lt = text.firstIndex(of: "<"), let gt = text.lastIndex(of: ">"), lt < gt else {
        throw Failure("author '\(text)' is not of the form 'Name <email>'", code: Code.usage)
    }
    let name = text[..<lt].trimmingCharacters(in: " ")
    let email = String(text[text.index(after: lt)..<gt])
    return Signature(name: name, email: email, time: time, zoneOffset: zone)
}


func writeBytes(_ bytes: [UInt8]) throws {
    try FileDescriptor.standardOutput.write(bytes)
}

/// Streams a content to standard output, each piece checked before it is written (a big file is never
/// held whole).
func writeContent(_ content: ContentStore, _ hash: [UInt8]) async throws {
    try await content.write(hash) { _, piece in try FileDescriptor.standardOutput.write(piece) }
}

func firstLine(_ message: [UInt8]) -> String {
    String(decoding: message.split(separator: 0x0A, omittingEmptySubsequences: false).first ?? [], as: UTF8.self)
}

func formatSnapshot(_ id: ObjectID, _ s: Snapshot) -> String {
    var out = "snapshot \(id.hex)\n"
    if s.parents.count > 1 { out += "Merge: " + s.parents.map(\.short).joined(separator: " ") + "\n" }
    out += "Author: \(s.author.name) <\(s.author.email)>\n"
    out += "Date:   \(DateParser.format(s.committer.time, zone: s.committer.zoneOffset))\n\n"
    for line in String(decoding: s.message, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
        out += "    \(line)\n"
    }
    return out
}

func modeString(_ mode: UInt32) -> String {
    let s = String(mode, radix: 8)
    return String(repeating: "0", count: max(0, 6 - s.count)) + s
}
