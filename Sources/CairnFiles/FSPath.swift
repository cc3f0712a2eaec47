/// Anything the file layer takes as a path: a `String` (UTF-8) or an `FSPath` (raw bytes).
public protocol FileSystemPath: CustomStringConvertible, Sendable {
    /// Calls `body` with the path as a NUL-terminated C string.
    func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R
    /// The path as raw bytes.
    var fsPath: FSPath { get }
}

extension String: FileSystemPath {
    public var fsPath: FSPath { FSPath(self) }
}

/// A path as raw bytes: file names need not be valid UTF-8, and must survive a round trip exactly.
public struct FSPath: Hashable, Sendable, FileSystemPath {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    /// A path given as text: UTF-8, except bytes escaped by `RawArgument` (a command-line argument that
    /// was not UTF-8), which are the bytes themselves.
    public init(_ string: String) { bytes = RawArgument.bytes(string) }

    public func appending(_ name: [UInt8]) -> FSPath {
        FSPath(bytes.last == 0x2F ? bytes + name : bytes + [0x2F] + name)
    }

    /// For messages: invalid UTF-8 is shown as U+FFFD.
    public var description: String { String(decoding: bytes, as: UTF8.self) }
    public var fsPath: FSPath { self }

    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var z = bytes
        z.append(0)
        return try z.withUnsafeBytes { try body($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    }

    /// The folder holding this path ("." for a bare name, "/" at the root).
    public var parent: FSPath {
        guard let i = bytes.lastIndex(of: 0x2F) else { return FSPath(".") }
        return i == 0 ? FSPath("/") : FSPath(Array(bytes[..<i]))
    }

    /// The last component.
    public var name: [UInt8] {
        guard let i = bytes.lastIndex(of: 0x2F) else { return bytes }
        return Array(bytes[(i + 1)...])
    }
}
