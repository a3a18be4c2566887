import Glibc
import GPT2Runtime
import Synchronization

// KV cache layout (one layer):
//   keys   [H, ⌈capacity/16⌉, hd, 16]  key tiles: 16 positions, transposed (element d of
//                                        position j at d·16 + j%16 of tile j/16)
//   values [H, capacity, hd]           one row per position
// A key tile is the "B" operand of a 6 × 16 score tile (queries × keys, SIMD over 16 keys),
// a run of value rows the "B" of the P·V product (SIMD over the head dimension); both are read
// sequentially from the start of a head's history.

/// Positions per key tile.
public let keyTileWidth = 16

/// Floats of one layer's key cache for `H` heads of `capacity` positions (whole tiles).
@inlinable
public func keyCacheCount(H: Int, capacity: Int, hd: Int) -> Int {
    H * (capacity + keyTileWidth - 1) / keyTileWidth * keyTileWidth * hd
}

/// Where element `d` of the key of `position` in head `h` lives in a layer's key cache.
@inlinable
public func keyCacheIndex(h: Int, position: Int, d: Int, capacity: Int, hd: Int) -> Int {
    let W = keyTileWidth
    let headStride = (capacity + W - 1) / W * W * hd
    return h * headStride + (position / W) * hd * W + d * W + position % W
}

/// Copies the keys and values of `T` new tokens from the fused QKV activations into a layer's
/// KV cache. Shapes: qkv [T, 3C] (q | k | v; head h at columns h·hd of each part);
/// keys [H, ⌈capacity/16⌉, hd, 16] (`keyCacheCount`), values [H, capacity, hd]. `heads` limits
/// the copy to those heads (threads split a prefill's copy by heads).
public func storeKeyValues(
    qkv: UnsafePointer<Float>, keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>,
    T: Int, firstPosition: Int, H: Int, hd: Int, capacity: Int, heads: Range<Int>? = nil
) {
    let C = H * hd
    for t in 0..<T {
        let row = qkv + t * 3 * C
        let position = firstPosition + t
        for h in heads ?? 0..<H {
            let key = row + C + h * hd
            let tile = keys + keyCacheIndex(h: h, position: position, d: 0, capacity: capacity, hd: hd)
            for d in 0..<hd { tile[d * keyTileWidth] = key[d] }
            (values + (h * capacity + position) * hd).update(from: row + 2 * C + h * hd, count: hd)
        }
    }
}

/// Queries per prefill attention tile.
let queryBlock = 6

