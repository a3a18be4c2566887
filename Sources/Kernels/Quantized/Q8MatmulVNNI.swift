// The x86 paths of `q8Matmul` (see Q8Matmul.swift for the formula and the portable path):
// AVX2 (`vpmaddubsw`) and AVX-512 VNNI (`vpdpbusd`).
//
// `vpdpbusd` multiplies *unsigned* bytes by *signed* bytes, four at a time into each int32 lane.
// Q8_0 weights and activations are both signed; two standard ways round it, one per kernel:
//   - GEMV (M = 1): the sign trick (llama.cpp's AVX2 path): |x| × (w · sign(x)), with
//     `vpabsb`/`vpsignb` on ymm — no correction term, and the kernel is memory-bound anyway.
//   - GEMM (M > 1): activations + 128 (a byte XOR), and subtract 128 · Σ w per weight block,
//     computed once per tile of weight rows and amortised over every activation row.
//
// The intrinsics only exist when the target CPU has the features (swiftc crashes otherwise), so
// its parts compile only when Package.swift defines GPT2_AVX2 / GPT2_VNNI (VNNI implies AVX2). `_mm256_dpbusd_epi32` is a C
// macro that Swift cannot import; the masked `_mm256_maskz_dpbusd_epi32` is a function, and with
// an all-ones mask LLVM emits the plain instruction.
#if GPT2_AVX2
import _Builtin_intrinsics.intel
import GPT2Runtime

// MARK: - Row kernels: the VNNI GEMV (M = 1) and the whole AVX2 path

/// y[M,N] = epilogue(x[M,K] · Wᵀ + bias), one activation row at a time against 4 weight rows
/// (kept in L1 across all M rows), with the sign trick on ymm. Threads split the weight rows.
/// `vnni` picks the block dot: `vpdpbusd`, or AVX2's `vpmaddubsw` + `vpmaddwd` (llama.cpp's
/// AVX2 path: |x| · |w| ≤ 127 · 127, so the int16 pair sums never saturate).
/// The VNNI build uses it for M = 1 (decode); the AVX2 build for every M, so there a token decoded
/// alone gets bit-identical results to the same token inside a prefill.
func q8RowsX86(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue, scratch: Q8Scratch, pool: ThreadPool, vnni: Bool
) {
    let blocks = K / 32, rowBytes = blocks * Q8_0.blockBytes
    let xq = scratch.base.bindMemory(to: Int8.self, capacity: M * K)  // rows of K: 32-byte aligned
    let xd = (scratch.base + (M * K + 63) / 64 * 64).bindMemory(to: Float.self, capacity: M * blocks)
    forEachActivationRow(M, pool: pool) { m in quantizeActivationRow(x + m * K, xq + m * K, xd + m * blocks, K: K) }
    q8RowsLoop(y, xq, xd, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, pool: pool,
               dot4: { x, d, wn in rowDot4(x, d, wn, rowBytes: rowBytes, blocks: blocks, vnni: vnni) },
               dot1: { x, d, row in
                   // Ragged rows: the portable formula on Int8 activations.
                   var s: Float = 0
                   for b in 0..<blocks {
                       let q = (row + b * Q8_0.blockBytes + 2).assumingMemoryBound(to: Int8.self)
                       var dot: Int32 = 0
                       for i in 0..<32 { dot &+= Int32(x[b * 32 + i]) &* Int32(q[i]) }
                       s = s.addingProduct(Float(dot), d[b] * q8Scale(row + b * Q8_0.blockBytes))
                   }
                   return s
               })
}

/// Σ_k x·w of one 32-block as 8 int32 partial sums: |x| (unsigned) × w·sign(x) (signed).
@inline(__always)
func blockDot8(_ absX: SIMD4<Int64>, _ x: SIMD4<Int64>, _ w: UnsafeRawPointer, vnni: Bool) -> SIMD4<Int64> {
    let signed = _mm256_sign_epi8(w.loadUnaligned(as: SIMD4<Int64>.self), x)
    #if GPT2_VNNI
    if vnni { return _mm256_maskz_dpbusd_epi32(0xFF, _mm256_setzero_si256(), absX, signed) }
    #endif
    return _mm256_madd_epi16(_mm256_maddubs_epi16(absX, signed), _mm256_set1_epi16(1))
}

/// How far ahead of the current block each weight row is prefetched. The four rows of a tile are
/// four streams 1/4 of a tile apart; the hardware prefetcher alone kept the GEMV stalled on
/// these loads (perf: most samples on the weight loads).
let prefetchDistance = 512

