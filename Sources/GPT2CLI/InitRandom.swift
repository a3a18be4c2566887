import ArgumentParser
import Foundation
import GPT2
import GPT2Runtime

struct InitRandom: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-random",
        abstract: "Write a random-weight GPT-2 checkpoint in Hugging Face format.",
        discussion: """
            Writes config.json, model.safetensors (F32) and the GPT-2 tokenizer files. The same \
            config and seed give byte-identical files. --n-layer and friends override the preset.
            """)

    @Option(help: "Size: gpt2, gpt2-medium, gpt2-large or gpt2-xl.")
    var config = "gpt2"

    @Option(parsing: .unconditional, help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Output directory.")
    var out: String

    @Option(name: .customLong("n-layer"), parsing: .unconditional) var nLayer: Int?
    @Option(name: .customLong("n-head"), parsing: .unconditional) var nHead: Int?
    @Option(name: .customLong("n-embd"), parsing: .unconditional) var nEmbd: Int?
    @Option(name: .customLong("n-positions"), parsing: .unconditional) var nPositions: Int?
    @Option(name: .customLong("vocab-size"), parsing: .unconditional) var vocabSize: Int?

    func modelConfig() throws -> GPT2Config {
        guard var c = GPT2Config.preset(config) else {
            let names = GPT2Config.presets.map(\.name).joined(separator: ", ")
            throw ValidationError("unknown --config \"\(config)\"; expected one of \(names)")
        }
        if let nLayer { c.nLayer = nLayer }
        if let nHead { c.nHead = nHead }
        if let nEmbd { c.nEmbd = nEmbd; c.nInner = GPT2Config.defaultInner(nEmbd: nEmbd) }
        if let nPositions { c.nPositions = nPositions }
        if let vocabSize { c.vocabSize = vocabSize }
        try c.validate(source: "command line")
        return c
    }

    func validate() throws { _ = try modelConfig() }

    func run() throws {
        let c = try modelConfig()
        let start = monotonicNanoseconds()
        try RandomModel.write(config: c, seed: seed, to: out)
        printError("wrote \(out): \(c.parameterCount) parameters (\(c.nLayer) layers, \(c.nEmbd) dims, \(c.nHead) heads) "
            + "in \(formatDuration(nanoseconds: monotonicNanoseconds() - start))")
    }
}
