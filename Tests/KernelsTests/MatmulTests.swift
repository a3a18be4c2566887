import Kernels
import GPT2Runtime
import Testing

private let epilogues: [MatmulEpilogue] = [.store, .accumulate, .gelu]

/// Expected output of one element given the exact (Double) product `v`, the bias and prior `y`.
private func expected(_ v: Double, bias: Float?, prior: Float, _ epilogue: MatmulEpilogue) -> Double {
    let value = v + Double(bias ?? 0)
    switch epilogue {
    case .store: return value
    case .accumulate: return Double(prior) + value
    case .gelu: return geluReference(value)
    }
}

/// Checks `kernel` (one matmul call: y, x, w, bias, epilogue, pool) on every epilogue, with and
/// without bias, on each pool, against a Double reference. `weightIndex(k, n)` is where w[k, n]
/// lives in the kernel's weight layout.
private func checkMatmul(
    M: Int, K: Int, N: Int, pools: [ThreadPool], rng: inout SeededGenerator,
    weightIndex: (_ k: Int, _ n: Int) -> Int,
    kernel: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>?, MatmulEpilogue, ThreadPool) -> Void
) {
    let x = GuardedBuffer(count: M * K, random: &rng)
    let w = GuardedBuffer(count: K * N, random: &rng)
    let bias = GuardedBuffer(count: N, random: &rng)
    let prior = GuardedBuffer(count: M * N, random: &rng).values
    var product = [Double](repeating: 0, count: M * N)
    for m in 0..<M {
        for n in 0..<N {
            var s = 0.0
            for k in 0..<K { s += Double(x[m * K + k]) * Double(w[weightIndex(k, n)]) }
            product[m * N + n] = s
        }
    }
    for pool in pools {
        for epilogue in epilogues {
            for withBias in [false, true] {
                let y = GuardedBuffer(prior)
                kernel(y.pointer, x.pointer, w.pointer, withBias ? bias.pointer : nil, epilogue, pool)
                let want = (0..<(M * N)).map {
                    expected(product[$0], bias: withBias ? bias[$0 % N] : nil, prior: prior[$0], epilogue)
                }
                let error = maxScaledError(y.values, want)
                let context = "M=\(M) K=\(K) N=\(N) threads=\(pool.threadCount) \(epilogue) bias=\(withBias)"
                #expect(error <= 1e-5, "\(context): scaled error \(error)")
                #expect(y.guardsIntact, "\(context): wrote outside y")
            }
        }
    }
    #expect(x.guardsIntact && w.guardsIntact && bias.guardsIntact)
}

@Suite("matmul")
struct MatmulTests {
    /// Every shape of K × N for one M, every epilogue, with and without bias, pools of 1–3 threads.
    @Test("matmul matches a Double reference (all epilogues, bias or not, 1–3 threads)",
          arguments: [1, 2, 3, 4, 5, 7, 17])
    func matchesReference(M: Int) {
        let pools = [1, 2, 3].map { ThreadPool(threadCount: $0) }
        var rng = SeededGenerator(seed: 0x5EED_0000 + UInt64(M))
        for K in [1, 5, 16, 33, 64, 100] {
            for N in [1, 3, 15, 16, 17, 63, 64, 65, 130, 200] {
                checkMatmul(M: M, K: K, N: N, pools: pools, rng: &rng, weightIndex: { k, n in k * N + n }) {
                    matmul($0, $1, $2, bias: $3, M: M, K: K, N: N, epilogue: $4, pool: $5)
                }
            }
        }
    }

    @Test("matmulColumns writes exactly the requested columns",
          arguments: [0..<0, 0..<1, 5..<40, 16..<80, 3..<19, 0..<130, 64..<129, 129..<130])
    func columnsOnly(columns: Range<Int>) {
        let M = 5, K = 33, N = 130
        var rng = SeededGenerator(seed: UInt64(columns.lowerBound * 1000 + columns.upperBound))
        let x = GuardedBuffer(count: M * K, random: &rng)
        let w = GuardedBuffer(count: K * N, random: &rng)
        let bias = GuardedBuffer(count: N, random: &rng)
        for epilogue in epilogues {
            let prior = GuardedBuffer(count: M * N, random: &rng).values
            let y = GuardedBuffer(prior)
            matmulColumns(y.pointer, x.pointer, w.pointer, bias.pointer, M, K, N, columns, epilogue)
            var want = prior.map(Double.init)
            for m in 0..<M {
                for n in columns {
                    var s = 0.0
                    for k in 0..<K { s += Double(x[m * K + k]) * Double(w[k * N + n]) }
                    want[m * N + n] = expected(s, bias: bias[n], prior: prior[m * N + n], epilogue)
                }
            }
            // Columns outside the range must be bit-for-bit untouched.
            let untouched = (0..<(M * N)).allSatisfy { columns.contains($0 % N) || y[$0] == prior[$0] }
            #expect(untouched, "columns \(columns) \(epilogue)")
            #expect(maxScaledError(y.values, want) <= 1e-5, "columns \(columns) \(epilogue)")
            #expect(y.guardsIntact)
        }
    }

    @Test("matmul with K = 0 gives the bias (or nothing added)", arguments: [1, 2, 3])
    func emptyInnerDimension(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        var rng = SeededGenerator(seed: 77)
        let M = 3, N = 70
        let bias = GuardedBuffer(count: N, random: &rng)
        let x = GuardedBuffer(count: 0), w = GuardedBuffer(count: 0)
        let y = GuardedBuffer(count: M * N, random: &rng)
        let prior = y.values
        matmul(y.pointer, x.pointer, w.pointer, bias: bias.pointer, M: M, K: 0, N: N, epilogue: .store, pool: pool)
        #expect((0..<(M * N)).allSatisfy { y[$0] == bias[$0 % N] })
        let z = GuardedBuffer(prior)
        matmul(z.pointer, x.pointer, w.pointer, bias: nil, M: M, K: 0, N: N, epilogue: .accumulate, pool: pool)
        #expect(z.values == prior)
    }

    @Test("matmulTransposed matches a Double reference (all epilogues, bias or not)", arguments: [1, 2, 3])
    func transposedMatchesReference(threads: Int) {
        let pools = [ThreadPool(threadCount: threads)]
        var rng = SeededGenerator(seed: 0x7EA0 + UInt64(threads))
        for M in [1, 2, 3, 5, 7] {
            for K in [1, 5, 16, 33, 64, 100] {
                for N in [1, 3, 4, 5, 15, 17, 63, 65, 130] {
                    checkMatmul(M: M, K: K, N: N, pools: pools, rng: &rng, weightIndex: { k, n in n * K + k }) {
                        matmulTransposed($0, $1, $2, bias: $3, M: M, K: K, N: N, epilogue: $4, pool: $5)
                    }
                }
            }
        }
    }

    @Test("dot matches a Double reference for every length 0...100")
    func dotProduct() {
        var rng = SeededGenerator(seed: 99)
        for n in 0...100 {
            let a = GuardedBuffer(count: n, random: &rng), b = GuardedBuffer(count: n, random: &rng)
            var s = 0.0
            for i in 0..<n { s += Double(a[i]) * Double(b[i]) }
            let got = dot(a.pointer, b.pointer, n)
            #expect(abs(Double(got) - s) <= 1e-5 * (1 + abs(s)), "n=\(n): \(got) vs \(s)")
        }
    }
}
