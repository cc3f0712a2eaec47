import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// stderr messages and progress. Progress is drawn only when stderr is a terminal.
enum Terminal {
    static let stderrIsTTY = isatty(2) == 1

    static func error(_ message: String) { writeErr("cairn: \(message)\n") }
    static func warning(_ message: String) { writeErr("cairn: warning: \(message)\n") }

    static func writeErr(_ text: String) { write(text, to: 2) }
    static func writeOut(_ text: String) { write(text, to: 1) }

    private static func write(_ text: String, to fd: Int32) {
        var t = text
        t.withUTF8 { buf in
            var done = 0
            while done < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                if n <= 0 { return }
                done += n
            }
        }
    }

    static func progress(_ line: String) {
        guard stderrIsTTY else { return }
        writeErr("\r\u{1B}[K" + line)
    }

    static func endProgress() {
        guard stderrIsTTY else { return }
        writeErr("\r\u{1B}[K")
    }
}

func formatBytes(_ n: UInt64) -> String {
    if n < 1024 { return "\(n) B" }
    let units = ["KiB", "MiB", "GiB", "TiB"]
    var v = Double(n) / 1024
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return "\((v * 10).rounded() / 10) \(units[u])"
}

