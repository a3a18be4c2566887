import Foundation
import ModelIO
import Testing
import Tokenizer
@testable import GPT2
import GPT2Runtime
import Kernels

/// config.json parsing, checkpoint discovery and weight validation: bad input is a clear error.
struct ModelLoadingTests {
    static let tiny = GPT2Config(nLayer: 2, nHead: 2, nEmbd: 32, nPositions: 16, vocabSize: 300)

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
        ("{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 4611686018427387904, \"vocab_size\": 10}", "n_embd is 4611686018427387904, more than the 65536"),
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

    /// parameterBytes counts the parameters as the model runs them: the Q8_0 copies at their
    /// layout's size, the fp32 wte the lookup keeps, the vectors; not allocation rounding or the
    /// copies dropped on the way.
    @Test func parameterBytesCountWhatTheModelRunsOn() throws {
        let dir = try temporaryDirectory()
        try RandomModel.write(config: Self.tiny, seed: 2, to: dir)
        let model = try GPT2Model.load(path: dir)
        let q8 = model.quantized(to: .q8_0)
        let c = Self.tiny, C = c.nEmbd, I = c.nInner
        let vectors = c.nPositions * C + 2 * C + c.nLayer * (2 * C + 3 * C + C + 2 * C + I + C)
        let matrices = c.nLayer * (Q8Interleaved.byteCount(K: C, N: 3 * C) + Q8Interleaved.byteCount(K: C, N: C)
            + Q8Interleaved.byteCount(K: C, N: I) + Q8Interleaved.byteCount(K: I, N: C)) + Q8Interleaved.byteCount(K: C, N: c.vocabSize)
        #expect(q8.weights.parameterBytes == vectors * 4 + matrices + c.vocabSize * C * 4)
        #expect(model.weights.parameterBytes == c.parameterCount * 4)
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
        #expect(text.contains("transformer.wte.weight") && text.contains("[300, 32]") && text.contains("[300, 64]"), "\(text)")

        var moreLayers = Self.tiny
        moreLayers.nLayer = 3
        try moreLayers.jsonData().write(to: URL(fileURLWithPath: dir + "/config.json"))
        #expect(message { _ = try GPT2Model.load(path: dir) }.contains("n_layer is 3, but the file holds tensors of 2 layers (h.0 … h.1)"))

        // Fewer layers than the file holds would silently run a truncated model.
        var fewerLayers = Self.tiny
        fewerLayers.nLayer = 1
        try fewerLayers.jsonData().write(to: URL(fileURLWithPath: dir + "/config.json"))
        #expect(message { _ = try GPT2Model.load(path: dir) }.contains("n_layer is 1, but the file holds tensors of 2 layers (h.0 … h.1)"))
    }

