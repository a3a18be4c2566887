import Calibration
import Foundation
import GPT2
import GPT2Runtime
import Testing
@testable import Profiling
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The checkpoint directory of `tinyModel` (for code that loads models by path).
let tinyModelDirectory: String = {
    let dir = NSTemporaryDirectory() + "gpt2-profiling-tests-" + UUID().uuidString
    try! RandomModel.write(config: GPT2Config(nLayer: 2, nHead: 4, nEmbd: 128, nPositions: 96, vocabSize: 1000), seed: 5, to: dir)
    return dir
}()

/// A small random model shared by the tests that run one.
let tinyModel: GPT2Model = try! GPT2Model.load(path: tinyModelDirectory)

/// Runs `body` on a thread of its own and waits for it: a pinned thread pool pins its caller,
/// which must not be one of the test runner's shared threads.
func onDedicatedThread<T>(_ body: @escaping @Sendable () throws -> T) throws -> T {
    nonisolated(unsafe) var result: Result<T, Error>?
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        result = Result { try body() }
        done.signal()
    }
    thread.start()
    done.wait()
    return try result!.get()
}

@Suite struct StatisticsTests {
    @Test func meanDeviationAndPercentiles() {
        #expect(mean([1, 2, 3, 6]) == 3)
        #expect(abs(standardDeviation([2, 4, 4, 4, 5, 5, 7, 9]) - 2.138089935) < 1e-6)
        #expect(standardDeviation([5]) == 0)
        #expect(percentile([4, 1, 3, 2], 50) == 2.5)
        #expect(percentile([1, 2, 3, 4, 5], 90) == 4.6)
        #expect(percentile(Array(1...100).map { Double($0) }, 99) == 99.01)
        #expect(percentile([], 50) == 0)
    }
}

@Suite struct SummaryTests {
    /// Two decode steps of 10 ms; in each, qkv (layer 0) 3 ms, attention (layer 1) 1 ms,
    /// lm_head 5 ms, sampling 0.5 ms: 0.5 ms per step uncovered.
    func syntheticRecording() -> ProfileRecording {
        var events: [OpEvent] = [], steps: [StepEvent] = []
        let ms: UInt64 = 1_000_000
        for s in 0..<2 {
            let t0 = UInt64(100 + s * 20) * ms
            steps.append(StepEvent(phase: .decode, tokens: 1, start: t0, end: t0 + 10 * ms))
            func add(_ name: String, _ layer: Int, _ from: Double, _ to: Double, _ cost: OpCost) {
                events.append(OpEvent(name: name, layer: layer, phase: .decode, tokens: 1,
                                      start: t0 + UInt64(from * 1e6), end: t0 + UInt64(to * 1e6), cost: cost))
            }
            add("qkv", 0, 0, 3, OpCost(flops: 3e6, bytes: 30e6))
            add("attention", 1, 3, 4, OpCost(flops: 1e9, bytes: 1e3))
            add("lm_head", -1, 4, 9, OpCost(flops: 0, bytes: 100e6))
            add(samplingOpName, -1, 9, 9.5, OpCost(flops: 0, bytes: 0))
        }
        steps.append(StepEvent(phase: .prefill, tokens: 8, start: 0, end: 50 * ms))
        return ProfileRecording(threadCount: 2, layers: 2, events: events, steps: steps)
    }

