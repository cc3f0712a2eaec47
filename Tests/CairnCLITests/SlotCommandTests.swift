import Foundation
import Testing

@Suite struct SlotCommandTests {
    @Test func createPublishReadAndStaleWriter() throws {
        let dir = TemporaryDirectory()
        let grid = dir.file("grid")
        #expect(try CairnProcess.run(["grid", "create", grid]).code == 0)
        let v1 = Data(testBytes(5000, seed: 21)), v2 = Data("second".utf8), v3 = Data(testBytes(70_000, seed: 22))
        try v1.write(to: URL(fileURLWithPath: dir.file("v1")))

        let created = try CairnProcess.run(["slot", "create", "--grid", grid, dir.file("v1")])
        #expect(created.code == 0, "\(created.stderr)")
        #expect(created.lines.count == 1 && created.lines[0].hasPrefix("cairn:slot:") && created.stderr.isEmpty)
        let writeCap = created.lines[0]
        let caps = try CairnProcess.run(["slot", "cap", writeCap])
        #expect(caps.code == 0 && caps.lines.count == 2)
        let readCap = caps.lines[0]
        #expect(readCap.hasPrefix("cairn:slot-ro:") && caps.lines[1].hasPrefix("cairn:slot-v:"))

        let read1 = try CairnProcess.run(["slot", "read", "--grid", grid, readCap, "--version"])
        #expect(read1.code == 0 && read1.stdoutData == v1 && read1.stderr == "version 1\n")

        // Publish from stdin on top of version 1, then on top of whatever is current.
        let p2 = try CairnProcess.run(["slot", "publish", "--grid", grid, writeCap, "-", "--if-version", "1"], stdin: v2)
        #expect(p2.code == 0 && p2.lines == ["2"], "\(p2.stderr)")
        try v3.write(to: URL(fileURLWithPath: dir.file("v3")))
        let p3 = try CairnProcess.run(["slot", "publish", "--grid", grid, writeCap, dir.file("v3")])
        #expect(p3.code == 0 && p3.lines == ["3"], "\(p3.stderr)")

        // A writer still on version 2 fails with the clear message and exit 4; nothing changes.
        let stale = try CairnProcess.run(["slot", "publish", "--grid", grid, writeCap, "-", "--if-version", "2"], stdin: Data("late".utf8))
        #expect(stale.code == 4)
        #expect(stale.stderr == "cairn: the slot moved: it is at version 3, you published on top of 2; read it again\n")
        #expect(stale.stdout.isEmpty)
        let ahead = try CairnProcess.run(["slot", "publish", "--grid", grid, writeCap, "-", "--if-version", "9"], stdin: Data("x".utf8))
        #expect(ahead.code == 4 && ahead.stderr.contains("there is no version 9"))

        let toFile = try CairnProcess.run(["slot", "read", "--grid", grid, writeCap, "-o", dir.file("out")])
        #expect(toFile.code == 0 && toFile.stdoutData.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("out"))) == v3)
    }

    @Test func wrongCapsAndMissingSlots() throws {
        let dir = TemporaryDirectory()
        let grid = dir.file("grid")
        #expect(try CairnProcess.run(["grid", "create", grid]).code == 0)
        let writeCap = try CairnProcess.run(["slot", "create", "--grid", grid, "-"], stdin: Data("x".utf8)).lines[0]
        let readCap = try CairnProcess.run(["slot", "cap", writeCap]).lines[0]

        let withReadCap = try CairnProcess.run(["slot", "publish", "--grid", grid, readCap, "-"], stdin: Data("y".utf8))
        #expect(withReadCap.code == 64 && withReadCap.stderr.contains("needs the slot's write cap"))
        let get = try CairnProcess.run(["get", "--grid", grid, readCap])
        #expect(get.code == 64 && get.stderr.contains("use 'cairn slot read'"))
        let bad = try CairnProcess.run(["slot", "read", "--grid", grid, String(readCap.dropLast())])
        #expect(bad.code == 64 && bad.stderr.hasPrefix("cairn: malformed cap: "))

        // A slot that was never published on this grid.
        let other = dir.file("other")
        #expect(try CairnProcess.run(["grid", "create", other]).code == 0)
        let missing = try CairnProcess.run(["slot", "read", "--grid", other, readCap])
        #expect(missing.code == 2 && missing.stderr.hasPrefix("cairn: no server holds the slot"))

        // Slots refuse grids where two writers could both win.
        let unsafe = dir.file("unsafe")
        #expect(try CairnProcess.run(["grid", "create", unsafe, "--happy", "5"]).code == 0)
        let refused = try CairnProcess.run(["slot", "create", "--grid", unsafe, "-"], stdin: Data("x".utf8))
        #expect(refused.code == 78 && refused.stderr.contains("happy above N/2"))
    }
}
