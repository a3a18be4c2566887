// End-to-end regression benchmarks: GPT-2 124M with random weights (the model `gpt2 bench`
// runs by default), fp32 and Q8_0, prompt processing (pp128) and generation (tg32), on 1 and 2
// threads. Each iteration is one run of `gpt2 bench`'s test, timed by the same code
// (`BenchRunner`): tokens/s counts what llama-bench counts (no tokenisation, no sampling, not
// tg's 1-token prompt); wall clock is the whole iteration.
//
//   swift package --package-path Benchmarks benchmark --target EndToEnd
//   swift package --package-path Benchmarks benchmark baseline update --target EndToEnd
//   swift package --package-path Benchmarks benchmark baseline check --target EndToEnd
//
// `baseline check` exits with 2 when a benchmark's median tokens/s or wall clock is more than
// `regressionTolerance` worse than the baseline's (and with 4 when it is that much better: time
// to record a new baseline). The host is shared and noisy: check against a baseline recorded on
// the same machine shortly before, with the machine as quiet as it gets.
import Benchmark
import Foundation
import GPT2
import GPT2Runtime
import Profiling

/// Tokens per second of one run (prompt tokens for pp, generated tokens for tg), as `gpt2 bench`.
let tokensPerSecond = BenchmarkMetric.custom("tokens/s", polarity: .prefersLarger, useScalingFactor: false)

/// How far the median may move, in percent, before `baseline check` fails. Runs on this 2-vCPU
/// shared host differ by 5–10% when it is quiet; a real regression of the hot path (a kernel
/// falling back to scalar code, a lost fusion) costs far more than 15%.
let regressionTolerance: BenchmarkThresholds.RelativeThreshold = 15

/// The weights a benchmark runs on.
enum WeightType: String, CaseIterable {
    case fp32, q8_0

    /// GPT-2 124M in this format; the fp32 checkpoint is written once into the cache.
    func loadModel() throws -> GPT2Model {
        let fp32 = try GPT2Model.load(path: DefaultModel.ensure())
        switch self {
        case .fp32: return fp32
        case .q8_0: return fp32.quantized(to: .q8_0)
        }
    }
}

/// The runner of the one benchmark this process runs (package-benchmark starts a process per
/// benchmark), made by its setup, outside the measured iterations.
nonisolated(unsafe) var runner: BenchRunner?

let benchmarks: @Sendable () -> Void = {
    let tests: [BenchTest] = [.prompt(128), .generation(32)]
    for type in WeightType.allCases {
        for test in tests {
            for threads in [1, 2] {
                let tolerance = BenchmarkThresholds(relative: [.p50: regressionTolerance])
                // About 5 s per benchmark: 3–12 iterations here, enough for a stable median.
                let configuration = Benchmark.Configuration(
                    metrics: [.wallClock, tokensPerSecond], timeUnits: .milliseconds,
                    warmupIterations: 1, maxDuration: .seconds(5), maxIterations: 12,
                    thresholds: [.wallClock: tolerance, tokensPerSecond: tolerance])
                Benchmark("gpt2-124M \(type.rawValue) \(test.name) \(threads)T", configuration: configuration) { benchmark in
                    let tokens = Double(test.promptTokens + test.generatedTokens)
                    for _ in benchmark.scaledIterations {
                        let nanoseconds = try runner!.timedNanoseconds(test)
                        benchmark.measurement(tokensPerSecond, Int((tokens / (Double(nanoseconds) * 1e-9)).rounded()))
                    }
                } setup: {
                    runner = try BenchRunner(session: GPT2Session(model: type.loadModel(), threads: threads))
                } teardown: {
                    runner = nil
                }
            }
        }
    }
}
