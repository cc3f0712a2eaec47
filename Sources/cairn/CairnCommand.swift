import ArgumentParser

@main
struct Cairn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cairn",
        abstract: "An encrypted, erasure-coded, version-controlled snapshot store.",
        subcommands: [FEC.self])
}
