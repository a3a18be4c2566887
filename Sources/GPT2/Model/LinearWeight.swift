import Kernels
import GPT2Runtime

/// The weight matrix W of a linear layer y = x·W + b (K inputs, N outputs) in the storage the
/// kernels run on. Every matmul of the graph goes through `linear`, the one place where a
/// storage format meets its kernel.
public enum LinearWeight: @unchecked Sendable {
    /// fp32, row-major [K, N]: GPT-2's Conv1D layout, as Hugging Face checkpoints store it.
    case inputMajor(UnsafePointer<Float>, K: Int, N: Int)
    /// fp32, row-major [N, K]: one row per output — the tied LM head (wte) and GGUF files.
    case outputMajor(UnsafePointer<Float>, K: Int, N: Int)
    /// GGML Q8_0: N rows of K inputs, each row K/32 `block_q8_0` (fp16 scale + 32 int8, 34
    /// bytes); K a multiple of 32. The layout of a GGUF tensor, used in place.
    case q8_0(UnsafeRawPointer, K: Int, N: Int)
    /// Q8_0 repacked at load in groups of 8 rows (`Q8Interleaved`, huge pages): the same bytes
    /// as `.q8_0`, ordered so that the decode GEMV streams each thread's share sequentially and
    /// the prefill GEMM reads 8 rows per weight load.
    case q8_0Interleaved(UnsafeRawPointer, K: Int, N: Int)
    /// fp32 packed at load in panels of 32 outputs × all K ([⌈N/32⌉, K, 32], see
    /// `packInputMajor`): one sequential stream per thread for decode, the micro-kernel's
    /// operand layout for prefill.
    case packed(UnsafePointer<Float>, K: Int, N: Int)

    public var inputs: Int {
        switch self {
        case let .inputMajor(_, K, _), let .outputMajor(_, K, _), let .q8_0(_, K, _), let .q8_0Interleaved(_, K, _),
             let .packed(_, K, _): return K
        }
    }

    public var outputs: Int {
        switch self {
        case let .inputMajor(_, _, N), let .outputMajor(_, _, N), let .q8_0(_, _, N), let .q8_0Interleaved(_, _, N),
             let .packed(_, _, N): return N
        }
    }

    /// Where the weights start: two `LinearWeight`s with the same storage are one matrix.
    public var storage: UnsafeRawPointer {
        switch self {
        case let .inputMajor(w, _, _), let .outputMajor(w, _, _), let .packed(w, _, _): return UnsafeRawPointer(w)
        case let .q8_0(w, _, _), let .q8_0Interleaved(w, _, _): return w
        }
    }

    /// Bytes of weight data a forward pass streams (for bandwidth figures).
    public var byteCount: Int {
        switch self {
        case .inputMajor, .outputMajor, .packed: return inputs * outputs * MemoryLayout<Float>.size
        case let .q8_0(_, K, N): return N * Q8_0.byteCount(K)
        case let .q8_0Interleaved(_, K, N): return Q8Interleaved.byteCount(K: K, N: N)
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
    case let .inputMajor(w, K, N):
        matmul(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, pool: pool)
    case let .outputMajor(w, K, N):
        matmulTransposed(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, pool: pool)
    case let .q8_0(w, K, N):
        q8Matmul(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool)
    case let .q8_0Interleaved(w, K, N):
        q8MatmulInterleaved(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: scratch, pool: pool)
    case let .packed(w, K, N):
        matmulPacked(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, scratch: packScratch, pool: pool)
    }
}

/// out[t] = wte[tokens[t]] + wpe[firstPosition + t]. The token table is any storage whose
/// outputs are the V tokens (rows of C): fp32 rows (`.outputMajor`), GGML Q8_0 rows, or the
/// packed / interleaved copy that the tied LM head runs on, so a loaded model keeps one copy.
func embedTokens(
    _ out: UnsafeMutablePointer<Float>, tokens: UnsafeBufferPointer<Int>, firstPosition: Int,
    table: LinearWeight, wpe: UnsafePointer<Float>, C: Int
) {
    if case let .outputMajor(wte, _, _) = table {
        embed(out, tokens: tokens, firstPosition: firstPosition, wte: wte, wpe: wpe, C: C)
        return
    }
    for t in 0..<tokens.count {
        let o = out + t * C, p = wpe + (firstPosition + t) * C
        switch table {
        case let .q8_0(blocks, K, _): Q8_0.dequantize(blocks + tokens[t] * Q8_0.byteCount(K), into: o, count: C)
        case let .packed(w, K, _): unpackRow(w, K: K, n: tokens[t], into: o)
        case let .q8_0Interleaved(w, K, _): Q8Interleaved.dequantizeRow(w, K: K, n: tokens[t], into: o)
        case .outputMajor, .inputMajor: preconditionFailure("a token embedding is stored with one row per token, never [C, V]")
        }
        for i in 0..<C { o[i] += p[i] }
    }
}
