import Foundation
import GPT2Runtime
import Synchronization
import Tokenizer

/// What to generate and how to pick tokens.
public struct GenerationOptions: Sendable {
    /// Tokens to generate at most (fewer if `<|endoftext|>` or the context end comes first).
    public var maxNewTokens: Int
    public var sampling: SamplingParameters
    /// Stop at `<|endoftext|>`; benchmarks turn this off for fixed-length runs.
    public var stopAtEndOfText: Bool
    /// When the context is full, keep its last half, evaluate it again from position 0 and go
    /// on (GPT-2's positions are learned and absolute, so the kept tokens cannot simply be moved
    /// in the KV cache). Each shift costs a prefill of n_positions/2 tokens. Without it,
    /// generation stops with `StopReason.contextFull`.
    public var contextShift: Bool
    /// The context window in tokens (llama.cpp's `-c`): at most the model's n_positions, which
    /// is the default (nil).
    public var contextSize: Int?

    public init(maxNewTokens: Int = 128, sampling: SamplingParameters = SamplingParameters(), stopAtEndOfText: Bool = true,
                contextShift: Bool = false, contextSize: Int? = nil) {
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.stopAtEndOfText = stopAtEndOfText
        self.contextShift = contextShift
        self.contextSize = contextSize
    }
}

/// One generated token and the text it completes (possibly "" while a multi-byte character is
/// split across tokens).
public struct GeneratedToken: Sendable, Equatable {
    public let id: Int
    public let text: String
}

/// Why generation ended.
public enum StopReason: String, Sendable {
    case endOfText = "end of text", maxTokens = "token limit", contextFull = "context full", stopped = "stopped by caller"
}

/// Timings of one generation, as llama.cpp reports them.
public struct GenerationStats: Sendable {
    public var promptTokens = 0
    public var promptNanoseconds: UInt64 = 0
    public var generatedTokens = 0
    /// Single-token forward passes after the prompt (one fewer than the tokens generated: the last
    /// token is sampled but never fed back) and the time they took, sampling included.
    public var decodeSteps = 0
    public var decodeNanoseconds: UInt64 = 0
    /// Context shifts (see `GenerationOptions.contextShift`); their re-evaluation time is part
    /// of `decodeNanoseconds`.
    public var contextShifts = 0
    public var stopReason = StopReason.maxTokens

    public var promptTokensPerSecond: Double { rate(promptTokens, promptNanoseconds) }
    public var decodeTokensPerSecond: Double { rate(decodeSteps, decodeNanoseconds) }
    public var decodeMillisecondsPerToken: Double { decodeSteps == 0 ? 0 : Double(decodeNanoseconds) / 1e6 / Double(decodeSteps) }

    private func rate(_ count: Int, _ ns: UInt64) -> Double { ns == 0 ? 0 : Double(count) * 1e9 / Double(ns) }
}

/// Text generation: prompt → tokens, prefill in one batched pass, then sample/feed one token at a
/// time through the KV cache.
public final class Generator {
    public let model: GPT2Model
    public let tokenizer: GPT2Tokenizer
    public let session: GPT2Session

    public init(model: GPT2Model, tokenizer: GPT2Tokenizer, threads: Int? = nil, numa: NumaStrategy = .off) {
        self.model = model
        self.tokenizer = tokenizer
        session = GPT2Session(model: model, threads: threads, numa: numa)
    }

    /// Generates a continuation of `prompt`, calling `onToken` for every new token; return false
    /// from it to stop early.
    @discardableResult
    public func generate(
        prompt: String, options: GenerationOptions = GenerationOptions(),
        onToken: (GeneratedToken) throws -> Bool
    ) throws -> GenerationStats {
        try generate(promptTokens: tokenizer.encode(prompt), options: options, onToken: onToken)
    }

    /// As `generate(prompt:)`, from token ids.
    @discardableResult
    public func generate(
        promptTokens: [Int], options: GenerationOptions = GenerationOptions(),
        onToken: (GeneratedToken) throws -> Bool
    ) throws -> GenerationStats {
        let config = model.config
        guard !promptTokens.isEmpty else { throw GPT2Error.emptyPrompt }
        let window = options.contextSize ?? config.nPositions
        guard window >= 1 && window <= config.nPositions else {
            throw GPT2Error.invalidArgument("the context size must be between 1 and the model's n_positions (\(config.nPositions)), got \(window)")
        }
        guard promptTokens.count <= window else {
            throw GPT2Error.contextOverflow(needed: promptTokens.count, limit: window)
        }
        guard options.maxNewTokens >= 0 else {
            throw GPT2Error.invalidArgument("the number of tokens to generate must not be negative, got \(options.maxNewTokens)")
        }
        let sampler = try Sampler(parameters: options.sampling, vocabularySize: config.vocabSize)
        var stats = GenerationStats()
        stats.promptTokens = promptTokens.count
        var history = promptTokens
        var decoder = StreamingDecoder(tokenizer: tokenizer)

        session.reset()
        let promptStart = monotonicNanoseconds()
        var logits = try session.evaluate(promptTokens)
        stats.promptNanoseconds = monotonicNanoseconds() - promptStart

        var decodeStart = monotonicNanoseconds()
        while stats.generatedTokens < options.maxNewTokens {
            let token = sampler.sample(logits: logits, history: history)
            history.append(token)
            stats.generatedTokens += 1
            if options.stopAtEndOfText && token == tokenizer.endOfTextID {
                stats.stopReason = .endOfText
                break
            }
            // The callback's time (printing) is not inference time.
            let pause = monotonicNanoseconds()
            stats.decodeNanoseconds += pause - decodeStart
            let keepGoing = try onToken(GeneratedToken(id: token, text: decoder.append(token)))
            decodeStart = monotonicNanoseconds()
            if !keepGoing { stats.stopReason = .stopped; break }
            if stats.generatedTokens == options.maxNewTokens { break }
            if session.position == window {
                guard options.contextShift else { stats.stopReason = .contextFull; break }
                // The kept half is the whole history from now on (the repeat penalty's "all" too,
                // as llama.cpp bounds it by the context).
                history = Array(history.suffix(max(1, window / 2)))
                session.reset()
                logits = try session.evaluate(history)
                stats.contextShifts += 1
                stats.decodeSteps += 1
                continue
            }
            logits = try session.evaluate([token])
            stats.decodeSteps += 1
        }
        stats.decodeNanoseconds += monotonicNanoseconds() - decodeStart
        // Bytes of a character the last token left incomplete are dropped, never printed broken.
        return stats
    }

    /// The generated tokens as an `AsyncSequence`. Generation runs on its own thread; cancelling
    /// the consuming task stops it after the current token.
    public func tokens(prompt: String, options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<GeneratedToken, Error> {
        tokens(promptTokens: tokenizer.encode(prompt), options: options)
    }

    /// As `tokens(prompt:)`, from token ids.
    public func tokens(promptTokens: [Int], options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<GeneratedToken, Error> {
        let cancelled = CancellationFlag()
        let unchecked = UncheckedSendable(self)
        return AsyncThrowingStream { continuation in
            continuation.onTermination = { _ in cancelled.cancel() }
            Thread.detachNewThread {
                do {
                    try unchecked.value.generate(promptTokens: promptTokens, options: options) { token in
                        continuation.yield(token)
                        return !cancelled.isCancelled
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
    }
}

private final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// Hands a non-Sendable generator to the generation thread; the stream is its only user.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
