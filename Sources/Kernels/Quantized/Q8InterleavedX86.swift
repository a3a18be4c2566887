// The x86 kernels of `q8MatmulInterleaved` (layout: Q8Interleaved.swift): AVX2, with
// `vpdpbusd` in place of `vpmaddubsw` + `vpmaddwd` + `vpaddd` where the target has AVX-512 VNNI.
//
// Signed × signed with the sign trick: |w| (unsigned) × x·sign(w) (signed). `vpmaddubsw` needs one
// unsigned operand; llama.cpp's AVX2 Q8_0 dot takes |x| and moves the sign onto w. Here the sign
// goes onto the activations instead: |w| is computed once per weight vector and shared by the 4
// activation rows of the GEMM tile, and each k-step of 4 needs one `vpbroadcastd` of x per row,
// not two (x and |x|). On Zen 3 the four vector pipes are the limit (the broadcast costs a pipe
// µop too): 21 instead of 24 µops per k-step of the 4×8 tile, +10% GEMM in L1
// (PERFORMANCE.md). The 8 int32 lanes are the 8 rows of the group. |w|·|x| ≤ 128·127,
// so `vpmaddubsw`'s int16 pair sums never saturate and every block dot is exact.
#if GPT2_AVX2
import _Builtin_intrinsics.intel
import Glibc
import GPT2Runtime

/// Software prefetch distance of the GEMV, in bytes ahead of the quants being read (0: none),
/// and, when not 0, the group's scale lines prefetched at its start. The quants are one
/// sequential stream, but the scales (16 bytes per block, at the group's front) are a second,
/// slow one: a new scale line every 4 blocks, up to a group (6.4 KiB at K = 768, 8.5 KiB at
/// K = 1024) behind the quants. Measured (PERFORMANCE.md §2), decode, % of the read
/// bandwidth: on Zen 4 without the scale prefetch the best quant distance depended on K (124M:
/// 0 or 2 KiB ≈ 84%, 512 B 62%; 355M: 256 B 75%, 2 KiB 49%); with it, 128–384 B gave 86–98%
/// on 124M and 82–87% on 355M, 2 KiB 10–20% less. On a Sapphire-Rapids-class Xeon 256 B lost
/// 8–12% to 1 KiB, and 2 KiB did best. So: 2 KiB on Intel, 256 B elsewhere (AMD).
/// `GPT2_Q8_PREFETCH` overrides it.
let q8InterleavedPrefetch = RuntimeEnvironment.current.q8PrefetchBytes ?? (CPUFeatures.current.isIntel ? 2048 : 256)

/// Activation rows whose quants stay in L2 while a thread's weight groups pass over them in the
/// GEMM: 192 KiB / 2K rows of K bytes, so a chunk holds 96 KiB, half its L2 budget; never tuned
/// for rows of K bytes (PERFORMANCE.md §2).
@inline(__always)
func q8ChunkRows(K: Int) -> Int { max(4, (192 * 1024) / (2 * K) / 4 * 4) }