    @Test func sumsPercentagesSortingAndRemainder() throws {
        let ceilings = MachineCeilings(readGBs: [10, 20], fp32GFLOPs: [100, 200], int8GOPs: nil, bufferBytes: 1, measuredAt: "now")
        let s = PhaseSummary(recording: syntheticRecording(), phase: .decode, ceilings: ceilings)
        #expect(s.steps == 2 && s.tokens == 2)
        #expect(s.stepNanoseconds == 20_000_000)
        #expect(s.rows.map(\.name) == ["lm_head", "qkv", "attention", samplingOpName, PhaseSummary.uncoveredName])
        let head = s.rows[0]
        #expect(head.calls == 2 && head.totalNanoseconds == 10_000_000)
        #expect(abs(head.percentOfStep - 50) < 1e-9)
        #expect(abs(head.millisecondsPerToken - 5) < 1e-9)
        #expect(abs(head.gbs - 20) < 1e-9)  // 200 MB in 10 ms
        // 2 threads: 20 GB/s is the ceiling, so lm_head runs at 100% of its (memory) roofline.
        #expect(abs(head.rooflinePercent! - 100) < 1e-6 && head.bound == "memory")
        let attention = s.rows[2]
        #expect(attention.bound == "compute")
        #expect(abs(attention.rooflinePercent! - 500) < 1e-6)  // 2 GFLOP in 2 ms at 200 GFLOP/s = 10 ms
        #expect(s.uncoveredNanoseconds == 1_000_000)
        #expect(abs(s.rows.last!.percentOfStep - 5) < 1e-9)
        // Every row, the remainder included, adds up to the measured steps.
        let total = s.rows.reduce(0.0) { $0 + $1.percentOfStep }
        #expect(abs(total - 100) < 1e-9)
        #expect(s.layerMilliseconds[0][s.layerOps.firstIndex(of: "qkv")!] == 6)
        #expect(s.layerMilliseconds[1][s.layerOps.firstIndex(of: "attention")!] == 2)
        #expect(s.layerTable().contains("| 0 | 0.000 | 6.000 |"))
        #expect(s.opTable().contains("| \(PhaseSummary.uncoveredName) | 2 | 1.000 |"))

        let prefill = PhaseSummary(recording: syntheticRecording(), phase: .prefill, ceilings: nil)
        #expect(prefill.tokens == 8 && prefill.rows.count == 1 && prefill.uncoveredNanoseconds == 50_000_000)
        let unCalibrated = PhaseSummary(recording: syntheticRecording(), phase: .decode, ceilings: nil)
        #expect(unCalibrated.rows[0].rooflinePercent == nil && unCalibrated.opTable().contains("no calibration"))
    }

    /// Q8_0 matmuls are integer work: rated against the calibrated int8 peak, and without
    /// one (no VNNI) given no roofline rather than the fp32 peak's.
    @Test func int8OpsAreRatedAgainstTheInt8Peak() throws {
        let ms: UInt64 = 1_000_000
        let recording = ProfileRecording(
            threadCount: 2, layers: 1,
            events: [OpEvent(name: "mlp_up", layer: 0, phase: .prefill, tokens: 8, start: 0, end: 10 * ms, cost: OpCost(flops: 0, intOps: 8e9, bytes: 1e6)),
                     OpEvent(name: "attention", layer: 0, phase: .prefill, tokens: 8, start: 10 * ms, end: 20 * ms, cost: OpCost(flops: 1e9, bytes: 1e6))],
            steps: [StepEvent(phase: .prefill, tokens: 8, start: 0, end: 20 * ms)])
        let withInt8 = MachineCeilings(readGBs: [10, 20], fp32GFLOPs: [100, 200], int8GOPs: [400, 800], bufferBytes: 1, measuredAt: "now")
        let s = PhaseSummary(recording: recording, phase: .prefill, ceilings: withInt8)
        let up = try #require(s.rows.first { $0.name == "mlp_up" })
        // 8 GOP at 800 GOP/s (2 threads) = 10 ms: the op runs at its compute roofline.
        #expect(abs(up.rooflinePercent! - 100) < 1e-6 && up.bound == "compute")
        #expect(abs(up.gflops - 800) < 1e-6)
        let attention = try #require(s.rows.first { $0.name == "attention" })
        #expect(abs(attention.rooflinePercent! - 50) < 1e-6)  // 1 GFLOP at 200 GFLOP/s = 5 ms of 10
        let noVNNI = MachineCeilings(readGBs: [10, 20], fp32GFLOPs: [100, 200], int8GOPs: nil, bufferBytes: 1, measuredAt: "now")
        let without = PhaseSummary(recording: recording, phase: .prefill, ceilings: noVNNI)
        #expect(without.rows.first { $0.name == "mlp_up" }?.rooflinePercent == nil)
        #expect(without.rows.first { $0.name == "attention" }?.rooflinePercent != nil)
    }

