import Foundation
import Testing
import Tokenizer
@testable import GPT2

/// Quantization accuracy on a small *trained* GPT-2 (Fixtures/trained, made by
/// scripts/fixtures/train_small_gpt2.py): its peaked distributions show what a random model's
/// flat ones hide. Our Q8_0 must stay within 1% of the F32 base's perplexity on held-out text
/// and agree on the top token almost everywhere.
struct TrainedFixtureTests {
    static let root = Bundle.module.resourcePath! + "/Fixtures/trained"

    @Test func q8_0KeepsPerplexityAndTopTokens() throws {
        let base = try GPT2Model.load(path: Self.root)  // F16 safetensors → fp32
        let tokenizer = try GPT2Tokenizer.bundled()
        let dir = NSTemporaryDirectory() + "gpt2-trained-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try GGUFExport.write(model: base, tokenizer: tokenizer, name: "trained", type: .f32, to: dir + "/f32.gguf")
        _ = try GGUFExport.write(model: base, tokenizer: tokenizer, name: "trained", type: .q8_0, to: dir + "/q8_0.gguf")
        let f32 = try GPT2Model.load(path: dir + "/f32.gguf")
        let q8 = try GPT2Model.load(path: dir + "/q8_0.gguf")

        let text = try String(contentsOfFile: Self.root + "/heldout.txt", encoding: .utf8)
        let tokens = Array(tokenizer.encode(text).prefix(1024))
        let evaluation = try PerplexityEvaluation(context: 128, stride: 64, modelContext: base.config.nPositions)
        var baseRows: [[Float]] = []
        _ = try evaluation.evaluate(session: GPT2Session(model: f32, threads: 2), tokens: tokens,
                                    onScored: { row, _ in baseRows.append(Array(row)) })
        var stats = KLDivergenceStatistics()
        var i = 0
        let result = try evaluation.evaluate(session: GPT2Session(model: q8, threads: 2), tokens: tokens, onScored: { row, target in
            baseRows[i].withUnsafeBufferPointer { stats.add(base: $0, quant: row, target: target) }
            i += 1
        })
        #expect(stats.count == tokens.count - 1 && abs(result.perplexity - stats.quantPerplexity) / result.perplexity < 1e-4)
        print("trained fixture, Q8_0 vs F32:\n" + stats.report)
        #expect(stats.basePerplexity < 2000, "the fixture should be trained: PPL \(stats.basePerplexity)")
        #expect(stats.perplexityRatio <= 1.01)
        #expect(stats.sameTopShare >= 0.97)
    }
}
