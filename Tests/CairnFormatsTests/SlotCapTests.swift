import CairnPrimitives
import Testing
@testable import CairnFormats

@Suite struct SlotCapTests {
    let write = SlotWriteCap(seed: Array(0..<32))

    @Test func roundTripsAndAttenuates() throws {
        #expect(write.string.hasPrefix("cairn:slot:") && write.string.count == "cairn:slot:".count + 52)
        #expect(try Cap(parsing: write.string) == .slotWrite(write))
        let read = write.readCap
        #expect(read.readKey == TaggedHash.hash(Tags.slotReadKey, write.seed))
        #expect(read.fingerprint == TaggedHash.hash(Tags.slotFingerprint, SigningKey(seed: write.seed).publicKey))
        #expect(read.readKey != write.seed && read.fingerprint != read.readKey)
        #expect(try Cap(parsing: read.string) == .slotRead(read))
        let verify = read.verifyCap
        #expect(verify.storageIndex.count == 16)
        #expect(verify.storageIndex == Array(TaggedHash.hash(Tags.slotStorageIndex, read.readKey, outputSize: 16)))
        #expect(verify == write.verifyCap && verify.fingerprint == read.fingerprint)
        #expect(try Cap(parsing: verify.string) == .slotVerify(verify))
        // Attenuation is pure: the same inputs give the same caps, and another seed gives other ones.
        #expect(SlotWriteCap(seed: Array(0..<32)).readCap == read)
        #expect(SlotWriteCap(seed: Array(1..<33)).readCap != read)
        // Through the Cap enum.
        let cap = Cap.slotWrite(write)
        #expect(cap.isSlot && cap.slotReadCap == read && cap.slotVerifyCap == verify && cap.verifyCap == nil && cap.size == 0)
        #expect(Cap.slotRead(read).slotReadCap == read && Cap.slotVerify(verify).slotReadCap == nil)
        #expect(!Cap.literal([1]).isSlot && Cap.literal([1]).slotVerifyCap == nil)
    }

    @Test func storageIndexAndEnablersAreDistinctPerPurpose() {
        let secret = write.writeSecret
        #expect(secret != write.readCap.readKey)
        let a = SlotKeys.writeEnabler(writeSecret: secret, serverID: [UInt8](repeating: 1, count: 32))
        let b = SlotKeys.writeEnabler(writeSecret: secret, serverID: [UInt8](repeating: 2, count: 32))
        #expect(a != b && a.count == 32)
        // The slot storage index never equals the immutable one derived from the same bytes.
        #expect(write.storageIndex != ImmutableKeys.storageIndex(forKey: write.readCap.readKey))
    }