    /// The cost model counts a Q8_0 matmul's dot products as integer operations.
    @Test func q8MatmulsCountIntegerOperations() {
        let q8 = tinyModel.quantized(to: .q8_0)
        let fp32 = OpCost.of(.mlpUp, layer: 0, tokens: 4, position: 0, model: tinyModel)
        let int8 = OpCost.of(.mlpUp, layer: 0, tokens: 4, position: 0, model: q8)
        let C = Double(tinyModel.config.nEmbd), I = Double(tinyModel.config.nInner)
        #expect(fp32.flops == 2 * 4 * C * I && fp32.intOps == 0)
        #expect(int8.intOps == 2 * 4 * C * I && int8.flops == 0)
    }

    /// `--numa` reaches the session `gpt2 profile` runs on.
    @Test func profileRunsWithTheNumaStrategyAsked() throws {
        let recording = try onDedicatedThread {
            try ProfileRunner.run(model: tinyModel, options: ProfileOptions(promptTokens: 4, generatedTokens: 1, threads: 2, numa: .isolate))
        }
        #expect(recording.numa == .isolate)
    }

    @Test func threadBusyTimeIsAttributedToTheEnclosingOp() throws {
        var recording = syntheticRecording()
        let ms: UInt64 = 1_000_000, t0 = 100 * ms  // first decode step; qkv runs 0–3 ms, lm_head 4–9 ms
        recording.threadSpans = [
            ThreadSpan(thread: 0, start: t0 + 0 * ms, end: t0 + 3 * ms), ThreadSpan(thread: 1, start: t0 + 1 * ms, end: t0 + 2 * ms),
            ThreadSpan(thread: 0, start: t0 + 4 * ms, end: t0 + 9 * ms), ThreadSpan(thread: 1, start: t0 + 4 * ms, end: t0 + 9 * ms),
            ThreadSpan(thread: 1, start: 10 * ms, end: 20 * ms),  // inside the prefill step, in no op
        ]
        let s = PhaseSummary(recording: recording, phase: .decode, ceilings: nil)
        let qkv = try #require(s.rows.first { $0.name == "qkv" })
        #expect(qkv.threadBusyMilliseconds == [3, 1])
        #expect(abs(qkv.threadsBusyPercent! - 4.0 / 12 * 100) < 1e-9)  // 4 of 2 × 6 thread-ms
        let head = try #require(s.rows.first { $0.name == "lm_head" })
        #expect(head.threadBusyMilliseconds == [5, 5] && abs(head.threadsBusyPercent! - 50) < 1e-9)  // one of its two calls
        #expect(s.threadTable()!.contains("| qkv | 6.000 | 3.000 | 1.000 | 33% |"))
        #expect(PhaseSummary(recording: syntheticRecording(), phase: .decode, ceilings: nil).threadTable() == nil)
    }

    @Test func costModelCountsMatmulFlopsAndWeightBytes() {
        let w = tinyModel.weights.blocks[0].fc
        let cost = OpCost.of(.mlpUp, layer: 0, tokens: 3, position: 0, model: tinyModel)
        #expect(cost.flops == Double(2 * 3 * w.inputs * w.outputs))
        #expect(cost.bytes > Double(w.byteCount))
        // Attention reads the cache up to the position: later tokens cost more.
        let early = OpCost.of(.attention, layer: 0, tokens: 1, position: 0, model: tinyModel)
        let late = OpCost.of(.attention, layer: 0, tokens: 1, position: 50, model: tinyModel)
        #expect(late.flops == 51 * early.flops)
        let C = 128, I = 512, V = 1000
        #expect(tinyModel.weightBytesPerToken == 4 * (2 * (C * 3 * C + C * C + 2 * C * I) + V * C + 2 * C))
    }
}

