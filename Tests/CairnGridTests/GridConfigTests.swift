import CairnFormats
import CairnGrid
import CairnStorage
import Testing

@Suite struct GridConfigTests {
    let nurl = "pb://h8nndyFHs7mWvrl07wkjK3oFnisL3BQkm6pR_hMii2U@127.0.0.1:47301/fwk7rqvzwan22rxl764fy6vzj3ymar44#v=1"

    @Test func formatTwoRoundTrips() throws {
        let params = try EncodingParameters(k: 3, n: 5, happy: 4)
        let config = GridConfig(parameters: params, servers: [
            .init(id: ServerID([UInt8](repeating: 1, count: 32)), location: .local("servers/00")),
            .init(id: ServerID([UInt8](repeating: 2, count: 32)), location: .tahoe(nurl), nickname: "mom", near: true, primaries: true),
            .init(id: ServerID([UInt8](repeating: 3, count: 32)), location: .local("/mnt/usb disk/cairn"), nickname: "usb"),
        ], limitUpload: 6 * 1024 * 1024, limitDownload: 500 * 1024)
        let text = config.text
        #expect(text.contains("format = 2"))
        #expect(text.contains("limit-upload = 6M") && text.contains("limit-download = 500K"))
        #expect(config.isPrivate, "a NURL holds a swissnum")
        let parsed = try GridConfig(parsing: text, path: "t")
        #expect(parsed == config)
    }

    @Test func plainLocalGridsStayFormatOne() throws {
        let params = try EncodingParameters(k: 3, n: 10, happy: 7)
        let config = GridConfig(parameters: params, servers: (0..<3).map {
            .init(id: ServerID([UInt8](repeating: UInt8($0), count: 32)), location: .local("servers/0\($0)"))
        })
        #expect(config.text.contains("format = 1"))
        #expect(!config.isPrivate)
        #expect(try GridConfig(parsing: config.text, path: "t") == config)
    }

    @Test func badServerLinesAreRefused() {
        let head = "format = 2\nencoding = 3-of-5\nhappy = 4\nsegment-size = 1048576\n"
        let id = String(repeating: "ab", count: 32)
        let bad = [
            "server = \(id) ftp pb://x",
            "server = \(id) tahoe pb://not-a-nurl",
            "server = \(id) tahoe pb://kvncmfk3g7jsjyyvoscqawmqi4jhq7nw@tcp:127.0.0.1:47301/fwk7",
            "server = \(id) local ../outside",
            "server = \(id) local",
            "server = 1234 local servers/00",
        ]
        for line in bad {
            #expect(throws: GridError.self, "\(line)") { try GridConfig(parsing: head + line + "\n", path: "t") }
        }
        #expect(throws: GridError.self) { try GridConfig(parsing: head + "limit-upload = fast\n", path: "t") }
    }

    @Test func nicknamesAreOneWordOfPrintableASCII() {
        #expect(GridConfig.validNickname("mom-laptop_2"))
        for bad in ["", "two words", "\u{301}x", "caf\u{e9}", String(repeating: "x", count: 65), "tab\tname"] {
            #expect(!GridConfig.validNickname(bad), "\(bad)")
        }
    }

    @Test func ratesParseAsPeopleWriteThem() throws {
        #expect(try BandwidthRate.parse("6M") == 6 * 1_048_576)
        #expect(try BandwidthRate.parse("500K") == 512_000)
        #expect(try BandwidthRate.parse("1.5m") == 1.5 * 1_048_576)
        #expect(try BandwidthRate.parse("4096") == 4096)
        for bad in ["", "M", "-1M", "0", "fast", "nanM", "1e28", "9e9G"] {
            #expect(throws: GridError.self, "\(bad)") { try BandwidthRate.parse(bad) }
        }
    }
}
