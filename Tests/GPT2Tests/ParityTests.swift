import Foundation
import Testing
@testable import GPT2

/// The forward pass against Hugging Face transformers' logits (fixtures written by
/// scripts/fixtures/make_parity_fixtures.py: random models with every tensor randomised).
struct ParityTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let directory: String
        let tokens: [Int]
        let reference: [Float]  // [T, V]
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        let root = Bundle.module.resourcePath! + "/Fixtures/parity"
        let manifest = try! JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/manifest.json"))) as! [[String: Any]]
        return manifest.map { entry in
            let name = entry["name"] as! String
            let dir = root + "/" + name
            let tokensJSON = try! JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/tokens.json"))) as! [String: Any]
            let logits = try! Data(contentsOf: URL(fileURLWithPath: dir + "/logits.f32"))
            let reference = logits.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            return Case(name: name, directory: dir, tokens: (tokensJSON["tokens"] as! [NSNumber]).map(\.intValue), reference: reference)
        }
    }()

    /// ‖a − b‖ / ‖b‖ over one row.
    static func relativeL2(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Double {
        var diff = 0.0, norm = 0.0
        for (x, y) in zip(a, b) { diff += Double(x - y) * Double(x - y); norm += Double(y) * Double(y) }
        return (diff / norm).squareRoot()
    }

    @Test("prefill in one call matches Hugging Face at every position", arguments: cases, [1, 2])
    func prefill(_ c: Case, threads: Int) throws {
        let model = try GPT2Model.load(path: c.directory)
        let V = model.config.vocabSize
        let session = GPT2Session(model: model, threads: threads)
        let logits = try session.evaluate(c.tokens, logits: .all)
        for t in 0..<c.tokens.count {
            let row = logits[(t * V)..<((t + 1) * V)]
            let error = Self.relativeL2(row, c.reference[(t * V)..<((t + 1) * V)])
            #expect(error <= 1e-4, "position \(t): relative L2 error \(error)")
        }
    }

    @Test("one token at a time through the KV cache matches Hugging Face", arguments: cases, [1, 2])
    func decode(_ c: Case, threads: Int) throws {
        let model = try GPT2Model.load(path: c.directory)
        let V = model.config.vocabSize
        let session = GPT2Session(model: model, threads: threads)
        for (t, token) in c.tokens.enumerated() {
            let logits = try session.evaluate([token])
            let error = Self.relativeL2(logits, c.reference[(t * V)..<((t + 1) * V)])
            #expect(error <= 1e-4, "position \(t): relative L2 error \(error)")
        }
        #expect(session.position == c.tokens.count)
    }

    @Test("prefill in chunks, then decode, matches Hugging Face", arguments: cases)
    func chunkedPrefillThenDecode(_ c: Case) throws {
        let model = try GPT2Model.load(path: c.directory)
        let V = model.config.vocabSize
        let session = GPT2Session(model: model, threads: 2, batchCapacity: 5)  // forces several chunks
        let split = c.tokens.count * 2 / 3
        let prefill = try session.evaluate(Array(c.tokens[..<split]), logits: .all)
        for t in 0..<split {
            let row = prefill[(t * V)..<((t + 1) * V)]
            #expect(Self.relativeL2(row, c.reference[(t * V)..<((t + 1) * V)]) <= 1e-4, "prefill position \(t)")
        }
        let last = try session.evaluate(Array(c.tokens[split...]), logits: .last)
        let t = c.tokens.count - 1
        #expect(Self.relativeL2(last, c.reference[(t * V)..<((t + 1) * V)]) <= 1e-4)
    }

    @Test("logits outlive their session; the next evaluate overwrites them")
    func logitsLifetime() throws {
        let model = try GPT2Model.load(path: Self.cases[0].directory)
        func evaluateAndDropTheSession() throws -> (SessionLogits, [Float]) {
            let session = GPT2Session(model: model, threads: 1)
            let logits = try session.evaluate([1, 2, 3])
            return (logits, Array(logits))
        }
        let (logits, copy) = try evaluateAndDropTheSession()
        #expect(Array(logits) == copy && logits.count == model.config.vocabSize)

        let session = GPT2Session(model: model, threads: 1)
        let first = try session.evaluate([1, 2, 3])
        let kept = Array(first)
        _ = try session.evaluate([4])
        #expect(Array(first) != kept, "the buffer is the session's: a second evaluate writes into it")
    }

    @Test("positions beyond n_positions are an error, not a wrap")
    func contextOverflow() throws {
        let c = Self.cases[0]
        let model = try GPT2Model.load(path: c.directory)
        let session = GPT2Session(model: model, threads: 1)
        let full = Array(repeating: 1, count: model.config.nPositions)
        _ = try session.evaluate(full)
        #expect(throws: GPT2Error.contextOverflow(needed: model.config.nPositions + 1, limit: model.config.nPositions)) {
            try session.evaluate([1])
        }
        #expect(throws: GPT2Error.tokenOutOfRange(token: model.config.vocabSize, vocabularySize: model.config.vocabSize)) {
            session.reset()
            return try session.evaluate([model.config.vocabSize])
        }
    }
}
