@testable import Kernels
import GPT2Runtime
import Testing
import Glibc
import Foundation

/// Q8_0 weights as raw GGML blocks (N rows × K/32 blocks × 34 bytes), at an odd address: the
/// form a GGUF file stores, which the tests repack into the interleaved layout.
private final class Q8Weights {
    let K: Int, N: Int
    private let storage: UnsafeMutableRawPointer
    var pointer: UnsafeMutableRawPointer { storage + 1 }
    var rowBytes: Int { K / 32 * 34 }

    init(K: Int, N: Int) {
        self.K = K; self.N = N
        storage = .allocate(byteCount: N * (K / 32) * 34 + 1, alignment: 64)
    }
    deinit { storage.deallocate() }

    /// GGML's quantisation of random floats.
    convenience init(K: Int, N: Int, random rng: inout SeededGenerator) {
        self.init(K: K, N: N)
        let floats = GuardedBuffer(count: K * N, random: &rng)
        for n in 0..<N { Q8_0.quantize(floats.pointer + n * K, into: pointer + n * rowBytes, count: K) }
    }

    /// Scale 1.0 and integer quants in [-127, 127]: the float result is then an exact integer.
    convenience init(K: Int, N: Int, integers rng: inout SeededGenerator) {
        self.init(K: K, N: N)
        for n in 0..<N {
            for b in 0..<(K / 32) {
                let block = pointer + n * rowBytes + b * 34
                block.storeBytes(of: Float16(1).bitPattern, toByteOffset: 0, as: UInt16.self)
                for i in 0..<32 { block.storeBytes(of: Int8(Int(rng.next() % 255) - 127), toByteOffset: 2 + i, as: Int8.self) }
            }
        }
    }

    func scale(_ n: Int, _ b: Int) -> Float {
        Float(Float16(bitPattern: (pointer + n * rowBytes + b * 34).loadUnaligned(as: UInt16.self)))
    }
    func quant(_ n: Int, _ k: Int) -> Int32 {
        Int32((pointer + n * rowBytes + k / 32 * 34 + 2 + k % 32).load(as: Int8.self))
    }
}

/// GGML's quantize_row_q8_0 with an fp32 scale, one block, written out in scalar code.
private func referenceQuantize(_ x: ArraySlice<Float>) -> (d: Float, q: [Int32]) {
    let amax = x.reduce(Float(0)) { max($0, abs($1)) }
    let d = amax / 127
    let inverse: Float = d != 0 ? 1 / d : 0
    return (d, x.map { Int32(($0 * inverse).rounded(.toNearestOrAwayFromZero)) })
}

/// The scalar reference: exact int32 block dots, then one FMA per block in block order.
/// Returns the raw products v[m, n] (before bias/epilogue).
private func reference(_ x: [Float], _ w: Q8Weights, M: Int) -> [Float] {
    let K = w.K, N = w.N, blocks = K / 32
    var out = [Float](repeating: 0, count: M * N)
    for m in 0..<M {
        let quantized = (0..<blocks).map { b in referenceQuantize(x[(m * K + b * 32)..<(m * K + b * 32 + 32)]) }
        for n in 0..<N {
            var s: Float = 0
            for b in 0..<blocks {
                var dot: Int32 = 0
                for i in 0..<32 { dot += quantized[b].q[i] * w.quant(n, b * 32 + i) }
                s = s.addingProduct(Float(dot), quantized[b].d * w.scale(n, b))
            }
            out[m * N + n] = s
        }
    }
    return out
}

/// Integer activations in [-127, 127] with a ±127 in every 32-block, so that d_x = 1 and
/// q_x = x: a kernel's output is then the integer Σ q_x·q_w itself.
private func integerActivations(M: Int, K: Int, rng: inout SeededGenerator) -> [Float] {
    var x = (0..<(M * K)).map { _ in Float(Int(rng.next() % 255) - 127) }
    for block in stride(from: 0, to: M * K, by: 32) { x[block + Int(rng.next() % 32)] = rng.next() % 2 == 0 ? 127 : -127 }
    return x
}

