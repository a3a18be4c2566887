// GPT-2 tokens are byte sequences: a character of 2-4 UTF-8 bytes (accented letters, CJK,
// emoji) is often split across tokens. Decoding each token on its own would print U+FFFD
// halves; this decoder holds back the bytes of an incomplete character until it completes.

/// Decodes a stream of token ids into text without ever emitting a broken UTF-8 character:
/// bytes of a character split across tokens are held back until it is complete.
public struct StreamingDecoder: Sendable {
    private let tokenizer: GPT2Tokenizer
    /// Bytes received but not yet emitted: at most the start of one incomplete character.
    private var pending: [UInt8] = []

    /// A decoder with nothing buffered.
    public init(tokenizer: GPT2Tokenizer) {
        self.tokenizer = tokenizer
    }

    /// Adds one token and returns the text it completes (may be ""). Bytes that can never
    /// become valid UTF-8 are emitted as U+FFFD; ids out of range are skipped.
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, to: &pending)
        let complete = completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Returns whatever is still buffered (an incomplete character becomes U+FFFD) and resets.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}

/// Length of the longest prefix of `bytes` that does not end inside a character that could
/// still be completed by more bytes. Splitting there decodes exactly like the whole: the held
/// back part starts with a lead byte, which no earlier (possibly invalid) sequence can absorb.
func completePrefixLength(_ bytes: [UInt8]) -> Int {
    let count = bytes.count
    // Find the last lead byte (not 10xxxxxx) among the final 3 bytes.
    var start = count - 1
    while start >= 0 && start >= count - 3 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
    guard start >= 0 && start >= count - 3 else { return count }

    let lead = bytes[start]
    let length: Int
    var secondByteRange: ClosedRange<UInt8> = 0x80...0xBF
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0: length = 3; secondByteRange = 0xA0...0xBF  // no overlong forms
    case 0xED: length = 3; secondByteRange = 0x80...0x9F  // no surrogates
    case 0xE1...0xEF: length = 3
    case 0xF0: length = 4; secondByteRange = 0x90...0xBF  // no overlong forms
    case 0xF4: length = 4; secondByteRange = 0x80...0x8F  // nothing above U+10FFFF
    case 0xF1...0xF3: length = 4
    default: return count  // ASCII or a byte that never starts a character
    }
    let received = count - start
    guard received < length else { return count }  // complete, or invalid anyway
    if received >= 2 && !secondByteRange.contains(bytes[start + 1]) { return count }
    return start  // a valid, unfinished character: hold it back
}
