// `gpt2 calibrate`: this machine's ceilings — streaming read bandwidth, fp32 FMA peak and int8
// VNNI peak, each on 1…N threads — measured in a few seconds and cached as JSON, so that
// `gpt2 bench` and `gpt2 profile` can state results as a share of what the hardware can do.

import Foundation
import GPT2Runtime
#if GPT2_VNNI
import _Builtin_intrinsics.intel
#endif

/// Measured ceilings of this machine; element *i* of each array is for *i + 1* threads.
public struct MachineCeilings: Codable, Equatable, Sendable {
    /// Streaming read bandwidth from DRAM, GB/s (10^9 bytes per second).
    public var readGBs: [Double]
    /// fp32 fused multiply-add peak, GFLOP/s (2 FLOPs per multiply-add).
    public var fp32GFLOPs: [Double]
    /// int8 `vpdpbusd` peak, GOP/s (2 ops per multiply-add); nil when not measured.
    public var int8GOPs: [Double]?
    /// Buffer size the bandwidth was measured on.
    public var bufferBytes: Int
    /// When it was measured (ISO 8601).
    public var measuredAt: String

    enum CodingKeys: String, CodingKey {
        case readGBs = "read_gbs", fp32GFLOPs = "fp32_gflops", int8GOPs = "int8_gops"
        case bufferBytes = "buffer_bytes", measuredAt = "measured_at"
    }

    public init(readGBs: [Double], fp32GFLOPs: [Double], int8GOPs: [Double]?, bufferBytes: Int, measuredAt: String) {
        self.readGBs = readGBs; self.fp32GFLOPs = fp32GFLOPs; self.int8GOPs = int8GOPs
        self.bufferBytes = bufferBytes; self.measuredAt = measuredAt
    }

    /// The value for `threads` threads; past the last measured count, the last one.
    static func value(_ values: [Double], threads: Int) -> Double? {
        values.isEmpty ? nil : values[min(max(threads, 1), values.count) - 1]
    }

    /// Read bandwidth in GB/s with `threads` threads.
    public func readBandwidth(threads: Int) -> Double? { Self.value(readGBs, threads: threads) }
    /// fp32 FMA peak in GFLOP/s with `threads` threads.
    public func fp32Peak(threads: Int) -> Double? { Self.value(fp32GFLOPs, threads: threads) }
    /// int8 `vpdpbusd` peak in GOP/s with `threads` threads; nil where it was not measured
    /// (no AVX-512 VNNI).
    public func int8Peak(threads: Int) -> Double? { int8GOPs.flatMap { Self.value($0, threads: threads) } }

    /// Where the calibration is cached.
    public static var cachePath: String { swiftGPT2CacheDirectory() + "/calibration.json" }

    /// The cached calibration, or nil if there is none (or it cannot be read).
    public static func loadCached(path: String = cachePath) -> MachineCeilings? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(MachineCeilings.self, from: data)
    }

    /// Writes the calibration to `path`, creating its directory.
    public func save(path: String = cachePath) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    /// A Markdown table: one row per thread count.
    public func table() -> String {
        var lines = ["| threads | read GB/s | fp32 GFLOP/s | int8 VNNI GOP/s |", "|---:|---:|---:|---:|"]
        for i in 0..<max(readGBs.count, fp32GFLOPs.count) {
            let vnni = int8GOPs.map { i < $0.count ? String(format: "%.0f", $0[i]) : "-" } ?? "not measured"
            lines.append("| \(i + 1) | \(i < readGBs.count ? String(format: "%.1f", readGBs[i]) : "-") | "
                + "\(i < fp32GFLOPs.count ? String(format: "%.0f", fp32GFLOPs[i]) : "-") | \(vnni) |")
        }
        return lines.joined(separator: "\n")
    }
}

/// Measures `MachineCeilings` with micro-benchmarks run on a `ThreadPool`.
public enum Calibrator {
    /// Whether VNNI can be measured: the build targets it (`GPT2_VNNI`) and this CPU has it
    /// (a build for another CPU may run here).
    public static var canMeasureVNNI: Bool {
        #if GPT2_VNNI
        return CPUFeatures.current.avx512vnni
        #else
        return false
        #endif
    }

    /// Runs every measurement on 1…`maxThreads` threads; each figure is the best of `repetitions`.
    public static func measure(maxThreads: Int, bufferBytes: Int = 512 << 20, repetitions: Int = 5) -> MachineCeilings {
        var read: [Double] = [], fma: [Double] = [], vnni: [Double] = []
        // Filled once, so that its pages are resident (and huge) before anything is timed.
        let buffer = HugePageBuffer<Float>(count: bufferBytes / 4)
        buffer.pointer.initialize(repeating: 1, count: buffer.count)
        for threads in 1...max(1, maxThreads) {
            let pool = ThreadPool(threadCount: threads)
            read.append(readBandwidth(buffer: buffer, pool: pool, repetitions: repetitions))
            fma.append(fp32Peak(pool: pool, repetitions: repetitions))
            #if GPT2_VNNI
            if canMeasureVNNI { vnni.append(int8Peak(pool: pool, repetitions: repetitions)) }
            #endif
        }
        return MachineCeilings(
            readGBs: read, fp32GFLOPs: fma, int8GOPs: canMeasureVNNI ? vnni : nil,
            bufferBytes: bufferBytes, measuredAt: ISO8601DateFormatter().string(from: Date()))
    }