/// Runs `product(y, x)` into a fresh guarded y [M, N] and expects every output to be exactly
/// the integer in `exact` (see `exactIntegerProducts`) and nothing written outside y.
private func expectExactProducts(
    _ x: [Float], _ exact: [Int64], M: Int, N: Int, _ context: String,
    _ product: (UnsafeMutablePointer<Float>, UnsafePointer<Float>) -> Void
) {
    let y = GuardedBuffer(count: M * N)
    x.withUnsafeBufferPointer { product(y.pointer, $0.baseAddress!) }
    #expect(y.guardsIntact, "\(context)")
    let bad = (0..<(M * N)).first { Double(y[$0]) != Double(exact[$0]) }
    #expect(bad == nil, "\(context): y[\(bad ?? 0)] = \(y[bad ?? 0]) vs \(exact[bad ?? 0])")
}

/// Σ_k x[m, k] · q_w[n, k] in Int64: the exact integer part of y [M, N].
private func exactIntegerProducts(_ x: [Float], _ w: Q8Weights, M: Int, K: Int, N: Int) -> [Int64] {
    var exact = [Int64](repeating: 0, count: M * N)
    for m in 0..<M {
        for n in 0..<N {
            for k in 0..<K { exact[m * N + n] += Int64(x[m * K + k]) * Int64(w.quant(n, k)) }
        }
    }
    return exact
}

