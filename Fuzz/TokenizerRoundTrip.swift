// libFuzzer target: GPT2Tokenizer with the bundled GPT-2 vocabulary
// (Sources/Tokenizer/Resources). For input bytes that are valid UTF-8, decode(encode(s)) and
// decode(encodeOrdinary(s)) give back s byte for byte; the same bytes read as token ids (in or
// out of range) decode without crashing, and StreamingDecoder agrees with decode. Built by
// scripts/fuzz.sh.

import Foundation

private let tokenizer = try! GPT2Tokenizer.bundled()

/// Ids that are out of range in every way a caller could get wrong.
private let invalidIDs = [-1, Int.min, Int.max, Int(Int32.max), 50257, 65535]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerRoundTrip(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: size)

    if let text = String(validating: bytes, as: UTF8.self) {
        let ids = tokenizer.encode(text)
        precondition(Array(tokenizer.decode(ids).utf8) == Array(bytes), "decode(encode(s)) != s")
        let ordinary = tokenizer.encodeOrdinary(text)
        precondition(Array(tokenizer.decode(ordinary).utf8) == Array(bytes), "decode(encodeOrdinary(s)) != s")
        precondition(!ordinary.contains(tokenizer.endOfTextID), "encodeOrdinary produced <|endoftext|>")
    }

    // Each pair of bytes is a token id: below 60000 as is (in range or just past the end),
    // otherwise one of the invalid ids.
    var ids: [Int] = []
    var i = 0
    while i + 1 < size {
        let value = Int(bytes[i]) | Int(bytes[i + 1]) << 8
        ids.append(value < 60000 ? value : invalidIDs[value % invalidIDs.count])
        i += 2
    }
    let decoded = tokenizer.decode(ids)
    var streaming = StreamingDecoder(tokenizer: tokenizer)
    var streamed = ""
    for id in ids { streamed += streaming.append(id) }
    streamed += streaming.finish()
    precondition(Array(streamed.utf8) == Array(decoded.utf8), "StreamingDecoder disagrees with decode")
    for id in ids {
        precondition((tokenizer.bytes(of: id) != nil) == (id >= 0 && id < tokenizer.vocabularySize))
    }
    return 0
}
