import GPT2Runtime

// Packed fp32 weights: one layout for both prefill (GEMM) and decode (GEMV).
//
// W (K inputs × N outputs) is stored as column panels of `packedPanelWidth` = 32 outputs:
//
//     packed[p, k, j] = W[k, 32p + j]      shape [⌈N/32⌉, K, 32], zero past column N
//
// A panel is K × 32 contiguous floats (96 KiB at K = 768), so
//  - decode (M = 1): a thread given panels p0..<p1 reads one sequential stream, the access
//    pattern DRAM and the hardware prefetcher like best;
//  - prefill: a panel is exactly the "packed B" of a 6×32 register-blocked GEMM micro-kernel
//    (12 zmm accumulators; per k: two loads of W, six broadcasts of x, twelve FMAs).

/// Output columns per panel.
public let packedPanelWidth = 32

/// Floats needed to hold a K × N matrix in the packed layout.
@inlinable
public func packedCount(K: Int, N: Int) -> Int {
    (N + packedPanelWidth - 1) / packedPanelWidth * packedPanelWidth * K
}

/// Packs W from row-major [K, N] (GPT-2's Conv1D layout) into `dst` (`packedCount(K:N:)` floats).
public func packInputMajor(_ dst: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, K: Int, N: Int) {
    let P = packedPanelWidth
    for p in 0..<(N + P - 1) / P {
        let n0 = p * P, cols = min(P, N - n0)
        let panel = dst + p * K * P
        for k in 0..<K {
            let row = panel + k * P
            for j in 0..<cols { row[j] = w[k * N + n0 + j] }
            for j in cols..<P { row[j] = 0 }
        }
    }
}

/// Packs W given as row-major [N, K] (one row per output: the tied LM head, GGUF matrices).
public func packOutputMajor(_ dst: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, K: Int, N: Int) {
    let P = packedPanelWidth
    for p in 0..<(N + P - 1) / P {
        let n0 = p * P, cols = min(P, N - n0)
        let panel = dst + p * K * P
        for j in 0..<cols {
            let src = w + (n0 + j) * K
            for k in 0..<K { panel[k * P + j] = src[k] }
        }
        if cols < P { for k in 0..<K { for j in cols..<P { panel[k * P + j] = 0 } } }
    }
}

/// Copies output n's K weights (W[:, n]) out of the packed layout into `row`.
public func unpackRow(_ packed: UnsafePointer<Float>, K: Int, n: Int, into row: UnsafeMutablePointer<Float>) {
    let P = packedPanelWidth
    let column = packed + (n / P) * K * P + n % P
    for k in 0..<K { row[k] = column[k * P] }
}

/// y[M,N] = epilogue(x[M,K] · W + bias[N]) with W packed (`packInputMajor`/`packOutputMajor`).
///
/// Threads split the panels into contiguous ranges (each thread streams its share of W once).
/// For M ≥ 16 the K dimension is cut into blocks of 256 so that a block of x (M × 256) stays in
/// L2 and a block of a panel (256 × 32 = 32 KiB) in L1 across the rows; partial sums live in y
/// between blocks (the sum over k keeps its order, so results do not depend on the blocking).
public func matmulPacked(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue = .store, pool: ThreadPool
) {
    let panels = (N + packedPanelWidth - 1) / packedPanelWidth
    pool.parallelFor(panels) { range in
        matmulPackedPanels(y, x, w, bias, M, K, N, range, epilogue)
    }
}

/// The single-threaded body of `matmulPacked` for the panels `panels` (outputs 32·panels).
public func matmulPackedPanels(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, _ M: Int, _ K: Int, _ N: Int,
    _ panels: Range<Int>, _ epilogue: MatmulEpilogue
) {
    let P = packedPanelWidth
    let kc = M >= 16 ? 256 : max(K, 1)
    var k0 = 0
    repeat {
        let kLen = min(kc, K - k0)
        let first = k0 == 0, last = k0 + kLen >= K
        for p in panels {
            let n0 = p * P, cols = min(P, N - n0)
            let wp = w + p * K * P + k0 * P
            let b = bias.map { $0 + n0 }
            var m = 0
            while m + 6 <= M {
                packedTile6x32(y + m * N + n0, N, x + m * K + k0, K, wp, kLen, b, cols, first, last, epilogue)
                m += 6
            }
            while m < M {
                packedTile1x32(y + m * N + n0, x + m * K + k0, wp, kLen, b, cols, first, last, epilogue)
                m += 1
            }
        }
        k0 += kLen
    } while k0 < K
}

// MARK: - Tile helpers. A tile row is 32 outputs held in two Vec16 (lo: 0..<16, hi: 16..<32);
// `cols` < 32 only in the last panel, whose columns past N must be neither read nor written.

/// Loads `cols` ≤ 32 floats as (lo, hi), zero past `cols`.
@inline(__always)
func loadRow32(_ p: UnsafePointer<Float>, _ cols: Int) -> (Vec16, Vec16) {
    if cols == 32 { return (p.vec16(0), p.vec16(16)) }
    var lo = Vec16(), hi = Vec16()
    for j in 0..<min(cols, 16) { lo[j] = p[j] }
    if cols > 16 { for j in 16..<cols { hi[j - 16] = p[j] } }
    return (lo, hi)
}

@inline(__always)
func storeRow32(_ lo: Vec16, _ hi: Vec16, _ p: UnsafeMutablePointer<Float>, _ cols: Int) {
    if cols == 32 { p.store(lo, 0); p.store(hi, 16); return }
    for j in 0..<min(cols, 16) { p[j] = lo[j] }
    if cols > 16 { for j in 16..<cols { p[j] = hi[j - 16] } }
}

