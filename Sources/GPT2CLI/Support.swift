import ArgumentParser
import Foundation
import GPT2
import Profiling
import GPT2Runtime
import Tokenizer

/// Options shared by every command that runs the model.
struct ModelOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Model: a checkpoint directory, a .safetensors or a .gguf file (default: a random-weight gpt2).")
    var model: String?

    @Option(name: [.short, .long], help: "Threads to run on (default: every CPU this process may use).")
    var threads: Int?

    @Option(help: "NUMA: off (no pinning), distribute (threads round-robin over nodes, each thread's weights on its node), isolate (only the current node's CPUs).")
    var numa: NumaStrategy = .off

    func validate() throws {
        if let threads, threads < 1 || threads > 1024 {
            throw ValidationError("--threads must be between 1 and 1024, got \(threads)")
        }
    }

    /// The model path to use, creating the default random model if none was given.
    func resolvedModelPath() throws -> String {
        if let model { return model }
        return try DefaultModel.ensure(note: printError)
    }
}

/// Text input given either inline or as a file.
struct TextInput: ParsableArguments {
    @Option(name: [.short, .long], help: "Text to use.")
    var prompt: String?

    @Option(name: [.short, .long], help: "Read the text from a file.")
    var file: String?

    func validate() throws {
        if (prompt == nil) == (file == nil) { throw ValidationError("give exactly one of --prompt or --file") }
    }

    func read() throws -> String {
        if let prompt { return prompt }
        guard let data = FileManager.default.contents(atPath: file!) else {
            throw ValidationError("cannot read \(file!)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("\(file!) is not valid UTF-8 text")
        }
        return text
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Seconds since `start` (a monotonic timestamp in nanoseconds), as "1.23 s"/"45.6 ms".
func formatDuration(nanoseconds: UInt64) -> String {
    let ms = Double(nanoseconds) / 1e6
    return ms >= 1000 ? String(format: "%.2f s", ms / 1000) : String(format: "%.1f ms", ms)
}

extension NumaStrategy: ExpressibleByArgument {}
