// `gpt2 bench`: llama-bench's tests (pp, tg, pp+tg) over models × thread counts, with per-token
// latency percentiles, time to first token and achieved weight-streaming bandwidth on top.

import Calibration
import Foundation
import GPT2
import GPT2Runtime

/// One llama-bench test.
public enum BenchTest: Equatable, Sendable {
    /// Prompt processing: one `evaluate` of n tokens after a reset.
    case prompt(Int)
    /// Text generation: n single-token evaluates after a 1-token prompt.
    case generation(Int)
    /// A prompt of p tokens, then g generated ones; timed as a whole.
    case promptThenGeneration(Int, Int)

    public var promptTokens: Int {
        switch self { case let .prompt(n): n; case .generation: 0; case let .promptThenGeneration(p, _): p }
    }

    public var generatedTokens: Int {
        switch self { case .prompt: 0; case let .generation(n): n; case let .promptThenGeneration(_, g): g }
    }

    /// llama-bench's name: pp512, tg128, pp512+tg128.
    public var name: String {
        switch self {
        case let .prompt(n): "pp\(n)"
        case let .generation(n): "tg\(n)"
        case let .promptThenGeneration(p, g): "pp\(p)+tg\(g)"
        }
    }

    /// Positions of the KV cache the test fills.
    var contextNeeded: Int {
        switch self {
        case let .prompt(n): n
        case let .generation(n): 1 + n
        case let .promptThenGeneration(p, g): p + g
        }
    }
}

/// Raw timings of one test: one sample per repetition.
public struct BenchMeasurement: Sendable {
    /// Wall time of each repetition's timed work.
    public var samplesNanoseconds: [UInt64]
    /// Every generated token's latency, over all repetitions.
    public var tokenLatenciesNanoseconds: [UInt64]
    /// Time to first token of each repetition (prompt + first sample); pp+tg only.
    public var timeToFirstTokenNanoseconds: [UInt64]
}

/// Runs the timed work of `BenchTest`s on a session.
public struct BenchRunner {
    public let session: GPT2Session
    /// Time sampling (llama.cpp's default chain) with each token instead of an untimed argmax.
    public let includeSampling: Bool
    private let greedy: Sampler
    private let sampler: Sampler
    private var rng: Xoshiro256StarStar

    public init(session: GPT2Session, includeSampling: Bool = false, seed: UInt64 = 0) throws {
        self.session = session
        self.includeSampling = includeSampling
        let V = session.model.config.vocabSize
        greedy = try Sampler(parameters: .greedy, vocabularySize: V)
        sampler = try Sampler(parameters: SamplingParameters(seed: seed), vocabularySize: V)
        rng = Xoshiro256StarStar(seed: seed)
    }

    /// One untimed warm-up run, then `repetitions` timed ones.
    public mutating func measure(_ test: BenchTest, repetitions: Int) throws -> BenchMeasurement {
        try checkContext(test)
        guard repetitions >= 1 else { throw ProfilingError.invalidOption("repetitions must be at least 1, got \(repetitions)") }
        _ = try runOnce(test)
        var result = BenchMeasurement(samplesNanoseconds: [], tokenLatenciesNanoseconds: [], timeToFirstTokenNanoseconds: [])
        for _ in 0..<repetitions {
            let run = try runOnce(test)
            result.samplesNanoseconds.append(run.total)
            result.tokenLatenciesNanoseconds += run.latencies
            if case .promptThenGeneration = test { result.timeToFirstTokenNanoseconds.append(run.ttft) }
        }
        return result
    }

    /// Runs `test` once, without a warm-up, and returns the nanoseconds `measure` would count
    /// for it: for harnesses that do their own warm-up and repetitions (the package-benchmark
    /// suite in Benchmarks/).
    public mutating func timedNanoseconds(_ test: BenchTest) throws -> UInt64 {
        try checkContext(test)
        return try runOnce(test).total
    }

    private func checkContext(_ test: BenchTest) throws {
        let limit = session.model.config.nPositions
        guard test.contextNeeded <= limit else {
            throw ProfilingError.invalidOption("test \(test.name) needs \(test.contextNeeded) positions; the model's context is \(limit)")
        }
    }

