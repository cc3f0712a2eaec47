#if canImport(Glibc)
import Glibc
#endif
import CairnPrimitives
@testable import CairnTahoe
import Testing

private func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// Bytes written by Python's cbor2 6.3.0 (the library Tahoe-LAFS 1.20 uses) for the same values.
@Suite struct CBORTests {
    @Test func allocateRequestMatchesCbor2() throws {
        let value = CBOR.map([
            (.text("share-numbers"), .set([.int(0), .int(3), .int(255)])),
            (.text("allocated-size"), .unsigned(1_300_000)),
        ])
        let wire = hex("a26d73686172652d6e756d62657273d9010283000318ff6e616c6c6f63617465642d73697a651a0013d620")
        #expect(value.encoded == wire)
        #expect(try CBOR(decoding: wire) == value)
    }

    @Test func versionAnswerWithByteKeysDecodes() throws {
        let wire = hex("a248687474703a2f2f78a2581c6d6178696d756d2d696d6d757461626c652d73686172652d73697a651b80000000000000004f617661696c61626c652d737061636500536170706c69636174696f6e2d76657273696f6e517461686f652d6c6166732f312e32302e30")
        let v = try CBOR(decoding: wire)
        #expect(v["http://x"]?["maximum-immutable-share-size"]?.unsignedValue == 1 << 63)
        #expect(v["http://x"]?["available-space"]?.unsignedValue == 0)
        #expect(v["application-version"]?.bytesValue == Array("tahoe-lafs/1.20.0".utf8))
        #expect(v.encoded == wire)
    }

    @Test func readTestWriteRequestMatchesCbor2() {
        let value = CBOR.map([
            (.text("test-write-vectors"), .map([(.int(0), .map([
                (.text("test"), .array([.map([(.text("offset"), .unsigned(0)), (.text("size"), .unsigned(1)), (.text("specimen"), .bytes([]))])])),
                (.text("write"), .array([.map([(.text("offset"), .unsigned(0)), (.text("data"), .bytes(Array("hi".utf8)))])])),
                (.text("new-length"), .null),
            ]))])),
            (.text("read-vector"), .array([])),
        ])
        #expect(value.encoded == hex("a272746573742d77726974652d766563746f7273a100a3647465737481a3666f6666736574006473697a65016873706563696d656e4065777269746581a2666f66667365740064646174614268696a6e65772d6c656e677468f66b726561642d766563746f7280"))
    }

    @Test func scalarsMatchCbor2() throws {
        let value = CBOR.array([.int(-1), .int(-1000), .float(1.5), .bool(true), .bool(false), .text("é"), .unsigned(1 << 32), .unsigned(65535)])
        let wire = hex("88203903e7fb3ff8000000000000f5f462c3a91b000000010000000019ffff")
        #expect(value.encoded == wire)
        #expect(try CBOR(decoding: wire) == value)
        #expect(try CBOR(decoding: [0xF9, 0x3E, 0x00]) == .float(1.5), "half precision")
    }

    @Test func malformedInputIsRefusedNotTrapped() {
        let cases: [([UInt8], CBORError)] = [
            ([], .truncated),
            ([0x5A, 0xFF, 0xFF, 0xFF, 0xFF], .truncated),                 // a 4 GiB byte string in 5 bytes
            ([0x9B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], .truncated),  // 2^64-1 array items
            ([0x01, 0x02], .trailingBytes(1)),
            ([0x5F], .malformed("indefinite lengths are not used by Tahoe storage nodes")),
            ([0x62, 0xC3, 0x28], .malformed("text string is not UTF-8")),
            ([0x1C], .malformed("reserved additional information 28")),
        ]
        for (bytes, error) in cases {
            #expect(throws: error) { try CBOR(decoding: bytes) }
        }
        #expect(throws: CBORError.tooDeep) { try CBOR(decoding: [UInt8](repeating: 0x81, count: 100) + [0]) }
    }
}

@Suite struct NURLTests {
    let text = "pb://h8nndyFHs7mWvrl07wkjK3oFnisL3BQkm6pR_hMii2U@127.0.0.1:47301/fwk7rqvzwan22rxl764fy6vzj3ymar44#v=1"

    @Test func parsesAnAnnouncedNURL() throws {
        let n = try NURL(parsing: text)
        #expect(n.host == "127.0.0.1" && n.port == 47301 && n.swissnum == "fwk7rqvzwan22rxl764fy6vzj3ymar44")
        #expect(n.spkiHash.count == 32)
        #expect(n.description == text)
        // curl's pin is standard base64 of the same hash; the swissnum is sent base64-encoded.
        #expect(n.curlPin == "sha256//h8nndyFHs7mWvrl07wkjK3oFnisL3BQkm6pR/hMii2U=")
        #expect(n.authorization == "Tahoe-LAFS ZndrN3Jxdnp3YW4yMnJ4bDc2NGZ5NnZ6ajN5bWFyNDQ=")
        #expect(!n.redacted.contains(n.swissnum))
        #expect(try NURL(parsing: "pb://h8nndyFHs7mWvrl07wkjK3oFnisL3BQkm6pR_hMii2U@[::1]:8/s#v=1").host == "::1")
    }

