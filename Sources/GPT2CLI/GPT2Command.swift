import ArgumentParser
import ModelIO
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

    static func main() {
        // A model file truncated or overwritten while a command reads it ends the command with
        // a one-line error (a loaded model no longer reads its file, so a run that is already
        // generating keeps going).
        MappedFile.exitOnTruncation()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
