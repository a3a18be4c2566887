// Prefill kernel throughput: matmulPacked at GPT-2 124M shapes (M = 128/256/512) and attention
// (pp512's two chunks, decode), 1 and 2 threads interleaved, best of N. Not part of the package:
// it links against the release objects, so it measures exactly what `gpt2` runs.
//
//   swift build -c release --product gpt2
//   B=.build/release; swiftc -Ounchecked -Xcc -march=native -I $B/Modules -Xcc -I -Xcc Sources/CNuma \
//     -Xcc -fmodule-map-file=Sources/CNuma/module.modulemap perf/prefill_kernels_bench.swift \
//     $B/Kernels.build/*.o $B/GPT2Runtime.build/*.o -lnuma -o /tmp/prefill_kernels_bench
//   /tmp/prefill_kernels_bench 7
import Glibc
import Kernels
import GPT2Runtime
func r1(_ v: Double) -> String { let x = (v * 10).rounded() / 10; return "\(x)" }
func now() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
func randomBuffer(_ count: Int, seed: UInt64) -> AlignedBuffer<Float> {
    let b = AlignedBuffer<Float>(count: count, zeroed: false)
    var s = seed
    for i in 0..<count { s = s &* 6364136223846793005 &+ 1442695040888963407; b.pointer[i] = Float(Int32(truncatingIfNeeded: s >> 40) - (1 << 23)) * 0x1p-24 }
    return b
}
let reps = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 7
let pools = [ThreadPool(threadCount: 1), ThreadPool(threadCount: 2)]
let C = 768, I = 3072
let shapes = [("qkv", C, 3 * C), ("attn_proj", C, C), ("mlp_up", C, I), ("mlp_down", I, C)]
let x = randomBuffer(512 * I, seed: 1), y = AlignedBuffer<Float>(count: 512 * I)
let scratch = AlignedBuffer<Float>(count: packedMatmulScratchCount(M: 512, K: I))
for M in [128, 256, 512] {
    var line = "M=\(M)"
    var tot = [0.0, 0.0], flop = 0.0
    for (name, K, N) in shapes {
        let w = randomBuffer(K * N, seed: 7), p = HugePageBuffer<Float>(count: packedCount(K: K, N: N))
        packInputMajor(p.pointer, w.pointer, K: K, N: N)
        var best = [Double.infinity, .infinity]
        for _ in 0..<reps { for t in 0..<2 {
            let s = now(); matmulPacked(y.pointer, x.pointer, p.pointer, bias: nil, M: M, K: K, N: N, scratch: scratch.pointer, pool: pools[t]); best[t] = min(best[t], now() - s)
        } }
        let f = 2.0 * Double(M * K * N)
        flop += f; tot[0] += best[0]; tot[1] += best[1]
        let g1: Double = f / best[0] / 1e9, g2: Double = f / best[1] / 1e9
        line += "  \(name) \(r1(g1))/\(r1(g2))"
    }
    let a1: Double = flop / tot[0] / 1e9, a2: Double = flop / tot[1] / 1e9, sc: Double = tot[0] / tot[1]
    print(line + "  | all four: \(r1(a1)) / \(r1(a2)) GFLOP/s (1T/2T), 2T/1T \(r1(sc))")
}
// attention, H = 12, hd = 64: one chunk of 512 from 0, and the second chunk of 256 at 256.
let H = 12, hd = 64, cap = 1024
let qkv = randomBuffer(512 * 3 * C, seed: 3)
let keys = AlignedBuffer<Float>(count: keyCacheCount(H: H, capacity: cap, hd: hd)), values = AlignedBuffer<Float>(count: H * cap * hd)
storeKeyValues(qkv: qkv.pointer, keys: keys.pointer, values: values.pointer, T: 512, firstPosition: 0, H: H, hd: hd, capacity: cap)
let out = AlignedBuffer<Float>(count: 512 * C)
for (T, first) in [(512, 0), (256, 256), (1, 511)] {
    var best = [Double.infinity, .infinity]
    for _ in 0..<reps { for t in 0..<2 {
        let s = now(); attention(out.pointer, qkv: qkv.pointer, keys: keys.pointer, values: values.pointer, T: T, firstPosition: first, H: H, hd: hd, capacity: cap, scale: 0.125, pool: pools[t]); best[t] = min(best[t], now() - s)
    } }
    var pairs = 0.0; for t in 0..<T { pairs += Double(first + t + 1) }
    let f = 4.0 * pairs * Double(hd * H)
    let m1: Double = best[0] * 1e3, m2: Double = best[1] * 1e3, g1: Double = f / best[0] / 1e9, g2: Double = f / best[1] / 1e9, sc: Double = best[0] / best[1]
    print("attention T=\(T) first=\(first): \(r1(m1)) / \(r1(m2)) ms, \(r1(g1)) / \(r1(g2)) GFLOP/s (1T/2T), 2T/1T \(r1(sc))")
}
do {
    var best = Double.infinity
    for _ in 0..<reps {
        let s = now(); storeKeyValues(qkv: qkv.pointer, keys: keys.pointer, values: values.pointer, T: 256, firstPosition: 256, H: H, hd: hd, capacity: cap); best = min(best, now() - s)
    }
    let ms: Double = best * 1e3
    print("storeKeyValues T=256: \(r1(ms * 100) ) ms/100")
}
