import Kernels
import ModelIO
import GPT2Runtime

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
    /// Whether the LM head is the token embedding (no `lm_head.weight` / `output.weight` in the
    /// file), even where the two are stored apart after packing or quantisation.
    public let lmHeadIsTied: Bool
    /// Keeps the mapping and any converted tensors alive.
    private let owners: [AnyObject]

    /// Assembles weights whose memory `owners` keep alive (mappings, converted buffers).
    init(tokenEmbedding: LinearWeight, positionEmbedding: UnsafePointer<Float>, blocks: [BlockWeights],
         finalNormWeight: UnsafePointer<Float>, finalNormBias: UnsafePointer<Float>, lmHead: LinearWeight,
         lmHeadIsTied: Bool, parameterBytes: Int, owners: [AnyObject]) {
        self.tokenEmbedding = tokenEmbedding
        self.positionEmbedding = positionEmbedding
        self.blocks = blocks
        self.finalNormWeight = finalNormWeight
        self.finalNormBias = finalNormBias
        self.lmHead = lmHead
        self.lmHeadIsTied = lmHeadIsTied
        self.parameterBytes = parameterBytes
        self.owners = owners
    }

    /// A copy of `base` with other matrices (see `quantized(to:)`).
    convenience init(base: GPT2Weights, blocks: [BlockWeights], lmHead: LinearWeight, owning buffers: [AnyObject], parameterBytes: Int) {
        self.init(
            tokenEmbedding: base.tokenEmbedding, positionEmbedding: base.positionEmbedding, blocks: blocks,
            finalNormWeight: base.finalNormWeight, finalNormBias: base.finalNormBias, lmHead: lmHead,
            lmHeadIsTied: base.lmHeadIsTied, parameterBytes: parameterBytes, owners: [base] + buffers)
    }

    /// Loads every GPT-2 parameter from a safetensors file. Names may carry the `transformer.`
    /// prefix (what transformers writes) or not (OpenAI's published checkpoints); the causal-mask
    /// buffers `h.N.attn.bias` / `h.N.attn.masked_bias` and other extra tensors are ignored.
    ///
    /// With `pack` (the default) every matrix, the LM head included, is copied once into the
    /// packed layout (`LinearWeight.packed`, huge pages) and the mapped originals are released
    /// from memory, so the resident weights stay about the size of the fp32 checkpoint.
    public convenience init(file: SafetensorsFile, config: GPT2Config, pack: Bool = true) throws {
        let C = config.nEmbd, I = config.nInner, V = config.vocabSize, P = config.nPositions
        var storage: [FloatTensor] = []
        /// Matrices that are only needed until they are packed.
        var transient: [FloatTensor] = []
        func tensor(_ name: String, _ shape: [Int], matrix: Bool = false) throws -> UnsafePointer<Float> {
            guard let info = file["transformer." + name] ?? file[name] else {
                throw GPT2Error.missingTensor(file: file.file.path, name: name)
            }
            guard info.shape == shape else {
                throw GPT2Error.tensorShape(file: file.file.path, name: info.name, expected: shape, actual: info.shape)
            }
            let floats = try file.floats(info)
            if matrix && pack { transient.append(floats) } else { storage.append(floats) }
            return floats.pointer
        }
        let tokenEmbedding = try tensor("wte.weight", [V, C])
        let positionEmbedding = try tensor("wpe.weight", [P, C])
        let blocks = try (0..<config.nLayer).map { l in
            let p = "h.\(l)."
            return BlockWeights(
                ln1Weight: try tensor(p + "ln_1.weight", [C]), ln1Bias: try tensor(p + "ln_1.bias", [C]),
                qkv: .inputMajor(try tensor(p + "attn.c_attn.weight", [C, 3 * C], matrix: true), K: C, N: 3 * C),
                qkvBias: try tensor(p + "attn.c_attn.bias", [3 * C]),
                attnProj: .inputMajor(try tensor(p + "attn.c_proj.weight", [C, C], matrix: true), K: C, N: C),
                attnProjBias: try tensor(p + "attn.c_proj.bias", [C]),
                ln2Weight: try tensor(p + "ln_2.weight", [C]), ln2Bias: try tensor(p + "ln_2.bias", [C]),
                fc: .inputMajor(try tensor(p + "mlp.c_fc.weight", [C, I], matrix: true), K: C, N: I),
                fcBias: try tensor(p + "mlp.c_fc.bias", [I]),
                fcProj: .inputMajor(try tensor(p + "mlp.c_proj.weight", [I, C], matrix: true), K: I, N: C),
                fcProjBias: try tensor(p + "mlp.c_proj.bias", [C]))
        }
        let finalNormWeight = try tensor("ln_f.weight", [C])
        let finalNormBias = try tensor("ln_f.bias", [C])
        let head = file["lm_head.weight"] != nil ? try tensor("lm_head.weight", [V, C], matrix: true) : tokenEmbedding
        var packedBlocks = blocks, lmHead = LinearWeight.outputMajor(head, K: C, N: V)
        var owners: [AnyObject] = storage.map(\.owner)
        if pack {
            // The packed copies replace the originals: each matrix's mapped pages (views) leave
            // this process's memory as soon as it is packed, so that the peak stays near one
            // copy; converted copies in `transient` are freed on return. wte stays mapped for
            // the embedding lookup, which brings back only the rows of tokens seen.
            let mapped = Set((transient + storage).filter(\.isMappedView).map(\.pointer))
            let buffer: HugePageBuffer<Float>
            (packedBlocks, lmHead, buffer) = Self.packMatrices(blocks, lmHead: lmHead, releasing: mapped)
            owners.append(buffer)
        }
        self.init(
            tokenEmbedding: .outputMajor(tokenEmbedding, K: C, N: V), positionEmbedding: positionEmbedding,
            blocks: packedBlocks, finalNormWeight: finalNormWeight, finalNormBias: finalNormBias, lmHead: lmHead,
            lmHeadIsTied: file["lm_head.weight"] == nil, parameterBytes: (storage + transient).reduce(0) { $0 + $1.count * 4 }, owners: owners)
    }

    /// Copies every fp32 matrix into one huge-page buffer in the packed layout; returns the
    /// `LinearWeight`s pointing into it and the buffer that owns them.
    static func packMatrices(
        _ blocks: [BlockWeights], lmHead: LinearWeight, releasing mapped: Set<UnsafePointer<Float>>
    ) -> ([BlockWeights], LinearWeight, HugePageBuffer<Float>) {
        let matrices = blocks.flatMap { [$0.qkv, $0.attnProj, $0.fc, $0.fcProj] } + [lmHead]
        let total = matrices.reduce(0) { $0 + packedCount(K: $1.inputs, N: $1.outputs) }
        let buffer = HugePageBuffer<Float>(count: total)
        var offset = 0
        func packed(_ weight: LinearWeight) -> LinearWeight {
            let dst = buffer.pointer + offset
            switch weight {
            case let .inputMajor(w, K, N), let .outputMajor(w, K, N):
                let inputMajor: Bool
                if case .inputMajor = weight { inputMajor = true } else { inputMajor = false }
                // Packing is a strided copy of ~500 MB (124M) that also takes the huge pages'
                // first-touch faults: each matrix's panels are split across every CPU.
                parallelFor((N + packedPanelWidth - 1) / packedPanelWidth) { panels in
                    if inputMajor { packInputMajor(dst, w, K: K, N: N, panels: panels) } else { packOutputMajor(dst, w, K: K, N: N, panels: panels) }
                }
                if mapped.contains(w) { releaseMappedPages(UnsafeRawPointer(w), bytes: K * N * 4) }
            case .packed, .q8_0, .q8_0Interleaved: return weight
            }
            offset += packedCount(K: weight.inputs, N: weight.outputs)
            return .packed(UnsafePointer(dst), K: weight.inputs, N: weight.outputs)
        }
        let packedBlocks = blocks.map { b in
            var p = b
            p.qkv = packed(b.qkv); p.attnProj = packed(b.attnProj); p.fc = packed(b.fc); p.fcProj = packed(b.fcProj)
            return p
        }
        return (packedBlocks, packed(lmHead), buffer)
    }
}