    /// The best of `repetitions` runs of `body` on every thread of `pool`, in units per
    /// nanosecond (10^9 units per second), where `units` is the work of one run on all threads.
    static func bestRate(pool: ThreadPool, repetitions: Int, units: Int, _ body: (_ thread: Int) -> Void) -> Double {
        var best = 0.0
        for _ in 0..<repetitions {
            let start = monotonicNanoseconds()
            pool.run(body)
            best = max(best, Double(units) / Double(monotonicNanoseconds() - start))
        }
        return best
    }

    /// GB/s of summing `buffer` (each thread its own contiguous slice), best of `repetitions`.
    static func readBandwidth(buffer: HugePageBuffer<Float>, pool: ThreadPool, repetitions: Int) -> Double {
        let blocks = buffer.count / 64  // units of 64 floats
        let base = buffer.pointer
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: pool.threadCount * 16)
        defer { sink.deallocate() }
        return bestRate(pool: pool, repetitions: repetitions, units: blocks * 256) { thread in
            let range = ThreadPool.staticRange(units: blocks, parts: pool.threadCount, part: thread)
            var a = SIMD16<Float>(), b = a, c = a, d = a
            var p = UnsafeRawPointer(base + range.lowerBound * 64)
            for _ in range {
                a += p.loadUnaligned(as: SIMD16<Float>.self)
                b += p.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                c += p.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
                d += p.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
                p += 256
            }
            // Published so the loads cannot be optimised away: a cache line per thread.
            sink[thread * 16] = (a + b + c + d).sum()
        }
    }

    /// GFLOP/s of 12 independent FMA chains per thread (2 FMA pipes × 4-cycle latency ⇒ ≥ 8
    /// chains keep both busy), best of `repetitions`. The chains are one register each: zmm
    /// (SIMD16) with AVX-512, else ymm (SIMD8). 12 SIMD16 chains on AVX2 are 24 ymm registers
    /// of 16 and spill: that measured 46 instead of 94 GFLOP/s on one Zen 3 core.
    static func fp32Peak(pool: ThreadPool, repetitions: Int) -> Double {
        #if GPT2_AVX512
        typealias Chain = SIMD16<Float>
        #else
        typealias Chain = SIMD8<Float>
        #endif
        let iterations = 4_000_000
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: pool.threadCount)
        defer { sink.deallocate() }
        let flops = pool.threadCount * iterations * 12 * Chain.scalarCount * 2
        return bestRate(pool: pool, repetitions: repetitions, units: flops) { thread in
            let x = Chain(repeating: 0.999_999), y = Chain(repeating: 1e-7)
            var a0 = Chain(repeating: 1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0
            var a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0
            for _ in 0..<iterations {
                a0 = a0.addingProduct(a0, x); a1 = a1.addingProduct(a1, x)
                a2 = a2.addingProduct(a2, x); a3 = a3.addingProduct(a3, x)
                a4 = a4.addingProduct(a4, x); a5 = a5.addingProduct(a5, x)
                a6 = a6.addingProduct(a6, y); a7 = a7.addingProduct(a7, y)
                a8 = a8.addingProduct(a8, y); a9 = a9.addingProduct(a9, y)
                a10 = a10.addingProduct(a10, y); a11 = a11.addingProduct(a11, y)
            }
            sink[thread] = (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).sum()
        }
    }

    #if GPT2_VNNI
    /// GOP/s of 12 independent `vpdpbusd` chains per thread (64 multiply-adds each), best of
    /// `repetitions`.
    static func int8Peak(pool: ThreadPool, repetitions: Int) -> Double {
        let iterations = 4_000_000
        let sink = UnsafeMutablePointer<Int32>.allocate(capacity: pool.threadCount)
        defer { sink.deallocate() }
        let ops = pool.threadCount * iterations * 12 * 64 * 2
        return bestRate(pool: pool, repetitions: repetitions, units: ops) { thread in
            let x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2)
            var a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0
            var a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0
            for _ in 0..<iterations {
                a0 = _mm512_dpbusd_epi32(a0, x, y); a1 = _mm512_dpbusd_epi32(a1, x, y)
                a2 = _mm512_dpbusd_epi32(a2, x, y); a3 = _mm512_dpbusd_epi32(a3, x, y)
                a4 = _mm512_dpbusd_epi32(a4, x, y); a5 = _mm512_dpbusd_epi32(a5, x, y)
                a6 = _mm512_dpbusd_epi32(a6, x, y); a7 = _mm512_dpbusd_epi32(a7, x, y)
                a8 = _mm512_dpbusd_epi32(a8, x, y); a9 = _mm512_dpbusd_epi32(a9, x, y)
                a10 = _mm512_dpbusd_epi32(a10, x, y); a11 = _mm512_dpbusd_epi32(a11, x, y)
            }
            let sums = [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11].map { _mm512_reduce_add_epi32($0) }
            sink[thread] = sums.reduce(0, &+)
        }
    }
    #endif
}
