import GPT2Runtime

// Q8_0 weights × on-the-fly Q8 activations, as llama.cpp's Q8_0 × Q8_0 path:
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
//   - portable (this file): plain Swift; LLVM vectorises the int16 × int8 block dot with
//     (v)pmaddwd. Activations are kept as Int16 so that only the weights need widening.
//   - AVX2 (Q8MatmulVNNI.swift): llama.cpp's AVX2 block dot (`vpsignb`, `vpmaddubsw`).
//   - AVX-512 VNNI (Q8MatmulVNNI.swift): `vpdpbusd`; a GEMV for M = 1, a register-blocked GEMM
//     for M > 1.
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

/// The int8 implementation `q8Matmul` uses in this build, for reports.
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
        let rows = (M + 31) / 32 * 32            // the VNNI GEMM pads rows to 2 groups of 16 lanes
        return rows * K * 2 + rows * (K / 32) * 4 + 256  // Int16 quants + fp32 scales + alignment
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
/// kernels want Int16, the VNNI ones Int8.
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
/// scalar GELU costs a 16-lane exp per element (perf: 15% of a decode step in the first version),
/// so `.gelu` stores v + bias there and `finishGelu` applies GELU 16 lanes at a time afterwards.
@inline(__always)
func innerEpilogue(_ epilogue: MatmulEpilogue) -> MatmulEpilogue { epilogue == .gelu ? .store : epilogue }

/// The second half of a `.gelu` epilogue: GELU over the outputs `rows` of every row of y.
@inline(__always)
func finishGelu(_ y: UnsafeMutablePointer<Float>, M: Int, N: Int, rows: Range<Int>, _ epilogue: MatmulEpilogue) {
    guard epilogue == .gelu else { return }
    for m in 0..<M { geluInPlace(y + m * N + rows.lowerBound, count: rows.count) }
}

/// The fp16 scale at the start of a Q8_0 block, as fp32.
@inline(__always)
func q8Scale(_ block: UnsafeRawPointer) -> Float {
    Float(Float16(bitPattern: block.loadUnaligned(as: UInt16.self)))
}

/// y[M,N] = epilogue(x[M,K] · Wᵀ + bias[N]) for Q8_0 weights `w` (N rows of K/32 GGML
/// `block_q8_0`, 34 bytes each; K a multiple of 32). M = 1 is the decode GEMV; larger M the
/// prefill GEMM. `scratch` receives the quantised activations.
public func q8Matmul(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue = .store, scratch: Q8Scratch, pool: ThreadPool
) {
    q8Matmul(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool,
             path: Q8Path.available[0])
}

/// `q8Matmul` with an explicit implementation (tests run every available one).
func q8Matmul(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue, scratch: Q8Scratch, pool: ThreadPool, path: Q8Path
) {
    precondition(K % 32 == 0, "Q8_0 needs K to be a multiple of 32, got \(K)")
    guard M > 0, N > 0 else { return }
    scratch.reserve(M: M, K: K)
    switch path {
    case .portable:
        q8MatmulPortable(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool)
    case .avx2:
        #if GPT2_AVX2
        q8RowsX86(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool, vnni: false)
        #else
        preconditionFailure("this build has no AVX2 kernels (GPT2_AVX2 is not defined)")
        #endif
    case .vnni:
        #if GPT2_VNNI
        if M == 1 {
            q8RowsX86(y, x, w, bias: bias, M: 1, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool, vnni: true)
        } else {
            q8GemmVNNI(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool)
        }
        #else
        preconditionFailure("this build has no VNNI kernels (GPT2_VNNI is not defined)")
        #endif
    }
}

// MARK: - Portable path

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

/// The portable GEMV/GEMM: threads split the weight rows; each takes 4 rows at a time (136 bytes
/// per block, kept in L1) across all M activation rows, so the weights stream once per call in
/// their stored order. M = 1 and M > 1 run the same micro-kernel, so a token decoded alone gets
/// bit-identical logits to the same token inside a prefill.
func q8MatmulPortable(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue, scratch: Q8Scratch, pool: ThreadPool
) {
    let blocks = K / 32, rowBytes = blocks * Q8_0.blockBytes
    let xq = scratch.base.bindMemory(to: Int16.self, capacity: M * K)
    let xd = (scratch.base + (M * K * 2 + 63) / 64 * 64).bindMemory(to: Float.self, capacity: M * blocks)
    forEachActivationRow(M, pool: pool) { m in quantizeActivationRow(x + m * K, xq + m * K, xd + m * blocks, K: K) }
    q8RowsLoop(y, xq, xd, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, pool: pool,
               dot4: { x, d, wn in q8Dot4Portable(x, d, wn, rowBytes: rowBytes, blocks: blocks) },
               dot1: { x, d, wn in q8Dot1Portable(x, d, wn, blocks: blocks) })
}

