import Glibc
import Kernels
import Testing

@Suite("logSoftmax")
struct ElementwiseTests {
    @Test("logSoftmaxInPlace: exp sums to 1 and values match a Double reference",
          arguments: [1, 2, 15, 16, 17, 100, 1000, 50257], [Float(1), 30])
    func logSoftmax(count: Int, spread: Float) {
        var rng = SeededGenerator(seed: UInt64(count) * 31 + UInt64(spread))
        let x = GuardedBuffer(count: count, random: &rng, scale: spread)
        for i in 0..<count { x.pointer[i] += 7 }  // an offset the max subtraction must remove
        let logits = x.values.map(Double.init)
        let top = logits.max()!
        let lse = top + Glibc.log(logits.reduce(0) { $0 + Glibc.exp($1 - top) })

        let returned = logSoftmaxInPlace(x.pointer, count: count)
        #expect(abs(Double(returned) - lse) <= 1e-5 * (1 + abs(lse)), "log-sum-exp \(returned) vs \(lse)")
        let error = maxScaledError(x.values, logits.map { $0 - lse })
        #expect(error <= 1e-5, "scaled error \(error)")
        let total = x.values.reduce(0.0) { $0 + Glibc.exp(Double($1)) }
        #expect(abs(total - 1) <= 1e-5, "Σ exp = \(total)")
        #expect(x.values.allSatisfy { $0 <= 1e-6 })
        #expect(x.guardsIntact)
    }

    @Test("logSoftmaxInPlace of equal logits is -log(count)", arguments: [1, 3, 16, 50])
    func uniform(count: Int) {
        let x = GuardedBuffer([Float](repeating: 2.5, count: count))
        logSoftmaxInPlace(x.pointer, count: count)
        let want = -Glibc.log(Double(count))
        #expect(x.values.allSatisfy { abs(Double($0) - want) <= 1e-6 * (1 + abs(want)) }, "\(x.values)")
    }
}
