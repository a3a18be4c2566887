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
    /// GGML Q8_0: N rows × K/32 blocks of 34 bytes (`block_q8_0`: fp16 scale, 32 int8), rows of
    /// K inputs (GGUF ne0 = K). Used in place from a Q8_0 GGUF file.
    case q8_0(UnsafeRawPointer, K: Int, N: Int)

    public var inputs: Int {
        switch self { case let .inputMajor(_, K, _), let .outputMajor(_, K, _), let .q8_0(_, K, _): return K }
    }

    public var outputs: Int {
        switch self { case let .inputMajor(_, _, N), let .outputMajor(_, _, N), let .q8_0(_, _, N): return N }
    }

    /// Bytes of weight data a forward pass streams (for bandwidth figures).
    public var byteCount: Int {
        switch self {
        case .q8_0: return outputs * Q8_0.byteCount(inputs)
        default: return inputs * outputs * MemoryLayout<Float>.size
        }
    }
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
    case let .q8_0(w, K, N):
        linearQ8_0Reference(y, x, w, bias: bias, M: M, K: K, N: N, epilogue: epilogue, pool: pool)
    }
}

/// Q8_0 matmul by dequantization: correct, not fast. Expands `rowsPerBlock` weight rows at a
/// time into fp32 and runs the fp32 kernel on them into a scratch [M, rows], then applies the
/// epilogue into the matching columns of y. (Stands in until the int8 kernel replaces it.)
func linearQ8_0Reference(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafeRawPointer,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int, epilogue: MatmulEpilogue, pool: ThreadPool
) {
    let rowsPerBlock = 256
    let rowBytes = Q8_0.byteCount(K)
    let weights = AlignedBuffer<Float>(count: rowsPerBlock * K, zeroed: false)
    let out = AlignedBuffer<Float>(count: M * rowsPerBlock, zeroed: false)
    var n0 = 0
    while n0 < N {
        let rows = min(rowsPerBlock, N - n0)
        for r in 0..<rows { Q8_0.dequantize(w + (n0 + r) * rowBytes, into: weights.pointer + r * K, count: K) }
        matmulTransposed(out.pointer, x, weights.pointer, bias: bias.map { $0 + n0 }, M: M, K: K, N: rows, pool: pool)
        for m in 0..<M {
            let src = out.pointer + m * rows, dst = y + m * N + n0
            switch epilogue {
            case .store: dst.update(from: src, count: rows)
            case .accumulate: for i in 0..<rows { dst[i] += src[i] }
            case .gelu: for i in 0..<rows { dst[i] = gelu(src[i]) }
            }
        }
        n0 += rows
    }
}

/// out[t] = wte[tokens[t]] + wpe[firstPosition + t] for a token table stored as rows of C:
/// fp32 (`.outputMajor`) or Q8_0 (a Q8_0 GGUF's token_embd, dequantized one row at a time).
func embedTokens(
    _ out: UnsafeMutablePointer<Float>, tokens: UnsafeBufferPointer<Int>, firstPosition: Int,
    table: LinearWeight, wpe: UnsafePointer<Float>, C: Int
) {
    switch table {
    case let .outputMajor(wte, _, _):
        embed(out, tokens: tokens, firstPosition: firstPosition, wte: wte, wpe: wpe, C: C)
    case let .q8_0(blocks, K, _):
        let rowBytes = Q8_0.byteCount(K)
        for t in 0..<tokens.count {
            let o = out + t * C, p = wpe + (firstPosition + t) * C
            Q8_0.dequantize(blocks + tokens[t] * rowBytes, into: o, count: C)
            for i in 0..<C { o[i] += p[i] }
        }
    case .inputMajor:
        preconditionFailure("a token embedding is stored as rows of C, never [C, V]")
    }
}
