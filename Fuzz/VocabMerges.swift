// libFuzzer target: the vocab.json and merges.txt readers (Sources/Tokenizer/VocabularyReader.swift
// and GPT2Tokenizer's merges parser) through GPT2Tokenizer(vocabJSON:merges:). The input is
// vocab.json, then a NUL byte, then merges.txt. Any input must either give a working tokenizer
// or throw a TokenizerError; a crash, hang or memory error is a defect. Built by scripts/fuzz.sh.

import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVocabularyReader(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: size)
    let separator = bytes.firstIndex(of: 0) ?? size
    let vocab = Data(bytes[..<separator])
    let merges = separator < size ? String(decoding: bytes[(separator + 1)...], as: UTF8.self) : ""
    guard let tokenizer = try? GPT2Tokenizer(vocabJSON: vocab, merges: merges) else { return 0 }

    // A tokenizer that loads must work: every byte has a token, so any text round-trips.
    let text = "Hello, world! It's 2024 — naïve café 日本語 🙂 <|endoftext|>  \n\tend"
    let ids = tokenizer.encode(text)
    precondition(ids.allSatisfy { $0 >= 0 && $0 < tokenizer.vocabularySize })
    precondition(Array(tokenizer.decode(ids).utf8) == Array(text.utf8), "round trip failed")
    for id in 0..<tokenizer.vocabularySize {
        precondition(tokenizer.bytes(of: id) != nil && tokenizer.piece(of: id) != nil)
    }
    precondition(tokenizer.mergeList.count <= merges.utf8.count)
    return 0
}
