// `gpt2 profile`'s recorder: an `OpObserver` that keeps every op's start and end, and the runner
// that drives a session through a prefill and a decode while it listens.

import GPT2
import GPT2Runtime

/// Prefill (the prompt in one `evaluate`) or decode (one token per step).
public enum Phase: String, Sendable, CaseIterable {
    case prefill, decode
}

/// The name under which sampling (not a graph op) is reported.
public let samplingOpName = "sampling"

/// One timed op call.
public struct OpEvent: Sendable, Equatable {
    /// `Op.rawValue`, or `samplingOpName`.
    public var name: String
    /// Block index; -1 outside blocks.
    public var layer: Int
    public var phase: Phase
    public var tokens: Int
    public var start: UInt64
    public var end: UInt64
    public var cost: OpCost

    public init(name: String, layer: Int, phase: Phase, tokens: Int, start: UInt64, end: UInt64, cost: OpCost) {
        self.name = name; self.layer = layer; self.phase = phase; self.tokens = tokens
        self.start = start; self.end = end; self.cost = cost
    }

    public var nanoseconds: UInt64 { end - start }
}

/// One timed step: an `evaluate` call plus the sampling of the next token.
public struct StepEvent: Sendable, Equatable {
    public var phase: Phase
    public var tokens: Int
    public var start: UInt64
    public var end: UInt64

    public init(phase: Phase, tokens: Int, start: UInt64, end: UInt64) {
        self.phase = phase; self.tokens = tokens; self.start = start; self.end = end
    }
}

/// When one pool thread was busy inside a parallel region.
public struct ThreadSpan: Sendable, Equatable {
    public var thread: Int
    public var start: UInt64
    public var end: UInt64

    public init(thread: Int, start: UInt64, end: UInt64) { self.thread = thread; self.start = start; self.end = end }
}

/// Everything a profile run recorded.
public struct ProfileRecording: Sendable {
    public var threadCount: Int
    public var layers: Int
    public var events: [OpEvent]
    public var steps: [StepEvent]
    /// Per-thread region spans (empty when threads were not recorded).
    public var threadSpans: [ThreadSpan]
    /// Region spans lost to a full recorder buffer.
    public var droppedSpans: Int
    /// The NUMA strategy of the session that ran (pinning and weight placement).
    public var numa: NumaStrategy

    public init(threadCount: Int, layers: Int, events: [OpEvent], steps: [StepEvent], threadSpans: [ThreadSpan] = [], droppedSpans: Int = 0,
                numa: NumaStrategy = .off) {
        self.threadCount = threadCount; self.layers = layers; self.events = events; self.steps = steps
        self.threadSpans = threadSpans; self.droppedSpans = droppedSpans; self.numa = numa
    }
}

/// Collects `OpEvent`s from a `GPT2Session`: attach with `session.observer = profiler` (the
/// session holds it weakly). Set `phase` before each step.
public final class OpProfiler: OpObserver {
    public let model: GPT2Model
    /// The session observed, for the position of the chunk being run (attention's cost).
    public weak var session: GPT2Session?
    public var phase: Phase = .prefill
    public private(set) var events: [OpEvent] = []

    public init(model: GPT2Model, session: GPT2Session?, expectedEvents: Int = 4096) {
        self.model = model
        self.session = session
        events.reserveCapacity(expectedEvents)
    }

    public func opDidRun(_ op: Op, layer: Int, tokens: Int, startNanoseconds: UInt64, endNanoseconds: UInt64) {
        let cost = OpCost.of(op, layer: layer, tokens: tokens, position: session?.position ?? 0, model: model)
        events.append(OpEvent(name: op.rawValue, layer: layer, phase: phase, tokens: tokens,
                              start: startNanoseconds, end: endNanoseconds, cost: cost))
    }

    /// Records a sampling call that ran from `start` to `end`.
    public func recordSampling(start: UInt64, end: UInt64) {
        events.append(OpEvent(name: samplingOpName, layer: -1, phase: phase, tokens: 1, start: start, end: end,
                              cost: .sampling(model: model)))
    }

    /// Forgets the events, keeping the storage.
    public func reset() { events.removeAll(keepingCapacity: true) }
}