@Suite("q8_0 activation quantisation")
struct Q8ActivationTests {
    @Test("activation quantisation matches GGML's scalar formula (Int16 and Int8 storage)")
    func activationQuantization() {
        var rng = SeededGenerator(seed: 81)
        let K = 32 * 7
        var x = (0..<K).map { _ in rng.nextSigned() * 3 }
        for i in 32..<64 { x[i] = 0 }                       // an all-zero block: d = 0, q = 0
        for i in 64..<96 { x[i] = Float(i % 5 - 2) * 0.5 }  // ties: x / d lands on .5
        x[100] = 1e-30                                       // tiny values
        let q16 = UnsafeMutablePointer<Int16>.allocate(capacity: K), q8 = UnsafeMutablePointer<Int8>.allocate(capacity: K)
        let d16 = UnsafeMutablePointer<Float>.allocate(capacity: K / 32), d8 = UnsafeMutablePointer<Float>.allocate(capacity: K / 32)
        defer { q16.deallocate(); q8.deallocate(); d16.deallocate(); d8.deallocate() }
        x.withUnsafeBufferPointer {
            quantizeActivationRow($0.baseAddress!, q16, d16, K: K)
            quantizeActivationRow($0.baseAddress!, q8, d8, K: K)
        }
        #if GPT2_AVX2
        let qx = UnsafeMutablePointer<Int8>.allocate(capacity: K), dx = UnsafeMutablePointer<Float>.allocate(capacity: K / 32)
        defer { qx.deallocate(); dx.deallocate() }
        x.withUnsafeBufferPointer { quantizeActivationRowX86($0.baseAddress!, qx, dx, K: K) }
        for i in 0..<K { #expect(qx[i] == q8[i], "x86 quantiser, element \(i)") }
        for b in 0..<(K / 32) { #expect(dx[b] == d8[b], "x86 quantiser, block \(b)") }
        #endif
        for b in 0..<(K / 32) {
            let r = referenceQuantize(x[(b * 32)..<(b * 32 + 32)])
            #expect(d16[b] == r.d && d8[b] == r.d, "block \(b)")
            for i in 0..<32 {
                #expect(Int32(q16[b * 32 + i]) == r.q[i] && Int32(q8[b * 32 + i]) == r.q[i], "block \(b) element \(i)")
            }
        }
    }
}

/// The interleaved layout (`Q8Interleaved`, 8 rows per group) and its kernels.
@Suite("q8_0 interleaved")
struct Q8InterleavedTests {
    /// `w` repacked, at an odd address (the kernels must not assume more than byte alignment).
    private final class Repacked {
        private let storage: UnsafeMutableRawPointer
        var pointer: UnsafeMutableRawPointer { storage + 3 }
        init(_ w: Q8Weights) {
            storage = .allocate(byteCount: Q8Interleaved.byteCount(K: w.K, N: w.N) + 3, alignment: 64)
            storage.initializeMemory(as: UInt8.self, repeating: 0xA5, count: Q8Interleaved.byteCount(K: w.K, N: w.N) + 3)
            // Two calls over a split of the groups: repacking is independent per group.
            let groups = Q8Interleaved.groups(N: w.N)
            Q8Interleaved.repack(pointer, from: w.pointer, K: w.K, N: w.N, groups: 0..<(groups / 2))
            Q8Interleaved.repack(pointer, from: w.pointer, K: w.K, N: w.N, groups: (groups / 2)..<groups)
        }
        deinit { storage.deallocate() }
    }

    @Test("repacking keeps every scale and quant: GGML rows come back byte for byte, padding is zero")
    func roundTrip() {
        var rng = SeededGenerator(seed: 0x0008_2000)
        for (K, N) in [(32, 1), (64, 7), (96, 8), (160, 9), (768, 17)] {
            let w = Q8Weights(K: K, N: N, random: &rng)
            let r = Repacked(w)
            let row = UnsafeMutableRawPointer.allocate(byteCount: w.rowBytes, alignment: 64)
            let a = UnsafeMutablePointer<Float>.allocate(capacity: K), b = UnsafeMutablePointer<Float>.allocate(capacity: K)
            defer { row.deallocate(); a.deallocate(); b.deallocate() }
            for n in 0..<N {
                Q8Interleaved.ggmlRow(r.pointer, K: K, n: n, into: row)
                #expect(memcmp(row, w.pointer + n * w.rowBytes, w.rowBytes) == 0, "K \(K) N \(N) row \(n)")
                Q8Interleaved.dequantizeRow(r.pointer, K: K, n: n, into: a)
                Q8_0.dequantize(w.pointer + n * w.rowBytes, into: b, count: K)
                #expect((0..<K).allSatisfy { a[$0] == b[$0] }, "K \(K) N \(N) row \(n)")
            }
            for n in N..<(Q8Interleaved.groups(N: N) * 8) {
                for blk in 0..<(K / 32) { #expect(Q8Interleaved.scale(r.pointer, K: K, n: n, block: blk) == 0) }
                #expect((0..<K).allSatisfy { Q8Interleaved.quant(r.pointer, K: K, n: n, k: $0) == 0 })
            }
        }
    }

    /// With unit scales and integer activations whose block maximum is 127 (so d_x = 1 and
    /// q_x = x), every kernel's output is the integer Σ q_x·q_w itself: exact in fp32 whatever the
    /// summation order while |partial sums| < 2^24 (K ≤ 1024 guarantees it). N around the group
    /// of 8, M around the GEMM's 4-row micro-tile and past its L2 chunk of rows (96 at K = 1024).
    @Test("integer part is exactly the scalar int32 reference (every path, ragged shapes, 1–2 threads)",
          arguments: Q8Path.available)
    func integerPartExact(path: Q8Path) {
        let pools = [1, 2].map { ThreadPool(threadCount: $0) }
        let scratch = Q8Scratch()
        var rng = SeededGenerator(seed: 0x0008_3000)
        var shapes: [(Int, Int, Int)] = []
        for M in [1, 2, 3, 4, 5, 7, 9, 17] { for K in [32, 64, 96, 512] { for N in [1, 5, 8, 9, 16, 23] { shapes.append((M, K, N)) } } }
        shapes += [(33, 1024, 13), (100, 1024, 9), (101, 64, 40)]
        for (M, K, N) in shapes {
            let w = Q8Weights(K: K, N: N, integers: &rng)
            let r = Repacked(w)
            let x = integerActivations(M: M, K: K, rng: &rng)
            let exact = exactIntegerProducts(x, w, M: M, K: K, N: N)
            for pool in pools {
                expectExactProducts(x, exact, M: M, N: N, "\(path) M \(M) K \(K) N \(N) threads \(pool.threadCount)") { y, x in
                    q8MatmulInterleaved(y, x, r.pointer, bias: nil, M: M, K: K, N: N,
                                        epilogue: .store, scratch: scratch, pool: pool, path: path)
                }
            }
        }
    }

    /// The largest int16 pair sums `vpmaddubsw` can meet: |x| = 127 against |w| = 127 and −128
    /// (a GGUF file may hold −128; GGML's quantiser never writes it) with signs that make every
    /// product of a pair agree, so a pair sums to ±32 512 (the saturation limit is 32 767).
    @Test("extreme quants (±127 activations, ±127 and −128 weights) stay exact (every path)",
          arguments: Q8Path.available)
    func extremesExact(path: Q8Path) {
        let pool = ThreadPool(threadCount: 2), scratch = Q8Scratch()
        let M = 5, K = 96, N = 11
        let w = Q8Weights(K: K, N: N)
        for n in 0..<N {
            for b in 0..<(K / 32) {
                let block = w.pointer + n * w.rowBytes + b * 34
                block.storeBytes(of: Float16(1).bitPattern, toByteOffset: 0, as: UInt16.self)
                for i in 0..<32 {
                    let negative = (i / 2 + n + b) % 2 == 0
                    let value: Int8 = negative ? ((i + n) % 3 == 0 ? -128 : -127) : 127
                    block.storeBytes(of: value, toByteOffset: 2 + i, as: Int8.self)
                }
            }
        }
        // Row m agrees in sign with weight row m (pair sums +32 512 or +32 258) or opposes it.
        let x = (0..<(M * K)).map { i -> Float in
            let m = i / K, k = i % K
            let weightNegative = (k % 32 / 2 + m + k / 32) % 2 == 0
            return (weightNegative != (m % 2 == 0)) ? 127 : -127
        }
        let r = Repacked(w)
        let exact = exactIntegerProducts(x, w, M: M, K: K, N: N)
        expectExactProducts(x, exact, M: M, N: N, "\(path)") { y, x in
            q8MatmulInterleaved(y, x, r.pointer, bias: nil, M: M, K: K, N: N,
                                epilogue: .store, scratch: scratch, pool: pool, path: path)
        }
        #expect(exact.contains { abs($0) >= 127 * 127 * K * 9 / 10 }, "the data must reach the extremes")
    }

    /// Real scales, bias, every epilogue: every path equals the reference formula bit for bit
    /// before the epilogue (the same operations in the same order: exact block dots, one FMA per
    /// block), and the portable interleaved path after it; within 1e-5 of the formula after it.
    @Test("random data: every path is the reference formula, bit for bit (all epilogues, 1–2 threads)",
          arguments: Q8Path.available)
    func randomData(path: Q8Path) {
        let pools = [1, 2].map { ThreadPool(threadCount: $0) }
        let scratch = Q8Scratch()
        var rng = SeededGenerator(seed: 0x0008_4000)
        for M in [1, 4, 6, 19] {
            for K in [32, 160, 768] {
                for N in [1, 8, 37] {
                    let w = Q8Weights(K: K, N: N, random: &rng)
                    let r = Repacked(w)
                    let x = GuardedBuffer(count: M * K, random: &rng, scale: 2)
                    let v = reference(x.values, w, M: M)
                    let bias = GuardedBuffer(count: N, random: &rng)
                    let prior = GuardedBuffer(count: M * N, random: &rng).values
                    for pool in pools {
                        for epilogue in [MatmulEpilogue.store, .accumulate, .gelu] {
                            for useBias in [false, true] {
                                let y = GuardedBuffer(prior), p = GuardedBuffer(prior)
                                q8MatmulInterleaved(y.pointer, x.pointer, r.pointer, bias: useBias ? bias.pointer : nil, M: M, K: K, N: N,
                                                    epilogue: epilogue, scratch: scratch, pool: pool, path: path)
                                q8MatmulInterleaved(p.pointer, x.pointer, r.pointer, bias: useBias ? bias.pointer : nil, M: M, K: K, N: N,
                                                    epilogue: epilogue, scratch: scratch, pool: pool, path: .portable)
                                #expect(y.guardsIntact)
                                #expect(y.values == p.values, "\(path) vs portable, M \(M) K \(K) N \(N) \(epilogue) bias \(useBias)")
                                if epilogue == .store && !useBias {
                                    #expect(y.values == v, "\(path) is the reference formula, bit for bit (M \(M) K \(K) N \(N))")
                                }
                                var worst = 0.0
                                for i in 0..<(M * N) {
                                    let value = Double(v[i]) + (useBias ? Double(bias[i % N]) : 0)
                                    let e: Double
                                    switch epilogue {
                                    case .store: e = value
                                    case .accumulate: e = Double(prior[i]) + value
                                    case .gelu: e = geluReference(value)
                                    }
                                    worst = max(worst, abs(Double(y[i]) - e) / (1 + abs(e)))
                                }
                                #expect(worst <= 1e-5, "M \(M) K \(K) N \(N) \(epilogue) bias \(useBias): \(worst)")
                            }
                        }
                    }
                }
            }
        }
    }
}
