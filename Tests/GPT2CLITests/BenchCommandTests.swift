import ArgumentParser
import Foundation
import GPT2
import Testing
@testable import GPT2CLI

/// `gpt2 bench`, `gpt2 profile` and `gpt2 calibrate` on a small random model.
@Suite(.serialized)
struct BenchCommandTests {
    func run(_ arguments: [String]) -> String? { runCommand(arguments) }

    // `--numa isolate` pins the calling thread, a shared thread of the test runner here: it is
    // run by scripts/cli-smoke.sh and, on a thread of its own, by ProfilingTests.
    @Test func benchAndProfileRun() throws {
        let m = CommandTests.modelDirectory
        #expect(run(["bench", "-m", m, "-p", "8", "-n", "4", "-pg", "4,2", "-t", "1,2", "-r", "2", "-o", "jsonl"]) == nil)
        #expect(run(["bench", "-m", "\(m),\(m)", "-p", "0", "-n", "2", "-r", "1", "--profiler", "off,on", "--include-sampling"]) == nil)
        let trace = NSTemporaryDirectory() + "gpt2-trace-" + UUID().uuidString + ".json"
        let report = NSTemporaryDirectory() + "gpt2-report-" + UUID().uuidString + ".html"
        #expect(run(["profile", "-m", m, "-p", "8", "-n", "3", "-t", "2", "--trace", trace, "--report", report]) == nil)
        let traceData = try #require(FileManager.default.contents(atPath: trace))
        #expect((try JSONSerialization.jsonObject(with: traceData) as? [String: Any])?["traceEvents"] != nil)
        #expect(try String(contentsOfFile: report, encoding: .utf8).contains("mlp_up_gelu"))
    }

    /// llama-bench's list flags: repeatable, comma lists, ranges with a step or a factor.
    @Test func listFlagsRepeatAndTakeRanges() throws {
        let bench = try Bench.parse(["-p", "32", "-p", "64,128", "-p", "256-1024*2", "-n", "0", "-n", "16-48+16", "-t", "1-2"])
        let plan = try bench.plan(models: ["m"])
        #expect(plan.tests.map(\.name) == ["pp32", "pp64", "pp128", "pp256", "pp512", "pp1024", "tg16", "tg32", "tg48"])
        #expect(plan.threads == [1, 2])
        #expect(try parseValues(["3-5"], option: "-t") == [3, 4, 5])
        for (bad, why) in [("8-4", "is not a range"), ("1-8+0", "never reaches its end"), ("2-16*1", "never reaches its end"),
                           ("0-8*2", "never reaches its end"), ("1-x", "is not a range"), ("4-8+", "has no step")] {
            #expect(throws: ValidationError.self, "\(bad)") { try parseValues([bad], option: "-p") }
            #expect(runCommand(["bench", "-p", bad])?.contains(why) == true, "\(bad)")
        }
    }

    @Test(arguments: [
        (["bench", "-p", "abc"], "-p: 'abc' is not a non-negative integer"),
        (["bench", "-n", "4,x"], "-n: 'x' is not a non-negative integer"),
        (["bench", "-r", "0"], "-r must be at least 1"),
        (["bench", "-o", "xml"], "unknown output format 'xml'"),
        (["bench", "-t", "0"], "thread counts must be between 1 and 1024"),
        (["bench", "-pg", "512"], "-pg takes two sizes"),
        (["bench", "-p", "0", "-n", "0"], "no tests"),
        (["bench", "--numa", "spread"], "unknown --numa 'spread'"),
        (["bench", "--profiler", "maybe"], "--profiler takes off, on or off,on"),
        (["bench", "-m", "/nonexistent/model", "-p", "1", "-n", "0"], "no such file or directory"),
        (["profile", "-m", "/nonexistent/model"], "no such file or directory"),
        (["profile", "-p", "0"], "-p must be at least 1"),
        (["calibrate", "--buffer-mib", "1"], "--buffer-mib must be at least 64"),
        (["calibrate", "-r", "0"], "-r must be at least 1"),
    ])
    func badArgumentsAreClearErrors(arguments: [String], expected: String) {
        let message = run(arguments)
        #expect(message?.contains(expected) == true, "\(arguments): \(message ?? "no error")")
    }

    /// The kernel measurements of the former `bench-int8` live in the Benchmarks package now;
    /// the command set is the README's.
    @Test func subcommandsAreTheDocumentedOnes() {
        let names = GPT2Command.configuration.subcommands.map { $0._commandName }
        #expect(names == ["generate", "tokenize", "perplexity", "quantize", "init-random", "inspect", "bench", "calibrate", "profile", "download"])
        #expect(run(["bench-int8"]) != nil)
    }

    @Test func testsThatOverflowTheContextAreClearErrors() {
        let m = CommandTests.modelDirectory  // context 48
        #expect(run(["bench", "-m", m, "-p", "40", "-n", "0", "-pg", "40,20", "-r", "1"])?.contains("the model's context is 48") == true)
        #expect(run(["profile", "-m", m, "-p", "40", "-n", "20"])?.contains("exceeds the model's context of 48") == true)
    }
}
