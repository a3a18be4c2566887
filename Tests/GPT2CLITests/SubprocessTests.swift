import Foundation
import GPT2
import Glibc
import Testing
@testable import GPT2CLI

/// The built `gpt2` binary run as a child process, its stdout and stderr going to files (a
/// pipe could fill up and block it). It starts with SIGINT, SIGTERM and SIGHUP at their default
/// action and unblocked, whatever the test runner inherited (a shell starts background jobs with
/// SIGINT ignored, and an ignored signal stays ignored across exec).
final class GPT2Process {
    /// `gpt2` beside the test bundle: `swift build --build-tests` (scripts/test.sh) builds it.
    static let binary: String = {
        let bundleDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return bundleDirectory.appendingPathComponent("gpt2").path
    }()

    let pid: pid_t
    let stdoutPath = NSTemporaryDirectory() + "gpt2-stdout-" + UUID().uuidString
    let stderrPath = NSTemporaryDirectory() + "gpt2-stderr-" + UUID().uuidString
    private var status: Int32?

    /// Runs `gpt2 ARGUMENTS`; stderr goes to `stderrTerminal` (a pseudo-terminal's path) when given.
    init(_ arguments: [String], stderrTerminal: String? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw CLITestError("\(Self.binary) is missing: build it with `swift build --build-tests` before `swift test --skip-build`")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if let stderrTerminal {
            posix_spawn_file_actions_addopen(&actions, 2, stderrTerminal, O_RDWR | O_NOCTTY, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&defaults, signal) }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = ([Self.binary] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, Self.binary, &actions, &attributes, argv, environ)
        guard result == 0 else { throw CLITestError("cannot start \(Self.binary): \(String(cString: strerror(result)))") }
        pid = child
    }

    deinit {
        if isRunning { kill(pid, SIGKILL) }
        wait()
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func send(_ signal: Int32) { if isRunning { kill(pid, signal) } }

    var isRunning: Bool {
        if status != nil { return false }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid { status = Self.decode(raw) }
        return status == nil
    }

    /// Waits for the process to end: its exit status, or 128 + the signal that ended it (as a shell shows it).
    @discardableResult
    func wait() -> Int32 {
        if let status { return status }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
        status = Self.decode(raw)
        return status!
    }

    private static func decode(_ raw: Int32) -> Int32 {
        raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    }

    /// Runs `gpt2 ARGUMENTS` to the end: exit status (as `wait()`), stdout, stderr.
    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try GPT2Process(arguments)
        let status = child.wait()
        return (status, child.stdout, child.stderr)
    }
}

