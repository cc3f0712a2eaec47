import ArgumentParser
import CairnFiles
import CairnGrid
#if canImport(Glibc)
import Glibc
#endif

struct Cairn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "An encrypted, erasure-coded, version-controlled snapshot store.",
        discussion: "Exit codes are listed in Documentation/CLI.md.",
        subcommands: [
            Init.self, Commit.self, Status.self, Log.self, Show.self, Cat.self, Ls.self, CheckoutCommand.self, Restore.self,
            Diff.self, Branch.self, Tag.self, CapCommand.self, Clone.self,
            ImportGit.self, ExportGit.self, GridCommand.self, Put.self, Get.self, Check.self, Repair.self, Slot.self, FEC.self])

    /// Runs the command; our own failures print one line, `cairn: <message>`, and exit with the code
    /// Documentation/CLI.md gives. Argument errors keep argument-parser's usage message and exit 64.
    /// Never returns.
    static func runAndExit() async -> Never {
        do {
            // Every command honours CAIRN_LIMIT_UPLOAD/DOWNLOAD; those with grid options also take the flags.
            try BandwidthOptions.apply(upload: nil, download: nil)
            // From the raw argv: a name that is not UTF-8 must reach the file system and the trees as its bytes.
            var command = try parseAsRoot(RawArgument.arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error where Failure.isOurs(error) {
            let failure = Failure.from(error)
            Terminal.error(failure.message)
            Glibc.exit(failure.code)
        } catch {
            exit(withError: error)
        }
        Glibc.exit(0)
    }
}
