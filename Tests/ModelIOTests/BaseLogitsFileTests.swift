import Foundation
import Testing

@testable import ModelIO

/// The base-logits file of `gpt2 perplexity --kl-divergence-base`.
struct BaseLogitsFileTests {
    @Test func roundTripsAndRejectsGarbage() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("base.kld")
        let writer = try BaseLogitsWriter(path: path, vocabularySize: 3, context: 8, stride: 4, tokens: [5, 6, 7])
        [Float(1), 2, 3].withUnsafeBufferPointer { writer.append(logits: $0, target: 2) }
        [Float(4), 5, 6].withUnsafeBufferPointer { writer.append(logits: $0, target: 0) }
        try writer.finish()
        let file = try BaseLogitsFile(path: path)
        #expect(file.tokens == [5, 6, 7] && file.targets == [2, 0] && file.context == 8 && file.stride == 4)
        #expect(Array(file.logits(1)) == [4, 5, 6])

        var bytes = try readBytes(path)
        bytes.removeLast()
        try writeBytes(bytes, to: path)
        #expect(modelIOError { _ = try BaseLogitsFile(path: path) }?.description.contains("its header implies") == true)
        try writeBytes(Array("not a logits file at all, no".utf8) + [UInt8](repeating: 0, count: 20), to: path)
        #expect(modelIOError { _ = try BaseLogitsFile(path: path) }?.description.contains("bad magic") == true)

        let outOfRange = try BaseLogitsWriter(path: path, vocabularySize: 3, context: 8, stride: 4, tokens: [5, 6])
        [Float(1), 2, 3].withUnsafeBufferPointer { outOfRange.append(logits: $0, target: 7) }
        try outOfRange.finish()
        #expect(modelIOError { _ = try BaseLogitsFile(path: path) }?.description.contains("target token 7 is outside the vocabulary") == true)
    }
}
