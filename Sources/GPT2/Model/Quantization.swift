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
    /// fp32. The Q8_0 matrices are made in the int8 kernels' interleaved layout
    /// (`.q8_0Interleaved`), as a Q8_0 GGUF file loads, in one huge-page buffer. The tied LM head
    /// gets its own quantised copy (the embedding lookup keeps wte in fp32).
    public func quantized(to type: WeightQuantization) -> GPT2Weights {
        let K32 = { (w: LinearWeight) in w.inputs % Q8_0.blockSize == 0 }
        var matrices = blocks.flatMap { [$0.qkv, $0.attnProj, $0.fc, $0.fcProj] } + [lmHead]
        let total = matrices.filter { K32($0) && $0.isPacked }.reduce(0) { $0 + Q8Interleaved.byteCount(K: $1.inputs, N: $1.outputs) }
        guard total > 0 else { return GPT2Weights(base: self, blocks: blocks, lmHead: lmHead, owning: []) }
        let buffer = HugePageBuffer<UInt8>(count: total)
        var offset = 0
        matrices = matrices.map { weight in
            guard case .packed = weight, K32(weight) else { return weight }
            let K = weight.inputs, N = weight.outputs
            let dst = UnsafeMutableRawPointer(buffer.pointer + offset)
            offset += Q8Interleaved.byteCount(K: K, N: N)
            // Per group of 8 rows: quantise them as GGML rows, then interleave that one group.
            parallelFor(Q8Interleaved.groups(N: N)) { groups in
                let rowBytes = Q8_0.byteCount(K)
                let floats = UnsafeMutablePointer<Float>.allocate(capacity: K)
                let rows = UnsafeMutableRawPointer.allocate(byteCount: Q8Interleaved.rows * rowBytes, alignment: 64)
                defer { floats.deallocate(); rows.deallocate() }
                for g in groups {
                    let first = g * Q8Interleaved.rows, count = min(Q8Interleaved.rows, N - first)
                    for r in 0..<count {
                        weight.row(first + r, into: floats)
                        Q8_0.quantize(floats, into: rows + r * rowBytes, count: K)
                    }
                    Q8Interleaved.repack(dst + g * Q8Interleaved.groupBytes(K: K), from: rows, K: K, N: count, groups: 0..<1)
                }
            }
            return .q8_0Interleaved(UnsafeRawPointer(dst), K: K, N: N)
        }
        let L = blocks.count
        let quantizedBlocks = (0..<L).map { l in
            var b = blocks[l]
            (b.qkv, b.attnProj, b.fc, b.fcProj) = (matrices[4 * l], matrices[4 * l + 1], matrices[4 * l + 2], matrices[4 * l + 3])
            return b
        }
        return GPT2Weights(base: self, blocks: quantizedBlocks, lmHead: matrices[4 * L], owning: [buffer])
    }
}

extension LinearWeight {
    /// Whether this is an fp32 matrix (the packed layout).
    var isPacked: Bool {
        if case .packed = self { return true }
        return false
    }
}

extension GPT2Model {
    /// This model with its matrices quantised in memory (see `GPT2Weights.quantized(to:)`).
    public func quantized(to type: WeightQuantization) -> GPT2Model {
        GPT2Model(config: config, weights: weights.quantized(to: type), weightsPath: weightsPath, storageType: type.rawValue)
    }
}
