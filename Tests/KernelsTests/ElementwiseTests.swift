import Glibc
import Kernels
import Testing

@Suite("embed and logSoftmax")
struct ElementwiseTests {
    @Test("embed adds the token and position rows", arguments: [1, 7, 16, 33, 768])
    func embedding(C: Int) {
        var rng = SeededGenerator(seed: UInt64(C))
        let V = 11, P = 20
        let wte = GuardedBuffer(count: V * C, random: &rng), wpe = GuardedBuffer(count: P * C, random: &rng)
        for first in [0, 5, 13] {
            for tokens in [[3], [0, 10, 10, 4], [7, 1, 9, 2, 2, 0, 5]] {
                let T = tokens.count
                let out = GuardedBuffer(count: T * C)
                tokens.withUnsafeBufferPointer {
                    embed(out.pointer, tokens: $0, firstPosition: first, wte: wte.pointer, wpe: wpe.pointer, C: C)
                }
                var ok = true
                for t in 0..<T {
                    for c in 0..<C where out[t * C + c] != wte[tokens[t] * C + c] + wpe[(first + t) * C + c] { ok = false }
                }
                #expect(ok, "C=\(C) first=\(first) tokens=\(tokens)")
                #expect(out.guardsIntact)
            }
        }
    }

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
