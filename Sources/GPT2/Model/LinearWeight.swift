import Kernels
import GPT2Runtime

/// The weight matrix W of a linear layer y = x·W + b (K inputs, N outputs) in the one layout
/// per dtype the kernels run on; load converts every checkpoint layout into it. Every matmul of
/// the graph goes through `linear`, the one place where a layout meets its kernel.
package enum LinearWeight: @unchecked Sendable {
    /// fp32 packed at load in panels of 32 outputs × all K ([⌈N/32⌉, K, 32], see
    /// `packInputMajor`): one sequential stream per thread for decode, the micro-kernel's
    /// operand layout for prefill.
    case packed(UnsafePointer<Float>, K: Int, N: Int)
    /// Q8_0 (per 32 inputs an fp16 scale and 32 int8, GGML's `block_q8_0` numbers) in groups of
    /// 8 rows (`Q8Interleaved`, huge pages), so that the decode GEMV streams each thread's share
    /// sequentially and the prefill GEMM reads 8 rows per weight load. K a multiple of 32.
    case q8_0Interleaved(UnsafeRawPointer, K: Int, N: Int)

    package var inputs: Int {
        switch self {
        case let .packed(_, K, _), let .q8_0Interleaved(_, K, _): return K
        }
    }

    package var outputs: Int {
        switch self {
        case let .packed(_, _, N), let .q8_0Interleaved(_, _, N): return N
        }
    }

    /// Where the weights start: two `LinearWeight`s with the same storage are one matrix.
    package var storage: UnsafeRawPointer {
        switch self {
        case let .packed(w, _, _): return UnsafeRawPointer(w)
        case let .q8_0Interleaved(w, _, _): return w
        }
    }

    /// Bytes of weight data a forward pass streams (for bandwidth figures).
    package var byteCount: Int {
        switch self {
        case .packed: return inputs * outputs * MemoryLayout<Float>.size
        case let .q8_0Interleaved(_, K, N): return Q8Interleaved.byteCount(K: K, N: N)
        }
    }

    /// Output n's K weights (row n of Wᵀ) as fp32: a copy out of the packed layout, or the Q8_0
    /// row dequantized (x = d · q).
    package func row(_ n: Int, into out: UnsafeMutablePointer<Float>) {
        switch self {
        case let .packed(w, K, _): unpackRow(w, K: K, n: n, into: out)
        case let .q8_0Interleaved(w, K, _): Q8Interleaved.dequantizeRow(w, K: K, n: n, into: out)
        }
    }
}

/// y[M, N] = epilogue(x[M, K] · W + bias[N]). `scratch` holds the quantised activations of
/// the int8 formats (one per session).
@inline(__always)
func linear(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ weight: LinearWeight,
    bias: UnsafePointer<Float>?, M: Int, epilogue: MatmulEpilogue = .store, scratch: Q8Scratch,
    packScratch: UnsafeMutablePointer<Float>? = nil, pool: ThreadPool
) {
    switch weight {
    case let .q8_0Interleaved(w, K, N):
        q8MatmulInterleaved(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool)
    case let .packed(w, K, N):
        matmulPacked(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: packScratch, pool: pool)
    }
}

/// out[t] = wte[tokens[t]] + wpe[firstPosition + t]. The token table is the packed or
/// interleaved matrix whose outputs are the V tokens (rows of C): for a tied wte, the LM head
/// itself, so a loaded model keeps one copy.
func embedTokens(
    _ out: UnsafeMutablePointer<Float>, tokens: UnsafeBufferPointer<Int>, firstPosition: Int,
    table: LinearWeight, wpe: UnsafePointer<Float>, C: Int
) {
    for t in 0..<tokens.count {
        let o = out + t * C, p = wpe + (firstPosition + t) * C
        table.row(tokens[t], into: o)
        for i in 0..<C { o[i] += p[i] }
    }
}