/// Causal multi-head attention of `T` new queries (positions firstPosition ..< firstPosition+T)
/// against the KV cache, which must already hold positions 0 ..< firstPosition+T:
///   out[t, h] = Σ_j softmax_j(q[t,h]·k[h,j] · scale) v[h,j],  j ≤ firstPosition + t.
///
/// Fused (flash-attention style): the T×T score matrix is never stored. A task is one head and
/// a block of 6 consecutive queries; it walks the head's keys in tiles of 16 positions, and per
/// tile computes the 6 × 16 scores as a small GEMM (each key element loaded once for 6
/// queries), updates each query's online softmax (running max and normaliser; the accumulator
/// is rescaled when the max grows) and adds P · V for the tile (each value row loaded once for
/// 6 queries). Blocks are cut from the last query backwards, so the T mod 6 queries left over
/// are the first, shortest rows; they (and decode's single query) run the one-query kernel,
/// which does the same arithmetic per query: a query's result does not depend on which kernel
/// or block ran it. Parallel over (head, block) tasks, dynamically scheduled (the causal rows of
/// later blocks are longer), head by head so that a head's keys and values stay in L2.
/// Shapes: out [T, C]; qkv [T, 3C]; keys [H, ⌈capacity/16⌉, hd, 16]; values [H, capacity, hd].
/// hd not a multiple of 8 takes a plain scalar path.
public func attention(
    _ out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
    keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
    T: Int, firstPosition: Int, H: Int, hd: Int, capacity: Int, scale: Float, pool: ThreadPool
) {
    let C = H * hd, R = queryBlock
    let keyHead = keyCacheCount(H: 1, capacity: capacity, hd: hd), valueHead = capacity * hd
    guard hd % 8 == 0 else {
        pool.parallelForChunked(H * T, chunk: 1) { tasks in
            for task in tasks {
                let h = task % H, t = task / H
                attendOneScalar(out: out + t * C + h * hd, q: qkv + t * 3 * C + h * hd,
                                keys: keys + h * keyHead, values: values + h * valueHead,
                                count: firstPosition + t + 1, hd: hd, scale: scale)
            }
        }
        return
    }
    let blocks = T / R, singles = T % R, perHead = blocks + singles, tasks = perHead * H
    // Dynamic scheduling written out (not `parallelForChunked`) so that each thread sets up its
    // scratch once per call, not once per task. Tasks run head by head (a head's keys and values,
    // 256 KiB at 512 positions, stay in L2 across its blocks; going across heads first makes every
    // task stream them from L3 or DRAM: 2.5x slower with the weights flushing L3 between layers),
    // and within a head longest block first; a task is ~10 µs, so the threads finish together.
    let next = Atomic<Int>(0)
    pool.run { _ in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * R * hd + R * keyTileWidth) { scratch in
            let base = scratch.baseAddress!
            while true {
                let task = next.add(1, ordering: .relaxed).oldValue
                if task >= tasks { break }
                let h = task / perHead, index = task % perHead
                if index < blocks {
                    let t0 = T - R * (index + 1)
                    attendBlock6(out: out + t0 * C + h * hd, ldo: C, q: qkv + t0 * 3 * C + h * hd, ldq: 3 * C,
                                 keys: keys + h * keyHead, values: values + h * valueHead,
                                 firstPosition: firstPosition + t0, hd: hd, scale: scale, scratch: base)
                } else {
                    let t = singles - 1 - (index - blocks)
                    attendRow(out: out + t * C + h * hd, q: qkv + t * 3 * C + h * hd,
                              keys: keys + h * keyHead, values: values + h * valueHead,
                              count: firstPosition + t + 1, hd: hd, scale: scale, scratch: base)
                }
            }
        }
    }
}

/// Decode's attention: appends one new token (at `position`) to the KV cache and attends over
/// positions 0 ... position, as `storeKeyValues` + `attention` with T = 1 do (same results, bit
/// for bit), fused into one parallel region with the heads split statically over the threads.
///
/// Why fused: between two decode steps the whole weight set streams through the caches, so the
/// cache lines are cold; a separate copy writes 64 scattered key-tile lines per head on one
/// thread while the other waits (~10 µs per layer), here each thread writes its own heads.
/// Software prefetch of the next heads' keys and values measured no change (PERFORMANCE.md §3).
/// Shapes: out [C]; qkv [3C]; keys [H, ⌈capacity/16⌉, hd, 16]; values [H, capacity, hd].
public func attentionStep(
    _ out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
    keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>,
    position: Int, H: Int, hd: Int, capacity: Int, scale: Float, pool: ThreadPool
) {
    let count = position + 1
    let keyHead = keyCacheCount(H: 1, capacity: capacity, hd: hd), valueHead = capacity * hd
    pool.parallelFor(H) { heads in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * hd + 4 * keyTileWidth) { scratch in
            for h in heads {
                storeKeyValues(qkv: qkv, keys: keys, values: values, T: 1, firstPosition: position,
                               H: H, hd: hd, capacity: capacity, heads: h..<(h + 1))
                if hd % 8 == 0 {
                    attendRow(out: out + h * hd, q: qkv + h * hd, keys: keys + h * keyHead, values: values + h * valueHead,
                              count: count, hd: hd, scale: scale, scratch: scratch.baseAddress!)
                } else {
                    attendOneScalar(out: out + h * hd, q: qkv + h * hd, keys: keys + h * keyHead, values: values + h * valueHead,
                                    count: count, hd: hd, scale: scale)
                }
            }
        }
    }
}

// MARK: - Tiles. `keys` / `values` point at one head's cache; `scratch` holds 2·6·hd + 96 floats.

