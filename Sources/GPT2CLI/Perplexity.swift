import ArgumentParser
import Foundation
import GPT2
import Runtime

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute the perplexity of a text file.",
        discussion: """
            Scores the text in windows of --context tokens that start every --stride tokens \
            (Hugging Face's sliding-window method); each token is scored at most once.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: [.short, .long], help: "Text file to score.")
    var file: String

    @Option(name: [.short, .long], help: "Window length in tokens (default: the model's n_positions).")
    var context: Int?

    @Option(help: "Tokens between window starts (default: the window length).")
    var stride: Int?

    @Option(name: .customLong("dump-logits"), help: "Write the logits of every scored position (float32 LE, [positions, n_vocab]) to this file.")
    var dumpLogits: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("\(file) is not valid UTF-8 text") }
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
        printError("\(tokens.count) tokens, windows of \(evaluation.context), stride \(evaluation.stride), \(session.pool.threadCount) threads")
        let start = monotonicNanoseconds()
        let result = try evaluation.evaluate(
            session: session, tokens: tokens,
            onScoredLogits: dump.map { handle in { row in handle.write(Data(buffer: row)) } },
            onWindow: { running in printError(String(format: "[%d] %.4f", running.windows, running.perplexity)) })
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        print(String(format: "perplexity: %.4f over %d tokens (%.1f tokens/s)", result.perplexity, result.scoredTokens,
                     Double(result.scoredTokens) / seconds))
    }
}