    @Test func refusesWhatItCannotUse() {
        let spki = "h8nndyFHs7mWvrl07wkjK3oFnisL3BQkm6pR_hMii2U"
        let bad: [(String, String)] = [
            ("https://example.com/x", "pb://"),
            ("pb://kvncmfk3g7jsjyyvoscqawmqi4jhq7nw@tcp:127.0.0.1:47301/fwk7", "fURL"),
            ("pb://\(spki)@abcdefghijklmnop.onion:80/s#v=1", "Tor and I2P"),
            ("pb://\(spki)@tor:abc.onion:80/s#v=1", "Tor and I2P"),
            ("pb://\(spki)@example.i2p:80/s#v=1", "Tor and I2P"),
            ("pb://\(spki)@127.0.0.1:0/s#v=1", "port"),
            ("pb://\(spki)@127.0.0.1:47301/s#v=2", "version"),
            ("pb://AAAA@127.0.0.1:47301/s#v=1", "32 bytes"),
            ("pb://\(spki)@127.0.0.1:47301/#v=1", "swissnum"),
        ]
        // A swissnum never appears in the message, however the text is damaged.
        for t in ["pb://\(spki)@127.0.0.1:47301/SECRETSWISS/#v=1", "pb://\(spki)@127.0.0.1:47301/SECRETSWISS#v=1/x",
                  "pb://\(spki)@127.0.0.1:47301/SECRETSWISS/more/#v=2"] {
            do { _ = try NURL(parsing: t); Issue.record("accepted \(t)") } catch {
                #expect(!error.description.contains("SECRETSWISS"), "\(error)")
            }
        }
        for (t, why) in bad {
            do {
                _ = try NURL(parsing: t)
                Issue.record("accepted \(t)")
            } catch {
                #expect(error.description.contains(why), "\(t): \(error)")
            }
        }
    }

    @Test func base64RoundTrips() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(($0 * 37 + n) & 0xFF) }
            for safe in [false, true] {
                for padded in [false, true] {
                    let text = Base64.encode(bytes, urlSafe: safe, padded: padded)
                    #expect(Base64.decode(text, urlSafe: safe) == bytes)
                }
            }
        }
        #expect(Base64.decode("ab!d") == nil)
        #expect(Base64.decode("abcde") == nil)
    }
}

/// A clock that moves only when someone sleeps on it: the bucket's pacing is checked without timing anything.
final class FakeClock: BucketClock, @unchecked Sendable {
    private var now: UInt64 = 1_000_000_000
    private var slept: UInt64 = 0
    private let lock = NSLockLike()
    func nanoseconds() -> UInt64 { lock.with { now } }
    func sleep(nanoseconds: UInt64) { lock.with { now += nanoseconds; slept += nanoseconds } }
    func advance(_ ns: UInt64) { lock.with { now += ns } }
    var totalSlept: UInt64 { lock.with { slept } }
}

final class NSLockLike: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    func with<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return body()
    }
}

@Suite struct TokenBucketTests {
    @Test func startsEmptyAndPacesAtTheRate() {
        let clock = FakeClock()
        let bucket = TokenBucket(bytesPerSecond: 1_048_576, clock: clock)
        // 6 MiB in upload-sized steps takes 6 s of (fake) time from an empty bucket: no initial burst.
        var sent = 0
        while sent < 6 << 20 { sent += bucket.take(upTo: (6 << 20) - sent) }
        let seconds = Double(clock.totalSlept) / 1e9
        #expect(abs(seconds - 6) < 0.01, "\(seconds) s")
    }

    @Test func holdsAtMostItsCapacityWhenIdle() {
        let clock = FakeClock()
        let bucket = TokenBucket(bytesPerSecond: 1_000_000, capacity: 65_536, clock: clock)
        clock.advance(60_000_000_000)  // a minute idle fills it only to 64 KiB
        bucket.take(65_536)
        #expect(clock.totalSlept == 0)
        bucket.take(1_000_000)  // the next megabyte waits its full second
        #expect(abs(Double(clock.totalSlept) / 1e9 - 1) < 0.001)
    }

    @Test func takersAtTheSameMomentQueueBehindEachOther() {
        let clock = FakeClock()
        let bucket = TokenBucket(bytesPerSecond: 500_000, clock: clock)
        // Four connections each reserve 250 kB at one instant: they are paid for one after another at the
        // shared rate (0.5, 1, 1.5, 2 s), never each at the full rate.
        let waits = (0..<4).map { _ in Double(bucket.reserve(250_000)) / 1e9 }
        for (got, want) in zip(waits, [0.5, 1.0, 1.5, 2.0]) { #expect(abs(got - want) < 0.001, "\(waits)") }
    }
}
