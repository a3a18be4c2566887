import ModelIO

/// The parameters of one transformer block: vectors as fp32 pointers into mapped or owned
/// storage, matrices as `LinearWeight`s.
public struct BlockWeights: @unchecked Sendable {
    public var ln1Weight, ln1Bias: UnsafePointer<Float>  // [C]
    public var qkv: LinearWeight                         // C → 3C
    public var qkvBias: UnsafePointer<Float>             // [3C]
    public var attnProj: LinearWeight                    // C → C
    public var attnProjBias: UnsafePointer<Float>        // [C]
    public var ln2Weight, ln2Bias: UnsafePointer<Float>  // [C]
    public var fc: LinearWeight                          // C → I
    public var fcBias: UnsafePointer<Float>              // [I]
    public var fcProj: LinearWeight                      // I → C
    public var fcProjBias: UnsafePointer<Float>          // [C]
}

/// All parameters of a GPT-2 model, validated against its config.
public final class GPT2Weights: @unchecked Sendable {
    /// wte: V rows of C, fp32 (`.outputMajor`) or Q8_0 (`.q8_0`, a Q8_0 GGUF's token_embd).
    public let tokenEmbedding: LinearWeight
    public let positionEmbedding: UnsafePointer<Float>  // wpe [P, C]
    public let blocks: [BlockWeights]
    public let finalNormWeight, finalNormBias: UnsafePointer<Float>  // ln_f [C]
    /// The LM head (C → V, rows of C): `lm_head.weight` if the file has its own, else tied to wte.
    public let lmHead: LinearWeight
    /// Bytes of parameter storage: mapped views and converted copies.
    public let parameterBytes: Int
    /// Keeps the mapping and any converted tensors alive.
    private let owners: [AnyObject]

    /// Assembles weights whose memory `owners` keep alive (mappings, converted buffers).
    init(tokenEmbedding: LinearWeight, positionEmbedding: UnsafePointer<Float>, blocks: [BlockWeights],
         finalNormWeight: UnsafePointer<Float>, finalNormBias: UnsafePointer<Float>, lmHead: LinearWeight,
         parameterBytes: Int, owners: [AnyObject]) {
        self.tokenEmbedding = tokenEmbedding
        self.positionEmbedding = positionEmbedding
        self.blocks = blocks
        self.finalNormWeight = finalNormWeight
        self.finalNormBias = finalNormBias
        self.lmHead = lmHead
        self.parameterBytes = parameterBytes
        self.owners = owners
    }

    /// A copy of `base` with other matrices (see `quantized(to:)`).
    convenience init(base: GPT2Weights, blocks: [BlockWeights], lmHead: LinearWeight, owning buffers: [AnyObject], parameterBytes: Int) {
        self.init(
            tokenEmbedding: base.tokenEmbedding, positionEmbedding: base.positionEmbedding, blocks: blocks,
            finalNormWeight: base.finalNormWeight, finalNormBias: base.finalNormBias, lmHead: lmHead,
            parameterBytes: parameterBytes, owners: [base] + buffers)
    }

    /// Loads every GPT-2 parameter from a safetensors file. Names may carry the `transformer.`
    /// prefix (what transformers writes) or not (OpenAI's published checkpoints); the causal-mask
    /// buffers `h.N.attn.bias` / `h.N.attn.masked_bias` and other extra tensors are ignored.
    public convenience init(file: SafetensorsFile, config: GPT2Config) throws {
        let C = config.nEmbd, I = config.nInner, V = config.vocabSize, P = config.nPositions
        var storage: [FloatTensor] = []
        func tensor(_ name: String, _ shape: [Int]) throws -> UnsafePointer<Float> {
            guard let info = file["transformer." + name] ?? file[name] else {
                throw GPT2Error.missingTensor(file: file.file.path, name: name)
            }
            guard info.shape == shape else {
                throw GPT2Error.tensorShape(file: file.file.path, name: info.name, expected: shape, actual: info.shape)
            }
            let floats = try file.floats(info)
            storage.append(floats)
            return floats.pointer
        }
        let tokenEmbedding = try tensor("wte.weight", [V, C])
        let positionEmbedding = try tensor("wpe.weight", [P, C])
        let blocks = try (0..<config.nLayer).map { l in
            let p = "h.\(l)."
            return BlockWeights(
                ln1Weight: try tensor(p + "ln_1.weight", [C]), ln1Bias: try tensor(p + "ln_1.bias", [C]),
                qkv: .inputMajor(try tensor(p + "attn.c_attn.weight", [C, 3 * C]), K: C, N: 3 * C),
                qkvBias: try tensor(p + "attn.c_attn.bias", [3 * C]),
                attnProj: .inputMajor(try tensor(p + "attn.c_proj.weight", [C, C]), K: C, N: C),
                attnProjBias: try tensor(p + "attn.c_proj.bias", [C]),
                ln2Weight: try tensor(p + "ln_2.weight", [C]), ln2Bias: try tensor(p + "ln_2.bias", [C]),
                fc: .inputMajor(try tensor(p + "mlp.c_fc.weight", [C, I]), K: C, N: I),
                fcBias: try tensor(p + "mlp.c_fc.bias", [I]),
                fcProj: .inputMajor(try tensor(p + "mlp.c_proj.weight", [I, C]), K: I, N: C),
                fcProjBias: try tensor(p + "mlp.c_proj.bias", [C]))
        }
        let finalNormWeight = try tensor("ln_f.weight", [C])
        let finalNormBias = try tensor("ln_f.bias", [C])
        let head = file["lm_head.weight"] != nil ? try tensor("lm_head.weight", [V, C]) : tokenEmbedding
        self.init(
            tokenEmbedding: .outputMajor(tokenEmbedding, K: C, N: V), positionEmbedding: positionEmbedding,
            blocks: blocks, finalNormWeight: finalNormWeight, finalNormBias: finalNormBias,
            lmHead: .outputMajor(head, K: C, N: V),
            parameterBytes: storage.reduce(0) { $0 + $1.count * 4 }, owners: storage.map(\.owner))
    }
}
