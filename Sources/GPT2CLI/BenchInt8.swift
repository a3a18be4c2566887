import ArgumentParser
import Foundation
import GPT2
import Glibc
import Kernels
import GPT2Runtime

/// `gpt2 bench-int8`: the numbers of perf/NOTES-int8-kernels.md, measured as ratios within one
/// run (the host is shared: absolute numbers drift from minute to minute). Every comparison is
/// interleaved rep by rep, and the median is reported.
struct BenchInt8: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-int8",
        abstract: "Measure the Q8_0 kernels: decode vs fp32, GEMV vs a streaming read, GEMM GOP/s.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Repetitions of each measurement (interleaved).")
    var reps = 5

    @Option(help: "Tokens decoded per decode measurement.")
    var tokens = 32

    @Option(help: "What to run: all, decode, gemv, gemm.")
    var only = "all"

    func run() throws {
        let path = try modelOptions.resolvedModelPath()
        let threads = modelOptions.threads ?? ThreadPool.availableCPUs().count
        let fp32 = try GPT2Model.load(path: path)
        let q8 = fp32.quantized(to: .q8_0)
        print("model \(path), threads \(threads), reps \(reps) (median), int8 kernels: \(q8KernelDescription)")
        if only == "all" || only == "gemv" { gemv(q8, rows: fp32.quantized(to: .q8_0, interleave: false), threads: threads) }
        if only == "all" || only == "decode" { try decode(fp32, q8, threads: threads) }
        if only == "all" || only == "gemm" { gemm() }
    }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    /// Seconds one call of `body` takes (one warm-up call first).
    static func time(_ body: () -> Void) -> Double {
        let start = monotonicNanoseconds()
        body()
        return Double(monotonicNanoseconds() - start) * 1e-9
    }

    /// Decode tokens/s, fp32 and Q8_0 sessions alternating rep by rep.
    func decode(_ fp32: GPT2Model, _ q8: GPT2Model, threads: Int) throws {
        let sessions = [GPT2Session(model: fp32, threads: threads), GPT2Session(model: q8, threads: threads)]
        var times: [[Double]] = [[], []]
        for rep in 0...reps {
            for (i, session) in sessions.enumerated() {
                session.reset()
                _ = try session.evaluate([464])
                let t = try Self.measure {
                    for j in 0..<tokens { _ = try session.evaluate([(j * 7919) % fp32.config.vocabSize]) }
                }
                if rep > 0 { times[i].append(t / Double(tokens)) }
            }
        }
        let f = Self.median(times[0]), q = Self.median(times[1])
        print(String(format: "decode: fp32 %.2f ms/token (%.1f tok/s), q8_0 %.2f ms/token (%.1f tok/s): q8_0/fp32 speed %.2fx",
                     f * 1e3, 1 / f, q * 1e3, 1 / q, f / q))
    }

    static func measure(_ body: () throws -> Void) throws -> Double {
        let start = monotonicNanoseconds()
        try body()
        return Double(monotonicNanoseconds() - start) * 1e-9
    }

    /// Every Q8_0 matrix of the model at M = 1 (one decode step's weight traffic, without
    /// attention), in both layouts (GGML rows and interleaved), against a plain streaming read of
    /// a buffer of the same size; the three interleaved rep by rep.
    func gemv(_ q8: GPT2Model, rows rowsModel: GPT2Model, threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        func list(_ model: GPT2Model) -> [LinearWeight] {
            return model.weights.blocks.flatMap { [$0.qkv, $0.attnProj, $0.fc, $0.fcProj] } + [model.weights.lmHead]
        }
        let interleaved = list(q8).filter { if case .q8_0Interleaved = $0 { return true } else { return false } }
        let rows = list(rowsModel).filter { if case .q8_0 = $0 { return true } else { return false } }
        let bytes = interleaved.reduce(0) { $0 + $1.outputs * $1.inputs / 32 * 34 }
        let maxK = interleaved.map(\.inputs).max() ?? 0, maxN = interleaved.map(\.outputs).max() ?? 0
        let x = AlignedBuffer<Float>(count: maxK), y = AlignedBuffer<Float>(count: maxN + 8)
        for i in 0..<maxK { x.pointer[i] = Float(i % 17) - 8 }
        let scratch = Q8Scratch(bytes: Q8Scratch.bytes(M: 1, K: maxK))
        // The streaming read: the same byte count, huge pages, threads split it, 4 zmm sums.
        let floats = bytes / 4 / 64 * 64
        var raw: UnsafeMutableRawPointer?
        _ = posix_memalign(&raw, 2 << 20, floats * 4)
        _ = madvise(raw, floats * 4, MADV_HUGEPAGE)
        let buffer = raw!.bindMemory(to: Float.self, capacity: floats)
        defer { free(raw) }
        for i in 0..<floats { buffer[i] = Float(i & 1023) }
        let sink = AlignedBuffer<Float>(count: 32)
        var readTimes: [Double] = [], gemvTimes: [Double] = [], rowTimes: [Double] = []
        for rep in 0...reps {
            let r = Self.time {
                pool.parallelFor(floats / 64) { chunks in
                    var a = Vec16(), b = Vec16(), c = Vec16(), d = Vec16()
                    var p = UnsafePointer(buffer) + chunks.lowerBound * 64
                    for _ in chunks {
                        a += p.vec16(0); b += p.vec16(16); c += p.vec16(32); d += p.vec16(48); p += 64
                    }
                    sink.pointer[chunks.lowerBound == 0 ? 0 : 16] = (a + b + c + d).sum()  // keeps the loads alive
                }
            }
            let g = Self.time {
                for case let .q8_0Interleaved(w, K, N) in interleaved {
                    q8MatmulInterleaved(y.pointer, x.pointer, w, bias: nil, M: 1, K: K, N: N, scratch: scratch, pool: pool)
                }
            }
            let o = Self.time {
                for case let .q8_0(w, K, N) in rows {
                    q8Matmul(y.pointer, x.pointer, w, bias: nil, M: 1, K: K, N: N, scratch: scratch, pool: pool)
                }
            }
            if rep > 0 { readTimes.append(r); gemvTimes.append(g); rowTimes.append(o) }
        }
        let read = Double(bytes) / Self.median(readTimes) / 1e9, gemv = Double(bytes) / Self.median(gemvTimes) / 1e9
        print(String(format: "gemv: %d matrices, %.1f MB of Q8_0: streaming read %.1f GB/s, interleaved GEMV %.1f GB/s (%.0f%% of the read), %.2f ms per pass",
                     interleaved.count, Double(bytes) / 1e6, read, gemv, 100 * gemv / read, Self.median(gemvTimes) * 1e3))
        if !rows.isEmpty {
            let old = Double(bytes) / Self.median(rowTimes) / 1e9
            print(String(format: "gemv: GGML-row layout (before repacking) %.1f GB/s (%.0f%% of the read), %.2f ms per pass",
                         old, 100 * old / read, Self.median(rowTimes) * 1e3))
        }
    }

    /// GOP/s of the Q8_0 GEMM and of the fp32 matmul on GPT-2 124M's shapes, 1 and 2 threads.
    func gemm() {
        let shapes = [(768, 2304, "qkv"), (768, 768, "attn_proj"), (768, 3072, "mlp_up"), (3072, 768, "mlp_down")]
        var rng = SystemRandomNumberGenerator()
        for threads in [1, 2] {
            let pool = ThreadPool(threadCount: threads)
            for M in [128, 512] {
                var q8Ops = 0.0, fpOps = 0.0, q8Time = [Double](), fpTime = [Double](), q8iTime = [Double]()
                var rows: [String] = []
                for (K, N, name) in shapes {
                    let x = AlignedBuffer<Float>(count: M * K), wf = AlignedBuffer<Float>(count: K * N)
                    let y = AlignedBuffer<Float>(count: M * N)
                    for i in 0..<(M * K) { x.pointer[i] = Float.random(in: -1...1, using: &rng) }
                    for i in 0..<(K * N) { wf.pointer[i] = Float.random(in: -0.1...0.1, using: &rng) }
                    let wq = UnsafeMutableRawPointer.allocate(byteCount: N * K / 32 * 34, alignment: 64)
                    defer { wq.deallocate() }
                    for n in 0..<N { Q8_0.quantize(wf.pointer + n * K, into: wq + n * K / 32 * 34, count: K) }
                    let wi = UnsafeMutableRawPointer.allocate(byteCount: Q8Interleaved.byteCount(K: K, N: N), alignment: 64)
                    defer { wi.deallocate() }
                    Q8Interleaved.repack(wi, from: wq, K: K, N: N, groups: 0..<Q8Interleaved.groups(N: N))
                    let wp = AlignedBuffer<Float>(count: packedCount(K: K, N: N))
                    packInputMajor(wp.pointer, wf.pointer, K: K, N: N)
                    let scratch = Q8Scratch(bytes: Q8Scratch.bytes(M: M, K: K))
                    var tq: [Double] = [], tf: [Double] = [], ti: [Double] = []
                    for rep in 0...reps {
                        let a = Self.time { q8Matmul(y.pointer, x.pointer, wq, bias: nil, M: M, K: K, N: N, scratch: scratch, pool: pool) }
                        let c = Self.time { q8MatmulInterleaved(y.pointer, x.pointer, wi, bias: nil, M: M, K: K, N: N, scratch: scratch, pool: pool) }
                        let b = Self.time { matmulPacked(y.pointer, x.pointer, wp.pointer, bias: nil, M: M, K: K, N: N, pool: pool) }
                        if rep > 0 { tq.append(a); tf.append(b); ti.append(c) }
                    }
                    let ops = 2.0 * Double(M * K * N)
                    q8Ops += ops; fpOps += ops
                    q8Time.append(Self.median(tq)); fpTime.append(Self.median(tf)); q8iTime.append(Self.median(ti))
                    rows.append(String(format: "%@ %.0f/%.0f/%.0f", name, ops / Self.median(ti) / 1e9, ops / Self.median(tq) / 1e9,
                                       ops / Self.median(tf) / 1e9))
                }
                let q = q8Ops / q8Time.reduce(0, +) / 1e9, f = fpOps / fpTime.reduce(0, +) / 1e9
                let qi = q8Ops / q8iTime.reduce(0, +) / 1e9
                print(String(format: "gemm M=%d threads %d: q8_0 interleaved %.1f GOP/s, q8_0 rows %.1f GOP/s, fp32 packed %.1f GFLOP/s (interleaved/rows %.2fx, interleaved/fp32 %.2fx); per shape interleaved/rows/fp32: ",
                             M, threads, qi, q, f, qi / q, qi / f) + rows.joined(separator: ", "))
            }
        }
    }
}
