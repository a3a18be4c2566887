import Foundation

extension GPT2Tokenizer {
    /// Paths of the embedded OpenAI vocabulary files (`vocab.json`, `merges.txt`), e.g. to copy
    /// them into a checkpoint directory.
    public static func bundledFiles() throws -> (vocab: String, merges: String) {
        guard let vocab = Bundle.module.url(forResource: "vocab", withExtension: "json") else {
            throw TokenizerError.missingResource(name: "vocab.json")
        }
        guard let merges = Bundle.module.url(forResource: "merges", withExtension: "txt") else {
            throw TokenizerError.missingResource(name: "merges.txt")
        }
        return (vocab.path, merges.path)
    }
}