struct CLITestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` every millisecond for up to a minute (a wait, not a timing assertion).
func waitUntil(_ condition: () -> Bool) -> Bool {
    for _ in 0..<60_000 {
        if condition() { return true }
        usleep(1000)
    }
    return false
}

/// The `gpt2` binary as a user runs it: exit statuses, one-line errors, signals.
@Suite(.serialized)
struct SubprocessTests {
    /// Context 4096 and 64 dims: thousands of fast tokens, so a run lasts until it is interrupted.
    static let longContextModel = randomModelDirectory("long", nEmbd: 64, nPositions: 4096, seed: 5)

    func lines(_ text: String) -> [Substring] { text.split(separator: "\n") }

    @Test(arguments: [
        (["generate", "-p", "x", "-t", "-1"], 64, "--threads must be between 1 and 1024, got -1"),
        (["bench", "-t", "-2"], 64, "-t: '-2' is not a non-negative integer"),
        (["bench", "-r", "-1"], 64, "-r must be at least 1, got -1"),
        (["profile", "-n", "-4"], 64, "-n must not be negative, got -4"),
        (["calibrate", "--threads", "-3"], 64, "--threads must be between 1 and 1024, got -3"),
        (["init-random", "--n-layer", "-1", "--out", "/tmp/unused"], 64, "n_layer must be positive, got -1"),
        (["generate", "-p", "x", "--no-such-option"], 64, "Unknown option '--no-such-option'"),
        (["no-such-command"], 64, "Unexpected argument 'no-such-command'"),
        (["generate", "-p", "x", "-m", "/nonexistent/model"], 1, "no such file or directory"),
        (["tokenize", "-f", "/"], 1, "cannot read /: is a directory"),
        (["profile", "-m", CommandTests.modelDirectory, "-p", "2", "-n", "1", "--report", "/nonexistent/r.html"], 1,
         "cannot write /nonexistent/r.html: no such file or directory"),
    ] as [([String], Int32, String)])
    func errorsAreOneLineWithTheDocumentedStatus(arguments: [String], status: Int32, message: String) throws {
        let run = try GPT2Process.run(arguments)
        #expect(run.status == status, "\(arguments): \(run.stderr)")
        let errorLines = lines(run.stderr).filter { $0.hasPrefix("Error: ") }
        #expect(errorLines.count == 1 && lines(run.stderr).last == errorLines.first, "\(arguments): \(run.stderr)")
        #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        #expect(!run.stderr.contains("Domain"), "\(arguments): \(run.stderr)")
    }

    @Test func helpExitsZero() throws {
        let run = try GPT2Process.run(["quantize", "--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("USAGE: gpt2 quantize"))
    }

    @Test func moreThreadsThanCPUsIsAWarning() throws {
        let threads = usableCPUCount() + 1
        let run = try GPT2Process.run(["generate", "-m", CommandTests.modelDirectory, "-p", "Hi", "-n", "2", "-t", "\(threads)"])
        #expect(run.status == 0, "\(run.stderr)")
        let warning = lines(run.stderr).filter { $0.hasPrefix("warning: -t \(threads) is more than the") }
        #expect(warning.count == 1, "\(run.stderr)")
        #expect(warning.first?.contains("slower") == true)
        let fits = try GPT2Process.run(["generate", "-m", CommandTests.modelDirectory, "-p", "Hi", "-n", "2", "-t", "1"])
        #expect(!fits.stderr.contains("warning"))
    }

    @Test func ctrlCInGenerateReportsAndExits130() throws {
        let child = try GPT2Process(["generate", "-m", Self.longContextModel, "-p", "Hello", "-n", "4000", "--ignore-eos", "-t", "1"])
        #expect(waitUntil { child.stdout.utf8.count > 200 || !child.isRunning })
        child.send(SIGINT)
        #expect(child.wait() == 130, "\(child.stderr)")
        #expect(child.stdout.hasSuffix("\n"))
        let stats = lines(child.stderr).filter { $0.hasPrefix("generation: ") }
        #expect(stats.count == 1 && stats.first?.hasSuffix("stopped: interrupted") == true, "\(child.stderr)")
    }

    @Test(arguments: ["csv", "json"])
    func ctrlCInBenchPrintsTheRowsSoFarAndExits130(format: String) throws {
        let child = try GPT2Process(["bench", "-m", Self.longContextModel, "-p", "4", "-n", "4000", "-r", "50", "-t", "1", "-o", format])
        #expect(waitUntil { child.stderr.contains("bench: [1/2]") || !child.isRunning })
        child.send(SIGINT)
        #expect(child.wait() == 130, "\(child.stderr)")
        #expect(child.stderr.contains("bench: interrupted after 1 of 2 rows"), "\(child.stderr)")
        if format == "csv" {
            let rows = lines(child.stdout)
            #expect(rows.count == 2 && rows.first?.hasPrefix("model_filename,") == true, "\(child.stdout)")
        } else {
            let rows = try JSONSerialization.jsonObject(with: Data(child.stdout.utf8)) as? [[String: Any]]
            #expect(rows?.count == 1 && rows?.first?["n_prompt"] as? Int == 4, "\(child.stdout)")
        }
    }
}