/// Six queries at positions p0 ..< p0+6 (rows of `q` at stride ldq) against keys 0 ..< p0+6.
@inline(__always)
func attendBlock6(
    out: UnsafeMutablePointer<Float>, ldo: Int, q: UnsafePointer<Float>, ldq: Int,
    keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
    firstPosition p0: Int, hd: Int, scale: Float, scratch: UnsafeMutablePointer<Float>
) {
    let R = queryBlock, W = keyTileWidth
    let qp = scratch                    // [hd, 6]: scaled queries, a broadcast per (d, query)
    let acc = scratch + R * hd          // [6, hd]: unnormalised outputs
    let scores = acc + R * hd           // [6, 16]: scores, then probabilities, of one tile
    for i in 0..<R { for d in 0..<hd { qp[d * R + i] = q[i * ldq + d] * scale } }
    acc.initialize(repeating: 0, count: R * hd)
    var runningMax = Vec8(repeating: -.infinity), normaliser = Vec8()
    // Keys each query may see in the tile starting at key j0: p0 + i + 1 − j0.
    let rowLimits = Vec8(1, 2, 3, 4, 5, 6, 7, 8) + Float(p0)
    let count = p0 + R  // keys of the last query
    var j0 = 0
    while j0 < count {
        scoreTile6x16(scores, qp, keys + j0 * hd, hd)
        let correction = softmaxTile(scores, rows: R, valid: rowLimits - Float(j0), max: &runningMax, sum: &normaliser)
        accumulateTile6(acc, hd, scores, correction, values + j0 * hd, min(W, count - j0))
        j0 += W
    }
    for i in 0..<R { finishRow(out + i * ldo, acc + i * hd, normaliser[i], hd) }
}

/// One query at position count-1 against keys 0 ..< count; the same arithmetic per query as
/// `attendBlock6`.
@inline(__always)
func attendRow(
    out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
    keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
    count: Int, hd: Int, scale: Float, scratch: UnsafeMutablePointer<Float>
) {
    let W = keyTileWidth
    let qs = scratch, acc = scratch + hd, scores = scratch + 2 * hd   // scores: [4, 16]
    for d in 0..<hd { qs[d] = q[d] * scale }
    acc.initialize(repeating: 0, count: hd)
    var runningMax = Vec8(repeating: -.infinity), normaliser = Vec8()  // lane 0 used
    let tiles = (count + W - 1) / W
    var tile = 0
    while tile < tiles {
        let group = min(4, tiles - tile)
        scoreTiles1(scores, qs, keys + tile * hd * W, hd, group)
        for u in 0..<group {
            let j0 = (tile + u) * W, valid = min(W, count - j0)
            let correction = softmaxTile(scores + u * W, rows: 1, valid: Vec8(repeating: Float(valid)),
                                         max: &runningMax, sum: &normaliser)
            accumulateRow1(acc, hd, scores + u * W, correction[0], values + j0 * hd, valid)
        }
        tile += group
    }
    finishRow(out, acc, normaliser[0], hd)
}

