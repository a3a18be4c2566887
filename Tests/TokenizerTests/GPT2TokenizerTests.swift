import Foundation
import Testing
@testable import Tokenizer

/// Fixtures written by scripts/fixtures/make_tokenizer_fixtures.py from Hugging Face's tokenizer.
enum Fixtures {
    struct EncodeCase: Decodable { var text: String; var ids: [Int] }
    struct DecodeCase: Decodable { var ids: [Int]; var text: String }
    struct Tricky: Decodable { var encode: [EncodeCase]; var decode: [DecodeCase] }

    static func data(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
        return try Data(contentsOf: url)
    }

    /// Decoded from bytes, not with String(contentsOf:), so every scalar stays as written.
    static func corpus() throws -> String { String(decoding: try data("corpus.txt"), as: UTF8.self) }

    static func corpusIDs() throws -> [Int] {
        try String(decoding: data("corpus_ids.txt"), as: UTF8.self)
            .split(whereSeparator: \.isWhitespace).map { try #require(Int($0)) }
    }

    static func tricky() throws -> Tricky { try JSONDecoder().decode(Tricky.self, from: data("tricky.json")) }
}

/// Exact comparison: String's `==` treats canonically equivalent texts ("é" and "e\u{301}") as equal.
func scalars(_ text: String) -> [Unicode.Scalar] { Array(text.unicodeScalars) }

/// Paths of the real resource files, for tests of the file-based initialiser and of errors.
let resourcesFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources/Tokenizer/Resources")

@Suite struct EncodingParityTests {
    @Test func corpusMatchesHuggingFace() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        let expected = try Fixtures.corpusIDs()
        let ids = tokenizer.encode(try Fixtures.corpus())
        #expect(expected.count > 50_000)
        if ids != expected {
            let first = zip(ids, expected).enumerated().first { $1.0 != $1.1 }?.offset ?? min(ids.count, expected.count)
            let context = max(0, first - 5)..<first + 5
            Issue.record("""
                first difference at token \(first) of \(expected.count) (got \(ids.count) tokens): \
                got \(ids[context.clamped(to: ids.indices)]) expected \(expected[context.clamped(to: expected.indices)]), \
                text around it: \(tokenizer.decode(Array(expected[context.clamped(to: expected.indices)])).debugDescription)
                """)
        }
    }

    @Test func trickyStringsMatchHuggingFace() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        for testCase in try Fixtures.tricky().encode {
            #expect(tokenizer.encode(testCase.text) == testCase.ids, "\(testCase.text.debugDescription)")
        }
    }

    @Test func decodeOfInvalidUTF8MatchesHuggingFace() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        for testCase in try Fixtures.tricky().decode {
            #expect(scalars(tokenizer.decode(testCase.ids)) == scalars(testCase.text), "\(testCase.ids)")
        }
    }

    @Test func roundTrips() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        let corpus = try Fixtures.corpus()
        #expect(scalars(tokenizer.decode(tokenizer.encode(corpus))) == scalars(corpus))
        for testCase in try Fixtures.tricky().encode {
            let text = testCase.text
            #expect(scalars(tokenizer.decode(tokenizer.encode(text))) == scalars(text), "\(text.debugDescription)")
            #expect(scalars(tokenizer.decode(tokenizer.encodeOrdinary(text))) == scalars(text))
        }
    }

    @Test func canonicallyEquivalentTextsStayDistinct() throws {
        // Swift's String == says these are equal; their bytes, and so their tokens, differ.
        let tokenizer = try GPT2Tokenizer.bundled()
        let precomposed = tokenizer.encode("caf\u{E9}"), decomposed = tokenizer.encode("cafe\u{301}")
        #expect(precomposed != decomposed)
        #expect(tokenizer.encode("caf\u{E9}") == precomposed)  // a cache hit must not mix them up
        #expect(tokenizer.encode("cafe\u{301}") == decomposed)
    }

    @Test func concurrentEncodingAgrees() async throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        let cases = try Fixtures.tricky().encode
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask { cases.allSatisfy { tokenizer.encode($0.text) == $0.ids } }
            }
            for await agreed in group { #expect(agreed) }
        }
    }
}

