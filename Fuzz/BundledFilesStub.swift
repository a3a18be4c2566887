// Used by the tokenizer harnesses in place of Sources/Tokenizer/BundledFiles.swift, which
// needs SwiftPM's Bundle.module.

import Foundation

extension GPT2Tokenizer {
    /// The bundled vocabulary files, found from this source file's path.
    public static func bundledFiles() throws -> (vocab: String, merges: String) {
        let resources = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Tokenizer/Resources")
        return (resources.appendingPathComponent("vocab.json").path,
                resources.appendingPathComponent("merges.txt").path)
    }
}
