import Kernels
import Runtime

/// The weight matrix W of a linear layer y = x·W + b (K inputs, N outputs) in the storage the
/// kernels run on. Every matmul of the graph goes through `linear`, the one place where a
/// storage format meets its kernel.
public enum LinearWeight: @unchecked Sendable {
    /// fp32, row-major [K, N]: GPT-2's Conv1D layout, as Hugging Face checkpoints store it.
    case inputMajor(UnsafePointer<Float>, K: Int, N: Int)
    /// fp32, row-major [N, K]: one row per output — the tied LM head (wte) and GGUF files.
    case outputMajor(UnsafePointer<Float>, K: Int, N: Int)
    /// fp32 packed at load in panels of 32 outputs × all K ([⌈N/32⌉, K, 32], see
    /// `packInputMajor`): one sequential stream per thread for decode, the micro-kernel's
    /// operand layout for prefill.
    case packed(UnsafePointer<Float>, K: Int, N: Int)

    public var inputs: Int {
        switch self {
        case let .inputMajor(_, K, _), let .outputMajor(_, K, _), let .packed(_, K, _): return K
        }
    }

    public var outputs: Int {
        switch self {
        case let .inputMajor(_, _, N), let .outputMajor(_, _, N), let .packed(_, _, N): return N
        }
    }

    /// Bytes of weight data a forward pass streams (for bandwidth figures).
    public var byteCount: Int { inputs * outputs * MemoryLayout<Float>.size }
}

/// y[M, N] = epilogue(x[M, K] · W + bias[N]).
@inline(__always)
func linear(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ weight: LinearWeight,
    bias: UnsafePointer<Float>?, M: Int, epilogue: MatmulEpilogue = .store, pool: ThreadPool
) {
    switch weight {
    case let .inputMajor(w, K, N):
        matmul(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, pool: pool)
    case let .outputMajor(w, K, N):
        matmulTransposed(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, pool: pool)
    case let .packed(w, K, N):
        matmulPacked(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, pool: pool)
    }
}