/// The starting value of a tile row: on the first K block, bias (+ y for `.accumulate`);
/// afterwards the partial sum left in y by the previous block.
@inline(__always)
func initialRow32(
    _ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?, _ cols: Int,
    _ first: Bool, _ epilogue: MatmulEpilogue
) -> (Vec16, Vec16) {
    if !first || epilogue == .accumulate {
        var (lo, hi) = loadRow32(UnsafePointer(y), cols)
        if first, let bias { let (b0, b1) = loadRow32(bias, cols); lo += b0; hi += b1 }
        return (lo, hi)
    }
    if let bias { return loadRow32(bias, cols) }
    return (Vec16(), Vec16())
}

/// Stores a tile row; on the last K block applies GELU for `.gelu`.
@inline(__always)
func finalRow32(
    _ lo: Vec16, _ hi: Vec16, _ y: UnsafeMutablePointer<Float>, _ cols: Int,
    _ last: Bool, _ epilogue: MatmulEpilogue
) {
    if last && epilogue == .gelu { storeRow32(gelu(lo), gelu(hi), y, cols) } else { storeRow32(lo, hi, y, cols) }
}

// MARK: - Micro-kernels. `y` (row stride ldy) and `x` (row stride ldx) point at the tile's first
// row, first column / first k of the block; `w` at the block's first row of the panel.

/// Six rows × 32 outputs over kLen values of k: c[i] += x[i, k] · w[k, 0..<32].
@inline(__always)
func packedTile6x32(
    _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ x: UnsafePointer<Float>, _ ldx: Int,
    _ w: UnsafePointer<Float>, _ kLen: Int, _ bias: UnsafePointer<Float>?, _ cols: Int,
    _ first: Bool, _ last: Bool, _ epilogue: MatmulEpilogue
) {
    var (c00, c01) = initialRow32(y, bias, cols, first, epilogue)
    var (c10, c11) = initialRow32(y + ldy, bias, cols, first, epilogue)
    var (c20, c21) = initialRow32(y + 2 * ldy, bias, cols, first, epilogue)
    var (c30, c31) = initialRow32(y + 3 * ldy, bias, cols, first, epilogue)
    var (c40, c41) = initialRow32(y + 4 * ldy, bias, cols, first, epilogue)
    var (c50, c51) = initialRow32(y + 5 * ldy, bias, cols, first, epilogue)
    let x0 = x, x1 = x + ldx, x2 = x + 2 * ldx, x3 = x + 3 * ldx, x4 = x + 4 * ldx, x5 = x + 5 * ldx
    var wk = w
    for k in 0..<kLen {
        let b0 = wk.vec16(0), b1 = wk.vec16(16)
        var a = Vec16(repeating: x0[k])
        c00 = c00.addingProduct(a, b0); c01 = c01.addingProduct(a, b1)
        a = Vec16(repeating: x1[k])
        c10 = c10.addingProduct(a, b0); c11 = c11.addingProduct(a, b1)
        a = Vec16(repeating: x2[k])
        c20 = c20.addingProduct(a, b0); c21 = c21.addingProduct(a, b1)
        a = Vec16(repeating: x3[k])
        c30 = c30.addingProduct(a, b0); c31 = c31.addingProduct(a, b1)
        a = Vec16(repeating: x4[k])
        c40 = c40.addingProduct(a, b0); c41 = c41.addingProduct(a, b1)
        a = Vec16(repeating: x5[k])
        c50 = c50.addingProduct(a, b0); c51 = c51.addingProduct(a, b1)
        wk += 32
    }
    finalRow32(c00, c01, y, cols, last, epilogue)
    finalRow32(c10, c11, y + ldy, cols, last, epilogue)
    finalRow32(c20, c21, y + 2 * ldy, cols, last, epilogue)
    finalRow32(c30, c31, y + 3 * ldy, cols, last, epilogue)
    finalRow32(c40, c41, y + 4 * ldy, cols, last, epilogue)
    finalRow32(c50, c51, y + 5 * ldy, cols, last, epilogue)
}

/// One row × 32 outputs (decode's GEMV, and the rows left over by the 6-row tiles). Two k at a
/// time into two accumulator pairs, so that FMA latency does not bound the stream.
@inline(__always)
func packedTile1x32(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ w: UnsafePointer<Float>, _ kLen: Int, _ bias: UnsafePointer<Float>?, _ cols: Int,
    _ first: Bool, _ last: Bool, _ epilogue: MatmulEpilogue
) {
    var (c0, c1) = initialRow32(y, bias, cols, first, epilogue)
    var d0 = Vec16(), d1 = Vec16()
    var wk = w
    var k = 0
    while k + 2 <= kLen {
        let a = Vec16(repeating: x[k]), b = Vec16(repeating: x[k + 1])
        c0 = c0.addingProduct(a, wk.vec16(0)); c1 = c1.addingProduct(a, wk.vec16(16))
        d0 = d0.addingProduct(b, wk.vec16(32)); d1 = d1.addingProduct(b, wk.vec16(48))
        wk += 64
        k += 2
    }
    if k < kLen {
        let a = Vec16(repeating: x[k])
        c0 = c0.addingProduct(a, wk.vec16(0)); c1 = c1.addingProduct(a, wk.vec16(16))
    }
    finalRow32(c0 + d0, c1 + d1, y, cols, last, epilogue)
}
