import ArgumentParser
import Calibration
import Foundation
import GPT2
import Profiling
import GPT2Runtime
import Synchronization

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt-processing and generation speed, llama-bench style.",
        discussion: """
            Runs every model × thread count × test: ppN = one forward pass over N random tokens, \
            tgN = N single-token steps after a 1-token prompt, ppP+tgG = both, timed together. \
            Each test runs once untimed, then -r times. Tokenisation is not timed, nor is the \
            next-token choice (an argmax) unless --include-sampling. Beyond llama-bench: per-token \
            latency percentiles, time to first token, load time, peak RSS, and the weight bytes a \
            token streams per second as a share of the read bandwidth `gpt2 calibrate` measured. \
            Results go to stdout; one progress line per test to stderr. Ctrl-C prints the rows \
            measured so far and exits with status 130.
            """)

    @Option(name: [.short, .long], help: "Models, comma-separated (default: the random-weight gpt2 124M).")
    var model: [String] = []

    @Option(name: .short, parsing: .unconditional, help: "Prompt sizes, comma-separated; 0 skips.")
    var p = "512"

    @Option(name: .short, parsing: .unconditional, help: "Generation sizes, comma-separated; 0 skips.")
    var n = "128"

    @Option(name: .customLong("pg", withSingleDash: true), parsing: .unconditionalSingleValue, help: ArgumentHelp("A prompt then generation test PP,TG (repeatable).", valueName: "pp,tg"))
    var pg: [String] = []

    @Option(name: .short, parsing: .unconditional, help: "Thread counts, comma-separated (default: every CPU this process may use).")
    var t: String?

    @Option(name: .short, parsing: .unconditional, help: "Repetitions of each test.")
    var r = 5

    @Option(help: "NUMA: off (no pinning), distribute (threads round-robin over nodes, each thread's weights on its node), isolate (only the current node's CPUs).")
    var numa = "off"

    @Option(name: .short, help: "Output format: md, csv, json or jsonl.")
    var o = "md"

    @Flag(name: .customLong("include-sampling"), help: "Time sampling (llama.cpp's default chain) with every token.")
    var includeSampling = false

    @Option(help: ArgumentHelp("Run without and/or with the profiler attached (off, on or off,on), to measure its cost.", valueName: "off,on"))
    var profiler = "off"

    func validate() throws {
        let plan = try plan(models: ["-"])
        if let most = plan.threads.max() { warnIfOversubscribed(threads: most, option: "-t") }
        guard BenchFormat(rawValue: o) != nil else {
            throw ValidationError("unknown output format '\(o)' (expected md, csv, json or jsonl)")
        }
    }

    /// The sweep the options describe (for `models`).
    func plan(models: [String]) throws -> BenchPlan {
        var tests: [BenchTest] = try parseList(p, option: "-p").filter { $0 > 0 }.map { .prompt($0) }
        tests += try parseList(n, option: "-n").filter { $0 > 0 }.map { .generation($0) }
        for pair in pg {
            let values = try parseList(pair, option: "-pg")
            guard values.count == 2, values[0] > 0 || values[1] > 0 else {
                throw ValidationError("-pg takes two sizes PP,TG (e.g. 512,128), got '\(pair)'")
            }
            tests.append(.promptThenGeneration(values[0], values[1]))
        }
        if tests.isEmpty { throw ValidationError("no tests: every -p, -n and -pg size is 0") }
        let threads = try t.map { try parseList($0, option: "-t") } ?? [ThreadPool.availableCPUs().count]
        if let bad = threads.first(where: { $0 < 1 || $0 > 1024 }) {
            throw ValidationError("-t: thread counts must be between 1 and 1024, got \(bad)")
        }
        guard r >= 1 else { throw ValidationError("-r must be at least 1, got \(r)") }
        guard let numaStrategy = NumaStrategy(rawValue: numa) else {
            throw ValidationError("unknown --numa '\(numa)' (expected off, distribute or isolate)")
        }
        let profilerModes = try profiler.split(separator: ",").map { mode -> Bool in
            switch mode {
            case "off": return false
            case "on": return true
            default: throw ValidationError("--profiler takes off, on or off,on, got '\(profiler)'")
            }
        }
        return BenchPlan(modelPaths: models, tests: tests, threads: threads, repetitions: r, numa: numaStrategy,
                         includeSampling: includeSampling, profiler: profilerModes)
    }

    func run() throws {
        let models = model.flatMap { $0.split(separator: ",").map(String.init) }
        let plan = try plan(models: models.isEmpty ? [try DefaultModel.ensure(note: printError)] : models)
        let ceilings = MachineCeilings.loadCached()
        let format = BenchFormat(rawValue: o)!
        let results = Mutex(BenchResults())
        Signals.onInterrupt {
            results.withLock { results in
                guard !results.complete else { return }  // the full table is being printed
                FileHandle.standardOutput.write(Data(((try? results.records.formatted(format, ceilings: ceilings)) ?? "").utf8))
                printError("bench: interrupted after \(results.records.count) of \(plan.rowCount) rows")
                _exit(interruptedExitStatus)  // the pool's threads are mid-test: end without unwinding them
            }
        }
        let records = try plan.run(ceilings: ceilings, progress: printError,
                                   onRecord: { record in results.withLock { $0.records.append(record) } })
        results.withLock { $0.complete = true }
        FileHandle.standardOutput.write(Data(try records.formatted(format, ceilings: ceilings).utf8))
    }
}

/// The rows measured so far, for a Ctrl-C that comes before the sweep ends.
struct BenchResults {
    var records: [BenchRecord] = []
    /// The sweep ended and its output is being written.
    var complete = false
}

/// Parses a comma-separated list of non-negative integers such as "128,512".
func parseList(_ text: String, option: String) throws -> [Int] {
    let items = text.split(separator: ",", omittingEmptySubsequences: false)
    return try items.map { item in
        guard let value = Int(item.trimmingCharacters(in: .whitespaces)), value >= 0 else {
            throw ValidationError("\(option): '\(item)' is not a non-negative integer (expected a comma-separated list like 128,512)")
        }
        return value
    }
}
