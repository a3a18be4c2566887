/// `text` as a JSON string literal, quotes included: the quotation mark, the backslash and the
/// control characters escaped (RFC 8259 §7), everything else as is.
public func jsonStringLiteral(_ text: String) -> String {
    escapedLiteral(text, quote: "\"") { scalar in
        guard scalar.value < 0x20 else { return nil }
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}

/// Quotes a name for an error message ('…'), escaping control characters so that the message
/// stays on one line.
func quoted(_ name: String) -> String {
    escapedLiteral(name, quote: "'") { scalar in
        scalar.value < 0x20 || scalar.value == 0x7F ? "\\u{\(String(scalar.value, radix: 16))}" : nil
    }
}

/// `text` between two `quote`s, with the quote and the backslash escaped by a backslash,
/// newline, carriage return and tab written `\n`, `\r`, `\t`, and any other scalar for which
/// `escape` returns a string replaced by that string.
private func escapedLiteral(_ text: String, quote: Unicode.Scalar, escape: (Unicode.Scalar) -> String?) -> String {
    var out = String(quote)
    for scalar in text.unicodeScalars {
        switch scalar {
        case quote, "\\": out += "\\" + String(scalar)
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if let escaped = escape(scalar) { out += escaped } else { out.unicodeScalars.append(scalar) }
        }
    }
    out.unicodeScalars.append(quote)
    return out
}
