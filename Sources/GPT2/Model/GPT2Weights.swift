import Kernels
import ModelIO
import GPT2Runtime

/// The parameters of one transformer block: vectors as fp32 pointers into storage its
/// `GPT2Weights` owns, matrices as `LinearWeight`s. Raw pointers: visible to this package's
/// modules (the executor, the profiler's cost model), not to users of the library.
package struct BlockWeights: @unchecked Sendable {
    package var ln1Weight, ln1Bias: UnsafePointer<Float>  // [C]
    package var qkv: LinearWeight                         // C → 3C
    package var qkvBias: UnsafePointer<Float>             // [3C]
    package var attnProj: LinearWeight                    // C → C
    package var attnProjBias: UnsafePointer<Float>        // [C]
    package var ln2Weight, ln2Bias: UnsafePointer<Float>  // [C]
    package var fc: LinearWeight                          // C → I
    package var fcBias: UnsafePointer<Float>              // [I]
    package var fcProj: LinearWeight                      // I → C
    package var fcProjBias: UnsafePointer<Float>          // [C]
}

/// All parameters of a GPT-2 model, validated against its config, in memory it owns (the file
/// is not read after the load). The raw views below are for this package's modules; the
/// public surface is the sizes and facts about them.
public final class GPT2Weights: @unchecked Sendable {
    /// wte: the V token rows, in any layout `embedTokens` reads (a tied wte is the LM head).
    package let tokenEmbedding: LinearWeight
    package let positionEmbedding: UnsafePointer<Float>  // wpe [P, C]
    package let blocks: [BlockWeights]
    package let finalNormWeight, finalNormBias: UnsafePointer<Float>  // ln_f [C]
    /// The LM head (C → V, rows of C): `lm_head.weight` if the file has its own, else tied to wte.
    package let lmHead: LinearWeight
    /// Rows of wpe (n_positions).
    public let positions: Int
    /// Whether the LM head is the token embedding (no `lm_head.weight` / `output.weight` in the
    /// file), even where the two are stored apart after packing or quantisation.
    public let lmHeadIsTied: Bool
    /// The buffers that hold the weights.
    private let owners: [AnyObject]

