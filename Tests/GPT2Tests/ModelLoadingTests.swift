import Foundation
import ModelIO
import Testing
@testable import GPT2

/// config.json parsing, checkpoint discovery and weight validation: bad input is a clear error.
struct ModelLoadingTests {
    static let tiny = GPT2Config(nLayer: 2, nHead: 2, nEmbd: 32, nPositions: 16, vocabSize: 100)

    func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "gpt2-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return String(describing: error) }
    }

    @Test func parsesHuggingFaceConfig() throws {
        let json = #"{"model_type": "gpt2", "n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 1024, "n_ctx": 1024, "vocab_size": 50257, "n_inner": null, "layer_norm_epsilon": 1e-05, "activation_function": "gelu_new"}"#
        let config = try GPT2Config(json: Data(json.utf8))
        #expect(config == GPT2Config.preset("gpt2"))
        #expect(config.parameterCount == 124_439_808)
        #expect(config.headSize == 64)
    }

    @Test func writtenConfigReadsBack() throws {
        for (_, preset) in GPT2Config.presets {
            #expect(try GPT2Config(json: preset.jsonData()) == preset)
        }
        #expect(try GPT2Config(json: Self.tiny.jsonData()) == Self.tiny)
    }

    @Test(arguments: [
        ("[1, 2]", "not a JSON object"),
        ("{\"n_layer\": 2", "not a JSON object"),
        ("{\"n_head\": 2, \"n_embd\": 32, \"vocab_size\": 10}", "missing key \"n_layer\""),
        ("{\"n_layer\": \"two\", \"n_head\": 2, \"n_embd\": 32, \"vocab_size\": 10}", "\"n_layer\" must be an integer"),
        ("{\"n_layer\": 2.5, \"n_head\": 2, \"n_embd\": 32, \"vocab_size\": 10}", "\"n_layer\" must be an integer"),
        ("{\"n_layer\": 2, \"n_head\": 3, \"n_embd\": 32, \"vocab_size\": 10}", "not a multiple of n_head"),
        ("{\"n_layer\": 0, \"n_head\": 2, \"n_embd\": 32, \"vocab_size\": 10}", "n_layer must be positive"),
        ("{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 32, \"vocab_size\": 10, \"activation_function\": \"relu\"}", "activation_function"),
        ("{\"model_type\": \"llama\", \"n_layer\": 2, \"n_head\": 2, \"n_embd\": 32, \"vocab_size\": 10}", "only \"gpt2\""),
        // 1e66 is infinite as a Float; 4 · n_embd (the default n_inner) overflows.
        ("{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 32, \"vocab_size\": 10, \"layer_norm_epsilon\": 1e66}", "layer_norm_epsilon must be positive and finite, got inf"),
        ("{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 4611686018427387904, \"vocab_size\": 10}", "n_embd 4611686018427387904 is too large"),
    ])
    func rejectsBadConfig(json: String, expected: String) {
        let text = message { _ = try GPT2Config(json: Data(json.utf8), source: "cfg.json") }
        #expect(text.contains("cfg.json") && text.contains(expected), "\(text)")
    }

    @Test func randomModelIsDeterministicAndLoads() throws {
        let a = try temporaryDirectory(), b = try temporaryDirectory()
        try RandomModel.write(config: Self.tiny, seed: 7, to: a)
        try RandomModel.write(config: Self.tiny, seed: 7, to: b)
        for file in ["config.json", "model.safetensors", "vocab.json", "merges.txt"] {
            #expect(FileManager.default.contents(atPath: a + "/" + file) == FileManager.default.contents(atPath: b + "/" + file), "\(file)")
        }
        let c = try temporaryDirectory()
        try RandomModel.write(config: Self.tiny, seed: 8, to: c)
        #expect(FileManager.default.contents(atPath: a + "/model.safetensors") != FileManager.default.contents(atPath: c + "/model.safetensors"))

        let model = try GPT2Model.load(path: a)
        #expect(model.config == Self.tiny)
        #expect(model.weights.parameterBytes == Self.tiny.parameterCount * 4)
        _ = try GPT2Model.loadTokenizer(path: a)
        // A bare .safetensors path finds config.json beside it.
        #expect(try GPT2Model.load(path: a + "/model.safetensors").config == Self.tiny)
    }

    @Test func missingFilesAreClearErrors() throws {
        let dir = try temporaryDirectory()
        #expect(message { _ = try GPT2Model.load(path: dir + "/absent") }.contains("no such file or directory"))
        #expect(message { _ = try GPT2Model.load(path: dir) }.contains("no model.safetensors"))
        try RandomModel.write(config: Self.tiny, seed: 1, to: dir)
        try FileManager.default.removeItem(atPath: dir + "/config.json")
        #expect(message { _ = try GPT2Model.load(path: dir) }.contains("no config.json"))
        try FileManager.default.removeItem(atPath: dir + "/merges.txt")
        #expect(message { _ = try GPT2Model.loadTokenizer(path: dir) }.contains("merges.txt missing"))
        // Without config.json a bare file of a non-published width cannot know its head count.
        #expect(message { _ = try GPT2Model.load(path: dir + "/model.safetensors") }.contains("n_head is unknown"))
    }

    @Test func configThatDisagreesWithTheTensorsIsAnError() throws {
        let dir = try temporaryDirectory()
        try RandomModel.write(config: Self.tiny, seed: 1, to: dir)
        var wrong = Self.tiny
        wrong.nEmbd = 64
        try wrong.jsonData().write(to: URL(fileURLWithPath: dir + "/config.json"))
        let text = message { _ = try GPT2Model.load(path: dir) }
        #expect(text.contains("transformer.wte.weight") && text.contains("[100, 32]") && text.contains("[100, 64]"), "\(text)")

        var moreLayers = Self.tiny
        moreLayers.nLayer = 3
        try moreLayers.jsonData().write(to: URL(fileURLWithPath: dir + "/config.json"))
        #expect(message { _ = try GPT2Model.load(path: dir) }.contains("\"h.2.ln_1.weight\" is missing"))
    }

    @Test func extraTensorsAndAnUntiedHeadAreHandled() throws {
        let dir = try temporaryDirectory()
        try RandomModel.write(config: Self.tiny, seed: 1, to: dir)
        let source = try SafetensorsFile(path: dir + "/model.safetensors")
        let wte = try #require(source["transformer.wte.weight"])
        var head = [Float](repeating: 0.5, count: wte.elementCount)
        let mask = [Float](repeating: 1, count: 16 * 16)
        var entries = source.tensors.map {
            SafetensorsWriter.Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: source.rawBytes(of: $0))
        }
        try head.withUnsafeMutableBytes { headBytes in
            try mask.withUnsafeBytes { maskBytes in
                entries.append(.init(name: "lm_head.weight", dtype: .f32, shape: wte.shape, bytes: UnsafeRawBufferPointer(headBytes)))
                entries.append(.init(name: "h.0.attn.bias", dtype: .f32, shape: [1, 1, 16, 16], bytes: maskBytes))
                try SafetensorsWriter.write(entries, metadata: [:], to: dir + "/with-head.safetensors")
            }
        }
        let model = try GPT2Model.load(path: dir + "/with-head.safetensors")
        // Loaded as is, the head is its own [V, C] tensor; packed (the default), a copy of it.
        let file = try SafetensorsFile(path: dir + "/with-head.safetensors")
        let unpacked = try GPT2Weights(file: file, config: model.config, pack: false)
        guard case let .outputMajor(head, K, N) = unpacked.lmHead else { Issue.record("LM head is not [V, C]"); return }
        guard case let .outputMajor(wte, _, _) = unpacked.tokenEmbedding else { Issue.record("wte is not rows of C"); return }
        #expect(head != wte && K == 32 && N == 100)
        #expect(head[0] == 0.5)
        guard case let .packed(packedHead, PK, PN) = model.weights.lmHead else { Issue.record("LM head is not packed"); return }
        #expect(PK == 32 && PN == 100 && packedHead[0] == 0.5 && packedHead[1] == 0.5)
    }
}