func q8InterleavedX86(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue, scratch: Q8Scratch, pool: ThreadPool, vnni: Bool
) {
    let blocks = K / 32, groupBytes = Q8Interleaved.groupBytes(K: K)
    // Scratch: x quants [M, K] (64-byte aligned rows when K % 64 == 0), then the scales.
    let xs = scratch.base
    let xd = (xs + (M * K + 63) / 64 * 64).bindMemory(to: Float.self, capacity: M * blocks)
    forEachActivationRow(M, pool: pool) { m in quantizeActivationRowX86(x + m * K, xs + m * K, xd + m * blocks, K: K) }
    let inner = innerEpilogue(epilogue)
    let prefetch = q8InterleavedPrefetch
    let chunkRows = q8ChunkRows(K: K)
    pool.parallelFor(Q8Interleaved.groups(N: N)) { groups in
        defer { finishGelu(y, M: M, N: N, rows: groups.lowerBound * 8..<min(N, groups.upperBound * 8), epilogue) }
        if M == 1 {
            for g in groups {
                let v = q8x8Dot1(w + g * groupBytes, xs, xd, blocks: blocks, prefetch: prefetch, vnni: vnni)
                storeGroup(v, y, n0: g * 8, N: N, bias, inner)
            }
            return
        }
        // GEMM: a chunk of activation rows stays in L2 while every group of this thread meets
        // it; a group (6.5 KiB at K = 768, 26 KiB at K = 3072) stays in L1/L2 across the chunk.
        var m0 = 0
        while m0 < M {
            let mEnd = min(M, m0 + chunkRows)
            for g in groups {
                let wg = w + g * groupBytes
                var m = m0
                while m + 4 <= mEnd {
                    let v = q8x8Dot4(wg, xs + m * K, xd + m * blocks, K: K, blocks: blocks, vnni: vnni)
                    storeGroup(v.0, y + m * N, n0: g * 8, N: N, bias, inner)
                    storeGroup(v.1, y + (m + 1) * N, n0: g * 8, N: N, bias, inner)
                    storeGroup(v.2, y + (m + 2) * N, n0: g * 8, N: N, bias, inner)
                    storeGroup(v.3, y + (m + 3) * N, n0: g * 8, N: N, bias, inner)
                    m += 4
                }
                while m < mEnd {
                    let v = q8x8Dot1(wg, xs + m * K, xd + m * blocks, blocks: blocks, prefetch: 0, vnni: vnni)
                    storeGroup(v, y + m * N, n0: g * 8, N: N, bias, inner)
                    m += 1
                }
            }
            m0 = mEnd
        }
    }
}

/// `quantizeActivationRow` (the same numbers, bit for bit: GGML's formula with an fp32 scale)
/// with AVX2 intrinsics. Swift's scalar form compiled to one `vroundss` per element here (perf:
/// ~10% of a prefill GEMM at N = 768).
@inline(__always)
func quantizeActivationRowX86(
    _ x: UnsafePointer<Float>, _ q: UnsafeMutableRawPointer, _ d: UnsafeMutablePointer<Float>, K: Int
) {
    let signBit = SIMD8<Float>(repeating: -0.0)
    // round-half-away(t) = trunc(t + copysign(0.5 − 2⁻²⁵, t)): LLVM's own lowering of roundf.
    let almostHalf = SIMD8<Float>(repeating: Float(0.5).nextDown)
    let order = SIMD8<Int32>(0, 4, 1, 5, 2, 6, 3, 7)
    for b in 0..<(K / 32) {
        let xb = UnsafeRawPointer(x + b * 32)
        let v0 = xb.loadUnaligned(as: SIMD8<Float>.self), v1 = xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        let v2 = xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), v3 = xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        let scale = absoluteMax32(x + b * 32) / 127
        let inverse: Float = scale != 0 ? 1 / scale : 0
        d[b] = scale
        @inline(__always) func round(_ v: SIMD8<Float>) -> SIMD4<Int64> {
            let t = v * inverse
            return _mm256_cvttps_epi32(t + _mm256_or_ps(_mm256_and_ps(t, signBit), almostHalf))
        }
        // int32 → int16 → int8 packs work per 128-bit lane: the permute restores k order.
        let packed = _mm256_packs_epi16(_mm256_packs_epi32(round(v0), round(v1)), _mm256_packs_epi32(round(v2), round(v3)))
        let inOrder = _mm256_permutevar8x32_epi32(packed, unsafeBitCast(order, to: SIMD4<Int64>.self))
        (q + b * 32).storeBytes(of: inOrder, as: SIMD4<Int64>.self)
    }
}

/// Σ over one k-step of 4 for the 8 rows of a group: `acc` + |w|·(x·sign(w)), 4 products per
/// lane. `absW` is |w|, computed once per weight vector by the caller.
@inline(__always)
func q8Step(_ acc: SIMD4<Int64>, _ absW: SIMD4<Int64>, _ w: SIMD4<Int64>, _ x: SIMD4<Int64>, vnni: Bool) -> SIMD4<Int64> {
    let signedX = _mm256_sign_epi8(x, w)
    #if GPT2_VNNI
    if vnni { return _mm256_maskz_dpbusd_epi32(0xFF, acc, absW, signedX) }
    #endif
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(absW, signedX), _mm256_set1_epi16(1)))
}

/// The 4 activation bytes at byte offset `o`, in all 8 lanes (`vpbroadcastd` from memory).
@inline(__always)
func broadcast4(_ p: UnsafeRawPointer, _ o: Int) -> SIMD4<Int64> {
    _mm256_set1_epi32(p.loadUnaligned(fromByteOffset: o, as: Int32.self))
}