@Suite(.serialized) struct ProfileRunTests {
    @Test func realRunCoversStepsAndTracesEveryThread() throws {
        let recording = try ProfileRunner.run(model: tinyModel, options: ProfileOptions(
            promptTokens: 16, generatedTokens: 4, threads: 2, recordThreads: true, seed: 1))
        #expect(recording.steps.count == 5)
        // Per step: embedding, 7 ops × 2 layers, ln_f, lm_head, sampling.
        #expect(recording.events.count == 5 * (1 + 7 * 2 + 3))
        for e in recording.events {
            #expect(recording.steps.contains { $0.start <= e.start && e.end <= $0.end }, "\(e.name) outside every step")
        }
        for phase in Phase.allCases {
            let s = PhaseSummary(recording: recording, phase: phase, ceilings: nil)
            #expect(s.uncoveredNanoseconds >= 0)
            #expect(Set(s.rows.map(\.name)) == Set(Op.allCases.map(\.rawValue) + [samplingOpName, PhaseSummary.uncoveredName]))
        }
        #expect(recording.droppedSpans == 0)

        let trace = try #require(JSONSerialization.jsonObject(with: Data(recording.chromeTrace().utf8)) as? [String: Any])
        let items = try #require(trace["traceEvents"] as? [[String: Any]])
        let complete = items.filter { $0["ph"] as? String == "X" }
        let ops = complete.filter { $0["cat"] as? String == "op" }
        let spans = complete.filter { $0["cat"] as? String == "thread" }
        #expect(ops.count == recording.events.count)
        #expect(Set(spans.compactMap { $0["tid"] as? Int }) == [0, 1])
        #expect(Set(spans.compactMap { $0["pid"] as? Int }) == [ProfileRecording.threadsProcess])
        for span in spans {
            let name = span["name"] as! String, ts = span["ts"] as! Double, dur = span["dur"] as! Double
            #expect(name != "region")
            #expect(ops.contains { op in
                let start = op["ts"] as! Double, end = start + (op["dur"] as! Double)
                return op["name"] as! String == name && start <= ts + 1e-3 && ts + dur <= end + 1e-3
            }, "thread span \(name) at \(ts) is not inside its op")
        }
    }

    @Test func htmlReportIsWellFormedAndNamesEveryOp() throws {
        let recording = try ProfileRunner.run(model: tinyModel, options: ProfileOptions(promptTokens: 8, generatedTokens: 2, threads: 2, recordThreads: true))
        let summaries = Phase.allCases.map { PhaseSummary(recording: recording, phase: $0, ceilings: nil) }
        let html = profileReportHTML(title: "t <&> \"x\"", summaries: summaries, notes: ["a & b"])
        for name in Op.allCases.map(\.rawValue) + [samplingOpName] { #expect(html.contains(">\(name)<")) }
        #expect(html.contains("<svg") && !html.contains("<script") && html.contains("<th>thread 1 ms</th>"))
        #if canImport(FoundationXML)
        let document = try XMLDocument(xmlString: html.replacingOccurrences(of: "<!DOCTYPE html>", with: ""), options: [])
        #expect(document.rootElement()?.name == "html")
        #else
        #expect(html.components(separatedBy: "<tr>").count == html.components(separatedBy: "</tr>").count)
        #endif
    }
}