    @Test func rejectsMalformedSlotCaps() {
        let w = write.string, r = write.readCap.string, v = write.verifyCap.string
        let rf = r.split(separator: ":").map(String.init), vf = v.split(separator: ":").map(String.init)
        let bad: [(String, String)] = [
            (String(w.dropLast()), "52 base32"),
            (w + "a", "52 base32"),
            (w + ":x", "write cap is 'cairn:slot:<seed>'"),
            ("cairn:slot:", "52 base32"),
            (w.uppercased(), "lowercase"),
            ("cairn:SLOT:" + w.dropFirst(11), "lowercase"),
            (String(w.dropLast()) + "9", "not lowercase unpadded base32"),
            (String(w.dropLast()) + "b", "not lowercase unpadded base32"),  // non-zero trailing bits
            ([rf[0], rf[1], rf[2]].joined(separator: ":"), "read cap is 'cairn:slot-ro:<read-key>:<fingerprint>'"),
            ([rf[0], rf[1], rf[2], String(rf[3].dropLast())].joined(separator: ":"), "fingerprint must be 52"),
            ([rf[0], rf[1], String(rf[2].dropLast(2)), rf[3]].joined(separator: ":"), "read key must be 52"),
            (r + ":3", "read cap is"),
            ([vf[0], vf[1], vf[2] + "a", vf[3]].joined(separator: ":"), "storage index must be 26"),
            ([vf[0], vf[1], vf[3], vf[3]].joined(separator: ":"), "storage index must be 26"),
            ([vf[0], vf[1], vf[2]].joined(separator: ":"), "verify cap is 'cairn:slot-v:"),
            ("cairn:slot-rw:" + w.dropFirst(11), "unknown kind 'slot-rw'"),
        ]
        for (text, why) in bad {
            do {
                _ = try Cap(parsing: text)
                Issue.record("accepted \(text)")
            } catch let e as CapError {
                #expect(e.description.contains(why), "\(text): \(e)")
                #expect(e.description.hasPrefix("malformed cap: "))
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }
}

@Suite struct SlotHeaderTests {
    let cap = SlotWriteCap(seed: [UInt8](repeating: 9, count: 32))

    func signed(seqnum: UInt64 = 7) -> SlotHeader {
        let key = cap.signingKey
        var h = SlotHeader(seqnum: seqnum, root: [UInt8](repeating: 0xab, count: 32), nonce: Array(0..<24), k: 3, n: 10,
                           payloadLength: 1000, shareNumber: 4, publicKey: key.publicKey, signature: [])
        h.signature = key.sign(h.signedMessage(storageIndex: cap.storageIndex))
        return h
    }

    @Test func fixedOffsetsAndRoundTrip() throws {
        let h = signed()
        let bytes = h.bytes
        #expect(bytes.count == SlotHeader.size)
        #expect(Array(bytes[0..<6]) == Array("CRNSLT".utf8))
        #expect(Array(bytes[8..<16]) == [0, 0, 0, 0, 0, 0, 0, 7])
        #expect(Array(bytes[16..<48]) == h.root)
        #expect(Array(bytes[0..<48]) == h.checkstring)
        #expect(Array(bytes[92..<124]) == h.publicKey && Array(bytes[124..<188]) == h.signature)
        let parsed = try SlotHeader(parsing: bytes)
        #expect(parsed == h && parsed.blockLength == 334 && parsed.chainCount == 4)
        try parsed.verify(storageIndex: cap.storageIndex, fingerprint: cap.readCap.fingerprint)
    }

    @Test func everySignedByteIsCovered() throws {
        let h = signed()
        let good = h.bytes
        // Flip each byte of the signed fields, the key and the signature: parsing or verifying must fail.
        for i in Array(0..<88) + Array(92..<188) {
            var bytes = good
            bytes[i] ^= 0x01
            do {
                let p = try SlotHeader(parsing: bytes)
                try p.verify(storageIndex: cap.storageIndex, fingerprint: cap.readCap.fingerprint)
                Issue.record("byte \(i) flipped and the header still verifies")
            } catch {}
        }
        // Another slot's storage index or another key's fingerprint fails too.
        #expect(throws: FormatError.self) { try h.verify(storageIndex: [UInt8](repeating: 0, count: 16), fingerprint: cap.readCap.fingerprint) }
        #expect(throws: FormatError.self) {
            try h.verify(storageIndex: cap.storageIndex, fingerprint: SlotWriteCap(seed: [UInt8](repeating: 1, count: 32)).readCap.fingerprint)
        }
    }

    @Test func shareChainPinsTheBlock() throws {
        let blocks = (0..<10).map { i in [UInt8](repeating: UInt8(i), count: 5) }
        let tree = HashTree(leaves: blocks.map(SlotShareBody.blockHash))
        var h = signed()
        h.root = tree.root
        h.payloadLength = 15
        h.shareNumber = 6
        let body = SlotShareBody.encode(chain: tree.chain(forLeaf: 6), block: blocks[6])
        #expect(try SlotShareBody.verifiedBlock(body, header: h) == blocks[6])
        var damaged = body
        damaged[damaged.count - 1] ^= 1
        #expect(throws: FormatError.self) { try SlotShareBody.verifiedBlock(damaged, header: h) }
        h.shareNumber = 5
        #expect(throws: FormatError.self) { try SlotShareBody.verifiedBlock(body, header: h) }
    }
}
