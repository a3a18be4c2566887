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
    /// wte: the V token rows, in any layout `embedTokens` reads (a tied wte is the LM head).
    public let tokenEmbedding: LinearWeight
    public let positionEmbedding: UnsafePointer<Float>  // wpe [P, C]
    public let blocks: [BlockWeights]
    public let finalNormWeight, finalNormBias: UnsafePointer<Float>  // ln_f [C]
    /// The LM head (C → V, rows of C): `lm_head.weight` if the file has its own, else tied to wte.
    public let lmHead: LinearWeight
    /// Rows of wpe (n_positions).
    public let positions: Int
    /// Whether the LM head is the token embedding (no `lm_head.weight` / `output.weight` in the
    /// file), even where the two are stored apart after packing or quantisation.
    public let lmHeadIsTied: Bool
    /// Keeps the mapping and any converted tensors alive.
    private let owners: [AnyObject]

    /// Assembles weights whose memory `owners` keep alive (mappings, converted buffers).
    init(tokenEmbedding: LinearWeight, positionEmbedding: UnsafePointer<Float>, blocks: [BlockWeights],
         finalNormWeight: UnsafePointer<Float>, finalNormBias: UnsafePointer<Float>, lmHead: LinearWeight,
         lmHeadIsTied: Bool, positions: Int, owners: [AnyObject]) {
        self.tokenEmbedding = tokenEmbedding
        self.positionEmbedding = positionEmbedding
        self.blocks = blocks
        self.finalNormWeight = finalNormWeight
        self.finalNormBias = finalNormBias
        self.lmHead = lmHead
        self.lmHeadIsTied = lmHeadIsTied
        self.positions = positions
        self.owners = owners
    }

    /// A copy of `base` with other matrices (see `quantized(to:)`).
    convenience init(base: GPT2Weights, blocks: [BlockWeights], lmHead: LinearWeight, owning buffers: [AnyObject]) {
        self.init(
            tokenEmbedding: base.tokenEmbedding, positionEmbedding: base.positionEmbedding, blocks: blocks,
            finalNormWeight: base.finalNormWeight, finalNormBias: base.finalNormBias, lmHead: lmHead,
            lmHeadIsTied: base.lmHeadIsTied, positions: base.positions, owners: [base] + buffers)
    }

    /// Bytes of the parameters in the layouts the model runs on: every matrix's `byteCount`
    /// (wte once when the head is that very storage) and the fp32 vectors and wpe. What load
    /// dropped (mapped originals, converted copies) and allocation rounding are not counted.
    public var parameterBytes: Int {
        let C = tokenEmbedding.inputs
        var floats = positions * C + 2 * C
        var bytes = 0
        for b in blocks {
            floats += 2 * C + b.qkv.outputs + b.attnProj.outputs + 2 * C + b.fc.outputs + b.fcProj.outputs
            bytes += b.qkv.byteCount + b.attnProj.byteCount + b.fc.byteCount + b.fcProj.byteCount
        }
        bytes += lmHead.byteCount
        if tokenEmbedding.storage != lmHead.storage { bytes += tokenEmbedding.byteCount }
        return bytes + floats * MemoryLayout<Float>.size
    }

    /// Loads every GPT-2 parameter from a safetensors file. Names may carry the `transformer.`
    /// prefix (what transformers writes) or not (OpenAI's published checkpoints); the causal-mask
    /// buffers `h.N.attn.bias` / `h.N.attn.masked_bias` are ignored, any other tensor the config
    /// does not explain is an error.
    ///
    /// With `pack` (the default) every matrix, the LM head and wte included, is copied once into
    /// the packed layout (`LinearWeight.packed`, huge pages) and the mapped originals are released
    /// from memory, so the resident weights stay about the size of the fp32 checkpoint; a tied
    /// wte is looked up in the packed LM head. The vectors are copied too: the weights then own
    /// all their memory, and the run no longer depends on the file (which may change or be
    /// truncated under it). Without `pack` the weights are views of the file as stored.
    public convenience init(file: SafetensorsFile, config: GPT2Config, pack: Bool = true) throws {
        let C = config.nEmbd, I = config.nInner, V = config.vocabSize, P = config.nPositions
        let names = file.tensors.map { $0.name.hasPrefix("transformer.") ? String($0.name.dropFirst(12)) : $0.name }
        var seen: Set<String> = []
        if let twice = names.first(where: { !seen.insert($0).inserted }) {
            throw GPT2Error.invalidModelFile(path: file.path, problem: "tensor \"\(twice)\" is there both with and without the \"transformer.\" prefix")
        }
        try Self.checkLayerCount(names, layerPrefix: "h.", declared: config.nLayer, key: "n_layer", path: file.path)
        var used: Set<String> = []
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
            used.insert(name)
            let floats = try file.floats(info)
            if matrix && pack { transient.append(floats); return floats.pointer }
            let kept = pack ? floats.owned() : floats
            storage.append(kept)
            return kept.pointer
        }
        let tokenEmbedding = LinearWeight.outputMajor(try tensor("wte.weight", [V, C], matrix: true), K: C, N: V)
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
        let tied = file["lm_head.weight"] == nil
        let head = tied ? tokenEmbedding : .outputMajor(try tensor("lm_head.weight", [V, C], matrix: true), K: C, N: V)
        // OpenAI's checkpoints carry the causal-mask buffers; they are not parameters.
        try Self.checkNoExtraTensors(names, used: used, path: file.path) { name in
            name.hasPrefix("h.") && (name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias"))
        }
        var matrices = Matrices(blocks: blocks, lmHead: head, untiedTokenEmbedding: tied ? nil : tokenEmbedding)
        var owners: [AnyObject] = storage.map(\.owner)
        if pack {
            // The packed copies replace the originals: each matrix's pages (mapped, or converted
            // from F16/BF16) leave this process's memory as soon as it is packed, so that the
            // peak stays near one copy; the converted buffers themselves are freed on return.
            let buffer: HugePageBuffer<Float>?
            (matrices.all, buffer) = Self.packMatrices(matrices.all, releasing: Set(transient.map(\.pointer)))
            owners += buffer.map { [$0] } ?? []
        }
        self.init(
            tokenEmbedding: matrices.tokenEmbedding, positionEmbedding: positionEmbedding,
            blocks: matrices.blocks, finalNormWeight: finalNormWeight, finalNormBias: finalNormBias, lmHead: matrices.lmHead,
            lmHeadIsTied: tied, positions: P, owners: owners)
    }

    /// Copies every fp32 matrix (`.inputMajor`, `.outputMajor`) into one huge-page buffer in the
    /// packed layout; returns the matrices, packed ones pointing into it, and the buffer (nil when
    /// none was fp32). The originals in `releasing` (views of a mapping, or converted copies
    /// about to be freed) are released from memory (`MADV_DONTNEED`) as soon as they are packed.
    static func packMatrices(_ matrices: [LinearWeight], releasing: Set<UnsafePointer<Float>>) -> ([LinearWeight], HugePageBuffer<Float>?) {
        var total = 0
        for case let .inputMajor(_, K, N) in matrices { total += packedCount(K: K, N: N) }
        for case let .outputMajor(_, K, N) in matrices { total += packedCount(K: K, N: N) }
        guard total > 0 else { return (matrices, nil) }
        let buffer = HugePageBuffer<Float>(count: total)
        var offset = 0
        let packed = matrices.map { weight -> LinearWeight in
            let dst = buffer.pointer + offset
            let K = weight.inputs, N = weight.outputs
            switch weight {
            case let .inputMajor(w, _, _), let .outputMajor(w, _, _):
                let inputMajor: Bool
                if case .inputMajor = weight { inputMajor = true } else { inputMajor = false }
                // Packing is a strided copy of ~500 MB (124M) that also takes the huge pages'
                // first-touch faults: each matrix's panels are split across every CPU.
                parallelFor((N + packedPanelWidth - 1) / packedPanelWidth) { panels in
                    if inputMajor { packInputMajor(dst, w, K: K, N: N, panels: panels) } else { packOutputMajor(dst, w, K: K, N: N, panels: panels) }
                }
                if releasing.contains(w) { releaseMappedPages(UnsafeRawPointer(w), bytes: K * N * 4) }
            case .packed, .q8_0, .q8_0Interleaved: return weight
            }
            offset += packedCount(K: K, N: N)
            return .packed(UnsafePointer(dst), K: K, N: N)
        }
        return (packed, buffer)
    }

    /// Checks that the file holds the layers `declared` (by its config) and no others, before
    /// anything is sized by the declared count: a config that says fewer layers than the file
    /// holds would otherwise run a truncated model without a word. `names` are the tensor names
    /// (without "transformer."), layers named `layerPrefix` + index + ".".
    static func checkLayerCount(_ names: [String], layerPrefix: String, declared: Int, key: String, path: String) throws {
        let layers = Set(names.compactMap { name -> Int? in
            guard name.hasPrefix(layerPrefix) else { return nil }
            return Int(name.dropFirst(layerPrefix.count).prefix { $0 != "." })
        })
        guard layers != Set(0..<declared) else { return }
        let held = layers.isEmpty ? "no layer tensors"
            : layers.count == layers.max()! + 1 ? "tensors of \(layers.count) layers (\(layerPrefix)0 … \(layerPrefix)\(layers.max()!))"
            : "tensors of layers \(layers.sorted().prefix(8).map(String.init).joined(separator: ", "))\(layers.count > 8 ? ", …" : "")"
        throw GPT2Error.invalidModelFile(path: path, problem: "\(key) is \(declared), but the file holds \(held)")
    }

    /// Every tensor of the file must be a parameter the model used, or one that `ignored` names.
    static func checkNoExtraTensors(_ names: [String], used: Set<String>, path: String, ignored: (String) -> Bool = { _ in false }) throws {
        if let extra = names.first(where: { !used.contains($0) && !ignored($0) }) {
            throw GPT2Error.invalidModelFile(path: path, problem: "unexpected tensor \"\(extra)\": not a GPT-2 parameter")
        }
    }
}

/// Every matrix of the model as one list, for the load-time passes that convert them all (fp32
/// packing, Q8_0 interleaving): the blocks' four, the LM head, and the token embedding when it
/// is stored apart from the head. A tied embedding is the head itself.
struct Matrices {
    var blocks: [BlockWeights]
    var lmHead: LinearWeight
    var untiedTokenEmbedding: LinearWeight?

    var tokenEmbedding: LinearWeight { untiedTokenEmbedding ?? lmHead }

    var all: [LinearWeight] {
        get { blocks.flatMap { [$0.qkv, $0.attnProj, $0.fc, $0.fcProj] } + [lmHead] + (untiedTokenEmbedding.map { [$0] } ?? []) }
        set {
            for l in blocks.indices {
                blocks[l].qkv = newValue[4 * l]; blocks[l].attnProj = newValue[4 * l + 1]
                blocks[l].fc = newValue[4 * l + 2]; blocks[l].fcProj = newValue[4 * l + 3]
            }
            lmHead = newValue[4 * blocks.count]
            if untiedTokenEmbedding != nil { untiedTokenEmbedding = newValue[4 * blocks.count + 1] }
        }
    }
}
