import GPT2Runtime

// Q8_0 weights repacked once at load for the int8 kernels ("Q8_0×8"): the same numbers as GGML's
// rows (fp16 scale + 32 int8 per block, 34 bytes per 32 weights), reordered so that
//
//   - one decode GEMV reads each thread's share of the matrix as ONE sequential stream (GGML rows
//     read 4 at a time were 4 streams a row apart, and streamed at ~1/3 of the read bandwidth);
//   - 8 output rows share every activation load: a ymm of weights holds 4 consecutive k of 8
//     rows, so the 4 activation bytes at those k are one `vpbroadcastd` (a plain load on AMD),
//     and the block's int32 sums land one row per lane: no horizontal adds, one conversion and
//     one FMA per 8 rows × 32 k;
//   - the prefill GEMM reads the very same layout (8 weight rows × 4 activation rows per
//     micro-tile), so one copy serves both.
//
// Layout: output rows in groups of 8 (the last group zero-padded: scale 0, quants 0). Group g
// takes `blocks · 272` bytes at `g · blocks · 272`:
//
//   [blocks × 16 bytes]   fp16 scales: block b, row r at b·16 + r·2
//   [blocks × 256 bytes]  quants: block b, k-step j (k = 4j…4j+3), row r at b·256 + j·32 + r·4
//
// Scales first and apart from the quants, so that (for an even block count, as every GPT-2
// width) each block's 256 quant bytes are 32-byte aligned: 8 aligned ymm loads per block.

/// The interleaved Q8_0 layout (see the comment at the top of Q8Interleaved.swift).
public enum Q8Interleaved {
    /// Output rows per group (one per int32 lane of a ymm).
    public static let rows = 8
    /// Bytes of one block of one group: 8 fp16 scales + 8 × 32 int8.
    public static let blockGroupBytes = 16 + 256

    /// Groups of 8 rows for N outputs.
    public static func groups(N: Int) -> Int { (N + rows - 1) / rows }

    /// Bytes of one group of 8 rows of K inputs.
    public static func groupBytes(K: Int) -> Int { K / 32 * blockGroupBytes }

    /// Bytes of an N × K matrix (K a multiple of 32), padding rows included.
    public static func byteCount(K: Int, N: Int) -> Int { groups(N: N) * groupBytes(K: K) }

    /// Repacks the groups `groups` of N GGML Q8_0 rows `src` (K/32 blocks of 34 bytes each) into
    /// `dst` (`byteCount(K:N:)` bytes, the whole matrix). Groups are independent: callers split
    /// them across threads.
    public static func repack(_ dst: UnsafeMutableRawPointer, from src: UnsafeRawPointer, K: Int, N: Int, groups: Range<Int>) {
        precondition(K % 32 == 0, "Q8_0 needs K to be a multiple of 32, got \(K)")
        let blocks = K / 32, rowBytes = blocks * Q8_0.blockBytes
        for g in groups {
            let group = dst + g * groupBytes(K: K), quants = group + blocks * 16
            for r in 0..<rows {
                let n = g * rows + r
                for b in 0..<blocks {
                    let q = quants + b * 256 + r * 4
                    guard n < N else {
                        group.storeBytes(of: UInt16(0), toByteOffset: b * 16 + r * 2, as: UInt16.self)
                        for j in 0..<8 { q.storeBytes(of: UInt32(0), toByteOffset: j * 32, as: UInt32.self) }
                        continue
                    }
                    let block = src + n * rowBytes + b * Q8_0.blockBytes
                    group.storeBytes(of: block.loadUnaligned(as: UInt16.self), toByteOffset: b * 16 + r * 2, as: UInt16.self)
                    for j in 0..<8 {
                        q.storeBytes(of: block.loadUnaligned(fromByteOffset: 2 + j * 4, as: UInt32.self), toByteOffset: j * 32, as: UInt32.self)
                    }
                }
            }
        }
    }

    /// The fp16 scale of row n, block b.
    @inline(__always)
    static func scale(_ w: UnsafeRawPointer, K: Int, n: Int, block b: Int) -> Float {
        let group = w + n / rows * groupBytes(K: K)
        return Float(Float16(bitPattern: group.loadUnaligned(fromByteOffset: b * 16 + n % rows * 2, as: UInt16.self)))
    }

    /// The int8 quant of row n at input k.
    @inline(__always)
    static func quant(_ w: UnsafeRawPointer, K: Int, n: Int, k: Int) -> Int8 {
        let blocks = K / 32
        let quants = w + n / rows * groupBytes(K: K) + blocks * 16
        return quants.load(fromByteOffset: k / 32 * 256 + k % 32 / 4 * 32 + n % rows * 4 + k % 4, as: Int8.self)
    }

    /// Row n back as fp32 (x = d · q, as `Q8_0.dequantize`), for export and tests.
    public static func dequantizeRow(_ w: UnsafeRawPointer, K: Int, n: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<(K / 32) {
            let d = scale(w, K: K, n: n, block: b)
            for i in 0..<32 { out[b * 32 + i] = d * Float(quant(w, K: K, n: n, k: b * 32 + i)) }
        }
    }

    /// Row n back as one GGML Q8_0 row (K/32 blocks of 34 bytes), bit for bit what was repacked.
    public static func ggmlRow(_ w: UnsafeRawPointer, K: Int, n: Int, into out: UnsafeMutableRawPointer) {
        let group = w + n / rows * groupBytes(K: K)
        for b in 0..<(K / 32) {
            let block = out + b * Q8_0.blockBytes
            block.storeBytes(of: group.loadUnaligned(fromByteOffset: b * 16 + n % rows * 2, as: UInt16.self), as: UInt16.self)
            for i in 0..<32 { block.storeBytes(of: quant(w, K: K, n: n, k: b * 32 + i), toByteOffset: 2 + i, as: Int8.self) }
        }
    }
}

