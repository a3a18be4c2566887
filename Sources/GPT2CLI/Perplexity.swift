import ArgumentParser
import Foundation
import GPT2
import ModelIO
import GPT2Runtime

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute the perplexity of a text file.",
        discussion: """
            Scores the text in windows of --context tokens that start every --stride tokens \
            (Hugging Face's sliding-window method); each token is scored at most once. \
            Like llama-perplexity: --kl-divergence-base FILE saves the base model's logits; run \
            again with a quantized model, the same text and --kl-divergence to compare.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: [.short, .long], help: "Text file to score.")
    var file: String

    @Option(name: [.short, .long], parsing: .unconditional, help: "Window length in tokens (default: the model's n_positions).")
    var context: Int?

    @Option(parsing: .unconditional, help: "Tokens between window starts (default: the window length).")
    var stride: Int?

    @Option(name: .customLong("dump-logits"), help: "Write the logits of every scored position (float32 LE, [positions, n_vocab]) to this file.")
    var dumpLogits: String?

    @Option(name: .customLong("kl-divergence-base"), help: "Base-logits file: written by this run, or read by it with --kl-divergence.")
    var klDivergenceBase: String?

    @Flag(name: .customLong("kl-divergence"), help: "Compare with the base logits of --kl-divergence-base: PPL of both, their ratio, KL divergence, same top token, RMS Δp.")
    var klDivergence = false

    @Flag(name: .customLong("no-progress"), help: "No progress line (windows done, running perplexity, ETA) on a terminal's stderr; also GPT2_NO_PROGRESS=1.")
    var noProgress = false

    func validate() throws {
        if klDivergence && klDivergenceBase == nil { throw ValidationError("--kl-divergence needs --kl-divergence-base FILE") }
    }

    func run() throws {
        let text = try readTextFile(file)
        let path = try modelOptions.resolvedModelPath()
        let model = try GPT2Model.load(path: path)
        let tokenizer = try GPT2Model.loadTokenizer(path: path)
        let tokens = tokenizer.encode(text)
        let window = context ?? model.config.nPositions
        let evaluation = try PerplexityEvaluation(context: window, stride: stride ?? window, modelContext: model.config.nPositions)
        let session = GPT2Session(model: model, threads: modelOptions.threads, numa: modelOptions.numa)

        var dump: FileHandle?
        if let dumpLogits {
            guard FileManager.default.createFile(atPath: dumpLogits, contents: nil), let handle = FileHandle(forWritingAtPath: dumpLogits) else {
                throw ValidationError("cannot create \(dumpLogits)")
            }
            dump = handle
        }
        defer { try? dump?.close() }
        var baseWriter: BaseLogitsWriter?
        var base: BaseLogitsFile?
        var statistics = KLDivergenceStatistics()
        if let klDivergenceBase {
            if klDivergence {
                let file = try BaseLogitsFile(path: klDivergenceBase)
                guard file.tokens == tokens, file.vocabularySize == model.config.vocabSize,
                      file.context == evaluation.context, file.stride == evaluation.stride else {
                    throw ValidationError("\(klDivergenceBase) was written for another text, tokenizer, vocabulary or --context/--stride (base: \(file.tokens.count) tokens, n_vocab \(file.vocabularySize), context \(file.context), stride \(file.stride))")
                }
                base = file
            } else {
                baseWriter = try BaseLogitsWriter(path: klDivergenceBase, vocabularySize: model.config.vocabSize,
                                                  context: evaluation.context, stride: evaluation.stride,
                                                  tokens: tokens)
            }
        }
        var position = 0
        let onScored: ((UnsafeBufferPointer<Float>, Int) throws -> Void)? = klDivergenceBase == nil ? nil : { row, target in
            if let baseWriter { baseWriter.append(logits: row, target: target) }
            if let base { statistics.add(base: base.logits(position), quant: row, target: target) }
            position += 1
        }
        printError("\(tokens.count) tokens, windows of \(evaluation.context), stride \(evaluation.stride), \(session.pool.threadCount) threads")
        // On a terminal one progress line replaces the per-window lines that logs get.
        let progress = ProgressLine(disabled: noProgress)
        defer { progress.clear() }  // also before an error's message
        let windows = windowCount(tokens: tokens.count, context: evaluation.context, stride: evaluation.stride)
        let start = monotonicNanoseconds()
        let result = try evaluation.evaluate(
            session: session, tokens: tokens,
            onScoredLogits: dump.map { handle in { row in handle.write(Data(buffer: row)) } },
            onScored: onScored,
            onWindow: { running in
                let line = String(format: "[%d] %.4f", running.windows, running.perplexity)
                guard progress.isEnabled else { return printError(line) }
                let elapsed = Double(monotonicNanoseconds() - start) / 1e9
                let eta = elapsed / Double(running.windows) * Double(windows - running.windows)
                progress.update("perplexity: window \(running.windows)/\(windows), ppl \(String(format: "%.4f", running.perplexity)), ETA \(ProgressLine.clock(seconds: eta))")
            })
        progress.clear()
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        print(String(format: "perplexity: %.4f over %d tokens (%.1f tokens/s)", result.perplexity, result.scoredTokens,
                     Double(result.scoredTokens) / seconds))
        try baseWriter?.finish()
        if baseWriter != nil { printError("saved the logits of \(result.scoredTokens) positions to \(klDivergenceBase!)") }
        if base != nil { print(statistics.report) }
    }
}

/// The windows `PerplexityEvaluation` scores `tokens` tokens in: one at 0, then one every `stride`
/// until a window reaches the end.
func windowCount(tokens: Int, context: Int, stride: Int) -> Int {
    tokens <= context ? 1 : 1 + (tokens - context + stride - 1) / stride
}
