import Foundation
import Glibc
import Testing

@testable import ModelIO

/// `writeFileAtomically`: what it does to an existing file and to temporary files left behind.
@Suite struct AtomicFileWriterTests {
    func write(_ bytes: [UInt8], to path: String) throws {
        try writeFileAtomically(path) { append in try bytes.withUnsafeBytes { try append($0) } }
    }

    func mode(_ path: String) -> mode_t {
        var info = stat()
        _ = stat(path, &info)
        return info.st_mode & 0o7777
    }

    /// A PID that no process has: one of a child that has exited and been reaped.
    func deadPID() throws -> pid_t {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        return child.processIdentifier
    }

    @Test func replacingAFileKeepsItsPermissions() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out.bin")
        try write([1, 2, 3], to: path)
        #expect(chmod(path, 0o640) == 0)
        try write([4, 5], to: path)
        #expect(try readBytes(path) == [4, 5])
        #expect(mode(path) == 0o640)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.bin"])
    }

    @Test func temporaryFilesOfDeadProcessesAreRemovedAndOthersKept() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("model.gguf")
        let stale = TemporaryFiles.name(for: path, pid: try deadPID(), random: 7)
        let live = TemporaryFiles.name(for: path, pid: getppid(), random: 8)  // a running process
        let other = dir.file("other.gguf.tmp-1-2")  // another file's
        let lookalike = path + ".tmp-notapid-3"
        for file in [stale, live, other, lookalike] { try writeBytes([0xAA], to: file) }
        try write([1], to: path)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path).map { dir.file($0) })
        #expect(left == [path, live, other, lookalike])
    }

    @Test func temporaryNamesAreRecognisedExactly() {
        let prefix = "m.gguf.tmp-"
        #expect(TemporaryFiles.stalePID("m.gguf.tmp-123-456", prefix: prefix) == 123)
        #expect(TemporaryFiles.stalePID("m.gguf.tmp-123-456-7", prefix: prefix) == nil)
        #expect(TemporaryFiles.stalePID("m.gguf.tmp-123", prefix: prefix) == nil)
        #expect(TemporaryFiles.stalePID("m.gguf.tmp--456", prefix: prefix) == nil)
        #expect(TemporaryFiles.stalePID("m.gguf.tmp-0-456", prefix: prefix) == nil)
        #expect(TemporaryFiles.stalePID("m.gguf.tmp-１２-456", prefix: prefix) == nil)
        #expect(TemporaryFiles.stalePID("xm.gguf.tmp-123-456", prefix: prefix) == nil)
    }

    @Test func aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out.bin")
        try write([1, 2, 3], to: path)
        struct Failure: Error {}
        #expect(throws: Failure.self) {
            try writeFileAtomically(path) { append in
                try [9, 9].withUnsafeBytes { try append($0) }
                throw Failure()
            }
        }
        #expect(try readBytes(path) == [1, 2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.bin"])
    }
}