    /// Runs the test once: its timed total, each generated token's latency, and the time to the
    /// first token.
    private mutating func runOnce(_ test: BenchTest) throws -> (total: UInt64, latencies: [UInt64], ttft: UInt64) {
        let V = session.model.config.vocabSize
        session.reset()
        var history: [Int]
        var next: Int
        var total: UInt64 = 0, ttft: UInt64 = 0
        /// Evaluates `tokens` and picks the next token; the time includes sampling only with
        /// `includeSampling` (as llama-bench, which never samples).
        func timedStep(_ tokens: [Int], history: [Int]) throws -> (next: Int, nanoseconds: UInt64) {
            let start = monotonicNanoseconds()
            let logits = try session.evaluate(tokens)
            if includeSampling {
                let next = sampler.sample(logits: logits, history: history)
                return (next, monotonicNanoseconds() - start)
            }
            let elapsed = monotonicNanoseconds() - start
            return (greedy.sample(logits: logits, history: []), elapsed)
        }
        if test.promptTokens > 0 {
            history = randomTokens(test.promptTokens, vocabularySize: V, rng: &rng)
            (next, ttft) = try timedStep(history, history: history)
            total = ttft
        } else {
            // tg: a 1-token prompt, not timed.
            history = randomTokens(1, vocabularySize: V, rng: &rng)
            next = greedy.sample(logits: try session.evaluate(history), history: [])
        }
        var latencies: [UInt64] = []
        latencies.reserveCapacity(test.generatedTokens)
        for _ in 0..<test.generatedTokens {
            history.append(next)
            let latency: UInt64
            (next, latency) = try timedStep([next], history: history)
            latencies.append(latency)
            total += latency
        }
        return (total, latencies, ttft)
    }
}

/// One result row: llama-bench's JSON fields plus ours.
public struct BenchRecord: Codable, Equatable, Sendable {
    public var modelFilename: String
    public var modelType: String
    public var modelSize: Int
    public var modelNParams: Int
    public var type: String
    public var nThreads: Int
    public var numa: String
    public var nPrompt: Int
    public var nGen: Int
    public var test: String
    public var avgNs: Double
    public var stddevNs: Double
    public var avgTs: Double
    public var stddevTs: Double
    public var samplesNs: [UInt64]
    public var samplesTs: [Double]
    public var latencyMsP50: Double?
    public var latencyMsP90: Double?
    public var latencyMsP99: Double?
    public var ttftMs: Double?
    public var loadMs: Double
    public var peakRssBytes: Int
    public var weightBytesPerToken: Int?
    public var bandwidthGBs: Double?
    public var bandwidthShare: Double?
    /// Whether the profiler's observer was attached (to measure its cost).
    public var profiler: Bool
    /// llama-bench's: the source commit (`BuildInfo.commit`), the CPU's model name, and when
    /// the test started (ISO 8601, UTC, to the second).
    public var buildCommit: String
    public var cpuInfo: String
    public var testTime: String

