import Foundation
import ModelIO
import Tokenizer

/// A loaded GPT-2: its config and weights. Immutable and shareable; inference state (KV cache,
/// activations, threads) lives in a `GPT2Session`.
public final class GPT2Model: Sendable {
    public let config: GPT2Config
    public let weights: GPT2Weights
    /// The file the weights came from.
    public let weightsPath: String
    /// Storage type of the matrices in the file ("f32", "f16", "bf16"), for reports.
    public let storageType: String

    public init(config: GPT2Config, weights: GPT2Weights, weightsPath: String, storageType: String) {
        self.config = config
        self.weights = weights
        self.weightsPath = weightsPath
        self.storageType = storageType
    }

    /// Loads a model from a Hugging Face checkpoint directory (`config.json` + `model.safetensors`)
    /// or from a `.safetensors` file (with `config.json` beside it, or the config inferred from
    /// the tensor shapes for the four published sizes), or from a `.gguf` file (F32, F16 or
    /// Q8_0; config and tokenizer from its metadata). The matrices are converted into the
    /// kernels' layouts (see `GPT2Weights.init(file:config:)` and `GPT2Weights.init(gguf:config:)`).
    public static func load(path: String) throws -> GPT2Model {
        if isGGUF(path) { return try load(gguf: path) }
        let files = try ModelFiles(path: path)
        let safetensors = try SafetensorsFile(path: files.weights)
        let config: GPT2Config
        if let configPath = files.config {
            config = try GPT2Config(contentsOf: configPath)
        } else {
            config = try inferConfig(from: safetensors)
        }
        let weights = try GPT2Weights(file: safetensors, config: config)
        let wte = safetensors["transformer.wte.weight"] ?? safetensors["wte.weight"]
        return GPT2Model(
            config: config, weights: weights, weightsPath: files.weights,
            storageType: wte?.dtype.rawValue.lowercased() ?? "f32")
    }

    /// Without a config.json: the shapes give n_layer, n_embd, n_positions and the vocabulary;
    /// the head count is only known for the published widths.
    static func inferConfig(from file: SafetensorsFile) throws -> GPT2Config {
        let path = file.file.path
        guard let wte = file["transformer.wte.weight"] ?? file["wte.weight"], wte.shape.count == 2,
              let wpe = file["transformer.wpe.weight"] ?? file["wpe.weight"], wpe.shape.count == 2 else {
            throw GPT2Error.invalidConfig(source: path, reason: "no config.json beside the file and no wte/wpe tensors to infer one from")
        }
        let C = wte.shape[1]
        let layers = Set(file.tensors.compactMap { info -> Int? in
            let name = info.name.hasPrefix("transformer.") ? String(info.name.dropFirst(12)) : info.name
            guard name.hasPrefix("h.") else { return nil }
            return Int(name.dropFirst(2).prefix { $0 != "." })
        })
        guard let preset = GPT2Config.presets.first(where: { $0.config.nEmbd == C }) else {
            throw GPT2Error.invalidConfig(
                source: path, reason: "no config.json beside the file, and n_embd \(C) is not a published GPT-2 width, so n_head is unknown")
        }
        return GPT2Config(nLayer: layers.count, nHead: preset.config.nHead, nEmbd: C,
                          nPositions: wpe.shape[0], vocabSize: wte.shape[0])
    }

    /// Loads the tokenizer that belongs to the model at `path`: `vocab.json` + `merges.txt` in the
    /// checkpoint directory (or beside the weights file); for a `.gguf` file, the tokenizer it carries.
    public static func loadTokenizer(path: String) throws -> GPT2Tokenizer {
        if isGGUF(path) { return try loadTokenizer(gguf: path) }
        let directory = try ModelFiles.directory(of: path)
        let vocab = directory + "/vocab.json", merges = directory + "/merges.txt"
        let missing = [vocab, merges].filter { !FileManager.default.fileExists(atPath: $0) }
        if !missing.isEmpty {
            throw GPT2Error.tokenizerFilesMissing(
                directory: directory, missing: missing.map { ($0 as NSString).lastPathComponent })
        }
        let tokenizer = try GPT2Tokenizer(vocabFile: vocab, mergesFile: merges)
        // Every id the tokenizer can produce needs a row of wte (which config.json sizes). A
        // larger vocab_size is fine: fine-tunes pad it to a multiple of 64.
        let configPath = directory + "/config.json"
        if FileManager.default.fileExists(atPath: configPath) {
            let config = try GPT2Config(contentsOf: configPath)
            if tokenizer.vocabularySize > config.vocabSize {
                throw GPT2Error.invalidConfig(source: configPath, reason: "vocab_size is \(config.vocabSize), but vocab.json holds \(tokenizer.vocabularySize) tokens")
            }
        }
        return tokenizer
    }
}

/// Where the parts of a checkpoint are, given what the user passed as `--model`.
struct ModelFiles {
    var directory: String
    var weights: String
    var config: String?

    init(path: String) throws {
        directory = try Self.directory(of: path)
        if directory == path {
            weights = path + "/model.safetensors"
            guard FileManager.default.fileExists(atPath: weights) else {
                let reason = FileManager.default.fileExists(atPath: path + "/model.safetensors.index.json")
                    ? "sharded checkpoints (model.safetensors.index.json) are not supported; merge the shards into one model.safetensors"
                    : "the directory has no model.safetensors"
                throw GPT2Error.modelNotFound(path: path, reason: reason)
            }
            let configPath = path + "/config.json"
            guard FileManager.default.fileExists(atPath: configPath) else {
                throw GPT2Error.modelNotFound(path: path, reason: "the directory has no config.json")
            }
            config = configPath
        } else {
            weights = path
            let configPath = directory + "/config.json"
            config = FileManager.default.fileExists(atPath: configPath) ? configPath : nil
        }
    }

    /// The checkpoint directory: `path` itself, or the folder of a `.safetensors` file.
    static func directory(of path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw GPT2Error.modelNotFound(path: path, reason: "no such file or directory")
        }
        if isDirectory.boolValue { return path }
        guard path.hasSuffix(".safetensors") else {
            throw GPT2Error.modelNotFound(path: path, reason: "expected a checkpoint directory, a .safetensors file or a .gguf file")
        }
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }
}
