import ArgumentParser

@main
struct GPT2Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt2",
        abstract: "Run OpenAI's GPT-2 on the CPU: generate text, score it, inspect checkpoints.",
        discussion: """
            A model is a Hugging Face GPT-2 checkpoint directory (config.json, model.safetensors, \
            vocab.json, merges.txt) or a .safetensors file. Commands that generate text use a \
            random-weight GPT-2 124M when no --model is given (created once under \
            \(DefaultModel.directory)).
            """,
        subcommands: [Generate.self, Tokenize.self, Perplexity.self, InitRandom.self, Inspect.self,
                      Bench.self, Calibrate.self, Profile.self]
    )
}
