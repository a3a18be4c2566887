import ArgumentParser
import Foundation
import GPT2
import GPT2Runtime
import Tokenizer

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt, streaming it token by token.",
        discussion: """
            The prompt and the generated text go to stdout; load time and speed go to stderr. \
            Ctrl-C stops generation after the current token, prints the statistics so far and \
            exits with status 130.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var input: TextInput

    @Option(name: [.short, .customLong("n-predict")], parsing: .unconditional, help: "Tokens to generate.")
    var n = 128

    @Option(name: [.customLong("temperature"), .customLong("temp")], parsing: .unconditional, help: "Sampling temperature; 0 = greedy.")
    var temperature: Float = 0.8

    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Keep only the k most likely tokens; 0 = off.")
    var topK = 40

    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Keep the smallest set of tokens whose probability reaches p; 1 = off.")
    var topP: Float = 0.95

    @Option(name: .customLong("min-p"), parsing: .unconditional, help: "Drop tokens less likely than min-p × the top token's probability; 0 = off.")
    var minP: Float = 0

    @Option(name: .customLong("repeat-penalty"), parsing: .unconditional, help: "Penalise tokens seen in the last --repeat-last-n tokens; 1 = off.")
    var repeatPenalty: Float = 1.0

    @Option(name: .customLong("repeat-last-n"), parsing: .unconditional, help: "How many recent tokens the repeat penalty looks at (-1 = all).")
    var repeatLastN = 64

    @Option(name: [.short, .long], parsing: .unconditional, help: "Random seed (default: a random one, printed so the run can be repeated).")
    var seed: UInt64?

    @Option(name: [.customShort("c"), .customLong("ctx-size")], parsing: .unconditional, help: "Context window in tokens (default and most: the model's n_positions).")
    var contextSize: Int?

    @Flag(name: .customLong("ignore-eos"), help: "Keep generating after <|endoftext|> (fixed-length runs).")
    var ignoreEOS = false

    @Flag(name: .customLong("context-shift"), help: "When the context is full, keep its last half, evaluate it again and go on (each shift costs a prefill of n_positions/2 tokens); without it, generation stops there.")
    var contextShift = false

    func validate() throws {
        guard n >= 0 else { throw ValidationError("-n must not be negative, got \(n)") }
        if let contextSize, contextSize < 1 { throw ValidationError("-c must be at least 1, got \(contextSize)") }
        try sampling(seed: 0).validate()
    }

    func sampling(seed: UInt64) -> SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                           repeatPenalty: repeatPenalty, repeatLastN: repeatLastN, seed: seed)
    }

    func run() throws {
        let text = try input.read()
        let path = try modelOptions.resolvedModelPath()
        let loadStart = monotonicNanoseconds()
        let model = try GPT2Model.load(path: path)
        let tokenizer = try GPT2Model.loadTokenizer(path: path)
        let loadTime = monotonicNanoseconds() - loadStart

        let prompt = tokenizer.encode(text)
        if prompt.isEmpty { throw GPT2Error.emptyPrompt }
        if let contextSize, contextSize > model.config.nPositions {
            throw ValidationError("-c \(contextSize) is more than the model's context of \(model.config.nPositions) tokens (n_positions)")
        }
        if prompt.count > (contextSize ?? model.config.nPositions) {
            throw GPT2Error.contextOverflow(needed: prompt.count, limit: contextSize ?? model.config.nPositions)
        }
        let seed = self.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        let generator = Generator(model: model, tokenizer: tokenizer, threads: modelOptions.threads, numa: modelOptions.numa)
        let c = model.config
        printError("model: \(path) (\(c.nLayer) layers, \(c.nEmbd) dims, \(c.nHead) heads, \(model.storageType)), loaded in \(formatDuration(nanoseconds: loadTime))")
        printError("threads: \(generator.session.pool.threadCount), seed: \(seed), prompt: \(prompt.count) tokens")

        let out = FileHandle.standardOutput
        out.write(Data(text.utf8))
        let interrupt = Signals.interruptFlag()
        let options = GenerationOptions(maxNewTokens: n, sampling: sampling(seed: seed), stopAtEndOfText: !ignoreEOS, contextShift: contextShift, contextSize: contextSize)
        let stats = try generator.generate(promptTokens: prompt, options: options) { token in
            out.write(Data(token.text.utf8))
            return !interrupt.isRaised
        }
        out.write(Data("\n".utf8))
        printError("prompt: \(stats.promptTokens) tokens in \(formatDuration(nanoseconds: stats.promptNanoseconds))"
            + String(format: " (%.1f tokens/s)", stats.promptTokensPerSecond))
        printError("generation: \(stats.generatedTokens) tokens"
            + String(format: ", %.2f ms/token (%.1f tokens/s)", stats.decodeMillisecondsPerToken, stats.decodeTokensPerSecond)
            + (stats.contextShifts > 0 ? ", \(stats.contextShifts) context shifts" : "")
            + ", stopped: \(interrupt.isRaised ? "interrupted" : stats.stopReason.rawValue)")
        if interrupt.isRaised { throw ExitCode(interruptedExitStatus) }
    }
}
