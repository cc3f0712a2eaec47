import Foundation
import Glibc
import Synchronization
import Testing

/// Big files through the real binary: streamed in bounded memory both ways, sparse on restore.
@Suite struct BigFileCLITests {
    static let time = "/usr/bin/time"

    /// Runs cairn under `/usr/bin/time -f %M` and returns the result and its peak RSS in bytes.
    func measured(_ repo: RepoFixture, _ args: [String]) throws -> (CairnProcess.Result, Int) {
        #expect(FileManager.default.isExecutableFile(atPath: Self.time), "\(Self.time) is needed (Debian package 'time'; .ci/run installs it)")
        let r = try CairnProcess.run(args, environment: repo.env, currentDirectory: repo.work,
                                     launcher: [Self.time, "-f", "peak-rss-kb %M"])
        let line = r.stderr.split(separator: "\n").last { $0.hasPrefix("peak-rss-kb ") }
        let kb = try #require(Int(line?.dropFirst("peak-rss-kb ".count) ?? ""), "no peak RSS in: \(r.stderr)")
        return (r, kb * 1024)
    }

    /// Fills `path` with `size` random bytes, 1 MiB at a time.
    func writeRandom(_ path: String, size: Int) throws {
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        FileManager.default.createFile(atPath: path, contents: nil)
        let out = try #require(FileHandle(forWritingAtPath: path))
        var left = size
        while left > 0 {
            let n = min(left, 1 << 20)
            out.write(random.readData(ofLength: n))
            left -= n
        }
        try out.close()
    }

    func sameBytes(_ a: String, _ b: String) throws -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/cmp")
        p.arguments = ["-s", a, b]
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// A file larger than the memory the test allows the process commits and comes back whole, by
    /// checkout and by `restore -o`, and an append stores about one chunk.
    @Test func aFileLargerThanTheMemoryLimitCommitsAndRestores() throws {
        let repo = try RepoFixture()
        let size = 400 << 20, limit = 200 << 20
        let piped = Mutex(0)
        let big = repo.work + "/video.bin"
        try writeRandom(big, size: size)
        let (commit, commitRSS) = try measured(repo, ["commit", "-m", "big"])
        #expect(commit.code == 0, "\(commit.stderr)")
        #expect(commitRSS < limit, "commit of \(size >> 20) MiB peaked at \(commitRSS >> 20) MiB")

        let saved = repo.dir.file("original.bin")
        try FileManager.default.moveItem(atPath: big, toPath: saved)
        let (checkout, checkoutRSS) = try measured(repo, ["checkout", "HEAD", "--", "video.bin"])
        #expect(checkout.code == 0, "\(checkout.stderr)")
        #expect(checkoutRSS < limit, "checkout of \(size >> 20) MiB peaked at \(checkoutRSS >> 20) MiB")
        #expect(try sameBytes(big, saved))

        // OUT a FIFO: written through, in order (not replaced by a regular file).
        let fifo = repo.dir.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let reader = Thread {
            let fd = open(fifo, O_RDONLY)
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var total = 0
            while true { let n = read(fd, &buffer, buffer.count); if n <= 0 { break }; total += n }
            close(fd)
            piped.withLock { $0 = total }
        }
        reader.start()
        let throughFIFO = try repo.run(["restore", "video.bin", "--at", "now", "-o", fifo])
        while !reader.isFinished { usleep(1000) }
        #expect(throughFIFO.code == 0, "\(throughFIFO.stderr)")
        #expect(piped.withLock { $0 } == size)
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO, "the FIFO is still a FIFO")

        let out = repo.dir.file("restored.bin")
        let (restore, restoreRSS) = try measured(repo, ["restore", "video.bin", "--at", "now", "-o", out])
        #expect(restore.code == 0, "\(restore.stderr)")
        #expect(restoreRSS < limit, "restore of \(size >> 20) MiB peaked at \(restoreRSS >> 20) MiB")
        #expect(try sameBytes(out, saved))

