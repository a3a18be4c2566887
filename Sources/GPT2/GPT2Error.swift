/// Errors of the GPT-2 model layer. Each reads as a one-line message for the command line.
public enum GPT2Error: Error, CustomStringConvertible, Equatable {
    case invalidConfig(source: String, reason: String)
    case modelNotFound(path: String, reason: String)
    case missingTensor(file: String, name: String)
    case tensorShape(file: String, name: String, expected: [Int], actual: [Int])
    case tokenizerFilesMissing(directory: String, missing: [String])
    case emptyPrompt
    case contextOverflow(needed: Int, limit: Int)
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    case invalidArgument(String)
    /// A model file that is well-formed but not a usable GPT-2 (e.g. a GGUF of another architecture).
    case invalidModelFile(path: String, problem: String)

    public var description: String {
        switch self {
        case let .invalidConfig(source, reason):
            return "invalid model config \(source): \(reason)"
        case let .modelNotFound(path, reason):
            return "cannot load a model from \(path): \(reason)"
        case let .missingTensor(file, name):
            return "\(file): tensor \"\(name)\" is missing (looked for it with and without the \"transformer.\" prefix)"
        case let .tensorShape(file, name, expected, actual):
            return "\(file): tensor \"\(name)\" has shape \(actual), but config.json implies \(expected)"
        case let .tokenizerFilesMissing(directory, missing):
            return "\(directory) has no GPT-2 tokenizer files (\(missing.joined(separator: ", ")) missing); "
                + "every Hugging Face GPT-2 checkpoint ships vocab.json and merges.txt"
        case .emptyPrompt:
            return "the prompt is empty: give at least one token of text"
        case let .contextOverflow(needed, limit):
            return "\(needed) positions are needed but the model's context is \(limit) (n_positions)"
        case let .tokenOutOfRange(token, vocabularySize):
            return "token id \(token) is outside the vocabulary (0..<\(vocabularySize))"
        case let .invalidArgument(message):
            return message
        case let .invalidModelFile(path, problem):
            return "\(path): \(problem)"
        }
    }
}
