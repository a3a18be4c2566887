import Glibc
import GPT2Runtime

/// LayerNorm over the last dimension:
/// out[t,:] = (x[t,:] − mean) / √(var + eps) · weight + bias, with the biased variance as
/// PyTorch computes it (two passes: the mean first, then squared deviations, for accuracy).
/// Shapes: out, x [T, C]; weight, bias [C]. `out` may equal `x`.
public func layerNorm(
    _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    T: Int, C: Int, eps: Float, pool: ThreadPool
) {
    // One row is ~1 µs of work: only large batches are worth a parallel region.
    if T < 16 {
        for t in 0..<T { layerNormRow(out + t * C, x + t * C, weight, bias, C, eps) }
    } else {
        pool.parallelFor(T) { rows in
            for t in rows { layerNormRow(out + t * C, x + t * C, weight, bias, C, eps) }
        }
    }
}

@inline(__always)
func layerNormRow(
    _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, _ C: Int, _ eps: Float
) {
    var sumV = Vec16()
    var i = 0
    while i + 16 <= C { sumV += x.vec16(i); i += 16 }
    var sum = sumV.sum()
    while i < C { sum += x[i]; i += 1 }
    let mean = sum / Float(C)

    var sqV = Vec16()
    i = 0
    while i + 16 <= C { let d = x.vec16(i) - mean; sqV = sqV.addingProduct(d, d); i += 16 }
    var sq = sqV.sum()
    while i < C { let d = x[i] - mean; sq += d * d; i += 1 }
    let rstd = 1 / sqrtf(sq / Float(C) + eps)

    i = 0
    while i + 16 <= C {
        let n = (x.vec16(i) - mean) * rstd
        out.store((n * weight.vec16(i)) + bias.vec16(i), i)
        i += 16
    }
    while i < C { out[i] = (x[i] - mean) * rstd * weight[i] + bias[i]; i += 1 }
}