/// Online softmax step of `rows` ≤ 8 queries over one key tile. Row i of `scores` ([rows, 16])
/// holds 16 scores of which the first `valid[i]` are real (the others, possibly garbage, are
/// masked to −∞; `valid[i]` ≤ 0 masks all). Replaces them with p = e^(s − m') where
/// m' = max(m, max s), sets `max` to m' and `sum` to sum·e^(m − m') + Σp, and returns the
/// corrections e^(m − m') for the accumulators (0 on the first tile, where m = −∞). Lane i of
/// `max`, `sum`, `valid` and the result belongs to query i.
///
/// The row maxima and sums come out of `reduceRows` with lane i = row i, not from per-row
/// horizontal reductions written into lanes one at a time, and every blend is a `select`: with
/// `replacing(with:where:)` LLVM lowers `exp` to a branch per lane here, which costs ~2/3 of
/// prefill attention (PERFORMANCE.md §3). A row's sum has the same tree whatever `rows` is, so one query
/// gets the same result in the 6-query and the 1-query kernel.
@inline(__always)
func softmaxTile(
    _ scores: UnsafeMutablePointer<Float>, rows: Int, valid: Vec8, max runningMax: inout Vec8, sum: inout Vec8
) -> Vec8 {
    let W = keyTileWidth
    let laneNumbers = Vec8(0, 1, 2, 3, 4, 5, 6, 7)  // (a local constant: a global costs a swift_once per use)
    for i in 0..<rows where valid[i] < Float(W) {  // the causal diagonal and the last tile only
        let s = scores + i * W, limit = Vec8(repeating: valid[i])
        let minusInfinity = Vec8(repeating: -.infinity)
        s.store(select(laneNumbers .>= limit, minusInfinity, s.vec8(0)), 0)
        s.store(select(laneNumbers .>= limit - 8, minusInfinity, s.vec8(8)), 8)
    }
    @inline(__always) func rowMax(_ i: Int) -> Vec8 {
        i < rows ? lanewiseMax(scores.vec8(i * W), scores.vec8(i * W + 8)) : Vec8(repeating: -.infinity)
    }
    let tileMax = reduceRows(rowMax(0), rowMax(1), rowMax(2), rowMax(3), rowMax(4), rowMax(5), rowMax(6), rowMax(7), lanewiseMax)
    let newMax = lanewiseMax(runningMax, tileMax)
    let correction = exp(runningMax - newMax)  // lanes ≥ rows may be NaN: never used
    @inline(__always) func rowSum(_ i: Int) -> Vec8 {
        guard i < rows else { return Vec8() }
        let s = scores + i * W, m = Vec8(repeating: newMax[i])
        let p0 = exp(s.vec8(0) - m), p1 = exp(s.vec8(8) - m)  // masked lanes: e^−∞ = 0
        s.store(p0, 0); s.store(p1, 8)
        return p0 + p1
    }
    let tileSum = reduceRows(rowSum(0), rowSum(1), rowSum(2), rowSum(3), rowSum(4), rowSum(5), rowSum(6), rowSum(7), +)
    sum = sum * correction + tileSum
    runningMax = newMax
    return correction
}

/// Reduces 8 vectors at once: lane i of the result is `combine` over the 8 lanes of `r_i`, as
/// the tree ((v0·v1)·(v2·v3))·((v4·v5)·(v6·v7)). Three levels of `pair`, each two shuffles and
/// one `combine` for the 8 rows together, instead of 8 separate horizontal reductions.
@inline(__always)
func reduceRows(
    _ r0: Vec8, _ r1: Vec8, _ r2: Vec8, _ r3: Vec8, _ r4: Vec8, _ r5: Vec8, _ r6: Vec8, _ r7: Vec8,
    _ combine: (Vec8, Vec8) -> Vec8
) -> Vec8 {
    // Lanes 0..<4: a's adjacent pairs combined; lanes 4..<8: b's.
    @inline(__always) func pair(_ a: Vec8, _ b: Vec8) -> Vec8 {
        combine(Vec8(lowHalf: a.evenHalf, highHalf: b.evenHalf), Vec8(lowHalf: a.oddHalf, highHalf: b.oddHalf))
    }
    return pair(pair(pair(r0, r1), pair(r2, r3)), pair(pair(r4, r5), pair(r6, r7)))
}

/// out[d] = acc[d] / normaliser.
@inline(__always)
func finishRow(_ out: UnsafeMutablePointer<Float>, _ acc: UnsafePointer<Float>, _ normaliser: Float, _ hd: Int) {
    let inverse = 1 / normaliser
    var d = 0
    while d < hd { out.store(acc.vec8(d) * inverse, d); d += 8 }
}

/// scores[i, 0..<16] = Σ_d qp[d, i] · kt[d, 0..<16] for six queries (qp [hd, 6], kt a key
/// tile [hd, 16]), in the GEMM's register block.
@inline(__always)
func scoreTile6x16(_ scores: UnsafeMutablePointer<Float>, _ qp: UnsafePointer<Float>, _ kt: UnsafePointer<Float>, _ hd: Int) {
    var t = Tile6x16()
    t.accumulate(qp, kt, steps: hd, bStride: keyTileWidth)
    scores.store(t.c00, 0); scores.store(t.c01, 8); scores.store(t.c10, 16); scores.store(t.c11, 24)
    scores.store(t.c20, 32); scores.store(t.c21, 40); scores.store(t.c30, 48); scores.store(t.c31, 56)
    scores.store(t.c40, 64); scores.store(t.c41, 72); scores.store(t.c50, 80); scores.store(t.c51, 88)
}