/// What `gpt2 profile` runs.
public struct ProfileOptions: Sendable {
    /// Prompt tokens evaluated in the prefill step (≥ 1).
    public var promptTokens: Int
    /// Decode steps after it.
    public var generatedTokens: Int
    public var threads: Int
    /// Record per-thread region spans for a trace.
    public var recordThreads: Bool
    public var seed: UInt64
    /// Thread pinning and weight placement, as in `generate` and `bench`.
    public var numa: NumaStrategy

    public init(promptTokens: Int = 128, generatedTokens: Int = 64, threads: Int, recordThreads: Bool = false, seed: UInt64 = 0,
                numa: NumaStrategy = .off) {
        self.promptTokens = promptTokens; self.generatedTokens = generatedTokens; self.threads = threads
        self.recordThreads = recordThreads; self.seed = seed; self.numa = numa
    }
}

/// Errors of the benchmark and profile runners.
public enum ProfilingError: Error, CustomStringConvertible, Equatable {
    case invalidOption(String)

    public var description: String {
        switch self { case let .invalidOption(why): return why }
    }
}

/// Random token ids in the model's vocabulary (prompts for bench and profile: the speed of a
/// forward pass does not depend on which tokens it sees).
func randomTokens(_ count: Int, vocabularySize: Int, rng: inout Xoshiro256StarStar) -> [Int] {
    (0..<count).map { _ in Int(rng.next() % UInt64(vocabularySize)) }
}

/// Drives a session through one prefill step and `generatedTokens` decode steps with a profiler
/// attached, after an untimed warm-up. Each step is an `evaluate` plus the sampling of the
/// next token (llama.cpp's default sampling chain).
public enum ProfileRunner {
    public static func run(model: GPT2Model, options: ProfileOptions) throws -> ProfileRecording {
        let config = model.config
        guard options.promptTokens >= 1 else { throw ProfilingError.invalidOption("-p must be at least 1, got \(options.promptTokens)") }
        guard options.generatedTokens >= 0 else { throw ProfilingError.invalidOption("-n must not be negative, got \(options.generatedTokens)") }
        guard options.promptTokens + options.generatedTokens <= config.nPositions else {
            throw ProfilingError.invalidOption(
                "-p \(options.promptTokens) + -n \(options.generatedTokens) exceeds the model's context of \(config.nPositions) tokens")
        }
        let session = GPT2Session(model: model, threads: options.threads, numa: options.numa)
        let sampler = try Sampler(parameters: SamplingParameters(seed: options.seed), vocabularySize: config.vocabSize)
        var rng = Xoshiro256StarStar(seed: options.seed)
        let prompt = randomTokens(options.promptTokens, vocabularySize: config.vocabSize, rng: &rng)

        // Warm-up: page in the weights, size every buffer, wake the workers.
        _ = try session.evaluate(prompt)
        _ = try session.evaluate([prompt[0]])
        session.reset()

        let profiler = OpProfiler(model: model, session: session,
                                  expectedEvents: (options.generatedTokens + 1) * (config.nLayer * 7 + 5))
        let recorder = options.recordThreads ? RegionRecorder(threadCount: session.pool.threadCount, capacity: 1 << 18) : nil
        session.observer = profiler
        session.pool.regionRecorder = recorder
        defer { session.observer = nil; session.pool.regionRecorder = nil }

        var steps: [StepEvent] = []
        var history = prompt
        func step(_ phase: Phase, _ tokens: [Int]) throws {
            profiler.phase = phase
            let start = monotonicNanoseconds()
            let logits = try session.evaluate(tokens)
            let sampleStart = monotonicNanoseconds()
            let next = sampler.sample(logits: logits, history: history)
            let end = monotonicNanoseconds()
            profiler.recordSampling(start: sampleStart, end: end)
            steps.append(StepEvent(phase: phase, tokens: tokens.count, start: start, end: end))
            history.append(next)
        }
        try step(.prefill, prompt)
        for _ in 0..<options.generatedTokens { try step(.decode, [history.last!]) }

        var spans: [ThreadSpan] = []
        if let recorder {
            for t in 0..<recorder.threadCount {
                spans += recorder.spans(thread: t).map { ThreadSpan(thread: t, start: $0.start, end: $0.end) }
            }
        }
        return ProfileRecording(threadCount: session.pool.threadCount, layers: config.nLayer, events: profiler.events,
                                steps: steps, threadSpans: spans, droppedSpans: recorder?.dropped ?? 0, numa: session.numa)
    }
}
