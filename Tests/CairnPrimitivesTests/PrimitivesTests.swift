import Testing
@testable import CairnPrimitives

@Suite struct Base32Tests {
    @Test func knownAnswers() {
        // RFC 4648 §10 vectors, lowercased and without padding.
        let cases: [(String, String)] = [("", ""), ("f", "my"), ("fo", "mzxq"), ("foo", "mzxw6"),
                                         ("foob", "mzxw6yq"), ("fooba", "mzxw6ytb"), ("foobar", "mzxw6ytboi")]
        for (plain, encoded) in cases {
            #expect(Base32.encode(Array(plain.utf8)) == encoded)
            #expect(Base32.decode(encoded) == Array(plain.utf8))
        }
    }

    @Test func strictDecoding() {
        #expect(Base32.decode("MZXW6") == nil)       // upper case
        #expect(Base32.decode("mzxw6===") == nil)    // padding
        #expect(Base32.decode("mzx") == nil)         // impossible length
        #expect(Base32.decode("mz") == nil)          // non-zero trailing bits ("my" is canonical)
        #expect(Base32.decode("m1") == nil)          // outside the alphabet
    }

    @Test func roundTripsRandomBytes() {
        for n in 0..<80 {
            let b = SecureRandom.bytes(n)
            #expect(Base32.decode(Base32.encode(b)) == b)
        }
    }
}

@Suite struct HashTests {
    @Test func tagsSeparateDomains() {
        let a = TaggedHash.hash(HashTag("cairn-test-a"), [1, 2, 3])
        let b = TaggedHash.hash(HashTag("cairn-test-b"), [1, 2, 3])
        #expect(a.count == 32)
        #expect(a != b)
        #expect(a == TaggedHash.hash(HashTag("cairn-test-a"), [1, 2, 3]))
        #expect(TaggedHash.hash(HashTag("cairn-test-a"), [1, 2, 3], key: [9]) != a)
        #expect(TaggedHash.hash(HashTag("x"), [], outputSize: 16).count == 16)
    }
}

@Suite struct CipherTests {
    @Test func seekingMatchesOneStream() {
        let key = SecureRandom.bytes(32)
        let plain = SecureRandom.bytes(1000)
        var whole = plain
        StreamCipher(key: key).apply(&whole, atOffset: 0)
        #expect(whole != plain)
        for start in [0, 1, 63, 64, 65, 130, 999] {
            var piece = Array(plain[start...])
            StreamCipher(key: key).apply(&piece, atOffset: UInt64(start))
            #expect(piece == Array(whole[start...]), "offset \(start)")
        }
        var back = whole
        StreamCipher(key: key).apply(&back, atOffset: 0)
        #expect(back == plain)
    }
}

@Suite struct SigningTests {
    @Test func signsAndVerifies() {
        let key = SigningKey.generate()
        let sig = key.sign([1, 2, 3])
        #expect(SignatureVerifier.isValid(sig, of: [1, 2, 3], by: key.publicKey))
        #expect(!SignatureVerifier.isValid(sig, of: [1, 2, 4], by: key.publicKey))
        #expect(SigningKey(seed: key.seed).publicKey == key.publicKey)
    }
}

@Suite struct ZlibTests {
    @Test func roundTripAndProbe() throws {
        let text = Array(String(repeating: "the quick brown fox ", count: 1000).utf8)
        let c = Zlib.compress(text)
        #expect(c.count < text.count / 10)
        #expect(try Zlib.decompress(c, expectedSize: text.count) == text)
        #expect(Zlib.worthCompressing(text))
        #expect(!Zlib.worthCompressing(SecureRandom.bytes(100_000)))
        #expect(throws: CompressionError.self) { try Zlib.decompress([1, 2, 3], expectedSize: 10) }
        #expect(try Zlib.decompress(Zlib.compress([]), expectedSize: 0) == [])
    }

    @Test func crcKnownAnswer() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}

@Suite struct IgzipInteropTests {
    /// ISA-L's igzip and zlib write and read the same zlib format.
    @Test func igzipAndZlibReadEachOther() throws {
        let text = Array(String(repeating: "segment share tree snapshot cairn ", count: 20_000).utf8)
        for input in [text, SecureRandom.bytes(300_000), [], [7]] {
            let fast = try #require(Igzip.compressZlib(input))
            #expect(try Zlib.zlibInflate(fast, expectedSize: input.count) == input)
            let slow = Zlib.zlibCompress(input, level: 6)
            #expect(Igzip.inflateZlib(slow, expectedSize: input.count) == input)
            #expect(try Zlib.decompress(Zlib.compress(input, level: 1), expectedSize: input.count) == input)
        }
        let z = Zlib.compress(text, level: 1)
        #expect(z.count < text.count / 20)
        #expect(Igzip.inflateZlib(z, expectedSize: text.count - 1) == nil)  // wrong size
        var damaged = z
        damaged[damaged.count / 2] ^= 0x55
        #expect(Igzip.inflateZlib(damaged, expectedSize: text.count) == nil)
        #expect(throws: CompressionError.self) { try Zlib.decompress(damaged, expectedSize: text.count) }
    }
}
