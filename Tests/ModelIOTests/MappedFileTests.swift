import Foundation
import Testing

@testable import ModelIO

@Suite struct MappedFileTests {
    @Test func mapsTheWholeFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let contents = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try writeBytes(contents, to: dir.file("data.bin"))
        let file = try MappedFile(path: dir.file("data.bin"))
        #expect(file.path == dir.file("data.bin"))
        #expect(file.count == contents.count)
        #expect(Array(file.bytes) == contents)
        file.adviseSequential()
        file.adviseWillNeed()
        file.adviseHugePages()
        #expect(Array(file.bytes) == contents)
    }

    @Test func missingFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("nope.safetensors")
        let error = modelIOError { _ = try MappedFile(path: path) }
        #expect(error == .cannotOpen(path: path, reason: "no such file"))
        #expect(error?.description == "\(path): cannot open: no such file")
    }

    @Test func directory() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let error = modelIOError { _ = try MappedFile(path: dir.path) }
        #expect(error?.description.hasPrefix(dir.path) == true)
        #expect(error?.description.contains("is a directory") == true)
    }

    @Test func emptyFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try writeBytes([], to: dir.file("empty"))
        let error = modelIOError { _ = try MappedFile(path: dir.file("empty")) }
        #expect(error?.description == "\(dir.file("empty")): cannot open: file is empty")
    }

    @Test func fifoIsRejectedWithoutBlocking() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("pipe")
        try #require(mkfifo(path, 0o644) == 0)
        let error = modelIOError { _ = try MappedFile(path: path) }
        #expect(error?.description == "\(path): cannot open: not a regular file")
    }

    // Root reads any file regardless of permissions, so this only means something for others.
    @Test(.enabled(if: getuid() != 0)) func unreadableFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("secret")
        try writeBytes([1, 2, 3], to: path)
        try #require(chmod(path, 0) == 0)
        let error = modelIOError { _ = try MappedFile(path: path) }
        #expect(error?.description == "\(path): cannot open: permission denied")
    }
}

/// A file truncated under its mapping raises SIGBUS at the next touch past its new end: with
/// `exitOnTruncation()` that is a one-line error and exit status 1, not a crash.
struct MappedFileTruncationTests {
    @Test func truncationWhileReadingIsAClearError() async {
        let result = await #expect(processExitsWith: .exitCode(1), observing: [\.standardErrorContent]) {
            let path = NSTemporaryDirectory() + "truncated-\(getpid()).bin"
            FileManager.default.createFile(atPath: path, contents: Data(repeating: 7, count: 1 << 20))
            let file = try MappedFile(path: path)
            MappedFile.exitOnTruncation()
            truncate(path, 0)
            var sum = 0
            for i in stride(from: 0, to: file.count, by: 4096) { sum += Int(file.bytes[i]) }
            print(sum)  // not reached
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("Error: ") && stderr.contains("truncated-") && stderr.contains("was truncated or changed while it was being read"), "\(stderr)")
    }
}
