import Foundation

/// The hyper-parameters of a GPT-2 model, as Hugging Face's `config.json` states them.
public struct GPT2Config: Sendable, Equatable {
    /// Transformer blocks.
    public var nLayer: Int
    /// Attention heads per block.
    public var nHead: Int
    /// Width of the residual stream (C).
    public var nEmbd: Int
    /// Longest sequence the position embedding covers.
    public var nPositions: Int
    /// Number of tokens (V).
    public var vocabSize: Int
    /// Hidden width of the MLP; 4·C in every GPT-2.
    public var nInner: Int
    public var layerNormEpsilon: Float
    /// Divide attention scores by √(head size); true for every published GPT-2.
    public var scaleAttentionWeights: Bool

    public init(
        nLayer: Int, nHead: Int, nEmbd: Int, nPositions: Int = 1024, vocabSize: Int = 50257,
        nInner: Int? = nil, layerNormEpsilon: Float = 1e-5, scaleAttentionWeights: Bool = true
    ) {
        self.nLayer = nLayer
        self.nHead = nHead
        self.nEmbd = nEmbd
        self.nPositions = nPositions
        self.vocabSize = vocabSize
        self.nInner = nInner ?? Self.defaultInner(nEmbd: nEmbd)
        self.layerNormEpsilon = layerNormEpsilon
        self.scaleAttentionWeights = scaleAttentionWeights
    }

    /// GPT-2's MLP width for a residual width: 4·C (saturating, so that an absurd C is reported by
    /// `validate` instead of trapping here).
    public static func defaultInner(nEmbd: Int) -> Int {
        let (inner, overflow) = nEmbd.multipliedReportingOverflow(by: 4)
        return overflow ? Int.max : inner
    }

    /// Size of one attention head.
    public var headSize: Int { nEmbd / nHead }

    /// Number of parameters (weights, biases, embeddings; the tied LM head counted once).
    public var parameterCount: Int {
        let C = nEmbd, I = nInner
        let perLayer = 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * I + I) + (I * C + C)
        return vocabSize * C + nPositions * C + nLayer * perLayer + 2 * C
    }

    /// The four published sizes.
    public static let presets: [(name: String, config: GPT2Config)] = [
        ("gpt2", GPT2Config(nLayer: 12, nHead: 12, nEmbd: 768)),
        ("gpt2-medium", GPT2Config(nLayer: 24, nHead: 16, nEmbd: 1024)),
        ("gpt2-large", GPT2Config(nLayer: 36, nHead: 20, nEmbd: 1280)),
        ("gpt2-xl", GPT2Config(nLayer: 48, nHead: 25, nEmbd: 1600)),
    ]

    /// The published configuration called `name` (gpt2, gpt2-medium, gpt2-large, gpt2-xl).
    public static func preset(_ name: String) -> GPT2Config? {
        presets.first { $0.name == name }?.config
    }

    /// Checks the values are usable; throws `GPT2Error.invalidConfig` otherwise.
    public func validate(source: String = "config") throws {
        func fail(_ why: String) -> GPT2Error { .invalidConfig(source: source, reason: why) }
        // Limits far above any GPT-2 (gpt2-xl: 48 layers, 25 heads, 1600 wide, 1024 positions,
        // 50257 tokens) and low enough that every size derived from them (parameters, KV cache,
        // activations) fits in an Int.
        let limits = [("n_layer", nLayer, 1 << 12), ("n_head", nHead, 1 << 12), ("n_embd", nEmbd, 1 << 16),
                      ("n_positions", nPositions, 1 << 20), ("vocab_size", vocabSize, 1 << 24), ("n_inner", nInner, 1 << 18)]
        for (name, value, limit) in limits {
            if value <= 0 { throw fail("\(name) must be positive, got \(value)") }
            if value > limit { throw fail("\(name) is \(value), more than the \(limit) this runtime accepts") }
        }
        if nEmbd % nHead != 0 { throw fail("n_embd (\(nEmbd)) is not a multiple of n_head (\(nHead))") }
        if !(layerNormEpsilon > 0 && layerNormEpsilon.isFinite) {
            throw fail("layer_norm_epsilon must be positive and finite, got \(layerNormEpsilon)")
        }
    }

    // MARK: - config.json

    /// Reads a Hugging Face `config.json`.
    public init(contentsOf path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw GPT2Error.invalidConfig(source: path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        try self.init(json: data, source: path)
    }

    /// Parses the JSON text of a Hugging Face GPT-2 `config.json`.
    public init(json: Data, source: String = "config.json") throws {
        func fail(_ why: String) -> GPT2Error { .invalidConfig(source: source, reason: why) }
        guard let object = try? JSONSerialization.jsonObject(with: json),
              let dict = object as? [String: Any] else {
            throw fail("not a JSON object")
        }
        func integer(_ key: String, default value: Int? = nil) throws -> Int {
            guard let raw = dict[key], !(raw is NSNull) else {
                if let value { return value }
                throw fail("missing key \"\(key)\"")
            }
            guard let number = raw as? NSNumber,
                  let int = Int(exactly: number.doubleValue) else {
                throw fail("\"\(key)\" must be an integer, got \(raw)")
            }
            return int
        }
        if let type = dict["model_type"] as? String, type != "gpt2" {
            throw fail("model_type is \"\(type)\", only \"gpt2\" is supported")
        }
        let activation = dict["activation_function"] as? String ?? "gelu_new"
        guard ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"].contains(activation) else {
            throw fail("activation_function \"\(activation)\" is not supported (GPT-2 uses gelu_new)")
        }
        if dict["scale_attn_by_inverse_layer_idx"] as? Bool == true {
            throw fail("scale_attn_by_inverse_layer_idx = true is not supported")
        }
        let nEmbd = try integer("n_embd")
        let epsilon = (dict["layer_norm_epsilon"] as? NSNumber)?.floatValue ?? 1e-5
        self.init(
            nLayer: try integer("n_layer"), nHead: try integer("n_head"), nEmbd: nEmbd,
            nPositions: try integer("n_positions", default: try integer("n_ctx", default: 1024)),
            vocabSize: try integer("vocab_size"),
            nInner: try integer("n_inner", default: Self.defaultInner(nEmbd: nEmbd)),
            layerNormEpsilon: epsilon,
            scaleAttentionWeights: dict["scale_attn_weights"] as? Bool ?? true)
        try validate(source: source)
    }

    /// The `config.json` Hugging Face's GPT2Config would write for these values (keys sorted,
    /// so the bytes are reproducible).
    public func jsonData() -> Data {
        let text = """
        {
          "activation_function": "gelu_new",
          "architectures": ["GPT2LMHeadModel"],
          "attn_pdrop": 0.0,
          "bos_token_id": 50256,
          "embd_pdrop": 0.0,
          "eos_token_id": 50256,
          "initializer_range": 0.02,
          "layer_norm_epsilon": \(layerNormEpsilon),
          "model_type": "gpt2",
          "n_ctx": \(nPositions),
          "n_embd": \(nEmbd),
          "n_head": \(nHead),
          "n_inner": \(nInner == 4 * nEmbd ? "null" : String(nInner)),
          "n_layer": \(nLayer),
          "n_positions": \(nPositions),
          "resid_pdrop": 0.0,
          "scale_attn_weights": \(scaleAttentionWeights),
          "vocab_size": \(vocabSize)
        }

        """
        return Data(text.utf8)
    }
}
