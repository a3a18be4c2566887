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
//  - prefill: a panel (32 outputs, two 64-byte lines per k) is the "packed B" of a 6×32
//    register-blocked GEMM micro-kernel on AVX-512 (12 zmm accumulators; per k: two loads of
//    W, six broadcasts of packed x, twelve FMAs), each half of it that of a 6×16 one on AVX2
//    (12 ymm accumulators).

/// Output columns per panel.
public let packedPanelWidth = 32

/// Floats needed to hold a K × N matrix in the packed layout.
@inlinable
public func packedCount(K: Int, N: Int) -> Int {
    (N + packedPanelWidth - 1) / packedPanelWidth * packedPanelWidth * K
}

/// Packs W from row-major [K, N] (GPT-2's Conv1D layout) into `dst` (`packedCount(K:N:)` floats).
/// `panels` packs only those panels (load time splits a matrix's panels across threads).
public func packInputMajor(
    _ dst: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, K: Int, N: Int, panels: Range<Int>? = nil
) {
    let P = packedPanelWidth
    for p in panels ?? 0..<(N + P - 1) / P {
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
/// `panels` as in `packInputMajor`.
public func packOutputMajor(
    _ dst: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, K: Int, N: Int, panels: Range<Int>? = nil
) {
    let P = packedPanelWidth
    for p in panels ?? 0..<(N + P - 1) / P {
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

/// Rows of one micro-kernel tile in prefill (and of one sliver of packed x).
public let packedTileRows = 6

/// Below this many rows `matmulPacked` streams W once per row (decode's GEMV) instead of
/// packing x: with 1–3 rows the 6-row tile would mostly multiply padding (derived, unmeasured).
public let packedGEMMMinRows = 4

/// Floats of scratch `matmulPacked` needs for M rows of K inputs (x packed in 6-row slivers).
@inlinable
public func packedMatmulScratchCount(M: Int, K: Int) -> Int {
    (M + packedTileRows - 1) / packedTileRows * packedTileRows * K
}

/// y[M,N] = epilogue(x[M,K] · W + bias[N]) with W packed (`packInputMajor`/`packOutputMajor`).
///
/// - M < `packedGEMMMinRows` (decode): threads split the panels into contiguous ranges (each
///   streams its share of W once); each row walks the panels with a 1×32 GEMV tile, x read in
///   place.
/// - Otherwise (prefill): x is first copied into 6-row slivers ([⌈M/6⌉, K, 6], zero rows past M;
///   `scratch`, `packedMatmulScratchCount(M:K:)` floats, allocated per call when nil); each
///   thread takes one block of slivers × panels (`packedGEMMSplit`) and runs a 6 × 32
///   micro-kernel over each panel (AVX-512: 12 zmm accumulators + 2 of W + 1 broadcast), or a
///   6 × 16 one over each half-panel (AVX2: the same in ymm, exactly its 16 registers);
///   `wideTile` overrides the choice (`packedWideTile`), to test or time the other.
///   K is cut into blocks of `packedKBlock` (all of GPT-2's K = 768 in one: a tile's partial
///   sums never make a round trip through y); a panel block (768 k × 128 B) stays in L2 while
///   the row tiles of a sliver group pass over it. Partial sums live in y between blocks (the sum
///   over k keeps its order, so results do not depend on the blocking, the tile or the thread
///   count).
public func matmulPacked(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue = .store, scratch: UnsafeMutablePointer<Float>? = nil,
    wideTile: Bool = packedWideTile, pool: ThreadPool
) {
    let panels = (N + packedPanelWidth - 1) / packedPanelWidth
    guard M >= packedGEMMMinRows else {
        pool.parallelFor(panels) { range in
            matmulPackedPanels(y, x, w, bias, M, K, N, range, epilogue)
        }
        return
    }
    let owned = scratch == nil ? UnsafeMutablePointer<Float>.allocate(capacity: packedMatmulScratchCount(M: M, K: K)) : nil
    defer { owned?.deallocate() }
    let xp = scratch ?? owned!
    let slivers = (M + packedTileRows - 1) / packedTileRows
    let split = packedGEMMSplit(slivers: slivers, panels: panels, threads: pool.threadCount)
    pool.run { thread in
        // Every thread packs a share of the slivers, then multiplies its block of panels × slivers.
        packRowSlivers(xp, x, M: M, K: K, slivers: ThreadPool.staticRange(units: slivers, parts: pool.threadCount, part: thread))
        pool.barrier()
        guard thread < split.rowParts * split.panelParts else { return }
        matmulPackedSlivers(y, xp, w, bias, M, K, N,
                            panels: ThreadPool.staticRange(units: panels, parts: split.panelParts, part: thread % split.panelParts),
                            slivers: ThreadPool.staticRange(units: slivers, parts: split.rowParts, part: thread / split.panelParts),
                            epilogue, wide: wideTile)
    }
}

/// How `matmulPacked` divides a prefill product among `threads` threads: a grid of `rowParts` ×
/// `panelParts` blocks (slivers × panels), one per thread, whose largest block is as small as
/// possible; among equal grids the one with the fewest row parts (each row part streams the
/// weights once more). Splitting the panels alone leaves threads idle where the panels do not
/// divide evenly: 24 panels (N = 768) on 16 threads give 8 threads two panels and 8 one, 75%
/// of the work rate (PERFORMANCE.md §2).
public func packedGEMMSplit(slivers: Int, panels: Int, threads: Int) -> (rowParts: Int, panelParts: Int) {
    var best = (rowParts: 1, panelParts: 1), bestCost = Int.max
    for rowParts in 1...max(1, min(threads, slivers)) {
        let panelParts = max(1, min(threads / rowParts, panels))
        let cost = (slivers + rowParts - 1) / rowParts * ((panels + panelParts - 1) / panelParts)
        if cost < bestCost { best = (rowParts, panelParts); bestCost = cost }
    }
    return best
}

/// Copies rows of x [M, K] into 6-row slivers: xp[s, k, i] = x[6s + i, k], 0 for rows ≥ M.
public func packRowSlivers(_ xp: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, M: Int, K: Int, slivers: Range<Int>) {
    let R = packedTileRows
    for s in slivers {
        let dst = xp + s * K * R
        for i in 0..<R {
            let m = s * R + i
            if m < M {
                let row = x + m * K
                for k in 0..<K { dst[k * R + i] = row[k] }
            } else {
                for k in 0..<K { dst[k * R + i] = 0 }
            }
        }
    }
}

/// K-block length of the prefill GEMM (see `matmulPacked`): one block for K = 768, no partial
/// sums through y; 768 vs 384 measured +4–6% f32 pp512 on Zen 3 (PERFORMANCE.md §2).
public let packedKBlock = 768

/// Row slivers per group of the prefill GEMM (see `matmulPackedSlivers`): 43 × 6 rows × a K
/// block of 384 floats filled a 512 KiB L2; with the 768 block that x streams from L3, and
/// smaller groups measured slower on Zen 3. Not re-measured on other CPUs (PERFORMANCE.md §2).
public let packedSliverGroup = 43

/// The prefill GEMM's register block: 6 × 32 (`Tile6x32`, one tile per panel) where the target
/// has AVX-512's 32 registers, else 6 × 16 (`Tile6x16`, two tiles per panel). Both sum each
/// output over k in the same order, so they give identical results (the tests run both).
public let packedWideTile: Bool = {
    #if GPT2_AVX512
    return true
    #else
    return false
    #endif
}()

/// The single-threaded body of `matmulPacked`'s prefill path: the rows of `slivers` times the
/// outputs of `panels`, x already packed into slivers `xp` (`packRowSlivers`). `wide` picks the
/// register block (see `packedWideTile`).
public func matmulPackedSlivers(
    _ y: UnsafeMutablePointer<Float>, _ xp: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, _ M: Int, _ K: Int, _ N: Int,
    panels: Range<Int>, slivers: Range<Int>, _ epilogue: MatmulEpilogue, wide: Bool = packedWideTile
) {
    let P = packedPanelWidth, R = packedTileRows
    let tileWidth = wide ? 32 : 16
    var k0 = 0
    repeat {
        let kLen = min(packedKBlock, K - k0)
        let first = k0 == 0, last = k0 + kLen >= K
        // Rows in groups of up to 43 slivers (258 rows), each panel block meeting all of them:
        // the x block of a group (774 KiB at kLen 768) streams from L3 in sliver order, which
        // the prefetchers follow; smaller groups that fit L2 measured slower.
        var s0 = slivers.lowerBound
        while s0 < slivers.upperBound {
            let s1 = min(slivers.upperBound, s0 + packedSliverGroup)
            let tilesPerPanel = P / tileWidth * (s1 - s0)
            // Lines of the next panel's block (kLen rows of 128 B, contiguous) to prefetch per tile.
            let linesPerTile = (2 * kLen + tilesPerPanel - 1) / tilesPerPanel
            for p in panels {
                // The next panel's block comes from DRAM or L3 on first use: fetched during this
                // panel's tiles (into L2), it does not stall the next panel's first tiles.
                let nextBlock = UnsafeRawPointer(w + (p + 1) * K * P + k0 * P)
                var prefetchLine = 0
                for n0 in stride(from: p * P, to: min(N, p * P + P), by: tileWidth) {
                    let cols = min(tileWidth, N - n0)
                    let wp = w + p * K * P + k0 * P + (n0 - p * P)
                    let b = bias.map { $0 + n0 }
                    for s in s0..<s1 {
                        if p + 1 < panels.upperBound {
                            let end = min(2 * kLen, prefetchLine + linesPerTile)
                            while prefetchLine < end { prefetchL2(nextBlock + prefetchLine * 64); prefetchLine += 1 }
                        }
                        // The next tile's rows of y (lines a row apart: no prefetcher follows
                        // them; a miss each stalled the tile's start and end, ~10% at 1 thread).
                        if s + 1 < s1 {
                            let next = y + (s + 1) * R * N + n0
                            for i in 0..<min(R, M - (s + 1) * R) {
                                prefetchL1(next + i * N)
                                if wide { prefetchL1(next + i * N + 16) }
                            }
                        }
                        let rows = min(R, M - s * R), tileY = y + s * R * N + n0, tileX = xp + s * K * R + k0 * R
                        if wide {
                            packedTile6x32(tileY, N, tileX, wp, kLen, b, rows, cols, first, last, epilogue)
                        } else {
                            packedTile6x16(tileY, N, tileX, wp, kLen, b, rows, cols, first, last, epilogue)
                        }
                    }
                }
            }
            s0 = s1
        }
        k0 += kLen
    } while k0 < K
}

/// The single-threaded body of `matmulPacked`'s GEMV path (M < `packedGEMMMinRows`) for the
/// panels `panels` (outputs 32·panels): x read in place, one row at a time.
public func matmulPackedPanels(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, _ M: Int, _ K: Int, _ N: Int,
    _ panels: Range<Int>, _ epilogue: MatmulEpilogue
) {
    let P = packedPanelWidth
    for p in panels {
        let n0 = p * P, cols = min(P, N - n0)
        let b = bias.map { $0 + n0 }
        for m in 0..<M {
            packedTile1x32(y + m * N + n0, x + m * K, w + p * K * P, K, b, cols, true, true, epilogue)
        }
    }
}

// MARK: - Tile helpers. `cols` is less than the tile row's width only in the last panel, whose
// columns past N must be neither read nor written.

/// Loads `cols` ≤ 16 floats as two Vec8 (lo: 0..<8, hi: 8..<16), zero past `cols`.
@inline(__always)
func loadRow16(_ p: UnsafePointer<Float>, _ cols: Int) -> (Vec8, Vec8) {
    if cols == 16 { return (p.vec8(0), p.vec8(8)) }
    var lo = Vec8(), hi = Vec8()
    for j in 0..<min(cols, 8) { lo[j] = p[j] }
    if cols > 8 { for j in 8..<cols { hi[j - 8] = p[j] } }
    return (lo, hi)
}

@inline(__always)
func storeRow16(_ lo: Vec8, _ hi: Vec8, _ p: UnsafeMutablePointer<Float>, _ cols: Int) {
    if cols == 16 { p.store(lo, 0); p.store(hi, 8); return }
    for j in 0..<min(cols, 8) { p[j] = lo[j] }
    if cols > 8 { for j in 8..<cols { p[j] = hi[j - 8] } }
}

/// The starting value of a 16-column tile row: on the first K block, bias (+ y for
/// `.accumulate`); afterwards the partial sum left in y by the previous block.
@inline(__always)
func initialRow16(
    _ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?, _ cols: Int,
    _ first: Bool, _ epilogue: MatmulEpilogue
) -> (Vec8, Vec8) {
    if !first || epilogue == .accumulate {
        var (lo, hi) = loadRow16(UnsafePointer(y), cols)
        if first, let bias { let (b0, b1) = loadRow16(bias, cols); lo += b0; hi += b1 }
        return (lo, hi)
    }
    if let bias { return loadRow16(bias, cols) }
    return (Vec8(), Vec8())
}

/// Stores a 16-column tile row; on the last K block applies GELU for `.gelu`. (`@_transparent`:
/// with `@inline(__always)` it is an out-of-line call, six per tile.)
@_transparent
func finalRow16(
    _ lo: Vec8, _ hi: Vec8, _ y: UnsafeMutablePointer<Float>, _ cols: Int,
    _ last: Bool, _ epilogue: MatmulEpilogue
) {
    if last && epilogue == .gelu { storeRow16(gelu(lo), gelu(hi), y, cols) } else { storeRow16(lo, hi, y, cols) }
}

/// The starting value of a 32-column tile row (decode's 1 × 32 tile): `initialRow16` on each half.
@inline(__always)
func initialRow32(
    _ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?, _ cols: Int,
    _ first: Bool, _ epilogue: MatmulEpilogue
) -> (Vec16, Vec16) {
    let (a, b) = initialRow16(y, bias, min(cols, 16), first, epilogue)
    let (c, d) = cols > 16 ? initialRow16(y + 16, bias.map { $0 + 16 }, cols - 16, first, epilogue) : (Vec8(), Vec8())
    return (Vec16(lowHalf: a, highHalf: b), Vec16(lowHalf: c, highHalf: d))
}

/// Stores a 32-column tile row: `finalRow16` on each half.
@inline(__always)
func finalRow32(
    _ lo: Vec16, _ hi: Vec16, _ y: UnsafeMutablePointer<Float>, _ cols: Int,
    _ last: Bool, _ epilogue: MatmulEpilogue
) {
    finalRow16(lo.lowHalf, lo.highHalf, y, min(cols, 16), last, epilogue)
    if cols > 16 { finalRow16(hi.lowHalf, hi.highHalf, y + 16, cols - 16, last, epilogue) }
}

// MARK: - Micro-kernels. `y` (row stride ldy) points at the tile's first row and column, `x` /
// `xp` at the first k of the block, `w` at the block's first row of the (half-)panel.

/// Six rows × 16 outputs over kLen values of k: c[i] += xp[k, i] · w[k, 0..<16], for the
/// `rows` ≤ 6 rows that exist (padding rows of the sliver are computed, never loaded or stored)
/// and the `cols` ≤ 16 columns that exist. `xp` is the sliver's block ([kLen, 6]); `w` the
/// half-panel's block (rows at stride 32).
@inline(__always)
func packedTile6x16(
    _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ xp: UnsafePointer<Float>,
    _ w: UnsafePointer<Float>, _ kLen: Int, _ bias: UnsafePointer<Float>?, _ rows: Int, _ cols: Int,
    _ first: Bool, _ last: Bool, _ epilogue: MatmulEpilogue
) {
    @inline(__always) func start(_ i: Int) -> (Vec8, Vec8) {
        i < rows ? initialRow16(y + i * ldy, bias, cols, first, epilogue) : (Vec8(), Vec8())
    }
    var t = Tile6x16(start)
    t.accumulate(xp, w, steps: kLen, bStride: packedPanelWidth)
    finalRow16(t.c00, t.c01, y, cols, last, epilogue)
    if rows > 1 { finalRow16(t.c10, t.c11, y + ldy, cols, last, epilogue) }
    if rows > 2 { finalRow16(t.c20, t.c21, y + 2 * ldy, cols, last, epilogue) }
    if rows > 3 { finalRow16(t.c30, t.c31, y + 3 * ldy, cols, last, epilogue) }
    if rows > 4 { finalRow16(t.c40, t.c41, y + 4 * ldy, cols, last, epilogue) }
    if rows > 5 { finalRow16(t.c50, t.c51, y + 5 * ldy, cols, last, epilogue) }
}

/// Six rows × 32 outputs: `packedTile6x16` with the AVX-512 block (`Tile6x32`); `w` is the
/// panel's block (rows of 32).
@inline(__always)
func packedTile6x32(
    _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ xp: UnsafePointer<Float>,
    _ w: UnsafePointer<Float>, _ kLen: Int, _ bias: UnsafePointer<Float>?, _ rows: Int, _ cols: Int,
    _ first: Bool, _ last: Bool, _ epilogue: MatmulEpilogue
) {
    @inline(__always) func start(_ i: Int) -> (Vec16, Vec16) {
        i < rows ? initialRow32(y + i * ldy, bias, cols, first, epilogue) : (Vec16(), Vec16())
    }
    var t = Tile6x32(start)
    t.accumulate(xp, w, steps: kLen, bStride: packedPanelWidth)
    finalRow32(t.c00, t.c01, y, cols, last, epilogue)
    if rows > 1 { finalRow32(t.c10, t.c11, y + ldy, cols, last, epilogue) }
    if rows > 2 { finalRow32(t.c20, t.c21, y + 2 * ldy, cols, last, epilogue) }
    if rows > 3 { finalRow32(t.c30, t.c31, y + 3 * ldy, cols, last, epilogue) }
    if rows > 4 { finalRow32(t.c40, t.c41, y + 4 * ldy, cols, last, epilogue) }
    if rows > 5 { finalRow32(t.c50, t.c51, y + 5 * ldy, cols, last, epilogue) }
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