/// The fp16 scale bits at the start of a Q8_0 block.
@inline(__always)
func scaleBits(_ block: UnsafeRawPointer) -> Int16 { block.loadUnaligned(as: Int16.self) }

/// Dots of one activation row with 4 weight rows. Per block: the 4 block dots (load, `vpsignb`,
/// dot), folded into one register of [row 0…3 | row 0…3] partial sums by 3 `vphaddd`; the 4
/// fp16 scales converted at once (`vcvtph2ps`) and times d_x; one conversion and one FMA.
/// (One block dot, conversion and FMA per row cost 40% more instructions: the first version.)
@inline(__always)
func rowDot4(
    _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ w: UnsafeRawPointer, rowBytes: Int, blocks: Int, vnni: Bool
) -> (Float, Float, Float, Float) {
    var acc = SIMD8<Float>()
    let w0 = w, w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes
    for b in 0..<blocks {
        let x = UnsafeRawPointer(xq + b * 32).load(as: SIMD4<Int64>.self)  // 32-byte aligned
        let absX = _mm256_abs_epi8(x)
        let o = b * Q8_0.blockBytes
        if b & 1 == 0 {  // one prefetch per row per 68 bytes: every line is touched at least once
            prefetchL1(w0 + o + prefetchDistance); prefetchL1(w1 + o + prefetchDistance)
            prefetchL1(w2 + o + prefetchDistance); prefetchL1(w3 + o + prefetchDistance)
        }
        let d0 = blockDot8(absX, x, w0 + o + 2, vnni: vnni), d1 = blockDot8(absX, x, w1 + o + 2, vnni: vnni)
        let d2 = blockDot8(absX, x, w2 + o + 2, vnni: vnni), d3 = blockDot8(absX, x, w3 + o + 2, vnni: vnni)
        let sums = _mm256_hadd_epi32(_mm256_hadd_epi32(d0, d1), _mm256_hadd_epi32(d2, d3))
        let halfs = _mm_setr_epi16(scaleBits(w0 + o), scaleBits(w1 + o), scaleBits(w2 + o), scaleBits(w3 + o), 0, 0, 0, 0)
        let scales = _mm_cvtph_ps(halfs) * SIMD4(repeating: xd[b])
        acc = acc.addingProduct(_mm256_cvtepi32_ps(sums), _mm256_set_m128(scales, scales))
    }
    return (acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7])
}
#endif

#if GPT2_VNNI
// MARK: - GEMM: M > 1, prefill

/// Activation rows per zmm (one int32 lane each) and groups per micro-kernel.
private let lanes = 16
private let groupsPerTile = 2
/// Activation groups kept in L2 while every weight row of a thread passes over them.
private let groupsPerChunk = 8

