import Foundation
import Kernels
import Testing
import Tokenizer
@testable import GPT2

struct GenerationTests {
    static let fixture = ParityTests.cases.first { $0.name == "tiny-f32" }!

    func makeGenerator(threads: Int = 2) throws -> Generator {
        Generator(model: try GPT2Model.load(path: Self.fixture.directory), tokenizer: try GPT2Tokenizer.bundled(), threads: threads)
    }

    func generate(_ generator: Generator, prompt: [Int], _ options: GenerationOptions) throws -> ([Int], GenerationStats) {
        var ids: [Int] = []
        let stats = try generator.generate(promptTokens: prompt, options: options) { ids.append($0.id); return true }
        return (ids, stats)
    }

    @Test func greedyPicksTheArgmaxOfTheReferenceLogits() throws {
        let generator = try makeGenerator()
        let c = Self.fixture
        let V = generator.model.config.vocabSize
        for k in [1, 2, 9, c.tokens.count] {
            let (ids, _) = try generate(generator, prompt: Array(c.tokens[..<k]), GenerationOptions(maxNewTokens: 1, sampling: .greedy))
            let row = c.reference[((k - 1) * V)..<(k * V)]
            let argmax = row.indices.max { row[$0] < row[$1] }! - (k - 1) * V
            #expect(ids == [argmax], "prompt length \(k)")
        }
    }

    @Test func sameSeedSameTokensDifferentSeedDifferentTokens() throws {
        let generator = try makeGenerator()
        let prompt = Array(Self.fixture.tokens[..<5])
        var options = GenerationOptions(maxNewTokens: 24, sampling: SamplingParameters(temperature: 1.0, topK: 0, topP: 1, seed: 42))
        let (a, statsA) = try generate(generator, prompt: prompt, options)
        let (b, _) = try generate(generator, prompt: prompt, options)
        options.sampling.seed = 43
        let (c, _) = try generate(generator, prompt: prompt, options)
        #expect(a == b)
        #expect(a != c)
        #expect(a.count == 24)
        #expect(statsA.generatedTokens == 24 && statsA.decodeSteps == 23 && statsA.promptTokens == 5)
        #expect(statsA.stopReason == .maxTokens)
    }

    @Test func stopsWhenTheContextIsFull() throws {
        let generator = try makeGenerator(threads: 1)
        let n = generator.model.config.nPositions
        let prompt = (0..<(n - 3)).map { Self.fixture.tokens[$0 % Self.fixture.tokens.count] }
        let (ids, stats) = try generate(generator, prompt: prompt, GenerationOptions(maxNewTokens: 10, sampling: .greedy))
        #expect(ids.count == 4)  // 3 fed back through the cache, a 4th sampled from the last position
        #expect(stats.stopReason == .contextFull)
    }