    /// Assembles weights whose memory `owners` keep alive.
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
    /// Every matrix, the LM head and wte included, is copied once into the packed layout
    /// (`LinearWeight.packed`, huge pages) and the mapped originals are released from memory, so
    /// the resident weights stay about the size of the fp32 checkpoint; a tied wte is looked up
    /// in the packed LM head. The vectors are copied too: the weights own all their memory, and
    /// the run no longer depends on the file (which may change or be truncated under it).
    public convenience init(file: SafetensorsFile, config: GPT2Config) throws {
        let C = config.nEmbd, I = config.nInner, V = config.vocabSize, P = config.nPositions
        let names = file.tensors.map { $0.name.hasPrefix("transformer.") ? String($0.name.dropFirst(12)) : $0.name }
        var seen: Set<String> = []
        if let twice = names.first(where: { !seen.insert($0).inserted }) {
            throw GPT2Error.invalidModelFile(path: file.path, problem: "tensor \"\(twice)\" is there both with and without the \"transformer.\" prefix")
        }
        try Self.checkLayerCount(names, layerPrefix: "h.", declared: config.nLayer, key: "n_layer", path: file.path)
        var used: Set<String> = []
        let arena = VectorArena(config: config)
        /// Matrices (mapped views or converted copies) that are only needed until they are packed.
        var transient: [FloatTensor] = []
        func floats(_ name: String, _ shape: [Int]) throws -> FloatTensor {
            guard let info = file["transformer." + name] ?? file[name] else {
                throw GPT2Error.missingTensor(file: file.file.path, name: name)
            }
            guard info.shape == shape else {
                throw GPT2Error.tensorShape(file: file.file.path, name: info.name, expected: shape, actual: info.shape)
            }
            used.insert(name)
            return try file.floats(info)
        }
        func vector(_ name: String, _ shape: [Int]) throws -> UnsafePointer<Float> {
            arena.store(try floats(name, shape))
        }
        /// Conv1D weights: [K, N]; wte and lm_head: [N, K].
        func matrix(_ name: String, K: Int, N: Int, inputMajor: Bool) throws -> StoredMatrix {
            let tensor = try floats(name, inputMajor ? [K, N] : [N, K])
            transient.append(tensor)
            return inputMajor ? .inputMajor(tensor.pointer, K: K, N: N) : .outputMajor(tensor.pointer, K: K, N: N)
        }
        // Read in a fixed order (wte, wpe, each layer's in turn, ln_f, lm_head), so that of several
        // problems the same one is reported first.
        let tied = file["lm_head.weight"] == nil
        let tokenEmbedding = try matrix("wte.weight", K: C, N: V, inputMajor: false)
        let positionEmbedding = try vector("wpe.weight", [P, C])
        var stored: [StoredMatrix] = []
        let vectors = try (0..<config.nLayer).map { l in
            let p = "h.\(l)."
            let v = [try vector(p + "ln_1.weight", [C]), try vector(p + "ln_1.bias", [C])]
            stored.append(try matrix(p + "attn.c_attn.weight", K: C, N: 3 * C, inputMajor: true))
            let qkvBias = try vector(p + "attn.c_attn.bias", [3 * C])
            stored.append(try matrix(p + "attn.c_proj.weight", K: C, N: C, inputMajor: true))
            let v2 = [try vector(p + "attn.c_proj.bias", [C]), try vector(p + "ln_2.weight", [C]), try vector(p + "ln_2.bias", [C])]
            stored.append(try matrix(p + "mlp.c_fc.weight", K: C, N: I, inputMajor: true))
            let fcBias = try vector(p + "mlp.c_fc.bias", [I])
            stored.append(try matrix(p + "mlp.c_proj.weight", K: I, N: C, inputMajor: true))
            return v + [qkvBias] + v2 + [fcBias, try vector(p + "mlp.c_proj.bias", [C])]
        }
        let finalNormWeight = try vector("ln_f.weight", [C])
        let finalNormBias = try vector("ln_f.bias", [C])
        stored += tied ? [tokenEmbedding] : [try matrix("lm_head.weight", K: C, N: V, inputMajor: false), tokenEmbedding]
        // OpenAI's checkpoints carry the causal-mask buffers; they are not parameters.
        try Self.checkNoExtraTensors(names, used: used, path: file.path) { name in
            name.hasPrefix("h.") && (name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias"))
        }
        // The packed copies replace the originals: each matrix's pages (mapped, or converted
        // from F16/BF16) leave this process's memory as soon as it is packed, so that the peak
        // stays near one copy; the converted buffers themselves are freed on return.
        let (matrices, buffers) = withExtendedLifetime(transient) { Self.convert(stored, layers: config.nLayer) }
        let blocks = Self.blocks(vectors: vectors, matrices: matrices)
        self.init(
            tokenEmbedding: matrices.tokenEmbedding, positionEmbedding: positionEmbedding,
            blocks: blocks, finalNormWeight: finalNormWeight, finalNormBias: finalNormBias, lmHead: matrices.lmHead,
            lmHeadIsTied: tied, positions: P, owners: [arena] + buffers)
    }

    /// Each layer's vectors (in load order: ln_1 weight and bias, qkv bias, attn_proj bias, ln_2
    /// weight and bias, mlp_up bias, mlp_down bias) joined with its converted matrices.
    static func blocks(vectors: [[UnsafePointer<Float>]], matrices: LoadedMatrices) -> [BlockWeights] {
        zip(vectors, matrices.blocks).map { v, m in
            BlockWeights(ln1Weight: v[0], ln1Bias: v[1], qkv: m.qkv, qkvBias: v[2], attnProj: m.attnProj, attnProjBias: v[3],
                         ln2Weight: v[4], ln2Bias: v[5], fc: m.fc, fcBias: v[6], fcProj: m.fcProj, fcProjBias: v[7])
        }
    }

    /// Converts the matrices of a checkpoint into the layouts the kernels run on, all fp32 ones
    /// into one huge-page buffer of packed panels, all Q8_0 ones into one of interleaved groups,
    /// each split across every CPU (a strided copy of ~500 MB for 124M, which also takes the huge
    /// pages' first-touch faults). Each original (a view of a mapping, or a converted copy about
    /// to be freed) is released from memory (`MADV_DONTNEED`) as soon as it is converted.
    /// `stored` is in `LoadedMatrices` order; returns the matrices and the buffers that own them.
    static func convert(_ stored: [StoredMatrix], layers: Int) -> (LoadedMatrices, [AnyObject]) {
        var floatCount = 0, q8Bytes = 0
        for matrix in stored {
            switch matrix {
            case let .inputMajor(_, K, N), let .outputMajor(_, K, N): floatCount += packedCount(K: K, N: N)
            case let .q8_0(_, K, N): q8Bytes += Q8Interleaved.byteCount(K: K, N: N)
            }
        }
        let floats = floatCount > 0 ? HugePageBuffer<Float>(count: floatCount) : nil
        let q8 = q8Bytes > 0 ? HugePageBuffer<UInt8>(count: q8Bytes) : nil
        var floatOffset = 0, q8Offset = 0
        let converted = stored.map { matrix -> LinearWeight in
            switch matrix {
            case let .inputMajor(w, K, N), let .outputMajor(w, K, N):
                let dst = floats!.pointer + floatOffset
                floatOffset += packedCount(K: K, N: N)
                let inputMajor: Bool
                if case .inputMajor = matrix { inputMajor = true } else { inputMajor = false }
                parallelFor((N + packedPanelWidth - 1) / packedPanelWidth) { panels in
                    if inputMajor { packInputMajor(dst, w, K: K, N: N, panels: panels) } else { packOutputMajor(dst, w, K: K, N: N, panels: panels) }
                }
                releaseMappedPages(UnsafeRawPointer(w), bytes: K * N * 4)
                return .packed(UnsafePointer(dst), K: K, N: N)
            case let .q8_0(rows, K, N):
                let dst = UnsafeMutableRawPointer(q8!.pointer + q8Offset)
                q8Offset += Q8Interleaved.byteCount(K: K, N: N)
                let groups = Q8Interleaved.groups(N: N)
                // Chunks of 16 groups: enough work per task, and each thread first-touches what it writes.
                parallelFor((groups + 15) / 16) { chunks in
                    Q8Interleaved.repack(dst, from: rows, K: K, N: N, groups: chunks.lowerBound * 16..<min(groups, chunks.upperBound * 16))
                }
                releaseMappedPages(rows, bytes: N * Q8_0.byteCount(K))
                return .q8_0Interleaved(UnsafeRawPointer(dst), K: K, N: N)
            }
        }
        return (LoadedMatrices(converted, layers: layers), [floats, q8].compactMap { $0 as AnyObject? })
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

/// A matrix as a checkpoint stores it, before load converts it (`GPT2Weights.convert`).
enum StoredMatrix {
    /// fp32 row-major [K, N]: GPT-2's Conv1D layout, as Hugging Face checkpoints store it.
    case inputMajor(UnsafePointer<Float>, K: Int, N: Int)
    /// fp32 row-major [N, K], one row per output: wte, lm_head, GGUF F32/F16 matrices.
    case outputMajor(UnsafePointer<Float>, K: Int, N: Int)
    /// GGML Q8_0: N rows of K/32 `block_q8_0` (fp16 scale + 32 int8, 34 bytes), as in GGUF.
    case q8_0(UnsafeRawPointer, K: Int, N: Int)
}

/// The converted matrices of a checkpoint: per layer qkv, attnProj, fc, fcProj; then the LM
/// head; then wte when it is stored apart from the head (a tied wte is the head itself).
struct LoadedMatrices {
    let all: [LinearWeight]
    let blocks: [(qkv: LinearWeight, attnProj: LinearWeight, fc: LinearWeight, fcProj: LinearWeight)]

    init(_ all: [LinearWeight], layers: Int) {
        self.all = all
        blocks = (0..<layers).map { (all[4 * $0], all[4 * $0 + 1], all[4 * $0 + 2], all[4 * $0 + 3]) }
    }

    var lmHead: LinearWeight { all[blocks.count * 4] }
    var tokenEmbedding: LinearWeight { all.count > blocks.count * 4 + 1 ? all[blocks.count * 4 + 1] : lmHead }
}

/// The fp32 vectors of a model (wpe, every norm and bias) in one buffer the weights own, each
/// 64-byte aligned, filled in load order: the vector half of the parameter arena (the matrices
/// live in the packed and interleaved buffers `convert` makes).
final class VectorArena {
    private let buffer: AlignedBuffer<Float>
    private var used = 0

    /// Sized for exactly the vectors `config` implies (the loaders check every shape first).
    init(config: GPT2Config) {
        let C = config.nEmbd
        let perLayer = [C, C, 3 * C, C, C, C, config.nInner, C]
        let sizes = [config.nPositions * C, C, C] + (0..<config.nLayer).flatMap { _ in perLayer }
        buffer = AlignedBuffer(count: sizes.reduce(0) { $0 + Self.padded($1) }, zeroed: false)
    }

    private static func padded(_ count: Int) -> Int { (count + 15) / 16 * 16 }

    /// Copies `tensor` into the arena; returns where it now lives.
    func store(_ tensor: FloatTensor) -> UnsafePointer<Float> {
        precondition(used + Self.padded(tensor.count) <= buffer.count, "more vector parameters than the config implies")
        let destination = buffer.pointer + used
        withExtendedLifetime(tensor.owner) { destination.update(from: tensor.pointer, count: tensor.count) }
        used += Self.padded(tensor.count)
        return UnsafePointer(destination)
    }
}
