// A reader for vocab.json, a flat JSON object of token string → integer id. Written by hand
// because Foundation's JSON decoding spends ~0.2 s on this 1 MB file (this takes ~15 ms), and
// so that errors can say where the file goes wrong.

/// Reads `{"token": id, ...}`; throws a one-line problem description on malformed input.
func readVocabulary(_ json: UnsafeBufferPointer<UInt8>) throws(VocabularyReadError) -> [(piece: String, id: Int)] {
    var reader = JSONObjectReader(bytes: json)
    var entries: [(piece: String, id: Int)] = []
    entries.reserveCapacity(json.count / 16)
    try reader.expect(UInt8(ascii: "{"))
    if try reader.peek() == UInt8(ascii: "}") {
        reader.position += 1
    } else {
        while true {
            let piece = try reader.readString()
            try reader.expect(UInt8(ascii: ":"))
            let id = try reader.readInteger()
            entries.append((piece, id))
            if try reader.peek() == UInt8(ascii: ",") {
                reader.position += 1
            } else {
                try reader.expect(UInt8(ascii: "}"))
                break
            }
        }
    }
    reader.skipWhitespace()
    guard reader.position == json.count else { throw reader.error("unexpected text after the closing '}'") }
    return entries
}

struct VocabularyReadError: Error {
    var problem: String
}

private struct JSONObjectReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    /// UTF-8 of the string being read; reused across strings.
    var buffer: [UInt8] = []

    func error(_ problem: String) -> VocabularyReadError {
        VocabularyReadError(problem: "\(problem) (at byte \(position))")
    }

    mutating func skipWhitespace() {
        while position < bytes.count,
              [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    /// The next non-whitespace byte, not consumed.
    mutating func peek() throws(VocabularyReadError) -> UInt8 {
        skipWhitespace()
        guard position < bytes.count else { throw error("unexpected end of file") }
        return bytes[position]
    }

    mutating func expect(_ byte: UInt8) throws(VocabularyReadError) {
        guard try peek() == byte else { throw error("expected '\(Character(Unicode.Scalar(byte)))'") }
        position += 1
    }

    mutating func readInteger() throws(VocabularyReadError) -> Int {
        _ = try peek()
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        var value = 0
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(bytes[position] - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { throw error("token id too large") }
            value = sum
            position += 1
        }
        guard position > start && bytes[position - 1] != UInt8(ascii: "-") else {
            throw error("expected an integer token id")
        }
        if position < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position]) {
            throw error("token id is not an integer")
        }
        return bytes[start] == UInt8(ascii: "-") ? -value : value
    }

    mutating func readString() throws(VocabularyReadError) -> String {
        try expect(UInt8(ascii: "\""))
        buffer.removeAll(keepingCapacity: true)
        while true {
            guard position < bytes.count else { throw error("unterminated string") }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = String(validating: buffer, as: UTF8.self) else {
                    throw error("string is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                try readEscape()
            case 0..<0x20:
                throw error("control character in string")
            default:
                buffer.append(byte)
            }
        }
    }

    private mutating func readEscape() throws(VocabularyReadError) {
        guard position < bytes.count else { throw error("unterminated string") }
        let escaped = bytes[position]
        position += 1
        switch escaped {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(escaped)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            var value = try readHex4()
            if (0xD800..<0xDC00).contains(value) {  // high surrogate: a low one must follow
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                      bytes[position + 1] == UInt8(ascii: "u") else { throw error("unpaired surrogate escape") }
                position += 2
                let low = try readHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate escape") }
                value = 0x10000 + (value - 0xD800) << 10 + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(value) else { throw error("unpaired surrogate escape") }
            UTF8.encode(scalar) { buffer.append($0) }
        default:
            throw error("invalid escape '\\\(Character(Unicode.Scalar(escaped)))'")
        }
    }

    private mutating func readHex4() throws(VocabularyReadError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Character(Unicode.Scalar(bytes[position])).hexDigitValue else {
                throw error("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
