import CairnFiles
import Glibc
import Testing

/// A fresh folder, removed at the end of the test.
final class Scratch {
    let path: String
    init() {
        var template = Array("/tmp/cairn-files-XXXXXX".utf8CString)
        path = String(cString: mkdtemp(&template)!)
    }
    deinit { try? FileSystem.remove(path) }
    func file(_ name: String) -> String { path + "/" + name }
}

@Suite struct FileLayerTests {
    @Test func nonUTF8NamesRoundTrip() throws {
        let dir = Scratch()
        let name: [UInt8] = [0x66, 0xFF, 0x80, 0x2E, 0x74]  // "f", two invalid bytes, ".t"
        let path = FSPath(dir.path).appending(name)
        try FileSystem.writeAtomically(path, [1, 2, 3])
        #expect(try FileSystem.names(in: dir.path) == [name])
        #expect(try FileSystem.readFile(path) == [1, 2, 3])
        #expect(try FileSystem.linkStatus(path).kind == .file)
        let listed = try FileSystem.namesWithStatus(in: FSPath(dir.path))
        #expect(listed.count == 1 && listed[0].name == name)
        #expect(try listed[0].status.get().size == 3)
        try FileSystem.makeSymlink(FSPath(dir.path).appending([0x6C, 0xFE]), target: name)
        #expect(try FileSystem.readLink(FSPath(dir.path).appending([0x6C, 0xFE])) == name)
    }

    @Test func writeAtomicallyReplacesWholeAndLeavesNoTemporary() throws {
        let dir = Scratch()
        let path = dir.file("config")
        try FileSystem.writeAtomically(path, Array("old".utf8), permissions: 0o644)
        try FileSystem.writeAtomically(path, Array("new contents".utf8), permissions: 0o600)
        #expect(try FileSystem.readFile(path) == Array("new contents".utf8))
        #expect(try FileSystem.list(dir.path) == ["config"])
        #expect(try FileSystem.linkStatus(path).mode & 0o777 == 0o600)
    }

    @Test func anUncommittedAtomicFileLeavesNothing() throws {
        let dir = Scratch()
        do {
            let f = try AtomicFile(replacing: dir.file("x"))
            try f.file.write([1, 2, 3])
            #expect(try FileSystem.list(dir.path)?.count == 1)
        }
        #expect(try FileSystem.list(dir.path) == [])
    }

    @Test func errorsNameTheOperationPathAndErrno() throws {
        let dir = Scratch()
        let missing = dir.file("no/such/file")
        let error = #expect(throws: FileSystemError.self) { try FileSystem.writeAtomically(missing, [1]) }
        #expect(error?.isNotFound == true && error?.operation == "open" && error?.path.hasPrefix(missing) == true)
        #expect(error?.description.hasSuffix("open: No such file or directory (errno 2)") == true)
        #expect(try FileSystem.status(missing) == nil)
        #expect(try FileSystem.list(missing) == nil)
        #expect(try FileDescriptor.openIfExists(missing, flags: O_RDONLY) == nil)
        #expect(throws: FileSystemError.self) { try FileSystem.names(in: missing) }
        #expect(throws: FileSystemError.self) { try FileSystem.readFile(dir.path) }  // EISDIR
        #expect(try FileSystem.makeDirectory(dir.file("d")) && !(try FileSystem.makeDirectory(dir.file("d"))))
        try FileSystem.makeDirectories(dir.file("a/b/c"), mode: 0o700)
        #expect(try FileSystem.status(dir.file("a/b/c"))?.isDirectory == true)
    }

    @Test func descriptorReadsAndWrites() throws {
        let dir = Scratch()
        let fd = try FileDescriptor.open(dir.file("f"), flags: O_RDWR | O_CREAT)
        try fd.write(Array("hello ".utf8))
        let a = Array("wor".utf8), b = Array("ld".utf8)
        try a.withUnsafeBytes { pa in try b.withUnsafeBytes { pb in try fd.write(gathering: [pa, pb], at: 6) } }
        #expect(try fd.read(count: 100, at: 0) == Array("hello world".utf8))
        #expect(try fd.size == 11)
        try fd.truncate(to: 5)
        try fd.sync()
        #expect(try FileSystem.readFile(dir.file("f")) == Array("hello".utf8))
        try fd.close()
        try fd.close()  // only the first call closes
    }

    @Test func flockExcludesOtherDescriptors() throws {
        let dir = Scratch()
        let a = try FileDescriptor.open(dir.file("lock"), flags: O_RDWR | O_CREAT)
        let b = try FileDescriptor.open(dir.file("lock"), flags: O_RDWR)
        #expect(try a.tryLockExclusive())
        #expect(try !b.tryLockExclusive())
    }

    @Test func temporariesOfDeadProcessesAreRemoved() throws {
        let dir = Scratch()
        #expect(FileSystem.temporaryOwner(Array("a.txt.cairn-tmp-123".utf8)) == 123)
        #expect(FileSystem.temporaryOwner(Array("a.txt.cairn-tmp-".utf8)) == nil)
        #expect(FileSystem.temporaryOwner(Array(".cairn-tmp-5".utf8)) == nil)
        #expect(FileSystem.temporaryOwner(Array("a.cairn-tmp-12x".utf8)) == nil)
        let dead = dir.file("a.cairn-tmp-999999999"), live = dir.file("b.cairn-tmp-\(getpid())")
        try FileSystem.writeAtomically(dead, [1])
        try FileSystem.writeAtomically(live, [1])
        FileSystem.removeStaleTemporaries(in: dir.path)
        #expect(!FileSystem.exists(dead) && FileSystem.exists(live))
    }

    @Test func timesAndPermissions() throws {
        let dir = Scratch()
        let f = try AtomicFile(replacing: dir.file("t"))
        try f.file.write([1])
        try f.file.setPermissions(0o640)
        try f.file.setTimes(modified: (1_500_000_000, 123))
        try f.commit(.none)
        let st = try FileSystem.linkStatus(dir.file("t"))
        #expect(st.mode & 0o7777 == 0o640 && st.mtimeSeconds == 1_500_000_000 && st.mtimeNanoseconds == 123)
        try FileSystem.setTimes(dir.path, modified: (1_400_000_000, 0), followSymlink: false)
        #expect(try FileSystem.linkStatus(dir.path).mtimeSeconds == 1_400_000_000)
    }
}
