import Glibc
import Kernels
import GPT2Runtime

/// Weight formats an fp32 model can be converted to in memory.
public enum WeightQuantization: String, Sendable, CaseIterable {
    /// GGML Q8_0: blocks of 32 weights along K with an fp16 scale (8.5 bits per weight).
    case q8_0
}

extension GPT2Weights {
    /// A copy whose matrices are quantised to `type` — what `gpt2 quantize` writes, made in
    /// memory, so int8 inference can be tested and measured from any checkpoint. Matrices whose
    /// K is not a multiple of 32 stay fp32 (as llama.cpp does); embeddings, norms and biases stay
    /// fp32. The tied LM head gets its own quantised copy (the embedding lookup keeps wte in fp32).
    /// With `interleave` (the default) the Q8_0 matrices end in the int8 kernels' interleaved
    /// layout (`.q8_0Interleaved`), as a Q8_0 GGUF file loads; without, as GGML rows (`.q8_0`).
    public func quantized(to type: WeightQuantization, interleave: Bool = true) -> GPT2Weights {
        var buffers: [AnyObject] = []
        /// Quantises N rows of K floats; `row(n, temporary)` returns row n (or fills and returns
        /// `temporary`, K floats, for layouts that store it strided).
        func quantizeRows(K: Int, N: Int, _ row: (Int, UnsafeMutablePointer<Float>) -> UnsafePointer<Float>) -> LinearWeight {
            let buffer = HugePageBuffer<UInt8>(count: N * Q8_0.byteCount(K))
            buffers.append(buffer)
            let temporary = UnsafeMutablePointer<Float>.allocate(capacity: K)
            defer { temporary.deallocate() }
            for n in 0..<N { Q8_0.quantize(row(n, temporary), into: UnsafeMutableRawPointer(buffer.pointer + n * Q8_0.byteCount(K)), count: K) }
            return .q8_0(UnsafeRawPointer(buffer.pointer), K: K, N: N)
        }
        func convert(_ weight: LinearWeight) -> LinearWeight {
            switch weight {
            case .q8_0, .q8_0Interleaved:
                return weight
            case let .packed(w, K, N):
                guard K % Q8_0.blockSize == 0 else { return weight }
                return quantizeRows(K: K, N: N) { n, row in
                    unpackRow(w, K: K, n: n, into: row)
                    return UnsafePointer(row)
                }
            case let .inputMajor(w, K, N):  // [K, N]: gather column n as the row of output n
                guard K % Q8_0.blockSize == 0 else { return weight }
                return quantizeRows(K: K, N: N) { n, column in
                    for k in 0..<K { column[k] = w[k * N + n] }
                    return UnsafePointer(column)
                }
            case let .outputMajor(w, K, N):  // [N, K]: rows in place
                guard K % Q8_0.blockSize == 0 else { return weight }
                return quantizeRows(K: K, N: N) { n, _ in w + n * K }
            }
        }
        var matrices = Matrices(blocks: self.blocks, lmHead: lmHead, untiedTokenEmbedding: nil)
        matrices.all = matrices.all.map(convert)
        if interleave {
            // The GGML-row copies are dropped once interleaved: only the interleaved buffer is kept.
            let buffer: HugePageBuffer<UInt8>?
            (matrices.all, buffer) = Self.interleaveQ8(matrices.all, releaseMapped: false)
            buffers = buffer.map { [$0] } ?? []
        }
        let blocks = matrices.blocks, head = matrices.lmHead
        return GPT2Weights(base: self, blocks: blocks, lmHead: head, owning: buffers)
    }
}

extension GPT2Model {
    /// This model with its matrices quantised in memory (see `GPT2Weights.quantized(to:)`).
    public func quantized(to type: WeightQuantization, interleave: Bool = true) -> GPT2Model {
        GPT2Model(config: config, weights: weights.quantized(to: type, interleave: interleave), weightsPath: weightsPath, storageType: type.rawValue)
    }
}