@Suite struct VocabularyTests {
    @Test func endOfText() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        #expect(GPT2Tokenizer.endOfTextToken == "<|endoftext|>")
        #expect(tokenizer.endOfTextID == 50256)
        #expect(tokenizer.vocabularySize == 50257)
        #expect(tokenizer.encode("<|endoftext|>") == [50256])
        #expect(tokenizer.encode("Hi<|endoftext|>there") == tokenizer.encode("Hi") + [50256] + tokenizer.encode("there"))
        #expect(!tokenizer.encodeOrdinary("<|endoftext|>").contains(50256))
        #expect(tokenizer.decode([50256]) == "<|endoftext|>")
    }

    @Test func piecesAndBytes() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        #expect(tokenizer.encode("Hello world") == [15496, 995])
        #expect(tokenizer.piece(of: 995) == "Ġworld")
        #expect(tokenizer.bytes(of: 995) == Array(" world".utf8))
        #expect(tokenizer.piece(of: 198) == "Ċ")
        #expect(tokenizer.bytes(of: 198) == [0x0A])
        #expect(tokenizer.piece(of: 50256) == "<|endoftext|>")
        for id in [-1, 50257, Int.max, Int.min] {
            #expect(tokenizer.bytes(of: id) == nil)
            #expect(tokenizer.piece(of: id) == nil)
        }
    }

    @Test func decodeSkipsIDsOutOfRange() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        #expect(tokenizer.decode([15496, -1, 50257, Int.max, 995]) == "Hello world")
        #expect(tokenizer.decode([]) == "")
    }

    @Test func loadsFromFiles() throws {
        let tokenizer = try GPT2Tokenizer(
            vocabFile: resourcesFolder.appendingPathComponent("vocab.json").path,
            mergesFile: resourcesFolder.appendingPathComponent("merges.txt").path)
        #expect(tokenizer.vocabularySize == 50257)
        #expect(tokenizer.encode(" tokenizer's test") == (try GPT2Tokenizer.bundled()).encode(" tokenizer's test"))
    }
}

@Suite struct PreTokenizerTests {
    @Test func preTokenSplits() {
        func split(_ text: String) -> [String] {
            var text = text
            return text.withUTF8 { utf8 in
                var pieces: [String] = []
                forEachPreToken(in: utf8) { pieces.append(String(decoding: UnsafeBufferPointer(rebasing: utf8[$0]), as: UTF8.self)) }
                return pieces
            }
        }
        #expect(split("Hello world") == ["Hello", " world"])
        #expect(split("   x") == ["  ", " x"])
        #expect(split("x\t\t\ny") == ["x", "\t\t", "\n", "y"])
        #expect(split("x  \n") == ["x", "  \n"])
        #expect(split("I'm DON'T 'sam") == ["I", "'m", " DON", "'", "T", " '", "sam"])
        #expect(split("x''s") == ["x", "''", "s"])
        #expect(split("abc123 !!?") == ["abc", "123", " !!?"])
        #expect(split("a\u{301}b") == ["a", "\u{301}", "b"])  // a combining mark is neither L nor N
        #expect(split("👍🏽👍") == ["👍🏽👍"])
        #expect(split("x\u{A0}y") == ["x", "\u{A0}", "y"])
        #expect(split("") == [])
    }

    @Test func scalarClassesMatchHuggingFace() throws {
        var runs: [(start: UInt32, scalarClass: ScalarClass)] = []
        let table = String(decoding: try Fixtures.data("scalar_classes.txt"), as: UTF8.self)
        for line in table.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            let classes: [Substring: ScalarClass] = ["L": .letter, "N": .number, "S": .whitespace, "O": .other]
            let start = try #require(UInt32(fields[0], radix: 16)), scalarClass = try #require(classes[fields[1]])
            runs.append((start, scalarClass))
        }
        #expect(runs.count > 1000)

        var mismatches: [String] = []
        for (i, run) in runs.enumerated() {
            let end = i + 1 < runs.count ? runs[i + 1].start : 0x11_0000
            for value in run.start..<end {
                // Hugging Face's tables are Unicode 14: it calls characters assigned later "other",
                // where Swift's newer tables know their category. Compare the rest.
                guard let scalar = Unicode.Scalar(value) else { continue }
                if let age = scalar.properties.age, (age.major, age.minor) > (14, 0) { continue }
                if scalarClass(value) != run.scalarClass {
                    mismatches.append("U+\(String(value, radix: 16, uppercase: true)): \(scalarClass(value)), expected \(run.scalarClass)")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(20))")
    }
}

@Suite struct LoadingErrorTests {
    let vocabPath = resourcesFolder.appendingPathComponent("vocab.json").path
    let mergesPath = resourcesFolder.appendingPathComponent("merges.txt").path

