import CairnPrimitives

/// A Tahoe-LAFS storage node's HTTP address ("NURL"): `pb://SPKI@HOST:PORT/SWISSNUM#v=1`, where SPKI is
/// the unpadded URL-safe base64 of the SHA-256 of the node's certificate's public key (the pin: the
/// certificate is self-signed) and SWISSNUM the secret that authorizes every request.
public struct NURL: Sendable, Hashable, CustomStringConvertible {
    /// The 32-byte SHA-256 of the certificate's SubjectPublicKeyInfo.
    public let spkiHash: [UInt8]
    public let host: String
    public let port: Int
    public let swissnum: String

    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "pb://\(Base64.encode(spkiHash, urlSafe: true, padded: false))@\(h):\(port)/\(swissnum)#v=1"
    }

    /// The same NURL without its swissnum, for messages and listings (the swissnum is a password).
    public var redacted: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "pb://\(Base64.encode(spkiHash, urlSafe: true, padded: false))@\(h):\(port)/…"
    }

    /// The pin as curl takes it (`sha256//` and standard base64).
    public var curlPin: String { "sha256//" + Base64.encode(spkiHash) }

    /// The `Authorization` header's value.
    public var authorization: String { "Tahoe-LAFS " + Base64.encode(Array(swissnum.utf8)) }

    public var baseURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "https://\(h):\(port)"
    }

    public init(parsing text: String) throws(TahoeError) {
        func bad(_ why: String) -> TahoeError { .badNURL(text: NURL.redact(text), reason: why) }
        guard text.hasPrefix("pb://") else {
            throw bad("a storage node's NURL starts with pb:// (copy it from the node's announcement)")
        }
        var rest = Substring(text.dropFirst(5))
        guard let hash = rest.firstIndex(of: "#") else {
            throw bad("no '#v=1' at the end: this looks like a Foolscap fURL, and Cairn speaks only the HTTP storage protocol")
        }
        let fragment = rest[rest.index(after: hash)...]
        guard fragment == "v=1" else { throw bad("protocol version '\(fragment)' is not the HTTP storage protocol v=1") }
        rest = rest[..<hash]
        guard let at = rest.firstIndex(of: "@") else { throw bad("no '@' between the certificate hash and the address") }
        let spkiText = rest[..<at]
        guard let spki = Base64.decode(spkiText, urlSafe: true), spki.count == 32 else {
            throw bad("the certificate hash before '@' is not 32 bytes of URL-safe base64")
        }
        rest = rest[rest.index(after: at)...]
        guard let slash = rest.firstIndex(of: "/") else { throw bad("no '/' before the swissnum") }
        let location = rest[..<slash]
        let swiss = rest[rest.index(after: slash)...]
        guard !swiss.isEmpty, !swiss.contains("/"),
              swiss.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "%") }) else {
            throw bad("the swissnum after the address must be one path segment of printable ASCII")
        }
        let lower = location.lowercased()
        if lower.hasPrefix("tor:") || lower.hasPrefix("i2p:") || lower.contains(".onion") || lower.contains(".i2p") {
            throw bad("Tor and I2P storage nodes are not supported: Cairn connects over plain TCP only")
        }
        let hostPart: Substring, portPart: Substring
        if location.hasPrefix("[") {
            guard let close = location.firstIndex(of: "]"), location[location.index(after: close)...].hasPrefix(":") else {
                throw bad("an IPv6 address is written [ADDRESS]:PORT")
            }
            hostPart = location[location.index(after: location.startIndex)..<close]
            portPart = location[location.index(close, offsetBy: 2)...]
        } else {
            guard let colon = location.lastIndex(of: ":"), !location[..<colon].contains(":") else {
                throw bad("the address must be HOST:PORT (a 'tcp:' location hint is for Foolscap, not for NURLs)")
            }
            hostPart = location[..<colon]
            portPart = location[location.index(after: colon)...]
        }
        guard !hostPart.isEmpty, hostPart.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
            throw bad("the host name is empty or not printable ASCII")
        }
        guard let port = Int(portPart), (1...65535).contains(port) else { throw bad("the port '\(portPart)' is not 1–65535") }
        spkiHash = spki
        host = String(hostPart)
        self.port = port
        swissnum = String(swiss)
    }

    /// `text` with whatever follows the last '/' before '#' hidden, for messages about text that did not parse.
    static func redact(_ text: String) -> String {
        // Everything from the first '/' after the '@' (or after the scheme) to the '#' may be swissnum.
        let body = text.hasPrefix("pb://") ? text.dropFirst(5) : Substring(text)
        let afterAt = body.firstIndex(of: "@").map { body.index(after: $0) } ?? body.startIndex
        guard let slash = body[afterAt...].firstIndex(of: "/") else { return text }
        let end = body[slash...].firstIndex(of: "#") ?? body.endIndex
        return String(text[..<slash]) + "/…" + String(body[end...])
    }
}

/// A Tahoe node's announced key (`v0-` and the base32 of its 32-byte Ed25519 public key): the server's
/// stable id in a grid configuration. Unlike the certificate pin it survives a renewed certificate, and
/// write enablers and lease secrets are derived from it.
public enum TahoeNodeKey {
    public static func bytes(_ text: String) -> [UInt8]? {
        var t = Substring(text)
        if t.hasPrefix("pub-") { t = t.dropFirst(4) }
        guard t.hasPrefix("v0-"), let b = Base32.decode(t.dropFirst(3)), b.count == 32 else { return nil }
        return b
    }
}
