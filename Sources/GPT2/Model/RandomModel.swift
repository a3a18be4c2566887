import Foundation
import ModelIO
import GPT2Runtime
import Tokenizer

/// Random-weight GPT-2 checkpoints in Hugging Face's format, for running every command,
/// demo and benchmark without downloading real weights.
public enum RandomModel {
    /// Writes `config.json`, `model.safetensors` (F32, the names transformers writes) and the
    /// GPT-2 tokenizer files into `directory`. Same config and seed → byte-identical files.
    ///
    /// Values follow GPT-2's initialisation: weights and wte ~ N(0, 0.02), wpe ~ N(0, 0.01), the
    /// residual projections ~ N(0, 0.02/√(2·n_layer)), biases 0, LayerNorm weight 1 and bias 0.
    public static func write(config: GPT2Config, seed: UInt64, to directory: String) throws {
        try config.validate()
        let C = config.nEmbd, I = config.nInner
        let projectionStd = 0.02 / Float(2 * config.nLayer).squareRoot()
        enum Fill { case normal(Float), zeros, ones }
        var specs: [(name: String, shape: [Int], fill: Fill)] = [
            ("wte.weight", [config.vocabSize, C], .normal(0.02)),
            ("wpe.weight", [config.nPositions, C], .normal(0.01)),
        ]
        for l in 0..<config.nLayer {
            let p = "h.\(l)."
            specs += [
                (p + "ln_1.weight", [C], .ones), (p + "ln_1.bias", [C], .zeros),
                (p + "attn.c_attn.weight", [C, 3 * C], .normal(0.02)), (p + "attn.c_attn.bias", [3 * C], .zeros),
                (p + "attn.c_proj.weight", [C, C], .normal(projectionStd)), (p + "attn.c_proj.bias", [C], .zeros),
                (p + "ln_2.weight", [C], .ones), (p + "ln_2.bias", [C], .zeros),
                (p + "mlp.c_fc.weight", [C, I], .normal(0.02)), (p + "mlp.c_fc.bias", [I], .zeros),
                (p + "mlp.c_proj.weight", [I, C], .normal(projectionStd)), (p + "mlp.c_proj.bias", [C], .zeros),
            ]
        }
        specs += [("ln_f.weight", [C], .ones), ("ln_f.bias", [C], .zeros)]
        let tensors = specs

        let buffers = tensors.map { AlignedBuffer<Float>(count: $0.shape.reduce(1, *), zeroed: false) }
        // Each tensor has its own generator (seeded from the seed and its index), so tensors can
        // be filled in parallel and the bytes still do not depend on the thread count.
        DispatchQueue.concurrentPerform(iterations: tensors.count) { index in
            let buffer = buffers[index]
            switch tensors[index].fill {
            case .zeros: buffer.pointer.initialize(repeating: 0, count: buffer.count)
            case .ones: buffer.pointer.initialize(repeating: 1, count: buffer.count)
            case let .normal(std):
                var rng = Xoshiro256StarStar(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
                for i in 0..<buffer.count { buffer.pointer[i] = rng.nextGaussian() * std }
            }
        }

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let entries = zip(tensors, buffers).map { spec, buffer in
            SafetensorsWriter.Entry(
                name: "transformer." + spec.name, dtype: .f32, shape: spec.shape,
                bytes: UnsafeRawBufferPointer(start: buffer.pointer, count: buffer.count * 4))
        }
        try SafetensorsWriter.write(entries, metadata: ["format": "pt"], to: directory + "/model.safetensors")
        withExtendedLifetime(buffers) {}
        try config.jsonData().write(to: URL(fileURLWithPath: directory + "/config.json"))
        let bundled = try GPT2Tokenizer.bundledFiles()
        for (source, name) in [(bundled.vocab, "vocab.json"), (bundled.merges, "merges.txt")] {
            let target = directory + "/" + name
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: source, toPath: target)
        }
    }
}
