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
        // Stored as log-probabilities: the logits less their log-sum-exp, to 16 bits.
        let lse = Float(log(exp(4.0) + exp(5.0) + exp(6.0)))
        for (stored, exact) in zip(file.logits(1), [4 - lse, 5 - lse, 6 - lse]) { #expect(abs(stored - exact) < 1e-4) }
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 40 + 3 * 4 + 2 * (12 + 2 * 3) + 2 * 4)

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

    /// Files of the float32 layout still read, value for value.
    @Test func readsTheFloat32Layout() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("old.kld")
        var bytes = Array("GPT2KLD1".utf8)
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        append(UInt32(2)); append(UInt32(8)); append(UInt32(4)); append(UInt32(0)); append(UInt64(1)); append(UInt64(1))
        append(Int32(9))
        for v in [Float(0.5), -1.25] { append(v.bitPattern) }
        append(Int32(1))
        try writeBytes(bytes, to: path)
        let file = try BaseLogitsFile(path: path)
        #expect(Array(file.logits(0)) == [0.5, -1.25] && file.targets == [1] && file.tokens == [9])
    }
}
