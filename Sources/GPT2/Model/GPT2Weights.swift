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
    public let tokenEmbedding: UnsafePointer<Float>     // wte [V, C]
    public let positionEmbedding: UnsafePointer<Float>  // wpe [P, C]
    public let blocks: [BlockWeights]
    public let finalNormWeight, finalNormBias: UnsafePointer<Float>  // ln_f [C]
    /// The LM head (C → V, rows of C): `lm_head.weight` if the file has its own, else tied to wte.
    public let lmHead: LinearWeight
    /// Bytes of fp32 parameter storage: mapped views and converted copies.
    public let parameterBytes: Int
    /// Keeps the mapping and any converted tensors alive.
    private let storage: [FloatTensor]
    /// Other owners of memory the pointers above point into (a quantised copy's source model
    /// and buffers).
    private let keepAlive: [AnyObject]

    /// A copy of `base` with other matrices (see `quantized(to:)`).
    init(base: GPT2Weights, blocks: [BlockWeights], lmHead: LinearWeight, owning buffers: [AnyObject], parameterBytes: Int) {
        tokenEmbedding = base.tokenEmbedding
        positionEmbedding = base.positionEmbedding
        self.blocks = blocks
        finalNormWeight = base.finalNormWeight
        finalNormBias = base.finalNormBias
        self.lmHead = lmHead
        self.parameterBytes = parameterBytes
        storage = []
        keepAlive = [base] + buffers
    }

    /// Loads every GPT-2 parameter from a safetensors file. Names may carry the `transformer.`
    /// prefix (what transformers writes) or not (OpenAI's published checkpoints); the causal-mask
    /// buffers `h.N.attn.bias` / `h.N.attn.masked_bias` and other extra tensors are ignored.
    public init(file: SafetensorsFile, config: GPT2Config) throws {
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
        tokenEmbedding = try tensor("wte.weight", [V, C])
        positionEmbedding = try tensor("wpe.weight", [P, C])
        blocks = try (0..<config.nLayer).map { l in
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
        finalNormWeight = try tensor("ln_f.weight", [C])
        finalNormBias = try tensor("ln_f.bias", [C])
        let head = file["lm_head.weight"] != nil ? try tensor("lm_head.weight", [V, C]) : tokenEmbedding
        lmHead = .outputMajor(head, K: C, N: V)
        self.storage = storage
        keepAlive = []
        parameterBytes = storage.reduce(0) { $0 + $1.count * 4 }
    }
}
