import Foundation
import Kernels

/// How far a quantized model's next-token distributions are from the base model's, as
/// llama.cpp's `llama-perplexity --kl-divergence` reports it. Feed it one scored position at a
/// time: the base logits, the quantized logits and the token that actually came next.
public struct KLDivergenceStatistics: Sendable {
    /// Positions added.
    public private(set) var count = 0
    /// Σ −log p(target) under each model (natural log).
    public private(set) var baseNegativeLogLikelihood = 0.0
    public private(set) var quantNegativeLogLikelihood = 0.0
    /// KL(base ‖ quant) of every position, in nats.
    public private(set) var divergences: [Double] = []
    /// Positions where both models rank the same token first.
    public private(set) var sameTopCount = 0
    /// Σ (p_quant(target) − p_base(target))².
    public private(set) var sumSquaredDeltaP = 0.0

    public init() {}

    /// Adds one position. `base` and `quant` are raw logits over the same vocabulary.
    public mutating func add(base: UnsafeBufferPointer<Float>, quant: UnsafeBufferPointer<Float>, target: Int) {
        precondition(base.count == quant.count && target >= 0 && target < base.count, "KLDivergenceStatistics.add: mismatched input")
        let V = base.count
        let lseBase = Double(logSumExp(base.baseAddress!, count: V))
        let lseQuant = Double(logSumExp(quant.baseAddress!, count: V))
        var kld = 0.0
        var topBase = 0, topQuant = 0
        for i in 0..<V {
            let logP = Double(base[i]) - lseBase, logQ = Double(quant[i]) - lseQuant
            kld += exp(logP) * (logP - logQ)
            if base[i] > base[topBase] { topBase = i }
            if quant[i] > quant[topQuant] { topQuant = i }
        }
        let logPTarget = Double(base[target]) - lseBase, logQTarget = Double(quant[target]) - lseQuant
        baseNegativeLogLikelihood -= logPTarget
        quantNegativeLogLikelihood -= logQTarget
        divergences.append(max(kld, 0))  // rounding can leave −1e-12 for identical inputs
        if topBase == topQuant { sameTopCount += 1 }
        let deltaP = exp(logQTarget) - exp(logPTarget)
        sumSquaredDeltaP += deltaP * deltaP
        count += 1
    }

    public var basePerplexity: Double { exp(baseNegativeLogLikelihood / Double(count)) }
    public var quantPerplexity: Double { exp(quantNegativeLogLikelihood / Double(count)) }
    /// PPL(quant) / PPL(base).
    public var perplexityRatio: Double { quantPerplexity / basePerplexity }
    /// Mean KL divergence in nats.
    public var meanKLDivergence: Double { divergences.reduce(0, +) / Double(count) }
    /// The `q`-quantile (0...1) of the per-position KL divergences, by linear interpolation
    /// between order statistics (q = 0.99 is llama.cpp's "99.0%").
    public func klDivergenceQuantile(_ q: Double) -> Double {
        let sorted = divergences.sorted()
        guard !sorted.isEmpty else { return .nan }
        let x = q * Double(sorted.count - 1)
        let i = Int(x.rounded(.down)), j = min(i + 1, sorted.count - 1)
        return sorted[i] + (x - Double(i)) * (sorted[j] - sorted[i])
    }
    /// Share (0...1) of positions whose most likely token is the same under both models.
    public var sameTopShare: Double { Double(sameTopCount) / Double(count) }
    /// RMS of p_quant(target) − p_base(target) over positions (llama.cpp's "RMS Δp").
    public var rmsDeltaP: Double { (sumSquaredDeltaP / Double(count)).squareRoot() }

    /// The report printed by `gpt2 perplexity --kl-divergence`.
    public var report: String {
        [
            String(format: "positions:            %d", count),
            String(format: "PPL(base):            %.4f", basePerplexity),
            String(format: "PPL(quant):           %.4f", quantPerplexity),
            String(format: "PPL(quant)/PPL(base): %.5f", perplexityRatio),
            String(format: "mean KLD:             %.6f", meanKLDivergence),
            String(format: "99.0%% KLD:            %.6f", klDivergenceQuantile(0.99)),
            String(format: "same top token:       %.3f%%", 100 * sameTopShare),
            String(format: "RMS Δp:               %.4f%%", 100 * rmsDeltaP),
        ].joined(separator: "\n")
    }
}
