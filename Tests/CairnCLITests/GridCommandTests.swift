import Foundation
import Testing

@Suite struct GridCommandTests {
    func makeGrid(_ dir: TemporaryDirectory, _ extra: [String] = []) throws -> String {
        let grid = dir.file("grid")
        let r = try CairnProcess.run(["grid", "create", grid] + extra)
        #expect(r.code == 0, "\(r.stderr)")
        return grid
    }

    @Test func putGetRangeAndStdin() throws {
        let dir = TemporaryDirectory()
        let grid = try makeGrid(dir, ["--segment-size", "4096"])
        let a = Data(testBytes(20_000, seed: 3)), b = Data(testBytes(10, seed: 4))
        try a.write(to: URL(fileURLWithPath: dir.file("a")))
        try b.write(to: URL(fileURLWithPath: dir.file("b")))
        let put = try CairnProcess.run(["put", "--grid", grid, dir.file("a"), dir.file("b")])
        #expect(put.code == 0, "\(put.stderr)")
        #expect(put.stderr.isEmpty)  // progress only on a terminal
        let caps = put.lines
        #expect(caps.count == 2 && caps[0].hasPrefix("cairn:chk:") && caps[1].hasPrefix("cairn:lit:"))

        let get = try CairnProcess.run(["get", "--grid", grid, caps[0]])
        #expect(get.code == 0 && get.stdoutData == a)
        let toFile = try CairnProcess.run(["get", "--grid", grid, caps[0], "-o", dir.file("a.out")])
        #expect(toFile.code == 0 && toFile.stdoutData.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("a.out"))) == a)
        // No partial file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("partial") }.isEmpty)

        for (range, slice) in [("0-0", 0..<1), ("100-4200", 100..<4201), ("4096-8191", 4096..<8192), ("19990-", 19990..<20000), ("0-19999", 0..<20000)] {
            let r = try CairnProcess.run(["get", "--grid", grid, caps[0], "--range", range, "-o", dir.file("r")])
            #expect(r.code == 0, "\(range): \(r.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("r"))) == a[slice], "\(range)")
        }
        let viaStdin = try CairnProcess.run(["put", "--grid", grid, "-"], stdin: a)
        #expect(viaStdin.lines == [caps[0]])  // convergent: same bytes, same cap
        let random = try CairnProcess.run(["put", "--grid", grid, "--random-key", "-"], stdin: a)
        #expect(random.code == 0 && random.lines.count == 1 && random.lines[0] != caps[0])
        let back = try CairnProcess.run(["get", "--grid", grid, random.lines[0], "-o", dir.file("c")])
        #expect(back.code == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("c"))) == a)
    }

    @Test func checkAndRepairExitCodes() throws {
        let dir = TemporaryDirectory()
        let grid = try makeGrid(dir)
        try Data(testBytes(50_000)).write(to: URL(fileURLWithPath: dir.file("f")))
        let cap = try CairnProcess.run(["put", "--grid", grid, dir.file("f")]).lines[0]
        let healthy = try CairnProcess.run(["check", "--grid", grid, "--verify", cap])
        #expect(healthy.code == 0 && healthy.stdout.contains("healthy: 10 of 10 shares good on 10 servers"))
        try FileManager.default.removeItem(atPath: grid + "/servers/04")
        let sick = try CairnProcess.run(["check", "--grid", grid, cap])
        #expect(sick.code == 1 && sick.stdout.contains("server 4: unreachable"), "\(sick.stdout)")
        let verifyCap = cap.replacingOccurrences(of: "cairn:chk:", with: "")  // not a cap
        #expect(try CairnProcess.run(["check", "--grid", grid, verifyCap]).code == 64)
        let repair = try CairnProcess.run(["repair", "--grid", grid, cap])
        #expect(repair.code == 0 && repair.stdout.contains("wrote share"), "\(repair.stdout)\(repair.stderr)")
        #expect(try CairnProcess.run(["check", "--grid", grid, "--verify", cap]).code == 0)
    }

    @Test func badInputGivesOneLineAndAnExitCode() throws {
        let dir = TemporaryDirectory()
        let grid = try makeGrid(dir)
        func expectFailure(_ args: [String], code: Int32, _ text: String) throws {
            let r = try CairnProcess.run(args)
            #expect(r.code == code, "\(args): exit \(r.code), \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(args)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("cairn: ") && lines[0].contains(text), "\(args): \(r.stderr)")
        }
        try expectFailure(["get", "--grid", grid, "cairn:chk:zzz"], code: 64, "malformed cap")
        try expectFailure(["get", "--grid", grid, "URI:CHK:abc"], code: 64, "Tahoe-LAFS")
        // A literal cap needs no grid at all.
        let lit = try CairnProcess.run(["get", "--grid", dir.file("nowhere"), "cairn:lit:mzxw6"])
        #expect(lit.code == 0 && lit.stdout == "foo")
        try expectFailure(["put", "--grid", dir.file("nowhere"), "/etc/hostname"], code: 78, "no grid at")
        try expectFailure(["put", "--grid", grid, dir.file("missing")], code: 66, "no such file")
        try expectFailure(["put", "--grid", grid, dir.path], code: 74, "is a directory")

        try Data(testBytes(5000)).write(to: URL(fileURLWithPath: dir.file("f")))
        let cap = try CairnProcess.run(["put", "--grid", grid, dir.file("f")]).lines[0]
        try expectFailure(["get", "--grid", grid, cap, "--range", "10-5"], code: 64, "ends before it starts")
        try expectFailure(["get", "--grid", grid, cap, "--range", "0-5000"], code: 64, "outside the file")
        // A cap with a wrong size finds every share, and every share fails its check: said so, with a hint
        // (it said "found 0 of the 3 shares", as if the shares were gone).
        let wrongSize = cap.split(separator: ":").dropLast().joined(separator: ":") + ":4999"
        try expectFailure(["get", "--grid", grid, wrongSize, "-o", dir.file("out")], code: 2,
                          "found 0 of the 3 shares needed; 10 shares found failed the check against this cap (every one: is the cap copied whole")
        for s in ["00", "01", "02", "03", "04", "05", "06", "07"] { try FileManager.default.removeItem(atPath: grid + "/servers/" + s) }
        try expectFailure(["get", "--grid", grid, cap, "-o", dir.file("out")], code: 2, "found 2 of the 3 shares needed; servers 0, 1, 2, 3, 4, 5, 6, 7 unreachable or missing")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out")))
        try expectFailure(["put", "--grid", grid, dir.file("f")], code: 2, "could place shares on only 2 servers")
    }
}
