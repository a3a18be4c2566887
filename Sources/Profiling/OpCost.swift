// How much arithmetic and memory traffic each op of the graph costs: the denominators of the
// GFLOP/s, GB/s and roofline columns of `gpt2 profile`, and the weight bytes of `gpt2 bench`.

import GPT2

/// Arithmetic and bytes moved by one call of an op.
public struct OpCost: Equatable, Sendable {
    /// Floating-point operations (a multiply-add counts 2).
    public var flops: Double
    /// Integer operations of the int8 kernels (a multiply-add counts 2): a Q8_0 matmul's dot
    /// products, which run against the int8 peak, not the fp32 one.
    public var intOps: Double
    /// Bytes read and written: weights plus activations (and the KV cache for attention).
    public var bytes: Double

    public init(flops: Double, intOps: Double = 0, bytes: Double) { self.flops = flops; self.intOps = intOps; self.bytes = bytes }

    /// All arithmetic, floating-point and integer: the numerator of the "GFLOP/s" (ops/s) column.
    public var operations: Double { flops + intOps }

    public static func + (a: OpCost, b: OpCost) -> OpCost {
        OpCost(flops: a.flops + b.flops, intOps: a.intOps + b.intOps, bytes: a.bytes + b.bytes)
    }

    /// The cost of `op` in block `layer` on `tokens` tokens whose first is at `position`.
    /// Matmuls: 2·M·K·N operations (integer ones for Q8_0 weights, floating-point otherwise),
    /// bytes = the weight's `byteCount` + bias + input and output activations. Attention: 4·C FLOPs per (query, key) pair, the K/V cache rows read once per
    /// token. Norms and the embedding: a few FLOPs per element, their inputs and outputs.
    public static func of(_ op: Op, layer: Int, tokens: Int, position: Int, model: GPT2Model) -> OpCost {
        let config = model.config, T = Double(tokens), C = Double(config.nEmbd), f = 4.0
        func linear(_ w: LinearWeight, accumulate: Bool = false) -> OpCost {
            let K = Double(w.inputs), N = Double(w.outputs)
            let activations = T * K + T * N * (accumulate ? 2 : 1) + N
            let operations = 2 * T * K * N, bytes = Double(w.byteCount) + activations * f
            switch w {
            case .q8_0Interleaved: return OpCost(flops: 0, intOps: operations, bytes: bytes)
            case .packed: return OpCost(flops: operations, bytes: bytes)
            }
        }
        let layerNorm = OpCost(flops: 8 * T * C, bytes: (2 * T * C + 2 * C) * f)
        switch op {
        case .embedding:
            return OpCost(flops: T * C, bytes: 3 * T * C * f)
        case .ln1, .ln2, .lnFinal:
            return layerNorm
        case .qkv:
            return linear(model.weights.blocks[layer].qkv)
        case .attention:
            // Query i (at position + i) attends to position + i + 1 keys.
            let pairs = T * Double(position) + T * (T + 1) / 2
            let cacheBytes = 2 * pairs * C * f  // K and V rows
            return OpCost(flops: 4 * C * pairs, bytes: cacheBytes + (3 * T * C + T * C) * f)
        case .attnProj:
            return linear(model.weights.blocks[layer].attnProj, accumulate: true)
        case .mlpUp:
            return linear(model.weights.blocks[layer].fc)
        case .mlpDown:
            return linear(model.weights.blocks[layer].fcProj, accumulate: true)
        case .lmHead:
            return linear(model.weights.lmHead)
        }
    }

    /// Sampling one token: a few passes over the logits.
    public static func sampling(model: GPT2Model) -> OpCost {
        let V = Double(model.config.vocabSize)
        return OpCost(flops: 2 * V, bytes: 4 * V)
    }
}

extension GPT2Model {
    /// Bytes of weights a decode step streams: every block matrix, the LM head, and the token and
    /// position embedding rows of the one token (biases and norm parameters are not counted:
    /// < 0.1% of GPT-2 124M).
    public var weightBytesPerToken: Int {
        let matrices = weights.blocks.reduce(0) { sum, b in
            sum + b.qkv.byteCount + b.attnProj.byteCount + b.fc.byteCount + b.fcProj.byteCount
        }
        return matrices + weights.lmHead.byteCount + 2 * config.nEmbd * MemoryLayout<Float>.size
    }
}
