import GPT2Runtime

// What the int8 kernels (Q8_0 weights in the interleaved layout, Q8Interleaved.swift) share.
// They compute Q8_0 weights × on-the-fly Q8 activations, as llama.cpp's Q8_0 × Q8_0 path:
//
//   y[m, n] = Σ_b  (d_x[m, b] · d_w[n, b]) · I[m, n, b],    I = Σ_{k in block b} q_x · q_w  (int32)
//
// 1. Activations are quantised per 32-block (d_x = max|x| / 127 in fp32, q_x = round(x / d_x),
//    ties away from zero — GGML's quantize_row_q8_0 with an fp32 scale) into a per-session scratch.
// 2. The integer block dots I are exact; only the sum over blocks is in fp32, one FMA per block
//    in block order. Every path computes that same formula, so they agree bit for bit whenever
//    the integer part does (the tests check it).
//
// Three implementations, chosen at build time (Package.swift defines GPT2_VNNI / GPT2_AVX2 from
// the target CPU):
//   - portable (Q8Interleaved.swift): plain Swift on Int16 activations, so that only the weights
//     need widening;
//   - AVX2 (Q8InterleavedX86.swift): `vpmaddubsw` with the sign trick;
//   - AVX-512 VNNI (Q8InterleavedX86.swift): the same kernel with `vpdpbusd`.
// The portable path is always compiled, so it can be tested on every machine.

/// Which implementation of the int8 kernels runs.
enum Q8Path: CaseIterable, Sendable {
    case portable
    case avx2
    case vnni

    /// The implementations compiled into this build, fastest first.
    static var available: [Q8Path] {
        #if GPT2_VNNI
        return [.vnni, .avx2, .portable]
        #elseif GPT2_AVX2
        return [.avx2, .portable]
        #else
        return [.portable]
        #endif
    }
}

/// The int8 implementation `q8MatmulInterleaved` uses in this build, for reports.
public var q8KernelDescription: String {
    #if GPT2_VNNI
    return "AVX-512 VNNI (vpdpbusd)"
    #elseif GPT2_AVX2
    return "AVX2 (vpmaddubsw; the build target has no AVX-512 VNNI)"
    #else
    return "portable Swift (the build target has neither AVX2 nor AVX-512 VNNI)"
    #endif
}

/// Scratch memory for the quantised activations of one session (one per `GPT2Session`: two
/// sessions may run at once). It grows to the largest request it has seen; size it at creation
/// (`reserve`) and the hot path never allocates.
public final class Q8Scratch: @unchecked Sendable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int

    public init(bytes: Int = 0) {
        capacity = max(bytes, 64)
        base = .allocate(byteCount: capacity, alignment: 64)
    }

    /// Scratch bytes a call with M rows of K inputs needs (every path's layout fits).
    public static func bytes(M: Int, K: Int) -> Int {
        M * K * 2 + M * (K / 32) * 4 + 64  // Int16 quants, then the fp32 scales 64-byte aligned
    }

    /// Ensures room for `bytes(M:K:)`; allocates only when the scratch is too small.
    public func reserve(M: Int, K: Int) {
        let needed = Self.bytes(M: M, K: K)
        if needed > capacity {
            base.deallocate()
            capacity = needed
            base = .allocate(byteCount: capacity, alignment: 64)
        }
    }

    deinit { base.deallocate() }
}

/// Quantises one row of K activations (K a multiple of 32) into `q` (values in [-127, 127])
/// and one fp32 scale per block into `d`. Generic over the stored integer width: the portable
/// kernel wants Int16; Int8 is what the x86 quantiser (`quantizeActivationRowX86`) stores, and
/// the tests compare the two.
@inline(__always)
func quantizeActivationRow<Q: FixedWidthInteger & SignedInteger>(
    _ x: UnsafePointer<Float>, _ q: UnsafeMutablePointer<Q>, _ d: UnsafeMutablePointer<Float>, K: Int
) {
    for b in 0..<(K / 32) {
        let xb = x + b * 32
        let scale = absoluteMax32(xb) / 127
        let inverse: Float = scale != 0 ? 1 / scale : 0
        d[b] = scale
        let qb = q + b * 32
        // Scalar form on purpose: LLVM vectorises it, and lowers round-half-away-from-zero to
        // trunc(v + copysign(0.49999997, v)), which is exactly roundf.
        for i in 0..<32 { qb[i] = Q(truncatingIfNeeded: Int32((xb[i] * inverse).rounded(.toNearestOrAwayFromZero))) }
    }
}

/// The epilogue the int8 kernels apply per output. Their results arrive one at a time, and the
/// scalar GELU costs a 16-lane exp per element (perf: 15% of a decode step when applied per element),
/// so `.gelu` stores v + bias there and `finishGelu` applies GELU 16 lanes at a time afterwards.
@inline(__always)
func innerEpilogue(_ epilogue: MatmulEpilogue) -> MatmulEpilogue { epilogue == .gelu ? .store : epilogue }

/// The second half of a `.gelu` epilogue: GELU over the outputs `rows` of every row of y.
@inline(__always)
func finishGelu(_ y: UnsafeMutablePointer<Float>, M: Int, N: Int, rows: Range<Int>, _ epilogue: MatmulEpilogue) {
    guard epilogue == .gelu else { return }
    for m in 0..<M { geluInPlace(y + m * N + rows.lowerBound, count: rows.count) }
}

/// Runs `body(m)` for every activation row m < M: in parallel only when there are enough rows
/// to pay for a region (quantising one row is well under a microsecond).
@inline(__always)
func forEachActivationRow(_ M: Int, pool: ThreadPool, _ body: (Int) -> Void) {
    if M >= 8 {
        pool.parallelFor(M, granularity: 4) { rows in for m in rows { body(m) } }
    } else {
        for m in 0..<M { body(m) }
    }
}
