/// What a matmul does with each finished output element `v = (x·W)[m,n] + bias[n]`.
public enum MatmulEpilogue: Sendable {
    /// y = v
    case store
    /// y += v — fuses the residual add of GPT-2's projections into the matmul.
    case accumulate
    /// y = gelu(v) — fuses the MLP activation into the up-projection.
    case gelu
}

/// The epilogue for one output: bias added, then stored, accumulated or passed through GELU.
@inline(__always)
func finishScalar(_ acc: Float, _ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?, _ epilogue: MatmulEpilogue) {
    let v = acc + (bias?.pointee ?? 0)
    switch epilogue {
    case .store: y.pointee = v
    case .accumulate: y.pointee += v
    case .gelu: y.pointee = gelu(v)
    }
}
