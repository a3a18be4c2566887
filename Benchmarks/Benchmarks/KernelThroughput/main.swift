// Plain throughput harness (the fallback when package-benchmark's runner prints nothing):
// old vs packed kernels at GPT-2 124M shapes, interleaved, best of `reps`, 1 and 2 threads.
import Foundation
import Glibc
import Kernels
import GPT2Runtime

func now() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
func randomBuffer(_ count: Int, seed: UInt64) -> AlignedBuffer<Float> {
    let b = AlignedBuffer<Float>(count: count, zeroed: false)
    var s = seed
    for i in 0..<count { s = s &* 6364136223846793005 &+ 1442695040888963407; b.pointer[i] = Float(Int32(truncatingIfNeeded: s >> 40) - (1 << 23)) * 0x1p-23 }
    return b
}
struct Shape { let name: String, K: Int, N: Int, outputMajor: Bool }
let C = 768, I = 3072, V = 50257
let shapes = [Shape(name: "qkv", K: C, N: 3 * C, outputMajor: false), Shape(name: "attn_proj", K: C, N: C, outputMajor: false),
              Shape(name: "mlp_up", K: C, N: I, outputMajor: false), Shape(name: "mlp_down", K: I, N: C, outputMajor: false),
              Shape(name: "lm_head", K: C, N: V, outputMajor: true)]
final class Matrix {
    let s: Shape; let original: AlignedBuffer<Float>; let packed: HugePageBuffer<Float>
    init(_ s: Shape, seed: UInt64) {
        self.s = s; original = randomBuffer(s.K * s.N, seed: seed); packed = HugePageBuffer(count: packedCount(K: s.K, N: s.N))
        if s.outputMajor { packOutputMajor(packed.pointer, original.pointer, K: s.K, N: s.N) } else { packInputMajor(packed.pointer, original.pointer, K: s.K, N: s.N) }
    }
    func run(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, M: Int, packedKernel: Bool, pool: ThreadPool) {
        if packedKernel { matmulPacked(y, x, packed.pointer, bias: nil, M: M, K: s.K, N: s.N, pool: pool) }
        else if s.outputMajor { matmulTransposed(y, x, original.pointer, M: M, K: s.K, N: s.N, pool: pool) }
        else { matmul(y, x, original.pointer, bias: nil, M: M, K: s.K, N: s.N, pool: pool) }
    }
}
let args = CommandLine.arguments
let reps = args.count > 1 ? Int(args[1])! : 5
let pools = [1: ThreadPool(threadCount: 1), 2: ThreadPool(threadCount: 2)]
let x = randomBuffer(512 * I, seed: 1), y = AlignedBuffer<Float>(count: 512 * V)
@inline(never) func streamSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = Vec16(), a1 = Vec16(), a2 = Vec16(), a3 = Vec16(); var i = 0
    while i + 64 <= n { a0 += p.vec16(i); a1 += p.vec16(i + 16); a2 += p.vec16(i + 32); a3 += p.vec16(i + 48); i += 64 }
    return (a0 + a1 + a2 + a3).sum()
}
/// Best time of `reps` for each body, the bodies interleaved.
func best(_ bodies: [() -> Void]) -> [Double] {
    var t = [Double](repeating: .infinity, count: bodies.count)
    for _ in 0..<reps { for (i, b) in bodies.enumerated() { let s = now(); b(); t[i] = min(t[i], now() - s) } }
    return t
}
var sink: Float = 0

// Decode: all 124M matrices at M = 1 vs a plain streaming read of the same bytes.
let model = (0..<12).flatMap { l in shapes.dropLast().enumerated().map { Matrix($0.element, seed: UInt64(1000 + 10 * l + $0.offset)) } } + [Matrix(shapes.last!, seed: 2000)]
let bytes = model.reduce(0) { $0 + $1.s.K * $1.s.N * 4 }
let stream = HugePageBuffer<Float>(count: bytes / 4)
for i in 0..<stream.count { stream.pointer[i] = Float(i & 1023) }
print("decode sweep, \(bytes >> 20) MiB of weights at M = 1 (best of \(reps)):")
for threads in [1, 2] {
    let pool = pools[threads]!
    let t = best([
        { pool.parallelFor(stream.count, granularity: 64) { r in let v = streamSum(UnsafePointer(stream.pointer) + r.lowerBound, r.count); if v == 1 { sink += v } } },
        { for m in model { m.run(y.pointer, x.pointer, M: 1, packedKernel: false, pool: pool) } },
        { for m in model { m.run(y.pointer, x.pointer, M: 1, packedKernel: true, pool: pool) } },
    ])
    let gb = t.map { Double(bytes) / $0 / 1e9 }
    print(String(format: "  %dT  stream read %.1f GB/s | unpacked %.1f GB/s (%.0f%%) | packed %.1f GB/s (%.0f%%)  [%.2f / %.2f / %.2f ms]",
                 threads, gb[0], gb[1], 100 * gb[1] / gb[0], gb[2], 100 * gb[2] / gb[0], t[0] * 1e3, t[1] * 1e3, t[2] * 1e3))
}
// Prefill GEMM per shape.
for M in [128, 256] {
    print("GEMM at M = \(M), GFLOP/s (unpacked → packed), best of \(reps):")
    for (i, s) in shapes.enumerated() {
        let m = Matrix(s, seed: UInt64(i))
        var line = "  " + s.name.padding(toLength: 10, withPad: " ", startingAt: 0)
        for threads in [1, 2] {
            let pool = pools[threads]!
            let t = best([{ m.run(y.pointer, x.pointer, M: M, packedKernel: false, pool: pool) },
                          { m.run(y.pointer, x.pointer, M: M, packedKernel: true, pool: pool) }])
            let f = t.map { 2 * Double(M * s.K * s.N) / $0 / 1e9 }
            line += String(format: "  %dT %6.1f → %6.1f", threads, f[0], f[1])
        }
        print(line)
    }
}
// Attention at T = 512 (one layer) and its share against the layer's matmuls.
let H = 12, hd = 64, T = 512
let qkv = randomBuffer(T * 3 * C, seed: 3)
let keys = AlignedBuffer<Float>(count: H * T * hd), values = AlignedBuffer<Float>(count: H * T * hd)
storeKeyValues(qkv: qkv.pointer, keys: keys.pointer, values: values.pointer, T: T, firstPosition: 0, H: H, hd: hd, capacity: T)
for threads in [1, 2] {
    let t = best([{ attention(y.pointer, qkv: qkv.pointer, keys: keys.pointer, values: values.pointer, T: T, firstPosition: 0, H: H, hd: hd, capacity: T, scale: 0.125, pool: pools[threads]!) }])
    let flops = Double(H * T * (T + 1) / 2 * 4 * hd)
    print(String(format: "attention T=512 %dT: %.2f ms per layer (%.1f GFLOP/s)", threads, t[0] * 1e3, flops / t[0] / 1e9))
}
if sink == 12345 { print(sink) }