    /// A huge count is refused by its limit before anything is sized by it (a one-character
    /// change to config.json must not become an allocation failure).
    @Test func hugeCountsAreRefusedBeforeAllocating() throws {
        let dir = try temporaryDirectory()
        try RandomModel.write(config: Self.tiny, seed: 1, to: dir)
        let json = String(decoding: Self.tiny.jsonData(), as: UTF8.self)
        for (key, huge) in [("n_layer", "1000000000"), ("n_embd", "4611686018427387904"), ("vocab_size", "100000000000"), ("n_positions", "1099511627776")] {
            let edited = json.replacingOccurrences(of: "\"\(key)\": \(key == "n_layer" ? 2 : key == "n_embd" ? 32 : key == "vocab_size" ? 300 : 16)", with: "\"\(key)\": \(huge)")
            #expect(edited != json)
            try Data(edited.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
            let text = message { _ = try GPT2Model.load(path: dir) }
            #expect(text.contains("\(key) is \(huge), more than the"), "\(text)")
        }
    }

    @Test func randomModelsTooLargeForTheMachineAreRefused() throws {
        let dir = try temporaryDirectory()
        let huge = GPT2Config(nLayer: 4096, nHead: 16, nEmbd: 65536, nPositions: 1024, vocabSize: 50257)
        #expect(message { try RandomModel.write(config: huge, seed: 1, to: dir + "/out") }.contains("of memory; this machine has"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
        let smallVocabulary = GPT2Config(nLayer: 1, nHead: 2, nEmbd: 32, nPositions: 16, vocabSize: 100)
        #expect(message { try RandomModel.write(config: smallVocabulary, seed: 1, to: dir + "/out") }.contains("vocab_size must be at least 257"))
        let absurd = GPT2Config(nLayer: 2, nHead: 2, nEmbd: 1 << 62, nPositions: 16, vocabSize: 300)
        #expect(message { try RandomModel.write(config: absurd, seed: 1, to: dir + "/out") }.contains("n_embd is 4611686018427387904, more than the 65536"))
    }

    /// A random model's tokenizer has exactly its vocabulary: every id it produces has a row of wte.
    @Test func randomModelTokenizerMatchesTheVocabulary() throws {
        let dir = try temporaryDirectory()
        try RandomModel.write(config: Self.tiny, seed: 1, to: dir)
        let tokenizer = try GPT2Model.loadTokenizer(path: dir)
        #expect(tokenizer.vocabularySize == Self.tiny.vocabSize)
        #expect(tokenizer.endOfTextID == Self.tiny.vocabSize - 1)
        let text = "Hello, world! It's 2026 — naïve café\n\n  spaces"
        let ids = tokenizer.encode(text)
        #expect(ids.allSatisfy { $0 < Self.tiny.vocabSize } && tokenizer.decode(ids) == text)
        // The cut keeps GPT-2's own tokens and merge order for the ids it keeps.
        let full = try GPT2Tokenizer.bundled()
        #expect((0..<Self.tiny.vocabSize - 1).allSatisfy { tokenizer.piece(of: $0) == full.piece(of: $0) })
        #expect(tokenizer.mergeList == Array(full.mergeList.prefix(Self.tiny.vocabSize - 257)))
    }

    /// config.json's vocab_size must cover every id the tokenizer beside it can produce.
    @Test func tokenizerLargerThanTheVocabularyIsAnError() throws {
        let dir = try temporaryDirectory()
        try RandomModel.write(config: Self.tiny, seed: 1, to: dir)
        let bundled = try GPT2Tokenizer.bundledFiles()
        try FileManager.default.removeItem(atPath: dir + "/vocab.json")
        try FileManager.default.removeItem(atPath: dir + "/merges.txt")
        try FileManager.default.copyItem(atPath: bundled.vocab, toPath: dir + "/vocab.json")
        try FileManager.default.copyItem(atPath: bundled.merges, toPath: dir + "/merges.txt")
        #expect(message { _ = try GPT2Model.loadTokenizer(path: dir) }.contains("vocab_size is 300, but vocab.json holds 50257 tokens"))
    }

    @Test func unexpectedTensorsAreErrors() throws {
        let dir = try temporaryDirectory()
        try RandomModel.write(config: Self.tiny, seed: 1, to: dir)
        let source = try SafetensorsFile(path: dir + "/model.safetensors")
        let norm = try #require(source["transformer.ln_f.bias"])
        var entries = source.tensors.map {
            SafetensorsWriter.Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: source.rawBytes(of: $0))
        }
        entries.append(.init(name: "transformer.h.0.mystery", dtype: .f32, shape: norm.shape, bytes: source.rawBytes(of: norm)))
        try SafetensorsWriter.write(entries, metadata: [:], to: dir + "/extra.safetensors")
        #expect(message { _ = try GPT2Model.load(path: dir + "/extra.safetensors") }.contains("unexpected tensor \"h.0.mystery\": not a GPT-2 parameter"))
        // The same parameter under both spellings: which one would run is ambiguous.
        entries.removeLast()
        entries.append(.init(name: "ln_f.bias", dtype: .f32, shape: norm.shape, bytes: source.rawBytes(of: norm)))
        try SafetensorsWriter.write(entries, metadata: [:], to: dir + "/twice.safetensors")
        #expect(message { _ = try GPT2Model.load(path: dir + "/twice.safetensors") }.contains("tensor \"ln_f.bias\" is there both with and without"))
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
        // The head is its own [V, C] tensor, packed apart from wte.
        guard case let .packed(packedHead, PK, PN) = model.weights.lmHead else { Issue.record("LM head is not packed"); return }
        #expect(PK == 32 && PN == 300 && packedHead[0] == 0.5 && packedHead[1] == 0.5)
        #expect(!model.weights.lmHeadIsTied && model.weights.tokenEmbedding.storage != model.weights.lmHead.storage)
        var wteRow = [Float](repeating: 0, count: 32)
        wteRow.withUnsafeMutableBufferPointer { model.weights.tokenEmbedding.row(0, into: $0.baseAddress!) }
        let storedWTE = try source.floats(wte)
        #expect(wteRow == Array(UnsafeBufferPointer(start: storedWTE.pointer, count: 32)), "wte row 0 as stored")
    }
}

