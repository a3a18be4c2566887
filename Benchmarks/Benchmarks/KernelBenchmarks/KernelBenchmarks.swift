// Micro-benchmarks of the kernels at GPT-2 124M shapes (C = 768, I = 3072, V = 50257).
//
//   swift package --package-path Benchmarks benchmark                 # everything
//   swift package --package-path Benchmarks benchmark --filter 'decode' # a subset (regex)
//
// Each benchmark reports wall-clock time and a custom throughput metric: MFLOP/s for matmuls
// (2·M·K·N per call), MB/s of weights for GEMVs (M = 1) and streaming reads, MOP/s for the int8
// GEMMs (Q8Benchmarks.swift). The host is shared: compare ratios of benchmarks from one run
// (e.g. "decode sweep" vs "stream read"), not absolute numbers across runs.
//
// package-benchmark runs every benchmark in a process of its own, and every process registers
// all of them: the large inputs are therefore globals (lazy in Swift), built by the first
// benchmark that uses them, during its warm-up, not at registration.
import Benchmark
import Foundation
import Kernels
import GPT2Runtime

// MARK: - Shared data (built once, outside the timed regions)

/// Random floats in [-1, 1) from a fixed seed.
func randomBuffer(_ count: Int, seed: UInt64) -> AlignedBuffer<Float> {
    let b = AlignedBuffer<Float>(count: count, zeroed: false)
    var s = seed
    for i in 0..<count {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        b.pointer[i] = Float(Int32(truncatingIfNeeded: s >> 40) - (1 << 23)) * 0x1p-23
    }
    return b
}

struct LinearShape: Sendable {
    let name: String, K: Int, N: Int
    /// The source layout in the checkpoint: [N, K] for the tied LM head, [K, N] otherwise.
    let outputMajor: Bool
}

let C = 768, I = 3072, V = 50257
let shapes = [
    LinearShape(name: "qkv", K: C, N: 3 * C, outputMajor: false),
    LinearShape(name: "attn_proj", K: C, N: C, outputMajor: false),
    LinearShape(name: "mlp_up", K: C, N: I, outputMajor: false),
    LinearShape(name: "mlp_down", K: I, N: C, outputMajor: false),
    LinearShape(name: "lm_head", K: C, N: V, outputMajor: true),
]

/// One matrix, packed from random values in its checkpoint layout as the runtime packs it at load.
final class Matrix: @unchecked Sendable {
    let shape: LinearShape
    let packed: HugePageBuffer<Float>
    init(_ shape: LinearShape, seed: UInt64) {
        self.shape = shape
        let original = randomBuffer(shape.K * shape.N, seed: seed)
        packed = HugePageBuffer(count: packedCount(K: shape.K, N: shape.N))
        if shape.outputMajor {
            packOutputMajor(packed.pointer, original.pointer, K: shape.K, N: shape.N)
        } else {
            packInputMajor(packed.pointer, original.pointer, K: shape.K, N: shape.N)
        }
    }

    /// The product with the packed kernel, with this build's register block or the other one.
    func run(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, M: Int, kernel: MatmulKernel, pool: ThreadPool) {
        matmulPacked(y, x, packed.pointer, bias: nil, M: M, K: shape.K, N: shape.N, scratch: sliverScratch.pointer,
                     wideTile: kernel == .packed ? packedWideTile : !packedWideTile, pool: pool)
    }
}

/// Which matmul a benchmark runs: the packed one as the runtime uses it, or with the register
/// block this build does not choose (6×16 where AVX-512 picks 6×32, and the reverse): the A/B of
/// the GEMM tile, in one run.
enum MatmulKernel: CaseIterable {
    case packed, packedOtherTile

    var label: String {
        switch self {
        case .packed: "packed"
        case .packedOtherTile: packedWideTile ? "packed 6x16" : "packed 6x32"
        }
    }
}

nonisolated(unsafe) let pools = [1: ThreadPool(threadCount: 1), 2: ThreadPool(threadCount: 2)]
nonisolated(unsafe) let inputs = randomBuffer(512 * I, seed: 1)
nonisolated(unsafe) let outputs = AlignedBuffer<Float>(count: 512 * V)
/// The prefill GEMM's packed activation slivers, sized once for the largest call (as a session does).
nonisolated(unsafe) let sliverScratch = AlignedBuffer<Float>(count: packedMatmulScratchCount(M: 512, K: I))

let flops = BenchmarkMetric.custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false)
let bandwidth = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)

/// Runs `body` once per iteration, timing it, and records `units / seconds / 1e6` as `metric`.
func measure(_ benchmark: Benchmark, _ metric: BenchmarkMetric, units: Double, _ body: () -> Void) {
    for _ in benchmark.scaledIterations {
        let start = DispatchTime.now().uptimeNanoseconds
        benchmark.startMeasurement()
        body()
        benchmark.stopMeasurement()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        benchmark.measurement(metric, Int(units / seconds / 1e6))
    }
}

/// Sums `count` floats with 4 independent accumulators: a plain streaming read, the bandwidth
/// reference for the GEMVs.
@inline(never)
func streamSum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
    var a0 = Vec16(), a1 = Vec16(), a2 = Vec16(), a3 = Vec16()
    var i = 0
    while i + 64 <= count {
        a0 += p.vec16(i); a1 += p.vec16(i + 16); a2 += p.vec16(i + 32); a3 += p.vec16(i + 48)
        i += 64
    }
    return (a0 + a1 + a2 + a3).sum()
}

