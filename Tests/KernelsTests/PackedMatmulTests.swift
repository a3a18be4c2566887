import Kernels
import GPT2Runtime
import Testing

@Suite("packed matmul")
struct PackedMatmulTests {
    /// Ragged M (the GEMV rows below `packedGEMMMinRows`, whole 6-row slivers and partial ones,
    /// more than one group of `packedSliverGroup` slivers),
    /// K (across the `packedKBlock` boundary) and N (partial last panel and half-panel), both source
    /// layouts, every epilogue, 1–3 threads, scratch given or allocated, against a Double reference;
    /// the other register block (`wideTile`) than this build's gives the same bits.
    @Test("matmulPacked matches a Double reference (both packings, both tiles, all epilogues, 1–3 threads)",
          arguments: [1, 2, 3, 4, 5, 6, 7, 13, 16, 23, 40, 265])
    func matchesReference(M: Int) {
        let pools = [1, 2, 3].map { ThreadPool(threadCount: $0) }
        var rng = SeededGenerator(seed: 0xFACE_0000 + UInt64(M))
        for K in [1, 7, 33, 256, 300, 513, packedKBlock + 29] {
            for N in [1, 17, 32, 33, 95, 130] {
                let x = GuardedBuffer(count: M * K, random: &rng)
                let w = GuardedBuffer(count: K * N, random: &rng)        // [K, N]
                let bias = GuardedBuffer(count: N, random: &rng)
                let prior = GuardedBuffer(count: M * N, random: &rng).values
                var wt = [Float](repeating: 0, count: K * N)              // [N, K]
                for k in 0..<K { for n in 0..<N { wt[n * K + k] = w[k * N + n] } }
                let packedA = AlignedBuffer<Float>(count: packedCount(K: K, N: N))
                let packedB = AlignedBuffer<Float>(count: packedCount(K: K, N: N))
                packInputMajor(packedA.pointer, w.pointer, K: K, N: N)
                wt.withUnsafeBufferPointer { packOutputMajor(packedB.pointer, $0.baseAddress!, K: K, N: N) }
                #expect(Array(packedA.buffer) == Array(packedB.buffer), "K=\(K) N=\(N): packings differ")
                let product = referenceMatmul(x.values, w.values, M: M, K: K, N: N)
                for pool in pools {
                    for epilogue in [MatmulEpilogue.store, .accumulate, .gelu] {
                        for withBias in [false, true] {
                            let y = GuardedBuffer(prior)
                            let scratch = pool.threadCount == 2 ? AlignedBuffer<Float>(count: packedMatmulScratchCount(M: M, K: K)) : nil
                            matmulPacked(y.pointer, x.pointer, packedA.pointer, bias: withBias ? bias.pointer : nil,
                                         M: M, K: K, N: N, epilogue: epilogue, scratch: scratch?.pointer, pool: pool)
                            let want = (0..<(M * N)).map {
                                referenceEpilogue(product[$0], bias: withBias ? bias[$0 % N] : nil, prior: prior[$0], epilogue)
                            }
                            let worst = maxScaledError(y.values, want)
                            let context = "M=\(M) K=\(K) N=\(N) threads=\(pool.threadCount) \(epilogue) bias=\(withBias)"
                            #expect(worst <= 1e-5 * Double(max(1, K / 64)), "\(context): scaled error \(worst)")
                            #expect(y.guardsIntact, "\(context): wrote outside y")
                            let other = GuardedBuffer(prior)
                            matmulPacked(other.pointer, x.pointer, packedA.pointer, bias: withBias ? bias.pointer : nil,
                                         M: M, K: K, N: N, epilogue: epilogue, scratch: scratch?.pointer,
                                         wideTile: !packedWideTile, pool: pool)
                            #expect(other.values == y.values, "\(context): the 6×16 and 6×32 tiles differ")
                            #expect(other.guardsIntact, "\(context): the other tile wrote outside y")
                        }
                    }
                }
                #expect(x.guardsIntact && w.guardsIntact && bias.guardsIntact)
            }
        }
    }

    @Test("packed layout: panel p, row k, lane j holds W[k, 32p + j], zero past N")
    func layout() {
        let K = 3, N = 40
        let w = (0..<(K * N)).map { Float($0) }
        let packed = [Float](unsafeUninitializedCapacity: packedCount(K: K, N: N)) { buf, n in
            w.withUnsafeBufferPointer { packInputMajor(buf.baseAddress!, $0.baseAddress!, K: K, N: N) }
            n = packedCount(K: K, N: N)
        }
        #expect(packed.count == 2 * K * 32)
        for p in 0..<2 { for k in 0..<K { for j in 0..<32 {
            let n = 32 * p + j
            #expect(packed[(p * K + k) * 32 + j] == (n < N ? w[k * N + n] : 0))
        } } }
    }

    @Test("packedGEMMSplit: at most one block per thread, the smallest largest block")
    func split() {
        func cost(_ slivers: Int, _ panels: Int, _ r: Int, _ c: Int) -> Int {
            (slivers + r - 1) / r * ((panels + c - 1) / c)
        }
        for threads in 1...20 {
            for slivers in [1, 2, 5, 7, 22, 43, 86] {
                for panels in [1, 2, 3, 24, 72, 96, 1571] {
                    let (r, c) = packedGEMMSplit(slivers: slivers, panels: panels, threads: threads)
                    let context = "threads=\(threads) slivers=\(slivers) panels=\(panels): \(r)×\(c)"
                    #expect(r >= 1 && c >= 1 && r * c <= threads && r <= slivers && c <= panels, "\(context)")
                    // Brute force over every grid that fits.
                    var best = Int.max
                    for r2 in 1...threads { for c2 in 1...threads where r2 * c2 <= threads {
                        best = min(best, cost(slivers, panels, r2, c2))
                    } }
                    #expect(cost(slivers, panels, r, c) == best, "\(context): not the smallest largest block")
                }
            }
        }
        // GPT-2 124M, M = 512: N = 768 on 16 threads takes two row halves (43 × 3 per thread, the
        // even share) instead of panels alone (86 × 2); on 2 threads the panels alone split evenly.
        #expect(packedGEMMSplit(slivers: 86, panels: 24, threads: 16) == (2, 8))
        #expect(packedGEMMSplit(slivers: 86, panels: 24, threads: 2) == (1, 2))
        #expect(packedGEMMSplit(slivers: 86, panels: 96, threads: 16) == (1, 16))
    }
}
