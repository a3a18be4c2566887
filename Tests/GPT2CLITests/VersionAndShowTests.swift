import Foundation
import Profiling
import Testing
@testable import GPT2CLI

/// `gpt2 --version` and `tokenize --show`'s readable pieces.
@Suite struct VersionAndShowTests {
    /// The checkout this test file is in: the binary under test was built from it.
    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test func versionPrintsTheBuildAndTheCPU() throws {
        let run = try GPT2Process.run(["--version"])
        #expect(run.status == 0, "\(run)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "gpt2 \(BuildInfo.version)")
        #expect(lines.contains { $0.hasPrefix("commit: \(BuildInfo.commit) ") })
        #expect(lines.contains { $0.hasPrefix("target CPU: \(BuildInfo.targetCPU) ") })
        #expect(BuildInfo.targetCPU != "not recorded")
        #expect(lines.contains { $0.hasPrefix("kernels compiled: portable Swift") && $0.hasSuffix("; no bf16 kernels") })
        #expect(lines.contains { $0.hasPrefix("running CPU: ") })
        // The commit is this checkout's HEAD, as git itself reads it.
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", Self.checkout, "rev-parse", "HEAD"]
        let pipe = Pipe()
        git.standardOutput = pipe
        git.standardError = FileHandle.nullDevice
        if (try? git.run()) != nil {
            let head = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            git.waitUntilExit()
            if git.terminationStatus == 0 { #expect(BuildInfo.commit == head) }
        }
    }

    /// A checkout's HEAD from a loose ref, packed-refs, a detached HEAD and a worktree's `.git`
    /// file; nil outside a checkout.
    @Test func gitCommitReadsEveryCheckoutLayout() throws {
        let root = NSTemporaryDirectory() + "gpt2-git-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        func write(_ path: String, _ text: String) throws {
            let url = URL(fileURLWithPath: root + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let a = String(repeating: "a", count: 40), b = String(repeating: "b", count: 40), c = String(repeating: "c", count: 40)
        try write("loose/.git/HEAD", "ref: refs/heads/main\n")
        try write("loose/.git/refs/heads/main", a + "\n")
        try write("packed/.git/HEAD", "ref: refs/heads/dev\n")
        try write("packed/.git/packed-refs", "# pack-refs with: peeled fully-peeled sorted\n\(a) refs/heads/main\n\(b) refs/heads/dev\n")
        try write("detached/.git/HEAD", c + "\n")
        try write("main/.git/refs/heads/feature", b + "\n")
        try write("main/.git/worktrees/wt/HEAD", "ref: refs/heads/feature\n")
        try write("main/.git/worktrees/wt/commondir", "../..\n")
        try write("wt/.git", "gitdir: ../main/.git/worktrees/wt\n")
        try write("plain/README", "not a checkout")
        #expect(BuildInfo.gitCommit(checkout: root + "/loose") == a)
        #expect(BuildInfo.gitCommit(checkout: root + "/packed") == b)
        #expect(BuildInfo.gitCommit(checkout: root + "/detached") == c)
        #expect(BuildInfo.gitCommit(checkout: root + "/wt") == b)
        #expect(BuildInfo.gitCommit(checkout: root + "/plain") == nil)
    }

    @Test(arguments: [
        (Array(" naïve".utf8), "' naïve'"),
        (Array("\n\t\r".utf8), "'\\n\\t\\r'"),
        (Array("it's a \\".utf8), "'it\\'s a \\\\'"),
        ([0xC3], "'<0xC3>'"),  // the first byte of "ï"
        ([0x20, 0xE2, 0x80], "' <0xE2><0x80>'"),  // a space and two of "—"'s three bytes
        ([0x00, 0x41], "'<0x00>A'"),
    ])
    func readablePieceEscapes(bytes: [UInt8], expected: String) {
        #expect(readablePiece(bytes) == expected)
    }

    @Test func tokenizeShowPrintsTextAndRawKeepsTheSpelling() throws {
        let shown = try GPT2Process.run(["tokenize", "-p", "Hello naïve\n", "--show"])
        #expect(shown.status == 0, "\(shown)")
        let lines = shown.stdout.split(separator: "\n").map(String.init)
        #expect(lines == ["15496\t'Hello'", "41492\t' naïve'", "198\t'\\n'"], "\(lines)")
        let raw = try GPT2Process.run(["tokenize", "-p", "Hello naïve", "--show", "--raw"])
        #expect(raw.status == 0 && raw.stdout == "15496\tHello\n41492\tĠnaÃ¯ve\n", "\(raw)")
        let refused = try GPT2Process.run(["tokenize", "-p", "Hi", "--raw"])
        #expect(refused.status == 64 && refused.stderr.contains("--raw only changes --show"), "\(refused)")
    }
}