    /// Writes `contents` to a fresh temporary file and returns its path.
    func temporaryFile(_ name: String, _ contents: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        return url.path
    }

    func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as TokenizerError {
            return error.description
        } catch {
            return "unexpected error type: \(error)"
        }
    }

    @Test func missingFiles() throws {
        let vocab = message { _ = try GPT2Tokenizer(vocabFile: "/nonexistent/vocab.json", mergesFile: mergesPath) }
        #expect(vocab == "cannot read tokenizer file '/nonexistent/vocab.json': no such file")
        let merges = message { _ = try GPT2Tokenizer(vocabFile: vocabPath, mergesFile: "/nonexistent/merges.txt") }
        #expect(merges == "cannot read tokenizer file '/nonexistent/merges.txt': no such file")
        let folder = message { _ = try GPT2Tokenizer(vocabFile: "/tmp", mergesFile: mergesPath) }
        #expect(folder == "cannot read tokenizer file '/tmp': is a directory")
    }

    @Test func malformedJSON() throws {
        let path = try temporaryFile("vocab.json", #"{"a": 0, "b": 1"#)
        let error = try #require(message { _ = try GPT2Tokenizer(vocabFile: path, mergesFile: mergesPath) })
        #expect(error.hasPrefix("malformed vocabulary '\(path)': not a JSON object of token → id:"), "\(error)")
        #expect(error.contains("unexpected end of file"), "\(error)")

        for (json, problem) in [
            ("[1, 2]", "expected '{'"),
            (#"{"a": "b"}"#, "expected an integer token id"),
            (#"{"a": 1.5}"#, "not an integer"),
            (#"{"a": 0} x"#, "unexpected text after"),
            (#"{"\u00a0": 0}"#, "outside GPT-2's byte alphabet"),
            (#"{"a": 0, "b": 5}"#, "outside 0..<2"),
            (#"{"a": 0, "b": 0}"#, "used by two tokens"),
            (#"{"a": 0, "b": 1}"#, "no token for the single byte 0"),
            ("{}", "no tokens"),
        ] {
            let error = message { _ = try GPT2Tokenizer(vocabJSON: Data(json.utf8), merges: "") }
            #expect(error?.hasPrefix("malformed vocabulary 'vocab.json': ") == true, "\(json): \(error ?? "no error")")
            #expect(error?.contains(problem) == true, "\(json): \(error ?? "no error")")
        }
    }

    @Test func malformedMerges() throws {
        let vocab = try Data(contentsOf: URL(fileURLWithPath: vocabPath))
        for (merges, line, problem) in [
            ("#version: 0.2\nĠ t\nĠ a b\n", 3, #"expected two tokens separated by one space: "Ġ a b""#),
            ("Ġ t\nĠt\n", 2, #"expected two tokens separated by one space: "Ġt""#),
            ("Ġ t\n t\n", 2, "expected two tokens separated by one space"),
            ("Ġ t\nĠ zzzzqqq\n", 2, #"token not in the vocabulary: "Ġ zzzzqqq""#),
            ("Ġ \u{A0}\n", 1, "character outside GPT-2's byte alphabet"),
        ] {
            let error = message { _ = try GPT2Tokenizer(vocabJSON: vocab, merges: merges) }
            #expect(error?.hasPrefix("malformed merges file 'merges.txt', line \(line): ") == true, "\(error ?? "no error")")
            #expect(error?.contains(problem) == true, "\(error ?? "no error")")
        }
        let path = try temporaryFile("merges.txt", "#version: 0.2\nĠ t\nbad\n")
        let error = message { _ = try GPT2Tokenizer(vocabFile: vocabPath, mergesFile: path) }
        #expect(error?.hasPrefix("malformed merges file '\(path)', line 3: ") == true, "\(error ?? "no error")")
    }

    @Test func mergesWithWindowsLineEndingsLoad() throws {
        let vocab = try Data(contentsOf: URL(fileURLWithPath: vocabPath))
        let merges = try String(contentsOfFile: mergesPath, encoding: .utf8)
        let tokenizer = try GPT2Tokenizer(vocabJSON: vocab, merges: merges.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(tokenizer.encode("Hello world") == [15496, 995])
    }
}
