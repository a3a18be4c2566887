// The Q8_0 (int8) kernels at GPT-2 124M shapes, as the former `gpt2 bench-int8` measured them
// (PERFORMANCE.md): the GEMV (M = 1, decode) in MB/s of weights streamed, per matrix
// and over every matrix of the model next to a plain read of the same byte count; the GEMM
// (M = 128, prefill) in MOP/s (2 ops per multiply-add; 1 GOP/s = 1000 MOP/s). The fp32
// `matmul … packed` benchmarks of the same shapes are the reference to compare with. The kernels
// run on the interleaved layout, the one the runtime loads Q8_0 weights into.
import Benchmark
import Foundation
import GPT2Runtime
import Kernels

let int8Ops = BenchmarkMetric.custom("MOP/s", polarity: .prefersLarger, useScalingFactor: false)

/// One matrix quantised to GGML's Q8_0 rows (N rows of K/32 34-byte blocks) from random values
/// in [-1, 1), then repacked as the runtime does at load into the interleaved layout
/// (`Q8Interleaved`: groups of 8 rows), on huge pages.
final class Q8Matrix: @unchecked Sendable {
    let shape: LinearShape
    let interleaved: HugePageBuffer<UInt8>
    /// Bytes of weights one product reads (the Q8_0 blocks, as many as GGML's rows hold).
    var byteCount: Int { shape.N * Q8_0.byteCount(shape.K) }

    init(_ shape: LinearShape, seed: UInt64) {
        self.shape = shape
        let rowBytes = Q8_0.byteCount(shape.K)
        let values = randomBuffer(shape.K * shape.N, seed: seed)
        let rows = AlignedBuffer<UInt8>(count: shape.N * rowBytes, zeroed: false)
        for n in 0..<shape.N {
            Q8_0.quantize(values.pointer + n * shape.K, into: rows.pointer + n * rowBytes, count: shape.K)
        }
        interleaved = HugePageBuffer(count: Q8Interleaved.byteCount(K: shape.K, N: shape.N))
        Q8Interleaved.repack(interleaved.pointer, from: rows.pointer, K: shape.K, N: shape.N,
                             groups: 0..<Q8Interleaved.groups(N: shape.N))
    }

    /// The product with the runtime's kernel.
    func run(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, M: Int, scratch: Q8Scratch, pool: ThreadPool) {
        q8MatmulInterleaved(y, x, interleaved.pointer, bias: nil, M: M, K: shape.K, N: shape.N, scratch: scratch, pool: pool)
    }
}

/// Activation scratch for the largest call (M = 128, K = 3072), made once: the timed calls never
/// allocate, as in a session.
nonisolated(unsafe) let q8Scratch = Q8Scratch(bytes: Q8Scratch.bytes(M: 128, K: I))

/// One Q8_0 matrix of each shape, for the per-matrix benchmarks.
let q8Matrices = shapes.enumerated().map { Q8Matrix($0.element, seed: UInt64(300 + $0.offset)) }

/// Decode's Q8_0 weights: every matrix of GPT-2 124M (≈ 131 MB, beyond L3).
let q8DecodeModel = (0..<12).flatMap { l in shapes.dropLast().enumerated().map { Q8Matrix($0.element, seed: UInt64(3000 + 10 * l + $0.offset)) } }
    + [Q8Matrix(shapes.last!, seed: 4000)]
let q8DecodeModelBytes = 12 * shapes.dropLast().reduce(0) { $0 + $1.N * Q8_0.byteCount($1.K) } + shapes.last!.N * Q8_0.byteCount(shapes.last!.K)

/// A buffer of `q8DecodeModelBytes` (rounded down to 256 bytes) on huge pages.
let q8StreamBuffer: HugePageBuffer<Float> = {
    let buffer = HugePageBuffer<Float>(count: q8DecodeModelBytes / 4 / 64 * 64)
    for i in 0..<buffer.count { buffer.pointer[i] = Float(i & 1023) }
    return buffer
}()

/// Registers the Q8_0 benchmarks (called from `benchmarks`).
func registerQ8Benchmarks() {
    // Per matrix: the GEMV (the weights fit in L3 except lm_head's 41 MB) and the GEMM.
    for (i, shape) in shapes.enumerated() {
        for threads in [1, 2] {
            let pool = pools[threads]!
            Benchmark("q8_0 matmul \(shape.name) M=1 \(threads)T", configuration: kernelConfiguration(bandwidth)) { benchmark in
                measure(benchmark, bandwidth, units: Double(q8Matrices[i].byteCount)) {
                    q8Matrices[i].run(outputs.pointer, inputs.pointer, M: 1, scratch: q8Scratch, pool: pool)
                }
            }
            guard shape.name != "lm_head" else { continue }  // only at M = 1 in generation
            Benchmark("q8_0 matmul \(shape.name) M=128 \(threads)T", configuration: kernelConfiguration(int8Ops)) { benchmark in
                measure(benchmark, int8Ops, units: 2 * Double(128 * shape.K * shape.N)) {
                    q8Matrices[i].run(outputs.pointer, inputs.pointer, M: 128, scratch: q8Scratch, pool: pool)
                }
            }
        }
    }

    // Decode's weight stream against a plain streaming read of the same bytes (what
    // `gpt2 bench-int8 --only gemv` reported as "% of the read").
    for threads in [1, 2] {
        let pool = pools[threads]!
        Benchmark("q8_0 decode sweep (all 124M matrices, M=1, interleaved) \(threads)T", configuration: kernelConfiguration(bandwidth)) { benchmark in
            measure(benchmark, bandwidth, units: Double(q8DecodeModelBytes)) {
                for m in q8DecodeModel { m.run(outputs.pointer, inputs.pointer, M: 1, scratch: q8Scratch, pool: pool) }
            }
        }
        Benchmark("stream read (\(q8DecodeModelBytes >> 20) MiB, as the q8_0 sweep) \(threads)T",
                  configuration: kernelConfiguration(bandwidth)) { benchmark in
            measure(benchmark, bandwidth, units: Double(q8StreamBuffer.count * 4)) {
                let n = q8StreamBuffer.count, p = UnsafePointer(q8StreamBuffer.pointer)
                pool.parallelFor(n, granularity: 64) { r in
                    blackHole(streamSum(p + r.lowerBound, r.count))
                }
            }
        }
    }
}