/// A loaded model keeps one copy of a tied wte: the token lookup reads the LM head's packed or
/// interleaved layout, and must give the same bits as the scalar lookup of the rows as stored.
struct TokenEmbeddingLayoutTests {
    @Test func everyLayoutLooksUpTheSameRows() {
        let K = 64, N = 45, P = 8  // N ragged: neither panels of 32 nor groups of 8 are full
        var rng = Xoshiro256StarStar(seed: 3)
        let rows = (0..<N * K).map { _ in rng.nextGaussian() }
        let wpe = (0..<P * K).map { _ in rng.nextGaussian() }
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: packedCount(K: K, N: N))
        let q8Rows = UnsafeMutableRawPointer.allocate(byteCount: N * Q8_0.byteCount(K), alignment: 64)
        let interleaved = UnsafeMutableRawPointer.allocate(byteCount: Q8Interleaved.byteCount(K: K, N: N), alignment: 64)
        defer { packed.deallocate(); q8Rows.deallocate(); interleaved.deallocate() }
        rows.withUnsafeBufferPointer { w in
            packOutputMajor(packed, w.baseAddress!, K: K, N: N)
            for n in 0..<N { Q8_0.quantize(w.baseAddress! + n * K, into: q8Rows + n * Q8_0.byteCount(K), count: K) }
        }
        Q8Interleaved.repack(interleaved, from: q8Rows, K: K, N: N, groups: 0..<Q8Interleaved.groups(N: N))
        let tokens = [0, 44, 17, 31, 32, 7]
        func lookup(_ table: LinearWeight) -> [Float] {
            var out = [Float](repeating: .nan, count: tokens.count * K)
            tokens.withUnsafeBufferPointer { t in
                wpe.withUnsafeBufferPointer { p in
                    out.withUnsafeMutableBufferPointer { embedTokens($0.baseAddress!, tokens: t, firstPosition: 2, table: table, wpe: p.baseAddress!, C: K) }
                }
            }
            return out
        }
        // The scalar reference: wte[token] + wpe[2 + t], wte as fp32 rows or dequantised Q8_0 rows.
        func reference(_ wte: [Float]) -> [Float] {
            tokens.enumerated().flatMap { t, token in (0..<K).map { wte[token * K + $0] + wpe[(2 + t) * K + $0] } }
        }
        var dequantized = [Float](repeating: 0, count: N * K)
        dequantized.withUnsafeMutableBufferPointer { d in
            for n in 0..<N { Q8_0.dequantize(q8Rows + n * Q8_0.byteCount(K), into: d.baseAddress! + n * K, count: K) }
        }
        #expect(lookup(.packed(packed, K: K, N: N)) == reference(rows))
        #expect(lookup(.q8_0Interleaved(interleaved, K: K, N: N)) == reference(dequantized))
    }
}