        // An append: the grid grows by about one chunk (at most 4 MiB before coding), not by a copy.
        let before = try directorySize(repo.grid)
        let h = try #require(FileHandle(forWritingAtPath: big))
        h.seekToEndOfFile()
        h.write(Data("nine more".utf8))
        try h.close()
        #expect(try repo.run(["commit", "-m", "append"]).code == 0)
        let growth = try directorySize(repo.grid) - before
        #expect(growth < 16 << 20, "an append of 9 bytes grew the grid by \(growth) bytes")
        // Stored whole and cached: nothing left to commit, and the file is not read again.
        let again = try repo.run(["commit", "-m", "again"])
        #expect((again.stdout + again.stderr).contains("nothing to commit"), "\(again.stdout)\(again.stderr)")
    }

    /// A file that grows while a commit reads it is said to have changed, and the snapshot keeps its
    /// previous version (a consistent one) rather than a mix; once it holds still, it is stored.
    @Test func aFileGrowingDuringCommitIsNotTornApart() throws {
        let repo = try RepoFixture()
        let log = repo.work + "/growing.log"
        let original = testBytes(12 << 20, seed: 6)
        try Data(original).write(to: URL(fileURLWithPath: log))
        #expect(try repo.run(["commit", "-m", "first"]).code == 0)

        let stop = Mutex(false)
        let writer = Thread {
            let fd = open(log, O_WRONLY | O_APPEND)
            defer { close(fd) }
            let line = Array("another line of the log\n".utf8)
            while !stop.withLock({ $0 }) {
                _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                usleep(200)
            }
        }
        writer.start()
        let growing = try repo.run(["commit", "-m", "while growing"])
        stop.withLock { $0 = true }
        while !writer.isFinished { usleep(1000) }
        #expect(growing.code == 0, "\(growing.stderr)")
        #expect(growing.stderr.contains("growing.log: changed while it was read"), "\(growing.stderr)")
        #expect(growing.stderr.contains("keeps its previous version"))
        let kept = try repo.run(["cat", "HEAD:growing.log"])
        #expect([UInt8](kept.stdoutData) == original, "the snapshot holds the version of the first commit, whole")

        let still = try repo.run(["commit", "-m", "still"])
        #expect(still.code == 0 && !still.stderr.contains("changed while"), "\(still.stderr)")
        let now = try repo.run(["cat", "HEAD:growing.log"])
        #expect(now.stdoutData == (try Data(contentsOf: URL(fileURLWithPath: log))))
    }

    /// A file that grows past the chunking threshold and shrinks below it again: each version is stored
    /// the way its size calls for (whole, chunked, whole) and every one checks out byte for byte.
    @Test func aFileGrowingPastTheThresholdAndShrinkingBack() throws {
        let repo = try RepoFixture()
        let path = repo.work + "/notes.bin"
        let base = testBytes(20 << 20, seed: 12)
        let sizes = [5 << 20, 9 << 20, 20 << 20, 14 << 20, 3 << 20, (8 << 20) + 1, 8 << 20]
        for size in sizes {
            try Data(base[..<size]).write(to: URL(fileURLWithPath: path))
            let r = try repo.run(["commit", "-m", "size \(size)"])
            #expect(r.code == 0, "\(r.stderr)")
        }
        for (back, size) in sizes.reversed().enumerated() {
            let rev = back == 0 ? "HEAD" : "HEAD~\(back)"
            try? FileManager.default.removeItem(atPath: path)
            let r = try repo.run(["checkout", rev, "--", "notes.bin"])
            #expect(r.code == 0, "\(r.stderr)")
            let restored = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(restored.count == size && restored == Data(base[..<size]), "\(rev): \(size) bytes")
            let range = try repo.run(["cat", "--range", "\(size - 100)-\(size - 1)", "\(rev):notes.bin"])
            #expect([UInt8](range.stdoutData) == Array(base[(size - 100)..<size]))
        }
        #expect(try repo.run(["check", "--read-data"]).code == 0)
    }

    /// Runs of zeros come back as holes: a 256 MiB image with 3 MiB of data takes about 3 MiB of disk.
    @Test func aSparseFileRestoresSparse() throws {
        let repo = try RepoFixture()
        let image = repo.work + "/disk.img"
        let fd = open(image, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        let data = testBytes(3 << 20, seed: 4)
        _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(100 << 20)) }
        #expect(ftruncate(fd, off_t(256 << 20)) == 0)
        close(fd)
        #expect(try repo.run(["commit", "-m", "image"]).code == 0)
        // A range across the start of the data, and one outside the file.
        let start = (100 << 20) - 10
        let cat = try repo.run(["cat", "--range", "\(start)-\(start + 29)", "HEAD:disk.img"])
        #expect(cat.code == 0, "\(cat.stderr)")
        #expect([UInt8](cat.stdoutData) == [UInt8](repeating: 0, count: 10) + Array(data[..<20]))
        let outside = try repo.run(["cat", "--range", "\(256 << 20)-", "HEAD:disk.img"])
        #expect(outside.code == 64 && outside.stderr.contains("outside the file"), "\(outside.stderr)")
        try FileManager.default.removeItem(atPath: image)
        let r = try repo.run(["checkout", "HEAD", "--", "disk.img"])
        #expect(r.code == 0, "\(r.stderr)")
        var st = stat()
        #expect(stat(image, &st) == 0)
        #expect(st.st_size == 256 << 20)
        #expect(Int(st.st_blocks) * 512 < 16 << 20, "\(Int(st.st_blocks) * 512) bytes allocated")
        let h = try #require(FileHandle(forReadingAtPath: image))
        h.seek(toFileOffset: UInt64(100 << 20))
        #expect([UInt8](h.readData(ofLength: data.count)) == data)
        h.seek(toFileOffset: 0)
        #expect(h.readData(ofLength: 1 << 20) == Data(count: 1 << 20))
        try h.close()
    }
}

func directorySize(_ path: String) throws -> Int {
    var total = 0
    let e = FileManager.default.enumerator(atPath: path)
    while let rel = e?.nextObject() as? String {
        let attrs = try FileManager.default.attributesOfItem(atPath: path + "/" + rel)
        if (attrs[.type] as? FileAttributeType) == .typeRegular { total += (attrs[.size] as? Int) ?? 0 }
    }
    return total
}