/// y[M,N] = epilogue(x[M,K] · Wᵀ + bias).
///
/// Layout of the quantised activations, made here: rows in groups of 16, one lane each, so that
/// a zmm holds 4 consecutive k of 16 rows. For group g and block b, 8 k-steps × 16 lanes × 4
/// bytes (512 bytes), values q + 128 as unsigned bytes; then the 16 scales of that group and
/// block. A weight row's 4 bytes at one k-step are broadcast to all lanes (`vpbroadcastd`), so
/// Q8_0 rows are used in place, and each int32 lane ends a block holding one (row, output) dot.
func q8GemmVNNI(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue, scratch: Q8Scratch, pool: ThreadPool
) {
    let blocks = K / 32, rowBytes = blocks * Q8_0.blockBytes
    let groups = ((M + lanes - 1) / lanes + groupsPerTile - 1) / groupsPerTile * groupsPerTile
    let quants = scratch.base  // [groups][blocks][8][16] dwords
    let scales = (scratch.base + groups * blocks * 512).bindMemory(to: Float.self, capacity: groups * blocks * lanes)

    // 1. Quantise, 16 rows per group; rows past M are zeros (byte 128, scale 0).
    pool.parallelFor(groups) { range in
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: K) { row in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: blocks) { d in
                for g in range {
                    for lane in 0..<lanes {
                        let m = g * lanes + lane
                        if m < M {
                            quantizeActivationRow(x + m * K, row.baseAddress!, d.baseAddress!, K: K)
                        } else {
                            row.initialize(repeating: 0); d.initialize(repeating: 0)
                        }
                        let src = UnsafeRawPointer(row.baseAddress!)
                        for b in 0..<blocks {
                            let tile = quants + (g * blocks + b) * 512
                            for j in 0..<8 {
                                let dword = src.loadUnaligned(fromByteOffset: b * 32 + j * 4, as: UInt32.self) ^ 0x8080_8080
                                tile.storeBytes(of: dword, toByteOffset: j * 64 + lane * 4, as: UInt32.self)
                            }
                            scales[(g * blocks + b) * lanes + lane] = d[b]
                        }
                    }
                }
            }
        }
    }

    // 2. Threads split the weight rows. For each chunk of activation groups (kept in L2), each
    //    tile of 4 weight rows gets its fp32 scales and 128·Σw corrections once, then meets
    //    every pair of groups in the chunk.
    let inner = innerEpilogue(epilogue)
    pool.parallelFor(N, granularity: 4) { rows in
        defer { finishGelu(y, M: M, N: N, rows: rows, epilogue) }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * blocks) { dwBuffer in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 4 * blocks) { corrBuffer in
                withUnsafeTemporaryAllocation(of: SIMD16<Float>.self, capacity: groupsPerTile * 4) { outBuffer in
                    let dw = dwBuffer.baseAddress!, corr = corrBuffer.baseAddress!, out = outBuffer.baseAddress!
                    var chunk = 0
                    while chunk < groups {
                        let chunkEnd = min(chunk + groupsPerChunk, groups)
                        var n = rows.lowerBound
                        while n < rows.upperBound {
                            let nr = min(4, rows.upperBound - n)
                            for r in 0..<nr { tileTables(w + (n + r) * rowBytes, blocks, dw + r * blocks, corr + r * blocks) }
                            var g = chunk
                            while g < chunkEnd {
                                if nr == 4 {
                                    gemmTile2x4(quants, scales, g, blocks, w + n * rowBytes, rowBytes, dw, corr, out)
                                } else {
                                    for r in 0..<nr {
                                        gemmTile2x1(quants, scales, g, blocks, w + (n + r) * rowBytes, dw + r * blocks, corr + r * blocks,
                                                    out + r, stride: 4)
                                    }
                                }
                                // Lane l of out[t * 4 + r] is (row (g + t)·16 + l, output n + r).
                                for t in 0..<groupsPerTile {
                                    for r in 0..<nr {
                                        let v = out[t * 4 + r]
                                        for l in 0..<lanes {
                                            let m = (g + t) * lanes + l
                                            if m < M { finishScalar(v[l], y + m * N + n + r, bias.map { $0 + n + r }, inner) }
                                        }
                                    }
                                }
                                g += groupsPerTile
                            }
                            n += nr
                        }
                        chunk = chunkEnd
                    }
                }
            }
        }
    }
}

/// One weight row's per-block fp32 scale and 128 · Σ q_w (the +128 correction).
@inline(__always)
func tileTables(_ row: UnsafeRawPointer, _ blocks: Int, _ dw: UnsafeMutablePointer<Float>, _ corr: UnsafeMutablePointer<Int32>) {
    for b in 0..<blocks {
        let block = row + b * Q8_0.blockBytes
        let q = (block + 2).assumingMemoryBound(to: Int8.self)
        var sum: Int32 = 0
        for i in 0..<32 { sum &+= Int32(q[i]) }
        dw[b] = q8Scale(block)
        corr[b] = 128 &* sum
    }
}

/// The 4 bytes of weight row `row` at block `b`, k-step `j`, in all 16 lanes.
@inline(__always)
func broadcastWeights(_ row: UnsafeRawPointer, _ b: Int, _ j: Int) -> SIMD8<Int64> {
    _mm512_set1_epi32(row.loadUnaligned(fromByteOffset: b * Q8_0.blockBytes + 2 + j * 4, as: Int32.self))
}

/// Ends a block: I = acc − 128·Σw, then sum += I · (d_x · d_w) in fp32 (the formula's order).
@inline(__always)
func finishBlock(_ sum: inout SIMD16<Float>, _ acc: SIMD8<Int64>, _ corr: Int32, _ dx: SIMD16<Float>, _ dw: Float) {
    let exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_set1_epi32(corr)))
    sum = sum.addingProduct(exact, dx * SIMD16(repeating: dw))
}