/// The group's 8 fp16 scales of block b, as fp32.
@inline(__always)
func groupScales(_ group: UnsafeRawPointer, _ b: Int) -> SIMD8<Float> {
    _mm256_cvtph_ps(group.loadUnaligned(fromByteOffset: b * 16, as: SIMD2<Int64>.self))
}

/// One activation row (quants `xs`, scales `xd`) × one group of 8 weight rows:
/// the 8 outputs. Per block: 8 k-steps into one int32 vector (exact), then one conversion and
/// one FMA with d_w · d_x — the formula's order, so the result equals the portable path's.
@inline(__always)
func q8x8Dot1(
    _ group: UnsafeRawPointer, _ xs: UnsafeRawPointer, _ xd: UnsafePointer<Float>,
    blocks: Int, prefetch: Int, vnni: Bool
) -> SIMD8<Float> {
    let quants = group + blocks * 16
    if prefetch > 0 {  // the scales: all of the group's lines at once (see `q8InterleavedPrefetch`)
        var line = 0
        while line < blocks * 16 { prefetchL1(group + line); line += 64 }
    }
    var acc = SIMD8<Float>()
    for b in 0..<blocks {
        let q = quants + b * 256
        if prefetch > 0 {
            prefetchL1(q + prefetch); prefetchL1(q + prefetch + 64)
            prefetchL1(q + prefetch + 128); prefetchL1(q + prefetch + 192)
        }
        var s = _mm256_setzero_si256()
        for j in 0..<8 {
            let o = b * 32 + j * 4
            let wv = q.loadUnaligned(fromByteOffset: j * 32, as: SIMD4<Int64>.self)
            s = q8Step(s, _mm256_abs_epi8(wv), wv, broadcast4(xs, o), vnni: vnni)
        }
        acc = acc.addingProduct(_mm256_cvtepi32_ps(s), groupScales(group, b) * SIMD8(repeating: xd[b]))
    }
    return acc
}

/// Four activation rows (at stride K; scales at stride `blocks`) × one group of 8 weight rows:
/// each weight vector is loaded (and its |w| computed) once for the 4 rows. 4 int32 + 4 fp32
/// accumulators (+ w, |w|, ones and temporaries) fit AVX2's 16 ymm. Per lane, the same operations
/// as `q8x8Dot1`, so a row gives bit-identical results in either micro-kernel.
@inline(__always)
func q8x8Dot4(
    _ group: UnsafeRawPointer, _ xs: UnsafeRawPointer, _ xd: UnsafePointer<Float>,
    K: Int, blocks: Int, vnni: Bool
) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let quants = group + blocks * 16
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    let xs1 = xs + K, xs2 = xs + 2 * K, xs3 = xs + 3 * K
    for b in 0..<blocks {
        let q = quants + b * 256
        var s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0
        for j in 0..<8 {
            let o = b * 32 + j * 4
            let wv = q.loadUnaligned(fromByteOffset: j * 32, as: SIMD4<Int64>.self), absW = _mm256_abs_epi8(wv)
            s0 = q8Step(s0, absW, wv, broadcast4(xs, o), vnni: vnni)
            s1 = q8Step(s1, absW, wv, broadcast4(xs1, o), vnni: vnni)
            s2 = q8Step(s2, absW, wv, broadcast4(xs2, o), vnni: vnni)
            s3 = q8Step(s3, absW, wv, broadcast4(xs3, o), vnni: vnni)
        }
        let dw = groupScales(group, b)
        a0 = a0.addingProduct(_mm256_cvtepi32_ps(s0), dw * SIMD8(repeating: xd[b]))
        a1 = a1.addingProduct(_mm256_cvtepi32_ps(s1), dw * SIMD8(repeating: xd[blocks + b]))
        a2 = a2.addingProduct(_mm256_cvtepi32_ps(s2), dw * SIMD8(repeating: xd[2 * blocks + b]))
        a3 = a3.addingProduct(_mm256_cvtepi32_ps(s3), dw * SIMD8(repeating: xd[3 * blocks + b]))
    }
    return (a0, a1, a2, a3)
}
#endif