@Suite(.serialized) struct BenchTests {
    /// `--numa` reaches the sessions `gpt2 bench` runs on: `isolate` pins every thread to the
    /// CPU the topology plans (one node here: the current node's CPUs), `off` pins none, and
    /// the records report the session's strategy, not the option's text.
    @Test func numaStrategyReachesTheSession() throws {
        let (planned, cpus, isolated, off, records) = try onDedicatedThread {
            let topology = NumaTopology.discover()
            let planned = topology.placement(threads: 2, strategy: .isolate, currentNode: topology.currentNodeIndex())
            let plan = BenchPlan(modelPaths: [tinyModelDirectory], tests: [.generation(2)], threads: [2], repetitions: 1, numa: .isolate)
            let session = plan.makeSession(model: tinyModel, threads: 2)
            // Each thread's own affinity mask: pinned threads may run on one CPU only.
            let cpus = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: 2)
            cpus.initialize(repeating: [])
            defer { cpus.deinitialize(); cpus.deallocate() }
            session.pool.run { index in cpus[index] = ThreadPool.availableCPUs() }
            var unpinned = plan
            unpinned.numa = .off
            let off = unpinned.makeSession(model: tinyModel, threads: 2)
            return (planned, Array(cpus), session, off, try plan.run(ceilings: nil))
        }
        #expect(isolated.numa == .isolate && isolated.placement.cpus == planned.cpus && planned.cpus.count == 2)
        #expect(cpus == planned.cpus.map { [$0] })
        #expect(off.numa == .off && off.placement.cpus.isEmpty)
        #expect(records.map(\.numa) == ["isolate"])
    }

    @Test func testNames() {
        #expect(BenchTest.prompt(512).name == "pp512")
        #expect(BenchTest.generation(128).name == "tg128")
        #expect(BenchTest.promptThenGeneration(512, 128).name == "pp512+tg128")
    }

    /// The runner's figure agrees with a stopwatch around the same work: its samples are parts
    /// of the wall time, and the untimed parts (warm-up, 1-token prompt, argmax) are small.
    @Test func tokensPerSecondAgreesWithAStopwatch() throws {
        let session = GPT2Session(model: tinyModel, threads: 1)
        var runner = try BenchRunner(session: session)
        let start = monotonicNanoseconds()
        let m = try runner.measure(.generation(24), repetitions: 3)
        let wall = Double(monotonicNanoseconds() - start)
        let timed = m.samplesNanoseconds.reduce(0) { $0 + Double($1) }
        #expect(m.samplesNanoseconds.count == 3 && m.tokenLatenciesNanoseconds.count == 72)
        #expect(timed <= wall)
        // Expected ~3/4 (three timed runs of four); generous, as other processes share the CPUs.
        #expect(timed >= 0.25 * wall, "timed \(timed) ns of \(wall) ns wall")
        let record = BenchRecord(model: tinyModel, modelPath: "tiny", test: .generation(24), threads: 1, numa: "off",
                                 profiler: false, measurement: m, loadNanoseconds: 0, ceilings: nil)
        // The record's figures are those samples: avg_ns their mean, avg_ts the mean of 24 ÷ each.
        // Written out here rather than with the implementation's own `mean`.
        let samples = m.samplesNanoseconds.map { Double($0) }
        let sum = samples[0] + samples[1] + samples[2]
        let rates = samples.map { 24 * 1e9 / $0 }
        #expect(abs(record.avgNs - sum / 3) <= 1e-9 * record.avgNs && record.samplesNs == m.samplesNanoseconds)
        #expect(abs(record.avgTs - (rates[0] + rates[1] + rates[2]) / 3) <= 1e-9 * record.avgTs)
        #expect(abs(Double(m.tokenLatenciesNanoseconds.reduce(0, +)) - timed) < 1)  // tg: the tokens are all of it
    }

    @Test func contextAndRepetitionErrors() throws {
        var runner = try BenchRunner(session: GPT2Session(model: tinyModel, threads: 1))
        #expect(throws: ProfilingError.self) { try runner.measure(.promptThenGeneration(90, 10), repetitions: 1) }
        #expect(throws: ProfilingError.self) { try runner.measure(.prompt(4), repetitions: 0) }
        #expect(throws: ProfilingError.self) { try runner.timedNanoseconds(.promptThenGeneration(90, 10)) }
    }

    /// One run without warm-up (the regression benchmarks' unit) times the same work as one
    /// repetition of `measure`: tg's timed part is its generated tokens, and the session ends
    /// with every position of the test in the cache.
    @Test func timedRunCountsTheTestsTokens() throws {
        var runner = try BenchRunner(session: GPT2Session(model: tinyModel, threads: 1))
        let start = monotonicNanoseconds()
        let timed = try runner.timedNanoseconds(.generation(6))
        #expect(timed > 0 && timed <= monotonicNanoseconds() - start)
        #expect(runner.session.position == 7)  // the 1-token prompt, then 6 generated
        _ = try runner.timedNanoseconds(.prompt(16))
        #expect(runner.session.position == 16)
    }

    func records() throws -> [BenchRecord] {
        let session = GPT2Session(model: tinyModel, threads: 2)
        var runner = try BenchRunner(session: session, includeSampling: true)
        let ceilings = MachineCeilings(readGBs: [10], fp32GFLOPs: [100], int8GOPs: nil, bufferBytes: 1, measuredAt: "now")
        return try [BenchTest.prompt(8), .generation(4), .promptThenGeneration(8, 4)].map { test in
            BenchRecord(model: tinyModel, modelPath: "/tmp/tiny", test: test, threads: 2, numa: "off", profiler: false,
                        measurement: try runner.measure(test, repetitions: 2), loadNanoseconds: 1_000_000, ceilings: ceilings)
        }
    }

    @Test func jsonAndJsonlHaveLlamaBenchFields() throws {
        let records = try records()
        let keys = Set(BenchRecord.CodingKeys.allCases.map(\.rawValue))
        #expect(keys.isSuperset(of: ["model_filename", "model_type", "model_size", "model_n_params", "type", "n_threads",
                                     "numa", "n_prompt", "n_gen", "test", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts",
                                     "samples_ns", "samples_ts", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99",
                                     "ttft_ms", "load_ms", "peak_rss_bytes", "weight_bytes_per_token", "bandwidth_gbs",
                                     "bandwidth_share", "build_commit", "cpu_info", "test_time"]))
        let array = try #require(JSONSerialization.jsonObject(with: Data(try records.formatted(.json, ceilings: nil).utf8)) as? [[String: Any]])
        #expect(array.count == 3)
        for object in array { #expect(Set(object.keys) == keys) }
        #expect(array[0]["test"] as? String == "pp8" && array[0]["latency_ms_p50"] is NSNull)
        #expect(array[1]["n_gen"] as? Int == 4 && (array[1]["samples_ns"] as? [Any])?.count == 2)
        #expect((array[1]["bandwidth_share"] as? Double).map { $0 > 0 } == true)
        #expect((array[2]["ttft_ms"] as? Double).map { $0 > 0 } == true)
        #expect(array[0]["build_commit"] as? String == BuildInfo.commit && array[0]["cpu_info"] as? String == BuildInfo.cpuModelName)
        let testTime = try #require(array[0]["test_time"] as? String)
        #expect(testTime.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil, "\(testTime)")
        #expect(BenchRecord.utcTimestamp(Date(timeIntervalSince1970: 86_400 + 3_661)) == "1970-01-02T01:01:01Z")
        let lines = try records.formatted(.jsonl, ceilings: nil).split(separator: "\n")
        #expect(lines.count == 3)
        for line in lines {
            let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(Set(object.keys) == keys)
        }
    }

    /// llama-bench's SQL: one CREATE TABLE with a typed column per field, one INSERT per record.
    @Test func sqlHasLlamaBenchShape() throws {
        var records = try records()
        records[0].cpuInfo = "O'Brien CPU"  // a quote inside a value is doubled
        let lines = try records.formatted(.sql, ceilings: nil).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let keys = BenchRecord.CodingKeys.allCases.map(\.rawValue)
        #expect(lines[0] == "CREATE TABLE IF NOT EXISTS test (")
        #expect(lines[1] == "  model_filename TEXT," && lines[keys.count] == "  test_time TEXT")
        #expect(lines.contains("  avg_ts REAL,") && lines.contains("  n_threads INTEGER,"))
        #expect(lines[keys.count + 1] == ");" && lines[keys.count + 2] == "")
        let inserts = lines.filter { $0.hasPrefix("INSERT INTO test (") }
        #expect(inserts.count == 3)
        #expect(inserts.allSatisfy { $0.hasPrefix("INSERT INTO test (\(keys.joined(separator: ", "))) VALUES ('/tmp/tiny', ") && $0.hasSuffix(");") })
        #expect(inserts[0].contains(", NULL, ") && inserts[0].contains("'O''Brien CPU'"))
    }

    @Test func csvAndMarkdown() throws {
        let records = try records()
        let lines = try records.formatted(.csv, ceilings: nil).split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0].split(separator: ",").map(String.init) == BenchRecord.CodingKeys.allCases.map(\.rawValue))
        // No field has a comma inside quotes here, so a plain split counts the columns.
        for line in lines.dropFirst() { #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == BenchRecord.CodingKeys.allCases.count) }
        let md = try records.formatted(.md, ceilings: nil)
        #expect(md.hasPrefix("| model | size | params | type | threads | test | t/s |"))
        #expect(md.contains("| pp8+tg4 |") && md.contains("no calibration cached"))
    }
}

@Suite struct RegionRecorderTests {
    @Test func everyThreadRecordsEachRegionAndOverflowIsCounted() {
        let pool = ThreadPool(threadCount: 2)
        let recorder = RegionRecorder(threadCount: 2, capacity: 3)
        pool.regionRecorder = recorder
        for _ in 0..<5 { pool.run { _ in } }
        pool.regionRecorder = nil
        pool.run { _ in }
        #expect(recorder.spans(thread: 0).count == 3 && recorder.spans(thread: 1).count == 3)
        #expect(recorder.dropped == 4)
        #expect(recorder.spans(thread: 1).allSatisfy { $0.start <= $0.end })
        recorder.reset()
        #expect(recorder.spans(thread: 0).isEmpty && recorder.dropped == 0)
    }
}
