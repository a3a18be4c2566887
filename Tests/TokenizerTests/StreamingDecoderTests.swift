import Foundation
import Testing
import Tokenizer

@Suite struct StreamingDecoderTests {
    /// Feeds `ids` one at a time and returns every chunk emitted, the final flush last.
    func stream(_ ids: [Int], _ tokenizer: GPT2Tokenizer) -> [String] {
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        return ids.map { decoder.append($0) } + [decoder.finish()]
    }

    @Test func corpusStreamsExactly() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        let corpus = try Fixtures.corpus()
        #expect(!corpus.unicodeScalars.contains("\u{FFFD}"))
        let chunks = stream(tokenizer.encode(corpus), tokenizer)
        #expect(scalars(chunks.joined()) == scalars(corpus))
        #expect(chunks.allSatisfy { !$0.unicodeScalars.contains("\u{FFFD}") })
    }

    @Test func charactersSplitAcrossTokensAreHeldBack() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        let text = "😀 👨‍👩‍👧‍👦 🧑🏽‍🚀 中文很有趣 ñ 𝔘𝔫𝔦 ﬁ"
        let ids = tokenizer.encode(text)
        // The test only means something if some token holds a partial character.
        #expect(ids.contains { id in String(validating: tokenizer.bytes(of: id) ?? [], as: UTF8.self) == nil })
        let chunks = stream(ids, tokenizer)
        #expect(scalars(chunks.joined()) == scalars(text))
        #expect(chunks.allSatisfy { !$0.unicodeScalars.contains("\u{FFFD}") })
        #expect(chunks.contains(""))  // some tokens completed nothing
    }

    @Test func finishFlushesAnIncompleteCharacter() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        let ids = tokenizer.encode("😀")
        #expect(ids.count > 1)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        #expect(decoder.append(ids[0]) == "")
        #expect(decoder.finish() == "\u{FFFD}")
        #expect(decoder.finish() == "")
        for id in ids.dropLast() { #expect(decoder.append(id) == "") }
        #expect(decoder.append(ids[ids.count - 1]) == "😀")
    }

    @Test func invalidBytesDecodeLikeDecode() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        for testCase in try Fixtures.tricky().decode {
            #expect(scalars(stream(testCase.ids, tokenizer).joined()) == scalars(testCase.text), "\(testCase.ids)")
        }
    }

    @Test func everySplitOfRandomBytesDecodesLikeTheWhole() throws {
        // Single-byte tokens let every byte boundary be a token boundary.
        let tokenizer = try GPT2Tokenizer.bundled()
        var tokenOfByte = [Int](repeating: -1, count: 256)
        for id in 0..<tokenizer.vocabularySize {
            if let bytes = tokenizer.bytes(of: id), bytes.count == 1 { tokenOfByte[Int(bytes[0])] = id }
        }
        #expect(!tokenOfByte.contains(-1))

        // Bytes at the edges of UTF-8's valid ranges, and ASCII.
        let alphabet: [UInt8] = [0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                                 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15  // fixed seed: a deterministic test
        func random(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        var failures: [[UInt8]] = []
        for _ in 0..<5_000 {
            let bytes = (0..<random(9)).map { _ in alphabet[random(alphabet.count)] }
            let streamed = stream(bytes.map { tokenOfByte[Int($0)] }, tokenizer).joined()
            if scalars(streamed) != scalars(String(decoding: bytes, as: UTF8.self)) { failures.append(bytes) }
        }
        #expect(failures.isEmpty, "\(failures.count) byte sequences stream differently, e.g. \(failures.prefix(5))")
    }

    @Test func idsOutOfRangeAreSkipped() throws {
        let tokenizer = try GPT2Tokenizer.bundled()
        #expect(stream([15496, -5, 50257, 995], tokenizer).joined() == "Hello world")
    }
}
