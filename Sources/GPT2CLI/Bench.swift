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
            Results go to stdout; one line per test to stderr when it ends, and with --progress, \
            on a terminal, a line naming the test that runs. Ctrl-C prints the rows measured so \
            far and exits with status 130.
            """)

    @Option(name: [.short, .long], help: "Models, comma-separated (default: the random-weight gpt2 124M).")
    var model: [String] = []

    @Option(name: .short, parsing: .unconditionalSingleValue, help: "Prompt sizes: a comma-separated list or ranges (FIRST-LAST, FIRST-LAST+STEP, FIRST-LAST*FACTOR), repeatable; 0 skips (default 512).")
    var p: [String] = []

    @Option(name: .short, parsing: .unconditionalSingleValue, help: "Generation sizes, as -p (default 128).")
    var n: [String] = []

    @Option(name: .customLong("pg", withSingleDash: true), parsing: .unconditionalSingleValue, help: ArgumentHelp("A prompt then generation test PP,TG (repeatable).", valueName: "pp,tg"))
    var pg: [String] = []

    @Option(name: .short, parsing: .unconditionalSingleValue, help: "Thread counts, as -p (default: every CPU this process may use).")
    var t: [String] = []

    @Option(name: .short, parsing: .unconditional, help: "Repetitions of each test.")
    var r = 5

    @Option(help: "NUMA: off (no pinning), distribute (threads round-robin over nodes, each thread's weights on its node), isolate (only the current node's CPUs).")
    var numa = "off"

    @Option(name: .short, help: "Output format: md, csv, json, jsonl or sql.")
    var o = "md"

    @Flag(name: .customLong("include-sampling"), help: "Time sampling (llama.cpp's default chain) with every token.")
    var includeSampling = false

    @Option(help: ArgumentHelp("Run without and/or with the profiler attached (off, on or off,on), to measure its cost.", valueName: "off,on"))
    var profiler = "off"

    @Flag(help: "Show the test that runs on a line of stderr, when stderr is a terminal (not with GPT2_NO_PROGRESS=1).")
    var progress = false

    func validate() throws {
        let plan = try plan(models: ["-"])
        if let most = plan.threads.max() { warnIfOversubscribed(threads: most, option: "-t") }
        guard BenchFormat(rawValue: o) != nil else {
            throw ValidationError("unknown output format '\(o)' (expected md, csv, json, jsonl or sql)")
        }
    }

    /// The sweep the options describe (for `models`).
    func plan(models: [String]) throws -> BenchPlan {
        var tests: [BenchTest] = try parseValues(p.isEmpty ? ["512"] : p, option: "-p").filter { $0 > 0 }.map { .prompt($0) }
        tests += try parseValues(n.isEmpty ? ["128"] : n, option: "-n").filter { $0 > 0 }.map { .generation($0) }
        for pair in pg {
            let values = try parseList(pair, option: "-pg")
            guard values.count == 2, values[0] > 0 || values[1] > 0 else {
                throw ValidationError("-pg takes two sizes PP,TG (e.g. 512,128), got '\(pair)'")
            }
            tests.append(.promptThenGeneration(values[0], values[1]))
        }
        if tests.isEmpty { throw ValidationError("no tests: every -p, -n and -pg size is 0") }
        let threads = t.isEmpty ? [ThreadPool.availableCPUs().count] : try parseValues(t, option: "-t")
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
        let line = ProgressLine(disabled: !progress)
        defer { line.clear() }  // also before an error's message
        let records = try plan.run(ceilings: ceilings,
                                   starting: { line.update("bench: running \($0) …") },
                                   progress: { line.clear(); printError($0) },
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

/// The values of a repeatable list option, as llama-bench reads them: every occurrence is a
/// comma-separated list whose items are numbers or ranges FIRST-LAST (step 1), FIRST-LAST+STEP
/// or FIRST-LAST*FACTOR; `-p 32 -p 64,128 -p 256-1024*2` is 32, 64, 128, 256, 512, 1024.
func parseValues(_ occurrences: [String], option: String) throws -> [Int] {
    try occurrences.flatMap { text in
        try text.split(separator: ",", omittingEmptySubsequences: false).flatMap { item -> [Int] in
            let spec = item.trimmingCharacters(in: .whitespaces)
            guard let dash = spec.dropFirst().firstIndex(of: "-") else { return try parseList(spec, option: option) }
            func bad(_ why: String) -> ValidationError {
                ValidationError("\(option): '\(spec)' \(why) (expected FIRST-LAST, FIRST-LAST+STEP or FIRST-LAST*FACTOR)")
            }
            let rest = spec[spec.index(after: dash)...]
            let operatorIndex = rest.firstIndex { $0 == "+" || $0 == "*" }
            guard let first = Int(spec[..<dash]), let last = Int(rest[..<(operatorIndex ?? rest.endIndex)]), first >= 0, last >= first else {
                throw bad("is not a range of non-negative integers")
            }
            var step = 1, multiply = false
            if let operatorIndex {
                guard let value = Int(rest[rest.index(after: operatorIndex)...]) else { throw bad("has no step") }
                multiply = rest[operatorIndex] == "*"
                step = value
                guard multiply ? step >= 2 && first >= 1 : step >= 1 else { throw bad("never reaches its end") }
            }
            var values: [Int] = []
            var value = first
            while value <= last {
                values.append(value)
                guard values.count <= 10_000 else { throw bad("has more than 10000 values") }
                let (next, overflow) = multiply ? value.multipliedReportingOverflow(by: step) : value.addingReportingOverflow(step)
                if overflow { break }
                value = next
            }
            return values
        }
    }
}
