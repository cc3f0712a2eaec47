import CairnPrimitives

/// One stored version of a file's bytes (a storage record, not part of history: trees name content
/// hashes, and the index maps each to a version): the full content, or a VCDIFF delta on an earlier
/// version. Small payloads sit inside the object (and so inside a pack); large ones in a cap of their own.
public struct FileVersion: Sendable, Equatable {
    public enum Encoding: UInt8, Sendable { case raw = 0, zlib = 1 }

    public enum Storage: Sendable, Equatable {
        /// The stored payload itself.
        case inline([UInt8])
        /// A read cap string of the stored payload.
        case cap(String)
        /// A big file: its chunks in order, each a content of its own in the index (stored once however
        /// many files and versions share it). Such a version has no payload, base or encoding of its own.
        case chunks([Chunk])
    }

    /// One chunk of a big file: its content hash and size.
    public struct Chunk: Sendable, Equatable {
        public var hash: [UInt8]
        public var size: UInt32
        public init(hash: [UInt8], size: UInt32) { self.hash = hash; self.size = size }
    }

    public var chunks: [Chunk]? { if case .chunks(let c) = storage { c } else { nil } }

    /// Content hash of the full file this version produces.
    public var contentHash: [UInt8]
    public var size: UInt64
    /// nil for a keyframe (full content); otherwise the version this delta applies to.
    public var base: ObjectID?
    /// 0 for a keyframe; base's depth + 1 for a delta.
    public var depth: UInt16
    /// Stored bytes of the deltas since the last keyframe, this one included (the chain policy's input).
    public var chainBytes: UInt64
    /// Stored size of the keyframe the chain rests on (this version's own for a keyframe).
    public var keyframeSize: UInt64
    /// The content's leaf hashes (ContentHash) when it has more than one leaf; empty otherwise (the one
    /// leaf is the whole content).
    public var leafHashes: [Digest]
    public var encoding: Encoding
    /// Size of the stored payload (compressed if `encoding` is zlib).
    public var storedSize: UInt64
    /// Size of the payload once decompressed (the content, or the delta).
    public var payloadSize: UInt64
    public var storage: Storage

    public init(contentHash: [UInt8], size: UInt64, base: ObjectID?, depth: UInt16, chainBytes: UInt64, keyframeSize: UInt64,
                leafHashes: [Digest], encoding: Encoding, storedSize: UInt64, payloadSize: UInt64, storage: Storage) {
        self.contentHash = contentHash; self.size = size; self.base = base; self.depth = depth
        self.chainBytes = chainBytes; self.keyframeSize = keyframeSize; self.leafHashes = leafHashes
        self.encoding = encoding; self.storedSize = storedSize
        self.payloadSize = payloadSize; self.storage = storage
    }

    public var isDelta: Bool { base != nil }

    public var encoded: [UInt8] {
        var w = ObjectCoding.header(.fileVersion)
        w.raw(contentHash)
        w.u64(size)
        if let base { w.u8(1); w.raw(base.bytes) } else { w.u8(0) }
        w.u16(depth)
        w.u64(chainBytes)
        w.u64(keyframeSize)
        w.u32(UInt32(leafHashes.count))
        for h in leafHashes { w.raw(h) }
        w.u8(encoding.rawValue)
        w.u64(storedSize)
        w.u64(payloadSize)
        switch storage {
        case .inline(let bytes): w.u8(1); w.bytes32(bytes)
        case .cap(let cap): w.u8(2); w.bytes16(Array(cap.utf8))
        case .chunks(let chunks):
            w.u8(3)
            w.u32(UInt32(chunks.count))
            for c in chunks { w.raw(c.hash); w.u32(c.size) }
        }
        return w.bytes
    }

    public var id: ObjectID { ObjectCoding.id(of: encoded) }

    public init(decoding bytes: [UInt8]) throws {
        do {
            var r = try ObjectCoding.reader(bytes, expecting: .fileVersion)
            contentHash = try r.raw(32)
            size = try r.u64()
            switch try r.u8() {
            case 0: base = nil
            case 1: base = try r.id()
            default: throw ObjectError.malformed("bad delta flag")
            }
            depth = try r.u16()
            chainBytes = try r.u64()
            keyframeSize = try r.u64()
            let leaves = Int(try r.u32())
            guard leaves <= r.remaining / 32 else { throw ObjectError.malformed("too many leaf hashes") }
            leafHashes = try (0..<leaves).map { _ in try r.raw(32) }
            guard leaves == 0 ? size <= UInt64(ContentHash.leafSize) : leaves == ContentHash.leafCount(size: size) else {
                throw ObjectError.malformed("wrong number of leaf hashes")
            }
            guard let e = Encoding(rawValue: try r.u8()) else { throw ObjectError.malformed("unknown encoding") }
            encoding = e
            storedSize = try r.u64()
            payloadSize = try r.u64()
            switch try r.u8() {
            case 1: storage = .inline(try r.bytes32())
            case 2: storage = .cap(String(decoding: try r.bytes16(), as: UTF8.self))
            case 3:
                let count = Int(try r.u32())
                guard count <= r.remaining / 36 else { throw ObjectError.malformed("too many chunks") }
                var chunks: [Chunk] = []
                chunks.reserveCapacity(count)
                var total: UInt64 = 0
                for _ in 0..<count {
                    let c = Chunk(hash: try r.raw(32), size: try r.u32())
                    guard c.size > 0, c.size <= UInt32(Chunker.maxSize) else { throw ObjectError.malformed("a chunk of impossible size") }
                    total += UInt64(c.size)
                    chunks.append(c)
                }
                guard total == size, !leafHashes.isEmpty, base == nil, encoding == .raw, storedSize == 0, payloadSize == 0, chainBytes == 0 else {
                    throw ObjectError.malformed("a chunk list that does not add up to its file")
                }
                storage = .chunks(chunks)
            default: throw ObjectError.malformed("unknown storage kind")
            }
            try r.expectEnd()
            if case .inline(let b) = storage, UInt64(b.count) != storedSize { throw ObjectError.malformed("inline size mismatch") }
            guard (base == nil) == (depth == 0) else { throw ObjectError.malformed("depth and base disagree") }
        } catch let e as ByteReaderError {
            throw ObjectError.malformed("file version: \(e.description)")
        }
    }
}
