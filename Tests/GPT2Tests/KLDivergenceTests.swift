import Foundation
import Testing
import ModelIO
import GPT2Runtime
@testable import GPT2

/// The llama-perplexity style statistics on hand-computed logits.
struct KLDivergenceTests {
    func add(_ stats: inout KLDivergenceStatistics, _ base: [Float], _ quant: [Float], _ target: Int) {
        base.withUnsafeBufferPointer { b in quant.withUnsafeBufferPointer { q in stats.add(base: b, quant: q, target: target) } }
    }

    @Test func identicalLogitsDoNotDiverge() {
        var stats = KLDivergenceStatistics()
        add(&stats, [1, 2, 3, -1], [1, 2, 3, -1], 2)
        add(&stats, [0, 5, 0, 0], [0, 5, 0, 0], 0)
        #expect(stats.count == 2)
        #expect(stats.meanKLDivergence == 0 && stats.klDivergenceQuantile(0.99) == 0)
        #expect(abs(stats.perplexityRatio - 1) < 1e-12 && stats.sameTopShare == 1 && stats.rmsDeltaP == 0)
    }

    @Test func twoTokenDistributionsMatchTheFormulas() {
        // base p = (1/2, 1/2); quant q = (3/4, 1/4); the next token is 1.
        var stats = KLDivergenceStatistics()
        add(&stats, [0, 0], [Float(log(3.0)), 0], 1)
        let kl = 0.5 * log(0.5 / 0.75) + 0.5 * log(0.5 / 0.25)
        #expect(abs(stats.meanKLDivergence - kl) < 1e-6)
        #expect(abs(stats.basePerplexity - 2) < 1e-6 && abs(stats.quantPerplexity - 4) < 1e-5)
        #expect(abs(stats.perplexityRatio - 2) < 1e-5)
        #expect(abs(stats.rmsDeltaP - 0.25) < 1e-6)
        #expect(stats.sameTopShare == 1)  // both rank token 0 first (a tie in the base goes to the lower id)
        // The top token changes.
        add(&stats, [10, 11], [12, 10], 0)
        #expect(stats.sameTopCount == 1 && stats.sameTopShare == 0.5)
    }

    /// Logits are defined up to a constant per row: adding one to either side changes no statistic.
    @Test func statisticsAreShiftInvariant() {
        let base: [Float] = [0.5, -1, 2, 0.25], quant: [Float] = [0.4, -0.8, 1.7, 0.5]
        var plain = KLDivergenceStatistics(), shifted = KLDivergenceStatistics()
        add(&plain, base, quant, 1)
        add(&shifted, base.map { $0 + 7 }, quant.map { $0 - 3.5 }, 1)
        #expect(plain.meanKLDivergence > 0)
        #expect(abs(shifted.meanKLDivergence - plain.meanKLDivergence) < 1e-6)
        #expect(abs(shifted.basePerplexity - plain.basePerplexity) < 1e-5 * plain.basePerplexity)
        #expect(abs(shifted.quantPerplexity - plain.quantPerplexity) < 1e-5 * plain.quantPerplexity)
        #expect(abs(shifted.rmsDeltaP - plain.rmsDeltaP) < 1e-6 && shifted.sameTopShare == plain.sameTopShare)
    }

    @Test func quantileInterpolatesBetweenSortedDivergences() {
        var stats = KLDivergenceStatistics()
        // Divergences grow with the gap between base and quant logits.
        for gap in [0, 1, 2, 3, 4] as [Float] { add(&stats, [0, 0], [gap, 0], 0) }
        let sorted = stats.divergences.sorted()
        #expect(stats.divergences == sorted)
        #expect(stats.klDivergenceQuantile(0) == sorted[0] && stats.klDivergenceQuantile(1) == sorted[4])
        #expect(abs(stats.klDivergenceQuantile(0.5) - sorted[2]) < 1e-15)
        #expect(abs(stats.klDivergenceQuantile(0.99) - (sorted[3] + 0.96 * (sorted[4] - sorted[3]))) < 1e-12)
    }

    /// The compact base file (16-bit log-probabilities) moves the statistics by far less than a
    /// Q8_0 model's divergence from its base: checked on a vocabulary-sized distribution with a
    /// quantisation-like perturbation.
    @Test func compactBaseFileKeepsTheStatistics() throws {
        let V = 50257, positions = 6
        var rng = Xoshiro256StarStar(seed: 11)
        let path = NSTemporaryDirectory() + "gpt2-kld-compact-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try BaseLogitsWriter(path: path, vocabularySize: V, context: 8, stride: 8, tokens: Array(0..<positions))
        var exact = KLDivergenceStatistics(), compact = KLDivergenceStatistics()
        var rows: [([Float], [Float], Int)] = []
        for _ in 0..<positions {
            let base = (0..<V).map { _ in 3 * rng.nextGaussian() }
            let quant = base.map { $0 + 0.02 * rng.nextGaussian() }  // ~ Q8_0's size of error
            let target = Int(rng.next() % UInt64(V))
            base.withUnsafeBufferPointer { writer.append(logits: $0, target: target) }
            add(&exact, base, quant, target)
            rows.append((base, quant, target))
        }
        try writer.finish()
        let file = try BaseLogitsFile(path: path)
        for (i, (_, quant, target)) in rows.enumerated() {
            let base = Array(file.logits(i))
            add(&compact, base, quant, target)
        }
        #expect(exact.meanKLDivergence > 1e-5)
        #expect(abs(compact.meanKLDivergence - exact.meanKLDivergence) < 0.01 * exact.meanKLDivergence)
        #expect(abs(compact.perplexityRatio - exact.perplexityRatio) < 1e-5 && compact.sameTopShare == exact.sameTopShare)
        #expect(abs(compact.basePerplexity - exact.basePerplexity) < 1e-5 * exact.basePerplexity)
        #expect(abs(compact.rmsDeltaP - exact.rmsDeltaP) < 0.01 * exact.rmsDeltaP)
    }
}
