import Foundation
import Kernels

/// Perplexity of a token sequence, scored in windows as in Hugging Face's perplexity guide:
/// windows of `context` tokens start every `stride` tokens; each scores only the tokens the
/// previous window did not, with the tokens before them as context. stride == context gives
/// disjoint windows; a smaller stride gives every scored token more context.
public struct PerplexityEvaluation {
    public let context: Int
    public let stride: Int

    /// Running totals.
    public struct Result: Sendable {
        public var scoredTokens = 0
        /// Σ −log p(token | its context), natural log.
        public var negativeLogLikelihood = 0.0
        public var windows = 0
        public var perplexity: Double { scoredTokens == 0 ? .nan : Foundation.exp(negativeLogLikelihood / Double(scoredTokens)) }
    }

    public init(context: Int, stride: Int, modelContext: Int) throws {
        guard context >= 2 else { throw GPT2Error.invalidArgument("--context must be at least 2, got \(context)") }
        guard context <= modelContext else {
            throw GPT2Error.invalidArgument("--context \(context) exceeds the model's context of \(modelContext) tokens")
        }
        guard stride >= 1 && stride <= context else {
            throw GPT2Error.invalidArgument("--stride must be between 1 and the context (\(context)), got \(stride)")
        }
        self.context = context
        self.stride = stride
    }

    /// Scores `tokens` with `session`. For every scored token, `onScoredLogits` receives the raw
    /// logits that predicted it ([V], in order), `onScored` the same with the token it predicted;
    /// `onWindow` gets the running result after each
    /// window.
    public func evaluate(
        session: GPT2Session, tokens: [Int],
        onScoredLogits: ((UnsafeBufferPointer<Float>) throws -> Void)? = nil,
        onScored: ((_ logits: UnsafeBufferPointer<Float>, _ target: Int) throws -> Void)? = nil,
        onWindow: ((Result) -> Void)? = nil
    ) throws -> Result {
        guard tokens.count >= 2 else {
            throw GPT2Error.invalidArgument("perplexity needs a text of at least 2 tokens, got \(tokens.count)")
        }
        let V = session.model.config.vocabSize
        var result = Result()
        var previousEnd = 0
        var begin = 0
        while true {
            let end = min(begin + context, tokens.count)
            let window = Array(tokens[begin..<end])
            // Targets are window positions j ≥ 1 not scored before; logits row j−1 predicts j.
            let firstTarget = max(1, previousEnd - begin)
            session.reset()
            try session.evaluate(window, logits: .all).withUnsafeMutableBufferPointer { logits in
                for j in firstTarget..<window.count {
                    let row = UnsafeBufferPointer(rebasing: logits[(j - 1) * V ..< j * V])
                    try onScoredLogits?(row)
                    try onScored?(row, window[j])
                    let lse = logSumExp(row.baseAddress!, count: V)
                    result.negativeLogLikelihood += Double(lse - row[window[j]])
                    result.scoredTokens += 1
                }
            }
            result.windows += 1
            onWindow?(result)
            previousEnd = end
            if end == tokens.count { break }
            begin += stride
        }
        return result
    }
}