/// y[M,N] = epilogue(x[M,K] · Wᵀ + bias[N]) for Q8_0 weights `w` in the interleaved layout
/// (`Q8Interleaved`, ⌈N/8⌉ groups of 8 rows; K a multiple of 32). M = 1 is the decode GEMV
/// (each thread streams one contiguous byte range); larger M the prefill GEMM, on the same
/// layout. `scratch` receives the quantised activations. Every path computes the formula of
/// Q8Activations.swift, with the same results bit for bit (the integer block dots are exact;
/// one FMA per block in block order).
public func q8MatmulInterleaved(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue = .store, scratch: Q8Scratch, pool: ThreadPool
) {
    q8MatmulInterleaved(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool,
                        path: Q8Path.available[0])
}

/// `q8MatmulInterleaved` with an explicit implementation (tests run every available one).
func q8MatmulInterleaved(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue, scratch: Q8Scratch, pool: ThreadPool, path: Q8Path
) {
    precondition(K % 32 == 0, "Q8_0 needs K to be a multiple of 32, got \(K)")
    guard M > 0, N > 0 else { return }
    scratch.reserve(M: M, K: K)
    switch path {
    case .portable:
        q8InterleavedPortable(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool)
    case .avx2, .vnni:
        #if GPT2_AVX2
        q8InterleavedX86(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool, vnni: path == .vnni)
        #else
        preconditionFailure("this build has no x86 int8 kernels (GPT2_AVX2 is not defined)")
        #endif
    }
}

/// Stores the 8 results of one group for one activation row: outputs n0 ..< n0 + 8 of row `ym`
/// (fewer in the last, padded group), bias added, then the inner epilogue (`.gelu` stores;
/// `finishGelu` applies GELU afterwards, 16 lanes at a time). The full-group case is a few
/// vector ops inlined into the kernels; the ragged tail is out of line (it calls the scalar
/// epilogue, and a call per group cost a `vzeroupper` and spills in the GEMV loop).
@inline(__always)
func storeGroup(_ v: SIMD8<Float>, _ ym: UnsafeMutablePointer<Float>, n0: Int, N: Int, _ bias: UnsafePointer<Float>?,
                _ epilogue: MatmulEpilogue) {
    guard n0 + 8 <= N else { return storeGroupTail(v, ym, n0: n0, N: N, bias, epilogue) }
    let p = UnsafeMutableRawPointer(ym + n0)
    var r = v
    if let bias { r += UnsafeRawPointer(bias + n0).loadUnaligned(as: SIMD8<Float>.self) }
    if epilogue == .accumulate { r += p.loadUnaligned(as: SIMD8<Float>.self) }
    p.storeBytes(of: r, as: SIMD8<Float>.self)
}

/// `storeGroup` for the last group when N is not a multiple of 8.
@inline(never)
func storeGroupTail(_ v: SIMD8<Float>, _ ym: UnsafeMutablePointer<Float>, n0: Int, N: Int, _ bias: UnsafePointer<Float>?,
                    _ epilogue: MatmulEpilogue) {
    for l in 0..<(N - n0) { finishScalar(v[l], ym + n0 + l, bias.map { $0 + n0 + l }, epilogue) }
}

// MARK: - Portable path

/// The portable interleaved kernel: threads split the groups; each group (in L1) meets every
/// activation row. Plain scalar code, the reference for the x86 kernels.
func q8InterleavedPortable(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue, scratch: Q8Scratch, pool: ThreadPool
) {
    let blocks = K / 32, groupBytes = Q8Interleaved.groupBytes(K: K)
    let xq = scratch.base.bindMemory(to: Int16.self, capacity: M * K)
    let xd = (scratch.base + (M * K * 2 + 63) / 64 * 64).bindMemory(to: Float.self, capacity: M * blocks)
    forEachActivationRow(M, pool: pool) { m in quantizeActivationRow(x + m * K, xq + m * K, xd + m * blocks, K: K) }
    let inner = innerEpilogue(epilogue)
    pool.parallelFor(Q8Interleaved.groups(N: N)) { groups in
        defer { finishGelu(y, M: M, N: N, rows: groups.lowerBound * 8..<min(N, groups.upperBound * 8), epilogue) }
        for g in groups {
            let group = w + g * groupBytes, quants = (group + blocks * 16).assumingMemoryBound(to: Int8.self)
            for m in 0..<M {
                let xm = xq + m * K
                var acc = SIMD8<Float>()
                for b in 0..<blocks {
                    for r in 0..<8 {
                        var dot: Int32 = 0
                        for j in 0..<8 {
                            for i in 0..<4 { dot &+= Int32(xm[b * 32 + j * 4 + i]) &* Int32(quants[b * 256 + j * 32 + r * 4 + i]) }
                        }
                        let dw = Float(Float16(bitPattern: group.loadUnaligned(fromByteOffset: b * 16 + r * 2, as: UInt16.self)))
                        acc[r] = acc[r].addingProduct(Float(dot), dw * xd[m * blocks + b])
                    }
                }
                storeGroup(acc, y + m * N, n0: g * 8, N: N, bias, inner)
            }
        }
    }
}
