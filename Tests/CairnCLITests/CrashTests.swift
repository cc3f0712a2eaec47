import Foundation
import Testing

@Suite struct CrashTests {
    /// Starts `cairn put` on many small files, SIGKILLs it at a random moment, and checks that every
    /// cap it printed before dying still gets back intact. The grid must stay usable afterwards.
    @Test func killedPutLosesNothingReported() throws {
        let dir = TemporaryDirectory()
        let grid = dir.file("grid")
        #expect(try CairnProcess.run(["grid", "create", grid]).code == 0)
        var rng = SystemRandomNumberGenerator()
        var checked = 0
        for trial in 0..<6 {
            var files: [String] = []
            var contents: [Data] = []
            for i in 0..<300 {
                let data = Data(testBytes(4096 + i, seed: UInt64(trial * 1000 + i + 1)))
                let path = dir.file("t\(trial)-\(i)")
                try data.write(to: URL(fileURLWithPath: path))
                files.append(path)
                contents.append(data)
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CairnProcess.binary)
            p.arguments = ["put", "--grid", grid, "--batch-files", "20"] + files
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Let the first batch be reported (however slow the machine), then kill at a random moment.
            var early = Data()
            while !early.contains(0x0A) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                early += chunk
            }
            usleep(UInt32.random(in: 0...300_000, using: &rng))
            kill(p.processIdentifier, SIGKILL)
            let printed = String(decoding: early + out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            // Only whole lines count: a cap is reported once its newline is out.
            let lines = printed.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
            for (i, cap) in lines.enumerated() {
                let r = try CairnProcess.run(["get", "--grid", grid, cap])
                #expect(r.code == 0 && r.stdoutData == contents[i], "trial \(trial): cap \(i) of \(lines.count) lost")
                checked += 1
            }
        }
        #expect(checked > 0, "no cap was printed before any kill; lengthen the delays")
        // The grid still takes and gives back files after all the kills.
        try Data(testBytes(100_000, seed: 77)).write(to: URL(fileURLWithPath: dir.file("after")))
        let cap = try CairnProcess.run(["put", "--grid", grid, dir.file("after")])
        #expect(cap.code == 0)
        #expect(try CairnProcess.run(["check", "--grid", grid, "--verify", cap.lines[0]]).code == 0)
    }

    /// Two processes putting into one grid at once both succeed, and every cap gets back.
    @Test func concurrentWriters() async throws {
        let dir = TemporaryDirectory()
        let grid = dir.file("grid")
        #expect(try CairnProcess.run(["grid", "create", grid]).code == 0)
        var groups: [[String]] = [[], []]
        for g in 0..<2 {
            for i in 0..<150 {
                let path = dir.file("w\(g)-\(i)")
                try Data(testBytes(3000 + i * 7, seed: UInt64(g * 10_000 + i + 5))).write(to: URL(fileURLWithPath: path))
                groups[g].append(path)
            }
        }
        let first = groups[0], second = groups[1]
        async let a = Task.detached { try CairnProcess.run(["put", "--grid", grid, "--batch-files", "10"] + first) }.value
        async let b = Task.detached { try CairnProcess.run(["put", "--grid", grid, "--batch-files", "10"] + second) }.value
        let results = try await [a, b]
        for g in 0..<2 {
            let r = results[g]
            #expect(r.code == 0, "\(r.stderr)")
            #expect(r.lines.count == 150)
            for (i, cap) in r.lines.enumerated() where i % 10 == 0 {
                let back = try CairnProcess.run(["get", "--grid", grid, cap])
                #expect(back.stdoutData == (try Data(contentsOf: URL(fileURLWithPath: groups[g][i]))))
            }
        }
    }
}