/// The loop both GGML-row kernels (portable, x86) run: threads split the weight rows; each
/// takes 4 rows at a time (`dot4`, kept in L1) across all M activation rows, so the weights
/// stream once per call in their stored order, then its ragged rows one by one (`dot1`).
/// `xq` [M, K] and `xd` [M, K/32] are the quantised activations; a dot gets one activation
/// row's and the first weight row's addresses.
@inline(__always)
func q8RowsLoop<Activation>(
    _ y: UnsafeMutablePointer<Float>, _ xq: UnsafePointer<Activation>, _ xd: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int, epilogue: MatmulEpilogue, pool: ThreadPool,
    dot4: (UnsafePointer<Activation>, UnsafePointer<Float>, UnsafeRawPointer) -> (Float, Float, Float, Float),
    dot1: (UnsafePointer<Activation>, UnsafePointer<Float>, UnsafeRawPointer) -> Float
) {
    let blocks = K / 32, rowBytes = blocks * Q8_0.blockBytes
    let inner = innerEpilogue(epilogue)
    pool.parallelFor(N, granularity: 4) { rows in
        defer { finishGelu(y, M: M, N: N, rows: rows, epilogue) }
        var n = rows.lowerBound
        while n + 4 <= rows.upperBound {
            let wn = w + n * rowBytes
            for m in 0..<M {
                let s = dot4(xq + m * K, xd + m * blocks, wn)
                let ym = y + m * N + n
                finishScalar(s.0, ym, bias.map { $0 + n }, inner)
                finishScalar(s.1, ym + 1, bias.map { $0 + n + 1 }, inner)
                finishScalar(s.2, ym + 2, bias.map { $0 + n + 2 }, inner)
                finishScalar(s.3, ym + 3, bias.map { $0 + n + 3 }, inner)
            }
            n += 4
        }
        while n < rows.upperBound {
            for m in 0..<M {
                finishScalar(dot1(xq + m * K, xd + m * blocks, w + n * rowBytes), y + m * N + n, bias.map { $0 + n }, inner)
            }
            n += 1
        }
    }
}

/// Σ over one block of 32: int16 activations × int8 weights, exact in int32. Written as a plain
/// loop: LLVM turns it into sign-extensions and (v)pmaddwd — the fastest int8 dot plain Swift
/// produced here (hand-written SIMD widening was 8x slower).
@inline(__always)
func blockDot(_ x: UnsafePointer<Int16>, _ w: UnsafeRawPointer) -> Int32 {
    let q = w.assumingMemoryBound(to: Int8.self)
    var s: Int32 = 0
    for i in 0..<32 { s &+= Int32(x[i]) &* Int32(q[i]) }
    return s
}

/// Dots of one quantised activation row with 4 consecutive weight rows starting at `w`.
@inline(__always)
func q8Dot4Portable(
    _ xq: UnsafePointer<Int16>, _ xd: UnsafePointer<Float>, _ w: UnsafeRawPointer, rowBytes: Int, blocks: Int
) -> (Float, Float, Float, Float) {
    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
    let w0 = w, w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes
    for b in 0..<blocks {
        let xb = xq + b * 32, dx = xd[b], o = b * Q8_0.blockBytes
        s0 = s0.addingProduct(Float(blockDot(xb, w0 + o + 2)), dx * q8Scale(w0 + o))
        s1 = s1.addingProduct(Float(blockDot(xb, w1 + o + 2)), dx * q8Scale(w1 + o))
        s2 = s2.addingProduct(Float(blockDot(xb, w2 + o + 2)), dx * q8Scale(w2 + o))
        s3 = s3.addingProduct(Float(blockDot(xb, w3 + o + 2)), dx * q8Scale(w3 + o))
    }
    return (s0, s1, s2, s3)
}

/// `q8Dot4Portable` for a single weight row (ragged N).
@inline(__always)
func q8Dot1Portable(_ xq: UnsafePointer<Int16>, _ xd: UnsafePointer<Float>, _ w: UnsafeRawPointer, blocks: Int) -> Float {
    var s: Float = 0
    for b in 0..<blocks {
        let o = b * Q8_0.blockBytes
        s = s.addingProduct(Float(blockDot(xq + b * 32, w + o + 2)), xd[b] * q8Scale(w + o))
    }
    return s
}
