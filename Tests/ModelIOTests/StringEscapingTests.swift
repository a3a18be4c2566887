import Foundation
import Testing

@testable import ModelIO

/// The two escapings built on one function: JSON string literals and quoted names in errors.
struct StringEscapingTests {
    @Test func jsonStringLiteralParsesBackToTheSameString() throws {
        let text = "a\"b\\c\nd\re\tf\u{1}g\u{1F}h\u{7F}i/é🙂"
        let literal = jsonStringLiteral(text)
        #expect(literal == #""a\"b\\c\nd\re\tf\u0001g\u001fh"# + "\u{7F}i/é🙂\"")
        let parsed = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as? [String]
        #expect(parsed == [text])
    }

    @Test func quotedNamesStayOnOneLine() {
        #expect(quoted("it's\n\u{7F}\\") == #"'it\'s\n\u{7f}\\'"#)
        #expect(quoted("plain \"name\"") == "'plain \"name\"'")
    }
}
