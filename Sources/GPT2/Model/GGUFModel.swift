import Foundation
import Kernels
import GPT2Runtime
import ModelIO
import Tokenizer

// GPT-2 from a GGUF file, as llama.cpp's convert_hf_to_gguf.py writes it (and `gpt2 quantize`):
// config from the gpt2.* keys, tensors named token_embd, position_embd, blk.N.*, output_norm
// (optional output.weight), matrices stored as N rows of K (ne = [K, N]), tokenizer from
// tokenizer.ggml.tokens + tokenizer.ggml.merges.

extension GPT2Config {
    /// Reads the hyper-parameters from a GGUF file's `gpt2.*` metadata; the vocabulary size is
    /// token_embd's row count. Throws `GPT2Error.invalidConfig` naming the file and key.
    public init(gguf: GGUFFile) throws {
        func fail(_ why: String) -> GPT2Error { .invalidConfig(source: gguf.path, reason: why) }
        guard let architecture = gguf[key: "general.architecture"]?.stringValue else {
            throw fail("no general.architecture string")
        }
        guard architecture == "gpt2" else {
            throw fail("general.architecture is \(architecture.debugDescription), only \"gpt2\" is supported")
        }
        func integer(_ key: String, default value: Int? = nil) throws -> Int {
            guard let raw = gguf[key: key] else {
                if let value { return value }
                throw fail("missing key \(key)")
            }
            guard let int = raw.intValue else { throw fail("\(key) is \(raw.type), not an integer") }
            return int
        }
        guard let wte = gguf["token_embd.weight"], wte.ne.count == 2 else {
            throw fail("no 2-D token_embd.weight tensor to take the vocabulary size from")
        }
        // Every token id the tokenizer can produce needs a row of token_embd.
        if case .array(let tokens)? = gguf[key: "tokenizer.ggml.tokens"], tokens.count != wte.ne[1] {
            throw fail("token_embd.weight has \(wte.ne[1]) rows but tokenizer.ggml.tokens holds \(tokens.count) tokens; they must agree")
        }
        let nEmbd = try integer("gpt2.embedding_length")
        var epsilon: Float = 1e-5
        if let raw = gguf[key: "gpt2.attention.layer_norm_epsilon"] {
            guard let value = raw.doubleValue else { throw fail("gpt2.attention.layer_norm_epsilon is \(raw.type), not a number") }
            epsilon = Float(value)
        }
        self.init(
            nLayer: try integer("gpt2.block_count"), nHead: try integer("gpt2.attention.head_count"), nEmbd: nEmbd,
            nPositions: try integer("gpt2.context_length"), vocabSize: wte.ne[1],
            nInner: try integer("gpt2.feed_forward_length", default: 4 * nEmbd), layerNormEpsilon: epsilon)
        try validate(source: gguf.path)
    }
}

