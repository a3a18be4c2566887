import Kernels
import GPT2Runtime
import Testing

private func layerNormReference(
    _ x: [Float], weight: [Float], bias: [Float], T: Int, C: Int, eps: Double
) -> [Double] {
    var out = [Double](repeating: 0, count: T * C)
    for t in 0..<T {
        let row = x[(t * C)..<((t + 1) * C)].map(Double.init)
        let mean = row.reduce(0, +) / Double(C)
        let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(C)
        let rstd = 1 / (variance + eps).squareRoot()
        for c in 0..<C { out[t * C + c] = (row[c] - mean) * rstd * Double(weight[c]) + Double(bias[c]) }
    }
    return out
}

@Suite("layerNorm")
struct LayerNormTests {
    @Test("layerNorm matches a Double reference (in and out of place)", arguments: [1, 2, 3])
    func matchesReference(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        var rng = SeededGenerator(seed: 0x1A7E + UInt64(threads))
        for T in [1, 3, 15, 16, 37] {  // T ≥ 16 takes the parallel path
            for C in [1, 7, 16, 33, 768] {
                for offset: Float in [0, 3] {  // a mean far from 0 tests the two-pass variance
                    let x = GuardedBuffer(count: T * C, random: &rng)
                    for i in 0..<(T * C) { x.pointer[i] = x[i] * 2 + offset }
                    let weight = GuardedBuffer(count: C, random: &rng)
                    let bias = GuardedBuffer(count: C, random: &rng)
                    let want = layerNormReference(x.values, weight: weight.values, bias: bias.values,
                                                  T: T, C: C, eps: 1e-5)
                    let context = "T=\(T) C=\(C) offset=\(offset) threads=\(threads)"

                    let out = GuardedBuffer(count: T * C)
                    layerNorm(out.pointer, x.pointer, weight: weight.pointer, bias: bias.pointer,
                              T: T, C: C, eps: 1e-5, pool: pool)
                    let error = maxScaledError(out.values, want)
                    #expect(error <= 1e-5, "\(context): scaled error \(error)")
                    #expect(out.guardsIntact, "\(context)")

                    layerNorm(x.pointer, x.pointer, weight: weight.pointer, bias: bias.pointer,
                              T: T, C: C, eps: 1e-5, pool: pool)
                    #expect(x.values == out.values, "\(context): in-place result differs")
                    #expect(x.guardsIntact, "\(context)")
                }
            }
        }
    }

    @Test("a constant row has zero variance: the output is the bias",
          arguments: [1, 7, 16, 768], [0, 0.5, -3.25, 1000])
    func constantRow(C: Int, value: Float) {
        let pool = ThreadPool(threadCount: 2)
        var rng = SeededGenerator(seed: UInt64(C))
        let T = 17
        let x = GuardedBuffer([Float](repeating: value, count: T * C))
        let weight = GuardedBuffer(count: C, random: &rng), bias = GuardedBuffer(count: C, random: &rng)
        let out = GuardedBuffer(count: T * C)
        layerNorm(out.pointer, x.pointer, weight: weight.pointer, bias: bias.pointer,
                  T: T, C: C, eps: 1e-5, pool: pool)
        // value·C is exact for these values, so mean = value and every deviation is exactly 0.
        #expect((0..<(T * C)).allSatisfy { out[$0] == bias[$0 % C] })
    }

    @Test("C = 1: every row normalises to the bias whatever x is", arguments: [1, 2, 3])
    func singleChannel(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        var rng = SeededGenerator(seed: 11)
        let T = 40
        let x = GuardedBuffer(count: T, random: &rng, scale: 100)
        let out = GuardedBuffer(count: T)
        layerNorm(out.pointer, x.pointer, weight: [Float(2.5)], bias: [Float(-0.75)], T: T, C: 1, eps: 1e-5, pool: pool)
        #expect(out.values == [Float](repeating: -0.75, count: T))
    }
}
