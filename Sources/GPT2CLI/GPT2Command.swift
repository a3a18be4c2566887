import ArgumentParser
import Profiling

@main
struct GPT2Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt2",
        abstract: "Run OpenAI's GPT-2 on the CPU: generate text, score it, inspect checkpoints.",
        discussion: """
            A model is a Hugging Face GPT-2 checkpoint directory (config.json, model.safetensors, \
            vocab.json, merges.txt), a .safetensors file or a GGUF file (.gguf: F32, F16 or Q8_0, tokenizer included). Commands that generate text use a \
            random-weight GPT-2 124M when no --model is given (created once under \
            \(DefaultModel.directory)).
            """,
        subcommands: [Generate.self, Tokenize.self, Perplexity.self, Quantize.self, InitRandom.self, Inspect.self,
                      Bench.self, Calibrate.self, Profile.self]
    )
}
