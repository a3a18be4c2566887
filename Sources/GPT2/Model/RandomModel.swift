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
        guard config.vocabSize > 256 else {
            throw GPT2Error.invalidConfig(source: "random model", reason: "vocab_size must be at least 257 (256 byte tokens and <|endoftext|>), got \(config.vocabSize)")
        }
        try checkResources(bytes: config.parameterCount * MemoryLayout<Float>.size, directory: directory)
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
        try writeTokenizer(vocabularySize: config.vocabSize, to: directory)
    }

    /// GPT-2's tokenizer files, cut to `vocabularySize` ids when that is smaller than GPT-2's
    /// 50257 so that every id the tokenizer produces has a row of wte: the 256 byte tokens, the
    /// merges that build the next tokens, and <|endoftext|> as the last id.
    static func writeTokenizer(vocabularySize: Int, to directory: String) throws {
        let bundled = try GPT2Tokenizer.bundledFiles()
        let full = try GPT2Tokenizer.bundled()
        let vocab = directory + "/vocab.json", merges = directory + "/merges.txt"
        for target in [vocab, merges] { try? FileManager.default.removeItem(atPath: target) }
        guard vocabularySize < full.vocabularySize else {
            try FileManager.default.copyItem(atPath: bundled.vocab, toPath: vocab)
            try FileManager.default.copyItem(atPath: bundled.merges, toPath: merges)
            return
        }
        let pieces = (0..<vocabularySize - 1).map { full.piece(of: $0)! } + [GPT2Tokenizer.endOfTextToken]
        let kept = Set(pieces)
        // GPT-2's ids follow its merge ranks, so the merges whose parts and result are all kept
        // are a prefix of merges.txt.
        let keptMerges = full.mergeList.filter { merge in
            let parts = merge.split(separator: " ", maxSplits: 1).map(String.init)
            return parts.count == 2 && kept.contains(parts[0]) && kept.contains(parts[1]) && kept.contains(parts[0] + parts[1])
        }
        let ids = Dictionary(uniqueKeysWithValues: pieces.enumerated().map { ($0.element, $0.offset) })
        try JSONSerialization.data(withJSONObject: ids, options: [.sortedKeys]).write(to: URL(fileURLWithPath: vocab))
        try Data((["#version: 0.2"] + keptMerges).joined(separator: "\n").utf8 + [0x0A]).write(to: URL(fileURLWithPath: merges))
    }

    /// Every tensor is generated in memory and then written: refuse a size that the machine's
    /// memory or the destination's free space cannot hold, before allocating anything.
    static func checkResources(bytes: Int, directory: String) throws {
        func gigabytes(_ n: Int) -> String { String(format: "%.1f GB", Double(n) / 1e9) }
        let memory = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        if memory > 0 && bytes > memory {
            throw GPT2Error.invalidArgument("a random model of this size needs \(gigabytes(bytes)) of memory; this machine has \(gigabytes(memory))")
        }
        // The nearest existing ancestor of the destination is where the space comes from.
        var existing = directory.isEmpty ? "." : directory
        while !FileManager.default.fileExists(atPath: existing) {
            let parent = (existing as NSString).deletingLastPathComponent
            existing = parent.isEmpty ? "." : parent
        }
        var info = statvfs()
        if statvfs(existing, &info) == 0 {
            let free = Int(info.f_bavail) * Int(info.f_frsize)
            if bytes > free {
                throw GPT2Error.invalidArgument("a random model of this size needs \(gigabytes(bytes)) on disk; \(existing) has \(gigabytes(free)) free")
            }
        }
    }
}