/// 2 groups (32 activation rows) × 4 weight rows: 8 int32 accumulators, 8 independent
/// `vpdpbusd` chains (enough to cover its latency), 8 fp32 sums.
@inline(__always)
func gemmTile2x4(
    _ quants: UnsafeRawPointer, _ scales: UnsafePointer<Float>, _ g: Int, _ blocks: Int,
    _ w: UnsafeRawPointer, _ rowBytes: Int, _ dw: UnsafePointer<Float>, _ corr: UnsafePointer<Int32>,
    _ out: UnsafeMutablePointer<SIMD16<Float>>
) {
    let w0 = w, w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes
    var s00 = SIMD16<Float>(), s01 = SIMD16<Float>(), s02 = SIMD16<Float>(), s03 = SIMD16<Float>()
    var s10 = SIMD16<Float>(), s11 = SIMD16<Float>(), s12 = SIMD16<Float>(), s13 = SIMD16<Float>()
    let zero = _mm512_setzero_si512()
    for b in 0..<blocks {
        let t0 = quants + (g * blocks + b) * 512, t1 = quants + ((g + 1) * blocks + b) * 512
        var c00 = zero, c01 = zero, c02 = zero, c03 = zero
        var c10 = zero, c11 = zero, c12 = zero, c13 = zero
        for j in 0..<8 {
            let x0 = t0.load(fromByteOffset: j * 64, as: SIMD8<Int64>.self)
            let x1 = t1.load(fromByteOffset: j * 64, as: SIMD8<Int64>.self)
            var v = broadcastWeights(w0, b, j)
            c00 = _mm512_dpbusd_epi32(c00, x0, v); c10 = _mm512_dpbusd_epi32(c10, x1, v)
            v = broadcastWeights(w1, b, j)
            c01 = _mm512_dpbusd_epi32(c01, x0, v); c11 = _mm512_dpbusd_epi32(c11, x1, v)
            v = broadcastWeights(w2, b, j)
            c02 = _mm512_dpbusd_epi32(c02, x0, v); c12 = _mm512_dpbusd_epi32(c12, x1, v)
            v = broadcastWeights(w3, b, j)
            c03 = _mm512_dpbusd_epi32(c03, x0, v); c13 = _mm512_dpbusd_epi32(c13, x1, v)
        }
        let d0 = UnsafeRawPointer(scales + (g * blocks + b) * lanes).load(as: SIMD16<Float>.self)
        let d1 = UnsafeRawPointer(scales + ((g + 1) * blocks + b) * lanes).load(as: SIMD16<Float>.self)
        finishBlock(&s00, c00, corr[b], d0, dw[b]); finishBlock(&s10, c10, corr[b], d1, dw[b])
        finishBlock(&s01, c01, corr[blocks + b], d0, dw[blocks + b]); finishBlock(&s11, c11, corr[blocks + b], d1, dw[blocks + b])
        finishBlock(&s02, c02, corr[2 * blocks + b], d0, dw[2 * blocks + b]); finishBlock(&s12, c12, corr[2 * blocks + b], d1, dw[2 * blocks + b])
        finishBlock(&s03, c03, corr[3 * blocks + b], d0, dw[3 * blocks + b]); finishBlock(&s13, c13, corr[3 * blocks + b], d1, dw[3 * blocks + b])
    }
    out[0] = s00; out[1] = s01; out[2] = s02; out[3] = s03
    out[4] = s10; out[5] = s11; out[6] = s12; out[7] = s13
}

/// 2 groups × 1 weight row (ragged N). Writes out[0] and out[stride].
@inline(__always)
func gemmTile2x1(
    _ quants: UnsafeRawPointer, _ scales: UnsafePointer<Float>, _ g: Int, _ blocks: Int,
    _ w: UnsafeRawPointer, _ dw: UnsafePointer<Float>, _ corr: UnsafePointer<Int32>,
    _ out: UnsafeMutablePointer<SIMD16<Float>>, stride: Int
) {
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>()
    for b in 0..<blocks {
        let t0 = quants + (g * blocks + b) * 512, t1 = quants + ((g + 1) * blocks + b) * 512
        var c0 = _mm512_setzero_si512(), c1 = _mm512_setzero_si512()
        for j in 0..<8 {
            let v = broadcastWeights(w, b, j)
            c0 = _mm512_dpbusd_epi32(c0, t0.load(fromByteOffset: j * 64, as: SIMD8<Int64>.self), v)
            c1 = _mm512_dpbusd_epi32(c1, t1.load(fromByteOffset: j * 64, as: SIMD8<Int64>.self), v)
        }
        let d0 = UnsafeRawPointer(scales + (g * blocks + b) * lanes).load(as: SIMD16<Float>.self)
        let d1 = UnsafeRawPointer(scales + ((g + 1) * blocks + b) * lanes).load(as: SIMD16<Float>.self)
        finishBlock(&s0, c0, corr[b], d0, dw[b]); finishBlock(&s1, c1, corr[b], d1, dw[b])
    }
    out[0] = s0; out[stride] = s1
}
#endif
