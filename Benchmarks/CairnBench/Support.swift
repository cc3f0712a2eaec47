import Foundation
#if canImport(Glibc)
import Glibc
#endif

// MARK: Clocks

/// Monotonic wall-clock seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// User + system CPU seconds of this process (`children: true`: of reaped child processes).
func cpuSeconds(children: Bool = false) -> Double {
    var ru = rusage()
    getrusage(children ? RUSAGE_CHILDREN.rawValue : RUSAGE_SELF.rawValue, &ru)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return s(ru.ru_utime) + s(ru.ru_stime)
}

func median(_ xs: [Double]) -> Double {
    precondition(!xs.isEmpty)
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Runs `body` `reps` times and returns the median of the seconds it reports (or takes).
func medianSeconds(_ reps: Int, _ body: () throws -> Double) rethrows -> Double {
    var xs: [Double] = []
    for _ in 0..<reps { xs.append(try body()) }
    return median(xs)
}

func timed(_ body: () throws -> Void) rethrows -> Double {
    let t0 = now()
    try body()
    return now() - t0
}

// MARK: Formatting

func f(_ x: Double, _ decimals: Int = 0) -> String { String(format: "%.\(decimals)f", x) }

/// MB/s with MB = 10^6 bytes.
func mbps(_ bytes: Double, _ seconds: Double) -> Double { bytes / seconds / 1e6 }

func mib(_ bytes: Int) -> String {
    bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : f(Double(bytes) / Double(1 << 20), 1) + " MiB"
}

/// A plain-text table with right-aligned columns except the first.
struct Table {
    var header: [String]
    var rows: [[String]] = []
    init(_ header: String...) { self.header = header }
    mutating func add(_ cells: String...) { rows.append(cells) }

    func render() -> String {
        let all = [header] + rows
        let widths = (0..<header.count).map { c in all.map { c < $0.count ? $0[c].count : 0 }.max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, s in
                let pad = String(repeating: " ", count: widths[c] - s.count)
                return c == 0 ? s + pad : pad + s
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}

/// Progress notes go to stderr so that stdout holds only the results.
func note(_ s: String) {
    FileHandle.standardError.write(Data(("· " + s + "\n").utf8))
}

func say(_ s: String = "") {
    FileHandle.standardOutput.write(Data((s + "\n").utf8))
}

// MARK: Data

/// SplitMix64: fast, seedable, good enough to make incompressible, distinct test data.
struct FastRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    init() {
        state = UInt64.random(in: 0...UInt64.max)  // SystemRandomNumberGenerator
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        let words = buffer.count / 8
        for i in 0..<words { base.storeBytes(of: next(), toByteOffset: i * 8, as: UInt64.self) }
        var last = next()
        for i in (words * 8)..<buffer.count {
            base.storeBytes(of: UInt8(truncatingIfNeeded: last), toByteOffset: i, as: UInt8.self)
            last >>= 8
        }
    }
}

/// A 64-byte aligned buffer owned by the caller (deallocate when done).
func alignedBuffer(_ bytes: Int) -> UnsafeMutableRawBufferPointer {
    let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
    b.initializeMemory(as: UInt8.self, repeating: 0)  // fault the pages in now, not inside a timed loop
    return UnsafeMutableRawBufferPointer(rebasing: b[0..<bytes])
}

// MARK: Files

enum BenchError: Error, CustomStringConvertible {
    case io(String)
    case check(String)
    var description: String {
        switch self {
        case .io(let s): return "I/O: " + s
        case .check(let s): return "check failed: " + s
        }
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }

/// A raw descriptor with whole-buffer write/pread; closed on deinit.
final class RawFile {
    let fd: Int32
    let path: String

    init(_ path: String, write: Bool) throws {
        self.path = path
        fd = write ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError.io("\(path): \(errnoText())") }
    }

    deinit { close(fd) }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 { if errno == EINTR { continue }; throw BenchError.io("\(path): \(errnoText())") }
            done += n
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 { if errno == EINTR { continue }; throw BenchError.io("\(path): \(errnoText())") }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func sync() throws { guard fsync(fd) == 0 else { throw BenchError.io("\(path): fsync: \(errnoText())") } }
}

/// Writes `size` bytes of `random` data in 1 MiB chunks.
func writeRandomFile(_ path: String, size: Int, random: inout FastRandom) throws {
    let chunk = alignedBuffer(1 << 20)
    defer { chunk.deallocate() }
    let file = try RawFile(path, write: true)
    var left = size
    while left > 0 {
        let n = min(left, chunk.count)
        let part = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<n])
        random.fill(part)
        try file.write(UnsafeRawBufferPointer(part))
        left -= n
    }
}

/// True when two files have the same bytes.
func sameContents(_ a: String, _ b: String) throws -> Bool {
    let fa = try RawFile(a, write: false), fb = try RawFile(b, write: false)
    let ba = alignedBuffer(1 << 20), bb = alignedBuffer(1 << 20)
    defer { ba.deallocate(); bb.deallocate() }
    var offset = 0
    while true {
        let na = try fa.read(into: ba, at: offset), nb = try fb.read(into: bb, at: offset)
        if na != nb || memcmp(ba.baseAddress!, bb.baseAddress!, na) != 0 { return false }
        if na == 0 { return true }
        offset += na
    }
}

func makeTemporaryDirectory(in parent: String) throws -> String {
    var template = Array((parent + "/cairn-bench-XXXXXX").utf8CString)
    guard let p = mkdtemp(&template) else { throw BenchError.io("cannot create a directory in \(parent): \(errnoText())") }
    return String(cString: p)
}

func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

// MARK: Machine

struct Machine {
    static var cores: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return "unknown"
    }

    static var loadAverage: String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "?" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static var simd: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return "?" }
        let set = Set(flags.split(separator: " ").map(String.init))
        return ["avx512bw", "avx512vl", "gfni", "avx2"].filter(set.contains).joined(separator: " ")
    }

    static var date: String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date())
    }

    /// Filesystem type of `path` (from /proc/mounts: longest mount point that prefixes it).
    static func filesystem(of path: String) -> String {
        guard let text = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return "?" }
        var best = ("", "?")
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count >= 3 else { continue }
            let mount = String(parts[1])
            let prefix = mount == "/" ? "/" : mount + "/"
            if (path == mount || path.hasPrefix(prefix)) && mount.count > best.0.count {
                best = (mount, "\(parts[2]) on \(parts[0])")
            }
        }
        return best.1
    }
}