    /// The JSON names; the first sixteen are llama-bench's.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case modelFilename = "model_filename", modelType = "model_type", modelSize = "model_size"
        case modelNParams = "model_n_params", type, nThreads = "n_threads", numa
        case nPrompt = "n_prompt", nGen = "n_gen", test, avgNs = "avg_ns", stddevNs = "stddev_ns"
        case avgTs = "avg_ts", stddevTs = "stddev_ts", samplesNs = "samples_ns", samplesTs = "samples_ts"
        case latencyMsP50 = "latency_ms_p50", latencyMsP90 = "latency_ms_p90", latencyMsP99 = "latency_ms_p99"
        case ttftMs = "ttft_ms", loadMs = "load_ms", peakRssBytes = "peak_rss_bytes"
        case weightBytesPerToken = "weight_bytes_per_token", bandwidthGBs = "bandwidth_gbs"
        case bandwidthShare = "bandwidth_share", profiler
        case buildCommit = "build_commit", cpuInfo = "cpu_info", testTime = "test_time"
    }

    /// Encodes every key, absent values as null (so that every record has the same fields).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelFilename, forKey: .modelFilename); try c.encode(modelType, forKey: .modelType)
        try c.encode(modelSize, forKey: .modelSize); try c.encode(modelNParams, forKey: .modelNParams)
        try c.encode(type, forKey: .type); try c.encode(nThreads, forKey: .nThreads); try c.encode(numa, forKey: .numa)
        try c.encode(nPrompt, forKey: .nPrompt); try c.encode(nGen, forKey: .nGen); try c.encode(test, forKey: .test)
        try c.encode(avgNs, forKey: .avgNs); try c.encode(stddevNs, forKey: .stddevNs)
        try c.encode(avgTs, forKey: .avgTs); try c.encode(stddevTs, forKey: .stddevTs)
        try c.encode(samplesNs, forKey: .samplesNs); try c.encode(samplesTs, forKey: .samplesTs)
        try c.encode(latencyMsP50, forKey: .latencyMsP50); try c.encode(latencyMsP90, forKey: .latencyMsP90)
        try c.encode(latencyMsP99, forKey: .latencyMsP99); try c.encode(ttftMs, forKey: .ttftMs)
        try c.encode(loadMs, forKey: .loadMs); try c.encode(peakRssBytes, forKey: .peakRssBytes)
        try c.encode(weightBytesPerToken, forKey: .weightBytesPerToken); try c.encode(bandwidthGBs, forKey: .bandwidthGBs)
        try c.encode(bandwidthShare, forKey: .bandwidthShare); try c.encode(profiler, forKey: .profiler)
        try c.encode(buildCommit, forKey: .buildCommit); try c.encode(cpuInfo, forKey: .cpuInfo)
        try c.encode(testTime, forKey: .testTime)
    }

    /// Fills a record from a measurement of a test that started at `started`.
    public init(model: GPT2Model, modelPath: String, test: BenchTest, threads: Int, numa: String, profiler: Bool,
                measurement m: BenchMeasurement, loadNanoseconds: UInt64, ceilings: MachineCeilings?,
                started: Date = Date()) {
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: model.weightsPath)[.size] as? Int) ?? nil
        modelFilename = modelPath
        modelNParams = model.config.parameterCount
        modelType = "gpt2 " + Self.humanCount(Double(modelNParams)) + " " + model.storageType
        modelSize = fileSize ?? model.weights.parameterBytes
        type = model.storageType
        nThreads = threads
        self.numa = numa
        nPrompt = test.promptTokens
        nGen = test.generatedTokens
        self.test = test.name
        let ns = m.samplesNanoseconds.map { Double($0) }
        avgNs = mean(ns); stddevNs = standardDeviation(ns)
        samplesNs = m.samplesNanoseconds
        let tokens = Double(nPrompt + nGen)
        samplesTs = ns.map { tokens / ($0 / 1e9) }
        avgTs = mean(samplesTs); stddevTs = standardDeviation(samplesTs)
        let latencies = m.tokenLatenciesNanoseconds.map { Double($0) / 1e6 }
        if !latencies.isEmpty {
            latencyMsP50 = percentile(latencies, 50); latencyMsP90 = percentile(latencies, 90)
            latencyMsP99 = percentile(latencies, 99)
            weightBytesPerToken = model.weightBytesPerToken
            let gbs = Double(model.weightBytesPerToken) / (mean(latencies) / 1e3) / 1e9
            bandwidthGBs = gbs
            bandwidthShare = ceilings?.readBandwidth(threads: threads).map { gbs / $0 }
        }
        if !m.timeToFirstTokenNanoseconds.isEmpty {
            ttftMs = mean(m.timeToFirstTokenNanoseconds.map { Double($0) }) / 1e6
        }
        loadMs = Double(loadNanoseconds) / 1e6
        peakRssBytes = peakResidentBytes()
        self.profiler = profiler
        buildCommit = BuildInfo.commit
        cpuInfo = BuildInfo.cpuModelName
        testTime = Self.utcTimestamp(started)
    }

    /// `2026-01-31T12:00:00Z`, llama-bench's `test_time` format.
    static func utcTimestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// 124.44M → "124M", 1.56B → "1.6B".
    static func humanCount(_ n: Double) -> String {
        n >= 1e9 ? String(format: "%.1fB", n / 1e9) : String(format: "%.0fM", n / 1e6)
    }
}

