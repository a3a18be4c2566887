import Glibc
import GPT2Runtime

/// Copies the keys and values of `T` new tokens from the fused QKV activations into a layer's
/// KV cache. Shapes: qkv [T, 3C] (q | k | v; head h at columns h·hd of each part);
/// keys, values [H, capacity, hd] — one contiguous run of positions per head, so that the
/// attention pass over a head's history is sequential.
public func storeKeyValues(
    qkv: UnsafePointer<Float>, keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>,
    T: Int, firstPosition: Int, H: Int, hd: Int, capacity: Int
) {
    let C = H * hd
    for t in 0..<T {
        let row = qkv + t * 3 * C
        for h in 0..<H {
            let slot = (h * capacity + firstPosition + t) * hd
            (keys + slot).update(from: row + C + h * hd, count: hd)
            (values + slot).update(from: row + 2 * C + h * hd, count: hd)
        }
    }
}

/// Causal multi-head attention of `T` new queries (positions firstPosition ..< firstPosition+T)
/// against the KV cache, which must already hold positions 0 ..< firstPosition+T:
///   out[t, h] = Σ_j softmax_j(q[t,h]·k[h,j] · scale) v[h,j],  j ≤ firstPosition + t.
///
/// Fused: the T×T score matrix is never stored. Each (head, query) makes one pass over its keys
/// in blocks of 16 with an online softmax (running max `m` and normaliser `l`; the accumulator
/// is rescaled when the max grows). Parallel over (head, query) pairs, dynamically scheduled
/// because causal rows differ in length. Shapes: out [T, C]; qkv [T, 3C]; keys, values
/// [H, capacity, hd].
public func attention(
    _ out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
    keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
    T: Int, firstPosition: Int, H: Int, hd: Int, capacity: Int, scale: Float, pool: ThreadPool
) {
    let C = H * hd
    pool.parallelForChunked(H * T, chunk: 1) { tasks in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: hd) { acc in
            for task in tasks {
                let h = task % H, t = task / H
                attendOne(
                    out: out + t * C + h * hd, q: qkv + t * 3 * C + h * hd,
                    keys: keys + h * capacity * hd, values: values + h * capacity * hd,
                    count: firstPosition + t + 1, hd: hd, scale: scale, acc: acc.baseAddress!)
            }
        }
    }
}

/// One query against `count` keys/values of one head (see `attention`).
@inline(__always)
func attendOne(
    out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
    keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
    count: Int, hd: Int, scale: Float, acc: UnsafeMutablePointer<Float>
) {
    acc.initialize(repeating: 0, count: hd)
    var runningMax = -Float.infinity
    var normaliser: Float = 0
    var j = 0
    while j < count {
        let block = min(16, count - j)
        var scores = Vec16(repeating: -.infinity)
        for i in 0..<block { scores[i] = dot(q, keys + (j + i) * hd, hd) * scale }
        let newMax = max(runningMax, scores.max())
        let correction = runningMax == -.infinity ? 0 : expf(runningMax - newMax)
        let p = exp(scores - newMax)  // lanes past `block` hold -inf → 0
        normaliser = normaliser * correction + p.sum()
        if correction != 1 { scaleInPlace(acc, hd, correction) }
        for i in 0..<block { axpy(acc, p[i], values + (j + i) * hd, hd) }
        runningMax = newMax
        j += block
    }
    let inverse = 1 / normaliser
    for d in 0..<hd { out[d] = acc[d] * inverse }
}

/// y ← y · a (length n).
@inline(__always)
func scaleInPlace(_ y: UnsafeMutablePointer<Float>, _ n: Int, _ a: Float) {
    var i = 0
    while i + 16 <= n { y.store(y.vec16(i) * a, i); i += 16 }
    while i < n { y[i] *= a; i += 1 }
}

/// y ← y + a·x (length n).
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ a: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    let av = Vec16(repeating: a)
    var i = 0
    while i + 16 <= n { y.store(y.vec16(i).addingProduct(av, x.vec16(i)), i); i += 16 }
    while i < n { y[i] += a * x[i]; i += 1 }
}
