import ArgumentParser
import GPT2
import Tokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the GPT-2 token ids of a text, space-separated on one line.")

    @Option(name: [.short, .long], help: "Model whose tokenizer to use (default: the embedded GPT-2 vocabulary).")
    var model: String?

    @OptionGroup var input: TextInput

    @Flag(help: "List one token per line: its id and its text in single quotes, with \\n, \\t, \\r, \\\\ and \\' escaped and the bytes of a partial UTF-8 character as <0xNN>.")
    var show = false

    @Flag(help: "With --show, print the vocabulary's byte-level spelling (\"Ġthe\") instead of the text.")
    var raw = false

    func validate() throws {
        if raw && !show { throw ValidationError("--raw only changes --show's listing; add --show") }
    }

    func run() throws {
        let tokenizer = try model.map(GPT2Model.loadTokenizer(path:)) ?? GPT2Tokenizer.bundled()
        let ids = tokenizer.encode(try input.read())
        if show {
            for id in ids {
                let text = raw ? tokenizer.piece(of: id) : tokenizer.bytes(of: id).map(readablePiece)
                print("\(id)\t\(text ?? "?")")
            }
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}

/// A token's bytes as readable text in single quotes: whitespace other than the space and the
/// quote and backslash escaped as in C, other control characters and the bytes of an incomplete
/// or invalid UTF-8 character as `<0xNN>` (a token often holds part of a character).
func readablePiece(_ bytes: [UInt8]) -> String {
    var text = "'"
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    var offset = 0
    func hex(_ byte: UInt8) -> String {
        "<0x" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true) + ">"
    }
    while true {
        switch parser.parseScalar(from: &iterator) {
        case let .valid(encoded):
            let scalar = Unicode.UTF8.decode(encoded)
            offset += encoded.count
            switch scalar {
            case "\n": text += "\\n"
            case "\t": text += "\\t"
            case "\r": text += "\\r"
            case "\\": text += "\\\\"
            case "'": text += "\\'"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F { text += hex(UInt8(scalar.value)) } else { text.unicodeScalars.append(scalar) }
            }
        case let .error(length):
            for byte in bytes[offset..<offset + length] { text += hex(byte) }
            offset += length
        case .emptyInput:
            return text + "'"
        }
    }
}
