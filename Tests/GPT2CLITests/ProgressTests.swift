import Foundation
import GPT2
import Glibc
import Testing
@testable import GPT2CLI

/// Progress lines: on stderr only when it is a terminal (a pseudo-terminal here), never in a
/// file or pipe, and off with --no-progress.
@Suite(.serialized)
struct ProgressTests {
    static let text: String = {
        let path = NSTemporaryDirectory() + "gpt2-progress-" + UUID().uuidString + ".txt"
        try! String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 8).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    /// Runs `gpt2 ARGUMENTS` with stderr on a pseudo-terminal: its exit status and what the
    /// terminal received. The output is small, so it is read after the process ends.
    func runOnTerminal(_ arguments: [String]) throws -> (status: Int32, terminal: String) {
        // posix_openpt, unlockpt and ptsname are not in the Glibc module: their ioctls on
        // /dev/ptmx (x86-64 Linux numbers) do the same.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: CInt = 0, number: CInt = 0
        let TIOCSPTLCK: UInt = 0x4004_5431, TIOCGPTN: UInt = 0x8004_5430
        guard master >= 0, ioctl(master, TIOCSPTLCK, &unlock) == 0, ioctl(master, TIOCGPTN, &number) == 0 else {
            throw CLITestError("no pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        defer { close(master) }
        let terminal = "/dev/pts/\(number)"
        // Held open here too, so that the terminal outlives the child until it is read.
        let slave = open(terminal, O_RDWR | O_NOCTTY)
        defer { close(slave) }
        let child = try GPT2Process(arguments, stderrTerminal: terminal)
        let status = child.wait()
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(master, &buffer, buffer.count)
            if n > 0 { output += buffer[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return (status, String(decoding: output, as: UTF8.self))
    }

    @Test func perplexityShowsWindowsAndETAOnlyOnATerminal() throws {
        let arguments = ["perplexity", "-m", CommandTests.modelDirectory, "-f", Self.text, "--context", "32", "--stride", "8", "-t", "1"]
        let tokens = try GPT2Model.loadTokenizer(path: CommandTests.modelDirectory).encode(String(contentsOfFile: Self.text, encoding: .utf8))
        let windows = windowCount(tokens: tokens.count, context: 32, stride: 8)
        let onTerminal = try runOnTerminal(arguments)
        #expect(onTerminal.status == 0, "\(onTerminal)")
        #expect(onTerminal.terminal.contains("\rperplexity: window 1/\(windows), ppl "), "\(onTerminal.terminal)")
        #expect(onTerminal.terminal.contains("perplexity: window \(windows)/\(windows), ppl "))
        #expect(onTerminal.terminal.contains("ETA 0:") && onTerminal.terminal.contains("\r\u{1B}[K"))
        #expect(!onTerminal.terminal.contains("[1] "))

        let inFile = try GPT2Process.run(arguments)
        #expect(inFile.status == 0 && inFile.stderr.contains("[1] ") && inFile.stderr.contains("[\(windows)] "), "\(inFile)")
        #expect(!inFile.stderr.contains("\r") && !inFile.stderr.contains("ETA"))

        let quiet = try runOnTerminal(arguments + ["--no-progress"])
        #expect(quiet.status == 0 && quiet.terminal.contains("[1] ") && !quiet.terminal.contains("ETA"), "\(quiet)")
    }

    @Test func benchProgressNamesTheRunningTestOnlyOnATerminal() throws {
        let arguments = ["bench", "-m", CommandTests.modelDirectory, "-p", "8", "-n", "2", "-t", "1", "-r", "1", "-o", "jsonl"]
        let shown = try runOnTerminal(arguments + ["--progress"])
        #expect(shown.status == 0, "\(shown)")
        #expect(shown.terminal.contains("\rbench: running [1/2] ") && shown.terminal.contains("bench: running [2/2] "), "\(shown.terminal)")
        #expect(shown.terminal.contains("\r\u{1B}[Kbench: [1/2] "))
        let inFile = try GPT2Process.run(arguments + ["--progress"])
        #expect(inFile.status == 0 && inFile.stderr.contains("bench: [2/2] ") && !inFile.stderr.contains("running"), "\(inFile)")
        let off = try runOnTerminal(arguments)
        #expect(off.status == 0 && !off.terminal.contains("running"), "\(off)")
    }

    /// The CLI's count of perplexity windows is the count the evaluation scores.
    @Test func windowCountMatchesTheEvaluation() throws {
        let model = try GPT2Model.load(path: CommandTests.modelDirectory)
        let session = GPT2Session(model: model, threads: 1)
        for (count, context, stride) in [(2, 8, 8), (8, 8, 8), (9, 8, 8), (30, 8, 3), (30, 16, 1), (17, 16, 16)] {
            let evaluation = try PerplexityEvaluation(context: context, stride: stride, modelContext: 48)
            let result = try evaluation.evaluate(session: session, tokens: Array(repeating: 11, count: count))
            #expect(windowCount(tokens: count, context: context, stride: stride) == result.windows, "\(count) \(context) \(stride)")
        }
        #expect(ProgressLine.clock(seconds: 65) == "1:05" && ProgressLine.clock(seconds: 3723) == "1:02:03")
    }
}
