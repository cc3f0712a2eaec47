import Foundation
import Testing

@Suite struct FullDiskTests {
    /// A grid on a 3 MiB tmpfs: a put that does not fit fails with one line and exit 74, and what was
    /// stored before still gets back. Needs root to mount (CI runs as root); fails loudly otherwise.
    @Test func fullDiskIsAClearErrorAndLosesNothing() throws {
        let dir = TemporaryDirectory()
        let mountPoint = dir.file("tmpfs")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint]
        try mount.run()
        mount.waitUntilExit()
        try #require(mount.terminationStatus == 0, "cannot mount a tmpfs (this test needs root, as CI has)")
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [mountPoint]
            try? umount.run()
            umount.waitUntilExit()
        }
        let grid = mountPoint + "/grid"
        #expect(try CairnProcess.run(["grid", "create", grid]).code == 0)
        let small = Data(testBytes(100_000, seed: 1))
        try small.write(to: URL(fileURLWithPath: dir.file("small")))
        let cap = try CairnProcess.run(["put", "--grid", grid, dir.file("small")]).lines.first ?? ""
        try Data(testBytes(5_000_000, seed: 2)).write(to: URL(fileURLWithPath: dir.file("big")))

        let full = try CairnProcess.run(["put", "--grid", grid, dir.file("big")])
        #expect(full.code == 74)
        #expect(full.stdout.isEmpty)
        let lines = full.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("cairn: ") && lines[0].contains("full"), "\(full.stderr)")

        let back = try CairnProcess.run(["get", "--grid", grid, cap])
        #expect(back.code == 0 && back.stdoutData == small)
        #expect(try CairnProcess.run(["check", "--grid", grid, "--verify", cap]).code == 0)
    }
}
