import Glibc

/// In-place GELU over `count` floats: x ← gelu(x).
@inlinable
public func geluInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count { x.store(gelu(x.vec16(i)), i); i += 16 }
    while i < count { x[i] = gelu(x[i]); i += 1 }
}

/// log Σ exp(x) over one row, computed stably (max subtracted first). With it,
/// log p(i) = x[i] − logSumExp(x) without modifying the logits.
public func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var maxValue = -Float.infinity
    for i in 0..<count { maxValue = max(maxValue, x[i]) }
    var sumV = Vec16()
    var i = 0
    while i + 16 <= count { sumV += exp(x.vec16(i) - maxValue); i += 16 }
    var sum = sumV.sum()
    while i < count { sum += expf(x[i] - maxValue); i += 1 }
    return maxValue + Float(log(Double(sum)))
}

/// log-softmax of one row of logits, in place: x ← x − log Σ exp(x). Returns the log-sum-exp.
@discardableResult
public func logSoftmaxInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) -> Float {
    let lse = logSumExp(x, count: count)
    for j in 0..<count { x[j] -= lse }
    return lse
}