/// scores[u, 0..<16] = Σ_d qs[d] · kt_u[d, 0..<16] for `group` ≤ 4 consecutive key tiles: with
/// four tiles, eight independent FMA chains hide the FMA latency (each lane's sum runs over d
/// in the same order as `scoreTile6x16`).
@inline(__always)
func scoreTiles1(_ scores: UnsafeMutablePointer<Float>, _ qs: UnsafePointer<Float>, _ kt: UnsafePointer<Float>, _ hd: Int, _ group: Int) {
    let stride = hd * keyTileWidth
    if group == 4 {
        var c0 = Vec8(), c1 = Vec8(), c2 = Vec8(), c3 = Vec8(), c4 = Vec8(), c5 = Vec8(), c6 = Vec8(), c7 = Vec8()
        var k = kt
        for d in 0..<hd {
            let s = Vec8(repeating: qs[d])
            c0 = c0.addingProduct(s, k.vec8(0)); c1 = c1.addingProduct(s, k.vec8(8))
            c2 = c2.addingProduct(s, k.vec8(stride)); c3 = c3.addingProduct(s, k.vec8(stride + 8))
            c4 = c4.addingProduct(s, k.vec8(2 * stride)); c5 = c5.addingProduct(s, k.vec8(2 * stride + 8))
            c6 = c6.addingProduct(s, k.vec8(3 * stride)); c7 = c7.addingProduct(s, k.vec8(3 * stride + 8))
            k += 16
        }
        scores.store(c0, 0); scores.store(c1, 8); scores.store(c2, 16); scores.store(c3, 24)
        scores.store(c4, 32); scores.store(c5, 40); scores.store(c6, 48); scores.store(c7, 56)
        return
    }
    for u in 0..<group {
        var c0 = Vec8(), c1 = Vec8()
        var k = kt + u * stride
        for d in 0..<hd {
            let s = Vec8(repeating: qs[d])
            c0 = c0.addingProduct(s, k.vec8(0)); c1 = c1.addingProduct(s, k.vec8(8))
            k += 16
        }
        scores.store(c0, 16 * u); scores.store(c1, 16 * u + 8)
    }
}

/// acc[i, :] = acc[i, :] · correction[i] + Σ_{j < n} p[i, j] · v[j, :] for six queries
/// (acc [6, hd], p [6, 16], v rows at stride hd): per 16 columns of hd, 12 ymm accumulators,
/// per key two loads of v, six broadcasts of p, twelve FMAs.
@inline(__always)
func accumulateTile6(
    _ acc: UnsafeMutablePointer<Float>, _ hd: Int, _ p: UnsafePointer<Float>, _ correction: SIMD8<Float>,
    _ v: UnsafePointer<Float>, _ n: Int
) {
    let W = keyTileWidth
    let f0 = correction[0], f1 = correction[1], f2 = correction[2]
    let f3 = correction[3], f4 = correction[4], f5 = correction[5]
    var d = 0
    while d + 16 <= hd {
        let o = acc + d
        var c00 = o.vec8(0) * f0, c01 = o.vec8(8) * f0
        var c10 = o.vec8(hd) * f1, c11 = o.vec8(hd + 8) * f1
        var c20 = o.vec8(2 * hd) * f2, c21 = o.vec8(2 * hd + 8) * f2
        var c30 = o.vec8(3 * hd) * f3, c31 = o.vec8(3 * hd + 8) * f3
        var c40 = o.vec8(4 * hd) * f4, c41 = o.vec8(4 * hd + 8) * f4
        var c50 = o.vec8(5 * hd) * f5, c51 = o.vec8(5 * hd + 8) * f5
        var row = v + d
        for j in 0..<n {
            let b0 = row.vec8(0), b1 = row.vec8(8)
            var s = Vec8(repeating: p[j])
            c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = Vec8(repeating: p[W + j])
            c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = Vec8(repeating: p[2 * W + j])
            c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = Vec8(repeating: p[3 * W + j])
            c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = Vec8(repeating: p[4 * W + j])
            c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = Vec8(repeating: p[5 * W + j])
            c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            row += hd
        }
        o.store(c00, 0); o.store(c01, 8); o.store(c10, hd); o.store(c11, hd + 8)
        o.store(c20, 2 * hd); o.store(c21, 2 * hd + 8); o.store(c30, 3 * hd); o.store(c31, 3 * hd + 8)
        o.store(c40, 4 * hd); o.store(c41, 4 * hd + 8); o.store(c50, 5 * hd); o.store(c51, 5 * hd + 8)
        d += 16
    }
    if d < hd {  // hd ≡ 8 (mod 16): the last 8 columns
        let o = acc + d
        var c0 = o.vec8(0) * f0, c1 = o.vec8(hd) * f1, c2 = o.vec8(2 * hd) * f2
        var c3 = o.vec8(3 * hd) * f3, c4 = o.vec8(4 * hd) * f4, c5 = o.vec8(5 * hd) * f5
        var row = v + d
        for j in 0..<n {
            let b = row.vec8(0)
            c0 = c0.addingProduct(Vec8(repeating: p[j]), b)
            c1 = c1.addingProduct(Vec8(repeating: p[W + j]), b)
            c2 = c2.addingProduct(Vec8(repeating: p[2 * W + j]), b)
            c3 = c3.addingProduct(Vec8(repeating: p[3 * W + j]), b)
            c4 = c4.addingProduct(Vec8(repeating: p[4 * W + j]), b)
            c5 = c5.addingProduct(Vec8(repeating: p[5 * W + j]), b)
            row += hd
        }
        o.store(c0, 0); o.store(c1, hd); o.store(c2, 2 * hd)
        o.store(c3, 3 * hd); o.store(c4, 4 * hd); o.store(c5, 5 * hd)
    }
}