/// Thresholds of the kernel benchmarks for `baseline check`: single kernels swing more than the
/// end-to-end runs on this shared host, so only a median 25% worse (or better) fails.
func kernelThresholds(_ metric: BenchmarkMetric) -> [BenchmarkMetric: BenchmarkThresholds] {
    let tolerance = BenchmarkThresholds(relative: [.p50: 25])
    return [.wallClock: tolerance, metric: tolerance]
}

/// The configuration of a kernel benchmark that reports `metric`.
func kernelConfiguration(_ metric: BenchmarkMetric) -> Benchmark.Configuration {
    .init(metrics: [.wallClock, metric], timeUnits: .microseconds, warmupIterations: 2,
          maxDuration: .milliseconds(700), maxIterations: 200, thresholds: kernelThresholds(metric))
}

/// One matrix of each shape, for the per-matrix benchmarks.
let matrices = shapes.enumerated().map { Matrix($0.element, seed: UInt64(100 + $0.offset)) }

/// Decode's weights: every matrix of a 12-layer GPT-2 124M plus the LM head at M = 1 (≈ 496 MB,
/// far beyond L3).
let decodeModel = (0..<12).flatMap { l in shapes.dropLast().enumerated().map { Matrix($0.element, seed: UInt64(1000 + 10 * l + $0.offset)) } }
    + [Matrix(shapes.last!, seed: 2000)]
let decodeModelBytes = 12 * shapes.dropLast().reduce(0) { $0 + $1.K * $1.N * 4 } + shapes.last!.K * shapes.last!.N * 4

/// A buffer of `decodeModelBytes` on huge pages, for the plain streaming read.
let streamBuffer: HugePageBuffer<Float> = {
    let buffer = HugePageBuffer<Float>(count: decodeModelBytes / 4)
    for i in 0..<buffer.count { buffer.pointer[i] = Float(i & 1023) }
    return buffer
}()

let benchmarks: @Sendable () -> Void = {
    // Per-matrix kernels at decode and prefill batch sizes.
    // One matrix at M = 1 fits in L3 (except lm_head): these GEMV numbers are cache-warm.
    for (i, shape) in shapes.enumerated() {
        for M in shape.name == "lm_head" ? [1, 128] : [1, 128, 512] {
            for threads in [1, 2] {
                for kernel in MatmulKernel.allCases where M > 1 || kernel != .packedOtherTile {
                    let pool = pools[threads]!
                    let metric = M == 1 ? bandwidth : flops
                    Benchmark("matmul \(shape.name) M=\(M) \(kernel.label) \(threads)T", configuration: kernelConfiguration(metric)) { benchmark in
                        let units = M == 1 ? Double(shape.K * shape.N * 4) : 2 * Double(M * shape.K * shape.N)
                        measure(benchmark, metric, units: units) {
                            matrices[i].run(outputs.pointer, inputs.pointer, M: M, kernel: kernel, pool: pool)
                        }
                    }
                }
            }
        }
    }

    // Decode: all of the model's matrices at M = 1, against a plain streaming read of a buffer
    // of the same size.
    for threads in [1, 2] {
        let pool = pools[threads]!
        Benchmark("decode sweep (all 124M matrices, M=1) packed \(threads)T",
                  configuration: kernelConfiguration(bandwidth)) { benchmark in
            measure(benchmark, bandwidth, units: Double(decodeModelBytes)) {
                for m in decodeModel { m.run(outputs.pointer, inputs.pointer, M: 1, kernel: .packed, pool: pool) }
            }
        }
        Benchmark("stream read (\(decodeModelBytes >> 20) MiB, huge pages) \(threads)T", configuration: kernelConfiguration(bandwidth)) { benchmark in
            measure(benchmark, bandwidth, units: Double(decodeModelBytes)) {
                let n = streamBuffer.count, p = UnsafePointer(streamBuffer.pointer)
                pool.parallelFor(n, granularity: 64) { r in
                    blackHole(streamSum(p + r.lowerBound, r.count))
                }
            }
        }
    }

    // Attention over T = 512 new tokens (prefill of a 512-token prompt, one layer).
    let H = 12, hd = 64, T = 512
    let qkv = randomBuffer(T * 3 * C, seed: 3)
    let keys = AlignedBuffer<Float>(count: keyCacheCount(H: H, capacity: T, hd: hd)), values = AlignedBuffer<Float>(count: H * T * hd)
    storeKeyValues(qkv: qkv.pointer, keys: keys.pointer, values: values.pointer, T: T, firstPosition: 0, H: H, hd: hd, capacity: T)
    for threads in [1, 2] {
        Benchmark("attention T=512 \(threads)T", configuration: kernelConfiguration(flops)) { benchmark in
            // QK and PV: 2 · 2 · hd multiply-adds per (query, key) pair of the causal triangle.
            let units = Double(H * T * (T + 1) / 2 * 4 * hd)
            measure(benchmark, flops, units: units) {
                attention(outputs.pointer, qkv: qkv.pointer, keys: keys.pointer, values: values.pointer,
                          T: T, firstPosition: 0, H: H, hd: hd, capacity: T, scale: 0.125, pool: pools[threads]!)
            }
        }
    }

    // LayerNorm of 1 and 512 rows.
    let gamma = randomBuffer(C, seed: 4), beta = randomBuffer(C, seed: 5)
    for rows in [1, 512] {
        Benchmark("layerNorm T=\(rows) 2T", configuration: kernelConfiguration(bandwidth)) { benchmark in
            measure(benchmark, bandwidth, units: Double(2 * rows * C * 4)) {
                layerNorm(outputs.pointer, inputs.pointer, weight: gamma.pointer, bias: beta.pointer,
                          T: rows, C: C, eps: 1e-5, pool: pools[2]!)
            }
        }
    }

    registerQ8Benchmarks()
}