/// What `gpt2 bench` sweeps.
public struct BenchPlan: Sendable {
    public var modelPaths: [String]
    public var tests: [BenchTest]
    public var threads: [Int]
    public var repetitions: Int
    /// Thread pinning and weight placement of every session (as `gpt2 generate --numa`).
    public var numa: NumaStrategy
    public var includeSampling: Bool
    /// Run each test without (false) and/or with (true) the profiler attached.
    public var profiler: [Bool]

    public init(modelPaths: [String], tests: [BenchTest], threads: [Int], repetitions: Int, numa: NumaStrategy = .off,
                includeSampling: Bool = false, profiler: [Bool] = [false]) {
        self.modelPaths = modelPaths; self.tests = tests; self.threads = threads; self.repetitions = repetitions
        self.numa = numa; self.includeSampling = includeSampling; self.profiler = profiler
    }

    /// Runs every model × threads × test × profiler combination; `starting` gets the test about
    /// to run ("[3/8] model t=2 pp512"), `progress` a line with each test's result, `onRecord`
    /// each row as soon as it is measured.
    public func run(ceilings: MachineCeilings?, starting: (String) -> Void = { _ in }, progress: (String) -> Void = { _ in },
                    onRecord: (BenchRecord) -> Void = { _ in }) throws -> [BenchRecord] {
        guard repetitions >= 1 else { throw ProfilingError.invalidOption("-r must be at least 1, got \(repetitions)") }
        var records: [BenchRecord] = []
        let total = rowCount
        for path in modelPaths {
            let loadStart = monotonicNanoseconds()
            let model = try GPT2Model.load(path: path)
            let loadNanoseconds = monotonicNanoseconds() - loadStart
            // Refuse before running anything rather than halfway through the sweep.
            if let test = tests.first(where: { $0.contextNeeded > model.config.nPositions }) {
                throw ProfilingError.invalidOption(
                    "test \(test.name) needs \(test.contextNeeded) positions; the model's context is \(model.config.nPositions) (\(path))")
            }
            for t in threads {
                let session = makeSession(model: model, threads: t)
                var runner = try BenchRunner(session: session, includeSampling: includeSampling)
                // Profiler off and on innermost, so that the two runs of a test are adjacent in
                // time: this machine's speed drifts from minute to minute.
                for test in tests {
                    for withProfiler in profiler {
                        // Room for every event of the warm-up and the repetitions, so that recording
                        // never reallocates inside a timed run.
                        let chunks = (test.promptTokens + 255) / 256 + test.generatedTokens + 1
                        let events = (repetitions + 1) * chunks * (model.config.nLayer * 7 + 4)
                        let observer = withProfiler ? OpProfiler(model: model, session: session, expectedEvents: events) : nil
                        session.observer = observer
                        session.pool.regionRecorder = withProfiler ? RegionRecorder(threadCount: t, capacity: 1 << 16) : nil
                        defer { session.observer = nil; session.pool.regionRecorder = nil }
                        let label = "[\(records.count + 1)/\(total)] \((path as NSString).lastPathComponent) t=\(t)"
                            + (withProfiler ? " profiler=on" : "") + " \(test.name)"
                        starting(label)
                        let started = Date()
                        let m = try runner.measure(test, repetitions: repetitions)
                        let record = BenchRecord(model: model, modelPath: path, test: test, threads: t, numa: session.numa.rawValue,
                                                 profiler: withProfiler, measurement: m,
                                                 loadNanoseconds: loadNanoseconds, ceilings: ceilings, started: started)
                        records.append(record)
                        onRecord(record)
                        progress("bench: \(label): " + String(format: "%.2f ± %.2f t/s", record.avgTs, record.stddevTs))
                    }
                }
            }
        }
        return records
    }

    /// The rows (records) the sweep measures: models × threads × tests × profiler modes.
    public var rowCount: Int { modelPaths.count * threads.count * profiler.count * tests.count }

    /// The session a test runs on: `threads` threads placed by `numa`.
    func makeSession(model: GPT2Model, threads: Int) -> GPT2Session {
        GPT2Session(model: model, threads: threads, numa: numa)
    }
}
