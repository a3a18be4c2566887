// The README's library example, with the model path as the first argument.
import Foundation
import GPT2
import Tokenizer

let path = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "gpt2"  // directory, .safetensors or .gguf
do {
    let model = try GPT2Model.load(path: path)
    let tokenizer = try GPT2Model.loadTokenizer(path: path)
    let generator = Generator(model: model, tokenizer: tokenizer, threads: 2)

    let options = GenerationOptions(maxNewTokens: 32, sampling: SamplingParameters(temperature: 0.8, topK: 40, seed: 1))
    for try await token in generator.tokens(prompt: "Hello, my name is", options: options) {
        print(token.text, terminator: "")
    }

    // Or a callback (return false to stop), which also returns timings:
    let stats = try generator.generate(prompt: "Once upon a time", options: options) { token in
        print(token.text, terminator: ""); return true
    }
    print("\n\(stats.decodeTokensPerSecond) tokens/s")

    // Lower level: logits from a session with its own KV cache.
    let session = GPT2Session(model: model, threads: 2)
    let logits = try session.evaluate(tokenizer.encode("The cat"), logits: .last)  // [n_vocab]
    print("\(logits.count) logits for the next token")
} catch {
    // The library's errors read as one line ("cannot load a model from gpt2: ...").
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