extension GPT2Weights {
    /// Loads every GPT-2 parameter from a GGUF file. Vectors and position_embd: F32 or F16.
    /// Matrices: F32, F16 or Q8_0. Every shape is checked against `config`, and every tensor of
    /// the file must be one of these.
    ///
    /// The F32 and F16 matrices are packed as safetensors ones are (`.packed`) and the Q8_0
    /// matrices repacked into the int8 kernels' interleaved layout (`.q8_0Interleaved`), the LM
    /// head and token_embd included (a tied token_embd is looked up in the head), with their
    /// mapped originals released; the vectors are copied. The weights own all their memory and
    /// the run no longer depends on the file.
    public convenience init(gguf: GGUFFile, config: GPT2Config) throws {
        let C = config.nEmbd, I = config.nInner, V = config.vocabSize, P = config.nPositions
        let path = gguf.path
        let names = gguf.tensors.map(\.name)
        try Self.checkLayerCount(names, layerPrefix: "blk.", declared: config.nLayer, key: "gpt2.block_count", path: path)
        let arena = VectorArena(config: config)
        var used: Set<String> = []
        /// fp32 matrices (views of the mapping or converted copies) held until they are packed.
        var transient: [FloatTensor] = []
        func info(_ name: String, _ ne: [Int]) throws -> GGUFTensorInfo {
            guard let info = gguf[name] else { throw GPT2Error.invalidModelFile(path: path, problem: "tensor \"\(name)\" is missing") }
            guard info.ne == ne else {
                throw GPT2Error.invalidModelFile(path: path, problem: "tensor \"\(name)\" has ne \(info.ne), but the gpt2.* metadata implies \(ne)")
            }
            used.insert(name)
            return info
        }
        func vector(_ name: String, _ ne: [Int]) throws -> UnsafePointer<Float> {
            let tensor = try info(name, ne)
            guard tensor.type == .f32 || tensor.type == .f16 else {
                throw GPT2Error.invalidModelFile(path: path, problem: "tensor \"\(name)\" has type \(tensor.type); only F32 and F16 are supported for it")
            }
            return arena.store(try gguf.floats(tensor))
        }
        /// N rows of K.
        func matrix(_ name: String, K: Int, N: Int) throws -> StoredMatrix {
            let tensor = try info(name, [K, N])
            switch tensor.type {
            case .f32, .f16:
                let floats = try gguf.floats(tensor)
                transient.append(floats)
                return .outputMajor(floats.pointer, K: K, N: N)
            case .q8_0:
                return .q8_0(gguf.rawBytes(of: tensor).baseAddress!, K: K, N: N)
            default:
                throw GPT2Error.invalidModelFile(path: path, problem: "tensor \"\(name)\" has type \(tensor.type); only F32, F16 and Q8_0 are supported")
            }
        }
        // Read in a fixed order (token_embd, position_embd, each layer's in turn, output_norm,
        // output), so that of several problems the same one is reported first.
        let tied = gguf["output.weight"] == nil
        let tokenEmbedding = try matrix("token_embd.weight", K: C, N: V)
        let positionEmbedding = try vector("position_embd.weight", [C, P])
        var stored: [StoredMatrix] = []
        let vectors = try (0..<config.nLayer).map { l in
            let p = "blk.\(l)."
            let v = [try vector(p + "attn_norm.weight", [C]), try vector(p + "attn_norm.bias", [C])]
            stored.append(try matrix(p + "attn_qkv.weight", K: C, N: 3 * C))
            let qkvBias = try vector(p + "attn_qkv.bias", [3 * C])
            stored.append(try matrix(p + "attn_output.weight", K: C, N: C))
            let v2 = [try vector(p + "attn_output.bias", [C]), try vector(p + "ffn_norm.weight", [C]), try vector(p + "ffn_norm.bias", [C])]
            stored.append(try matrix(p + "ffn_up.weight", K: C, N: I))
            let upBias = try vector(p + "ffn_up.bias", [I])
            stored.append(try matrix(p + "ffn_down.weight", K: I, N: C))
            return v + [qkvBias] + v2 + [upBias, try vector(p + "ffn_down.bias", [C])]
        }
        let finalNormWeight = try vector("output_norm.weight", [C])
        let finalNormBias = try vector("output_norm.bias", [C])
        stored += tied ? [tokenEmbedding] : [try matrix("output.weight", K: C, N: V), tokenEmbedding]
        try Self.checkNoExtraTensors(names, used: used, path: path)
        let (matrices, buffers) = withExtendedLifetime(transient) { Self.convert(stored, layers: config.nLayer) }
        let blocks = Self.blocks(vectors: vectors, matrices: matrices)
        self.init(tokenEmbedding: matrices.tokenEmbedding, positionEmbedding: positionEmbedding, blocks: blocks,
                  finalNormWeight: finalNormWeight, finalNormBias: finalNormBias, lmHead: matrices.lmHead,
                  lmHeadIsTied: tied, positions: P, owners: [arena] + buffers)
    }
}

extension GPT2Model {
    /// Whether `path` names a GGUF file (by extension).
    public static func isGGUF(_ path: String) -> Bool {
        path.lowercased().hasSuffix(".gguf")
    }

    /// Loads a GPT-2 GGUF file (F32, F16 or Q8_0 tensors) into the kernels' layouts (see
    /// `GPT2Weights.init(gguf:config:)`).
    public static func load(gguf path: String) throws -> GPT2Model {
        let gguf = try openGGUF(path)
        let config = try GPT2Config(gguf: gguf)
        let weights = try GPT2Weights(gguf: gguf, config: config)
        return GPT2Model(config: config, weights: weights, weightsPath: path,
                         storageType: gguf["token_embd.weight"]!.type.name.lowercased())
    }

    /// The tokenizer a GGUF file carries (`tokenizer.ggml.model` = gpt2, its tokens and merges).
    public static func loadTokenizer(gguf path: String) throws -> GPT2Tokenizer {
        try tokenizer(from: openGGUF(path))
    }

    static func openGGUF(_ path: String) throws -> GGUFFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw GPT2Error.modelNotFound(path: path, reason: "no such file or directory")
        }
        return try GGUFFile(path: path)
    }

    /// Builds the GPT-2 tokenizer from a GGUF file's tokenizer.ggml.* metadata.
    public static func tokenizer(from gguf: GGUFFile) throws -> GPT2Tokenizer {
        func fail(_ why: String) -> GPT2Error { .invalidModelFile(path: gguf.path, problem: why) }
        guard let model = gguf[key: "tokenizer.ggml.model"]?.stringValue else { throw fail("no tokenizer.ggml.model: the file carries no tokenizer") }
        guard model == "gpt2" else { throw fail("tokenizer.ggml.model is \(model.debugDescription); only the \"gpt2\" byte-level BPE is supported") }
        guard let tokens = gguf[key: "tokenizer.ggml.tokens"]?.stringArray else { throw fail("tokenizer.ggml.tokens is missing or not an array of strings") }
        guard let merges = gguf[key: "tokenizer.ggml.merges"]?.stringArray else { throw fail("tokenizer.ggml.merges is missing or not an array of strings") }
        return try GPT2Tokenizer(pieces: tokens, merges: merges, source: gguf.path)
    }
}