/// acc[:] = acc[:] · correction + Σ_{j < n} p[j] · v[j, :] for one query, 32 columns at a time
/// (four independent chains), then 8.
@inline(__always)
func accumulateRow1(
    _ acc: UnsafeMutablePointer<Float>, _ hd: Int, _ p: UnsafePointer<Float>, _ correction: Float,
    _ v: UnsafePointer<Float>, _ n: Int
) {
    var d = 0
    while d + 32 <= hd {
        let o = acc + d
        var c0 = o.vec8(0) * correction, c1 = o.vec8(8) * correction
        var c2 = o.vec8(16) * correction, c3 = o.vec8(24) * correction
        var row = v + d
        for j in 0..<n {
            let s = Vec8(repeating: p[j])
            c0 = c0.addingProduct(s, row.vec8(0)); c1 = c1.addingProduct(s, row.vec8(8))
            c2 = c2.addingProduct(s, row.vec8(16)); c3 = c3.addingProduct(s, row.vec8(24))
            row += hd
        }
        o.store(c0, 0); o.store(c1, 8); o.store(c2, 16); o.store(c3, 24)
        d += 32
    }
    while d < hd {
        let o = acc + d
        var c0 = o.vec8(0) * correction
        var row = v + d
        for j in 0..<n {
            c0 = c0.addingProduct(Vec8(repeating: p[j]), row.vec8(0))
            row += hd
        }
        o.store(c0, 0)
        d += 8
    }
}

/// One query against `count` keys for a head size that is not a multiple of 8: scores of the
/// whole row, then a plain softmax and weighted sum (rare: no GPT-2 has such a head).
func attendOneScalar(
    out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
    keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
    count: Int, hd: Int, scale: Float
) {
    let W = keyTileWidth
    withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { scores in
        var top = -Float.infinity
        for j in 0..<count {
            let tile = keys + (j / W) * hd * W + j % W
            var s: Float = 0
            for d in 0..<hd { s += q[d] * tile[d * W] }
            scores[j] = s * scale
            top = max(top, scores[j])
        }
        var total: Float = 0
        for j in 0..<count { scores[j] = expf(scores[j] - top); total += scores[j] }
        for d in 0..<hd {
            var s: Float = 0
            for j in 0..<count { s += scores[j] * values[j * hd + d] }
            out[d] = s / total
        }
    }
}
