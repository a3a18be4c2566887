import ArgumentParser
import GPT2
import Tokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the GPT-2 token ids of a text, space-separated on one line.")

    @Option(name: [.short, .long], help: "Model whose tokenizer to use (default: the embedded GPT-2 vocabulary).")
    var model: String?

    @OptionGroup var input: TextInput

    @Flag(help: "List one token per line: id and its vocabulary spelling.")
    var show = false

    func run() throws {
        let tokenizer = try model.map(GPT2Model.loadTokenizer(path:)) ?? GPT2Tokenizer.bundled()
        let ids = tokenizer.encode(try input.read())
        if show {
            for id in ids { print("\(id)\t\(tokenizer.piece(of: id) ?? "?")") }
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
