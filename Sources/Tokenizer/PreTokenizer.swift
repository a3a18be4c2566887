// GPT-2's pre-tokenisation, written out as a scanner over Unicode scalars.
//
// It reproduces, match for match, the regular expression used by GPT-2 (and by tiktoken and
// Hugging Face's ByteLevel pre-tokenizer):
//
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Alternatives are tried in order at each position and the first that matches wins. Every
// scalar falls in exactly one of four classes (letter, number, whitespace, other), which makes
// the three "optional space + run" alternatives a single rule. `\s+(?!\S)` backtracks: a
// whitespace run followed by a non-space yields all but its last scalar, which then starts
// the next pre-token (" word") or stands alone.
//
// Classes come from Swift's Unicode tables. Hugging Face's (Oniguruma) tables are Unicode 14 and
// call later-assigned characters "other"; only those rare characters can split differently.

/// The class of a scalar as far as the GPT-2 pattern is concerned.
enum ScalarClass: UInt8 {
    case letter       // \p{L}: Lu Ll Lt Lm Lo
    case number       // \p{N}: Nd Nl No
    case whitespace   // \s: the Unicode White_Space property
    case other        // [^\s\p{L}\p{N}]
}

/// Class of each ASCII scalar, so that English text never reaches the Unicode tables.
private let asciiClasses: [ScalarClass] = (0..<128).map { v in
    switch UInt8(v) {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): .letter
    case UInt8(ascii: "0")...UInt8(ascii: "9"): .number
    case 0x09...0x0D, 0x20: .whitespace
    default: .other
    }
}

@inline(__always)
func scalarClass(_ value: UInt32) -> ScalarClass {
    if value < 128 { return asciiClasses[Int(value)] }
    guard let scalar = Unicode.Scalar(value) else { return .other }
    let properties = scalar.properties
    if properties.isWhitespace { return .whitespace }
    switch properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
        return .letter
    case .decimalNumber, .letterNumber, .otherNumber:
        return .number
    default:
        return .other
    }
}

/// Decodes the scalar starting at `i` in valid UTF-8 (Swift strings always are).
@inline(__always)
func decodeScalar(_ utf8: UnsafeBufferPointer<UInt8>, at i: Int) -> (value: UInt32, length: Int) {
    let b0 = UInt32(utf8[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(utf8[i + 1] & 0x3F), 2) }
    if b0 < 0xF0 {
        return ((b0 & 0x0F) << 12 | UInt32(utf8[i + 1] & 0x3F) << 6 | UInt32(utf8[i + 2] & 0x3F), 3)
    }
    return ((b0 & 0x07) << 18 | UInt32(utf8[i + 1] & 0x3F) << 12
            | UInt32(utf8[i + 2] & 0x3F) << 6 | UInt32(utf8[i + 3] & 0x3F), 4)
}

/// Length in bytes of a contraction ('s 't 're 've 'm 'll 'd) starting at `i`, or 0.
/// Case-sensitive, as in GPT-2: "DON'T" does not contain one.
@inline(__always)
private func contractionLength(_ utf8: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
    guard utf8[i] == UInt8(ascii: "'"), i + 1 < utf8.count else { return 0 }
    switch utf8[i + 1] {
    case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
        return 2
    case UInt8(ascii: "r"), UInt8(ascii: "v"):
        return i + 2 < utf8.count && utf8[i + 2] == UInt8(ascii: "e") ? 3 : 0
    case UInt8(ascii: "l"):
        return i + 2 < utf8.count && utf8[i + 2] == UInt8(ascii: "l") ? 3 : 0
    default:
        return 0
    }
}

/// Splits valid UTF-8 text into GPT-2 pre-tokens, calling `body` with the byte range of each.
/// The ranges are contiguous and cover the whole text.
func forEachPreToken(in utf8: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
    let count = utf8.count
    var start = 0
    while start < count {
        // 's|'t|'re|'ve|'m|'ll|'d
        let contraction = contractionLength(utf8, at: start)
        if contraction > 0 {
            body(start..<start + contraction)
            start += contraction
            continue
        }

        // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
        var (value, length) = decodeScalar(utf8, at: start)
        var runStart = start
        if value == 0x20 && start + 1 < count {
            runStart = start + 1
            (value, length) = decodeScalar(utf8, at: runStart)
        }
        let runClass = scalarClass(value)
        if runClass != .whitespace {
            var end = runStart + length
            while end < count {
                let (next, nextLength) = decodeScalar(utf8, at: end)
                if scalarClass(next) != runClass { break }
                end += nextLength
            }
            body(start..<end)
            start = end
            continue
        }

        // `\s+(?!\S)|\s+`: the scalar at `start` is whitespace; find the whole run.
        var end = start
        var lastScalarStart = start
        var scalarsInRun = 0
        while end < count {
            let (next, nextLength) = decodeScalar(utf8, at: end)
            if scalarClass(next) != .whitespace { break }
            lastScalarStart = end
            end += nextLength
            scalarsInRun += 1
        }
        if end < count && scalarsInRun > 1 {
            end = lastScalarStart  // leave the last whitespace scalar for the next pre-token
        }
        body(start..<end)
        start = end
    }
}