    @Test func badPromptsAreErrors() throws {
        let generator = try makeGenerator(threads: 1)
        #expect(throws: GPT2Error.emptyPrompt) { try generator.generate(promptTokens: [], onToken: { _ in true }) }
        let n = generator.model.config.nPositions
        #expect(throws: GPT2Error.contextOverflow(needed: n + 1, limit: n)) {
            try generator.generate(promptTokens: Array(repeating: 1, count: n + 1), onToken: { _ in true })
        }
        #expect(throws: (any Error).self) {
            try generator.generate(promptTokens: [1], options: GenerationOptions(sampling: SamplingParameters(temperature: -1)), onToken: { _ in true })
        }
    }

    @Test func asyncStreamYieldsTheSameTokensAsTheCallback() async throws {
        let generator = try makeGenerator()
        let options = GenerationOptions(maxNewTokens: 12, sampling: SamplingParameters(temperature: 0.9, seed: 5))
        let prompt = Array(Self.fixture.tokens[..<4])
        var expected: [Int] = []
        try generator.generate(promptTokens: prompt, options: options) { expected.append($0.id); return true }
        var streamed: [Int] = []
        for try await token in generator.tokens(promptTokens: prompt, options: options) { streamed.append(token.id) }
        #expect(streamed == expected)
        #expect(streamed.count == 12)
    }

    @Test func perplexityScoresTokensAsHuggingFaceDoes() throws {
        let model = try GPT2Model.load(path: Self.fixture.directory)
        let session = GPT2Session(model: model, threads: 2)
        let tokens = Self.fixture.tokens
        let V = model.config.vocabSize

        // Reference: one window over the whole sequence, straight from the fixture's logits.
        var nll = 0.0
        for j in 1..<tokens.count {
            let row = Array(Self.fixture.reference[((j - 1) * V)..<(j * V)])
            nll += Double(row.withUnsafeBufferPointer { logSumExp($0.baseAddress!, count: V) } - row[tokens[j]])
        }
        let whole = try PerplexityEvaluation(context: tokens.count, stride: tokens.count, modelContext: model.config.nPositions)
            .evaluate(session: session, tokens: tokens)
        #expect(whole.scoredTokens == tokens.count - 1)
        #expect(abs(whole.negativeLogLikelihood - nll) / nll < 1e-4)

        for (context, stride) in [(16, 16), (16, 5), (10, 1), (40, 7)] {
            var dumped = 0
            let result = try PerplexityEvaluation(context: context, stride: stride, modelContext: model.config.nPositions)
                .evaluate(session: session, tokens: tokens, onScoredLogits: { row in
                    #expect(row.count == V)
                    dumped += 1
                })
            // Overlapping windows score every token but the first; disjoint windows (stride ==
            // context) cannot score the first token of each window, as in Hugging Face's guide.
            let expected = stride < context ? tokens.count - 1 : tokens.count - result.windows
            #expect(result.scoredTokens == expected, "context \(context) stride \(stride)")
            #expect(result.windows == 1 + max(0, (tokens.count - context + stride - 1) / stride))
            #expect(dumped == result.scoredTokens)
            // Reference: Hugging Face's sliding-window loop written out, each window evaluated
            // from an empty cache, each token scored by the first window that can.
            var reference = 0.0, scored = 0, previousEnd = 0
            for begin in Swift.stride(from: 0, to: tokens.count, by: stride) {
                let end = min(begin + context, tokens.count)
                session.reset()
                let logits = Array(try session.evaluate(Array(tokens[begin..<end]), logits: .all))
                for j in max(previousEnd, begin + 1)..<end {
                    let row = Array(logits[((j - 1 - begin) * V)..<((j - begin) * V)])
                    reference += Double(row.withUnsafeBufferPointer { logSumExp($0.baseAddress!, count: V) } - row[tokens[j]])
                    scored += 1
                }
                previousEnd = end
                if end == tokens.count { break }
            }
            #expect(result.scoredTokens == scored)
            #expect(abs(result.negativeLogLikelihood - reference) / reference < 1e-5, "context \(context) stride \(stride)")
            #expect(abs(result.perplexity - exp(reference / Double(scored))) / result.perplexity < 1e-4)
        }
        // With a window covering everything, striding changes nothing.
        let strided = try PerplexityEvaluation(context: tokens.count, stride: 3, modelContext: model.config.nPositions)
            .evaluate(session: session, tokens: tokens)
        #expect(abs(strided.negativeLogLikelihood - whole.negativeLogLikelihood) < 1e-3)
    }

    @Test func perplexityRejectsBadWindows() throws {
        let model = try GPT2Model.load(path: Self.fixture.directory)
        #expect(throws: GPT2Error.self) { try PerplexityEvaluation(context: 1, stride: 1, modelContext: 64) }
        #expect(throws: GPT2Error.self) { try PerplexityEvaluation(context: 65, stride: 1, modelContext: 64) }
        #expect(throws: GPT2Error.self) { try PerplexityEvaluation(context: 8, stride: 9, modelContext: 64) }
        #expect(throws: GPT2Error.self) { try PerplexityEvaluation(context: 8, stride: 0, modelContext: 64) }
        let session = GPT2Session(model: model, threads: 1)
        #expect(throws: GPT2Error.self) {
            try PerplexityEvaluation(context: 8, stride: 8, modelContext: 64).evaluate(session: session, tokens: [1])
        }
    }

    /// With a context shift, the run after each shift is exactly a fresh run whose prompt is the
    /// kept half of the window.
    @Test func contextShiftContinuesFromTheKeptHalf() throws {
        let generator = try makeGenerator()
        let P = generator.model.config.nPositions
        let prompt = Array(Self.fixture.tokens[..<4])
        let total = 2 * P + 5
        let (ids, stats) = try generate(generator, prompt: prompt, GenerationOptions(maxNewTokens: total, sampling: .greedy, stopAtEndOfText: false, contextShift: true))
        #expect(ids.count == total && stats.stopReason == .maxTokens)
        // A shift comes when a token is sampled with the window full: first ids[P − 4], then every
        // P/2 + 1 tokens (the kept half, then P/2 tokens fed), unless it is the last token wanted.
        let firstShift = P - prompt.count
        #expect(stats.contextShifts == 1 + (total - 2 - firstShift) / (P / 2 + 1))
        let kept = Array((prompt + ids[...firstShift]).suffix(P / 2))
        let (fresh, _) = try generate(generator, prompt: kept, GenerationOptions(maxNewTokens: total - firstShift - 1, sampling: .greedy, stopAtEndOfText: false, contextShift: true))
        #expect(fresh == Array(ids[(firstShift + 1)...]))
        // Without the option, generation stops at the full context.
        let (stopped, stoppedStats) = try generate(generator, prompt: prompt, GenerationOptions(maxNewTokens: total, sampling: .greedy, stopAtEndOfText: false))
        #expect(stoppedStats.stopReason == .contextFull && stopped == Array(ids[...firstShift]))
    }

    /// A context size below n_positions is the window generation stops (or shifts) at.
    @Test func contextSizeBoundsTheWindow() throws {
        let generator = try makeGenerator()
        let prompt = Array(Self.fixture.tokens[..<4])
        let (ids, stats) = try generate(generator, prompt: prompt, GenerationOptions(maxNewTokens: 100, sampling: .greedy, stopAtEndOfText: false, contextSize: 16))
        #expect(stats.stopReason == .contextFull && ids.count == 16 - prompt.count + 1)
        let (shifted, shiftedStats) = try generate(generator, prompt: prompt, GenerationOptions(maxNewTokens: 40, sampling: .greedy, stopAtEndOfText: false, contextShift: true, contextSize: 16))
        #expect(shifted.count == 40 && shiftedStats.contextShifts >= 3 && Array(shifted.prefix(ids.count)) == ids)
        let P = generator.model.config.nPositions
        #expect(throws: GPT2Error.self) {
            try generate(generator, prompt: prompt, GenerationOptions(maxNewTokens: 1, contextSize: P + 1))
        }
        #expect(throws: GPT2Error.contextOverflow(needed: 4, limit: 3)) {
            try generate(generator, prompt: prompt, GenerationOptions(maxNewTokens: 1, contextSize: 3))
        }
    }
}
