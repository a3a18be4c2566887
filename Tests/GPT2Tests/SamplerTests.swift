import Foundation
import GPT2
import GPT2Runtime
import Testing

// Property tests for the sampler: each draws many random logit vectors (with deliberate ties)
// and checks the result against an independent, naive computation done with a plain sort.

// MARK: - Helpers

/// Random logits; values are rounded to a coarse grid so that ties are common.
private func randomTestLogits(_ n: Int, _ rng: inout Xoshiro256StarStar, ties: Bool = true) -> [Float] {
    (0..<n).map { _ in
        let x = rng.nextGaussian() * 3
        return ties ? (x * 2).rounded() / 2 : x
    }
}

/// Token ids ordered by logit descending, ties by lower id (NaN counts as -inf).
private func rankOrder(_ logits: [Float]) -> [Int] {
    let clean = logits.map { $0.isNaN ? -Float.infinity : $0 }
    return clean.indices.sorted { clean[$0] != clean[$1] ? clean[$0] > clean[$1] : $0 < $1 }
}

private func naiveArgmax(_ logits: [Float]) -> Int {
    rankOrder(logits)[0]
}

/// Softmax in Double, for reference values.
private func referenceSoftmax(_ logits: [Float], temperature: Double = 1) -> [Double] {
    let maxLogit = Double(logits.max()!)
    let e = logits.map { exp((Double($0) - maxLogit) / temperature) }
    let sum = e.reduce(0, +)
    return e.map { $0 / sum }
}

private func sampleOnce(_ sampler: Sampler, _ logits: [Float], history: [Int] = []) -> Int {
    var copy = logits
    return sampler.sample(logits: &copy, history: history)
}

private let vocabSizes = [1, 2, 3, 5, 17, 64, 257, 1000]

/// The distribution the sampler should draw from (no penalty), computed naively in Double:
/// rank order by plain sort, top-k prefix, softmax, top-p prefix, min-p, renormalise.
/// Returns nil when a cumulative sum lies so close to topP that rounding could decide.
private func referenceDistribution(_ logits: [Float], _ p: SamplingParameters) -> [Double]? {
    var order = rankOrder(logits)
    if p.topK > 0 { order = Array(order.prefix(p.topK)) }
    var probs = referenceSoftmax(order.map { logits[$0] }, temperature: Double(p.temperature))
    if p.topP < 1 {
        var cumulative = 0.0
        var size = order.count
        for j in order.indices {
            cumulative += probs[j]
            if abs(cumulative - Double(p.topP)) < 1e-4 { return nil }
            if cumulative >= Double(p.topP) { size = j + 1; break }
        }
        order = Array(order.prefix(size))
        probs = Array(probs.prefix(size))
    }
    let pMax = probs.max()!
    var result = [Double](repeating: 0, count: logits.count)
    for (j, t) in order.enumerated() where probs[j] >= Double(p.minP) * pMax {
        if abs(probs[j] - Double(p.minP) * pMax) < 1e-6 { return nil }
        result[t] = probs[j]
    }
    let sum = result.reduce(0, +)
    return result.map { $0 / sum }
}

/// Checks that `draws` samples follow `expected`: tokens with probability 0 never appear, the
/// others within 5 standard errors (fixed seeds, so this is deterministic).
private func expectFrequencies(
    _ sampler: Sampler, _ logits: [Float], _ expected: [Double], draws: Int,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var counts = [Int](repeating: 0, count: logits.count)
    for _ in 0..<draws { counts[sampleOnce(sampler, logits)] += 1 }
    for t in logits.indices {
        let mean = Double(draws) * expected[t]
        if expected[t] == 0 {
            #expect(counts[t] == 0, "token \(t) drawn \(counts[t]) times", sourceLocation: sourceLocation)
        } else {
            let standardError = (mean * (1 - expected[t])).squareRoot()
            #expect(
                abs(Double(counts[t]) - mean) < 5 * standardError + 1,
                "token \(t): \(counts[t]) draws, expected \(mean)", sourceLocation: sourceLocation)
        }
    }
}

// MARK: - Random number generators

@Test func splitMix64MatchesReference() {
    var g = SplitMix64(seed: 1234567)
    let expected: [UInt64] = [
        6457827717110365317, 3203168211198807973, 9817491932198370423,
        4593380528125082431, 16408922859458223821,
    ]
    #expect((0..<5).map { _ in g.next() } == expected)
}

@Test func xoshiro256StarStarMatchesReference() {
    // Outputs of the reference C code (prng.di.unimi.it/xoshiro256starstar.c) from s = {1, 2, 3, 4}.
    var g = Xoshiro256StarStar(state: (1, 2, 3, 4))
    let expected: [UInt64] = [
        11520, 0, 1509978240, 1215971899390074240, 1216172134540287360,
        607988272756665600, 16172922978634559625, 8476171486693032832,
        10595114339597558777, 2904607092377533576,
    ]
    #expect((0..<10).map { _ in g.next() } == expected)

    // Seeding through SplitMix64 (seed 42), checked against the same reference code.
    var seeded = Xoshiro256StarStar(seed: 42)
    let expectedSeeded: [UInt64] = [
        1546998764402558742, 6990951692964543102, 12544586762248559009,
        17057574109182124193, 18295552978065317476,
    ]
    #expect((0..<5).map { _ in seeded.next() } == expectedSeeded)
}

@Test func floatsAndGaussians() {
    var g = Xoshiro256StarStar(seed: 7)
    var sum = 0.0, sumSquares = 0.0
    let n = 100_000
    for _ in 0..<n {
        let u = g.nextFloat()
        #expect(u >= 0 && u < 1)
        let z = Double(g.nextGaussian())
        #expect(z.isFinite)
        sum += z
        sumSquares += z * z
    }
    let mean = sum / Double(n)
    let variance = sumSquares / Double(n) - mean * mean
    #expect(abs(mean) < 0.02)
    #expect(abs(variance - 1) < 0.03)
}

// MARK: - Parameters

@Test func validateRejectsEachInvalidParameter() throws {
    try SamplingParameters().validate()
    try SamplingParameters.greedy.validate()
    try SamplingParameters(temperature: 0, topK: 0, topP: 1, minP: 0.99, repeatPenalty: 0.5, repeatLastN: -1)
        .validate()

    let cases: [(String, SamplingParameters)] = [
        ("temperature", SamplingParameters(temperature: -0.1)),
        ("temperature", SamplingParameters(temperature: .nan)),
        ("temperature", SamplingParameters(temperature: .infinity)),
        ("topK", SamplingParameters(topK: -1)),
        ("topP", SamplingParameters(topP: 0)),
        ("topP", SamplingParameters(topP: 1.01)),
        ("topP", SamplingParameters(topP: .nan)),
        ("minP", SamplingParameters(minP: -0.1)),
        ("minP", SamplingParameters(minP: 1)),
        ("minP", SamplingParameters(minP: .nan)),
        ("repeatPenalty", SamplingParameters(repeatPenalty: 0)),
        ("repeatPenalty", SamplingParameters(repeatPenalty: -1)),
        ("repeatPenalty", SamplingParameters(repeatPenalty: .nan)),
        ("repeatLastN", SamplingParameters(repeatLastN: -2)),
    ]
    for (name, parameters) in cases {
        let error = #expect(throws: SamplingError.self) { try parameters.validate() }
        let message = error.map { "\($0)" } ?? ""
        #expect(message.contains(name), "\(message)")
        // The sampler validates too.
        #expect(throws: SamplingError.self) { _ = try Sampler(parameters: parameters, vocabularySize: 10) }
    }
    #expect(throws: SamplingError.self) { _ = try Sampler(parameters: .init(), vocabularySize: 0) }
}

// MARK: - Greedy

/// Expects a sampler with `parameters(n)` to pick the argmax of 50 random logit vectors, for
/// every vocabulary size n.
func expectArgmax(rngSeed: UInt64, _ parameters: (_ n: Int) -> SamplingParameters) throws {
    var rng = Xoshiro256StarStar(seed: rngSeed)
    for n in vocabSizes {
        let sampler = try Sampler(parameters: parameters(n), vocabularySize: n)
        for _ in 0..<50 {
            let logits = randomTestLogits(n, &rng)
            #expect(sampleOnce(sampler, logits) == naiveArgmax(logits))
        }
    }
}

@Test func greedyIsArgmax() throws {
    try expectArgmax(rngSeed: 1) { _ in .greedy }
}

@Test func temperatureZeroIgnoresSeed() throws {
    var rng = Xoshiro256StarStar(seed: 2)
    let n = 257
    let logits = randomTestLogits(n, &rng)
    var results = Set<Int>()
    for seed in 0..<20 as Range<UInt64> {
        let sampler = try Sampler(
            parameters: .init(temperature: 0, topK: 10, topP: 0.5, seed: seed), vocabularySize: n)
        for _ in 0..<5 { results.insert(sampleOnce(sampler, logits)) }
    }
    #expect(results == [naiveArgmax(logits)])
}

@Test func topKOneIsGreedy() throws {
    try expectArgmax(rngSeed: 3) { n in .init(temperature: 1.5, topK: 1, topP: 1, seed: UInt64(n)) }
}

// MARK: - Reproducibility

@Test func sameSeedSameSequenceDifferentSeedDifferent() throws {
    var rng = Xoshiro256StarStar(seed: 4)
    let n = 100
    let logits = randomTestLogits(n, &rng, ties: false).map { $0 / 3 }  // flat-ish distribution
    func draws(_ seed: UInt64) throws -> [Int] {
        let sampler = try Sampler(
            parameters: .init(temperature: 1, topK: 0, topP: 1, seed: seed), vocabularySize: n)
        return (0..<200).map { _ in sampleOnce(sampler, logits) }
    }
    for seed in [0, 1, 12345, UInt64.max] as [UInt64] {
        #expect(try draws(seed) == draws(seed))
    }
    #expect(try draws(1) != draws(2))
    #expect(try draws(0) != draws(UInt64.max))

    // reseed restarts the stream.
    let sampler = try Sampler(parameters: .init(temperature: 1, topK: 0, topP: 1, seed: 9), vocabularySize: n)
    let first = (0..<50).map { _ in sampleOnce(sampler, logits) }
    sampler.reseed(9)
    #expect((0..<50).map { _ in sampleOnce(sampler, logits) } == first)
}

// MARK: - Truncation

@Test func topKStaysWithinTheKLargest() throws {
    var rng = Xoshiro256StarStar(seed: 5)
    for n in vocabSizes {
        for k in [1, 2, 3, 7, 40, n - 1, n, n + 5] where k >= 1 {
            let sampler = try Sampler(
                parameters: .init(temperature: 2, topK: k, topP: 1, seed: UInt64(n * 1000 + k)),
                vocabularySize: n)
            for _ in 0..<30 {
                let logits = randomTestLogits(n, &rng)
                let allowed = Set(rankOrder(logits).prefix(k))
                for _ in 0..<5 {
                    let t = sampleOnce(sampler, logits)
                    #expect(allowed.contains(t), "n=\(n) k=\(k) token \(t)")
                }
            }
        }
    }
}

@Test func topPStaysWithinTheNucleus() throws {
    var rng = Xoshiro256StarStar(seed: 6)
    for n in vocabSizes {
        for topP: Float in [0.05, 0.3, 0.5, 0.9, 0.99] {
            for topK in [0, 5] {
                let temperature: Float = 0.7
                let sampler = try Sampler(
                    parameters: .init(temperature: temperature, topK: topK, topP: topP, seed: UInt64(n)),
                    vocabularySize: n)
                for round in 0..<20 {
                    let logits = randomTestLogits(n, &rng, ties: round % 2 == 0)
                    // Independent nucleus: plain sort by probability, cumulative in Double. The
                    // target is raised a little so that rounding can only widen the allowed set.
                    var order = rankOrder(logits)
                    if topK > 0 { order = Array(order.prefix(topK)) }
                    let probs = referenceSoftmax(order.map { logits[$0] }, temperature: Double(temperature))
                    var allowed = Set<Int>()
                    var cumulative = 0.0
                    for (j, t) in order.enumerated() {
                        allowed.insert(t)
                        cumulative += probs[j]
                        if cumulative >= Double(topP) + 1e-4 { break }
                    }
                    for _ in 0..<5 {
                        let t = sampleOnce(sampler, logits)
                        #expect(allowed.contains(t), "n=\(n) topP=\(topP) topK=\(topK) token \(t)")
                    }
                }
            }
        }
    }
}

@Test func truncatedFrequenciesMatchReference() throws {
    // Small vocabularies, every combination of the truncations: the sampler must draw from
    // exactly the reference distribution (nothing outside it, nothing missing, renormalised).
    var rng = Xoshiro256StarStar(seed: 21)
    var checked = 0
    for round in 0..<24 {
        let n = [2, 5, 8, 12][round % 4]
        let logits = randomTestLogits(n, &rng, ties: round % 3 == 0)
        let parameters = SamplingParameters(
            temperature: [0.5, 1, 1.7][round % 3],
            topK: [0, 1, 3, 6][(round / 3) % 4],
            topP: [1, 0.9, 0.6, 0.3][(round / 2) % 4],
            minP: [0, 0, 0.05, 0.3][(round / 5) % 4],
            seed: UInt64(round))
        guard let expected = referenceDistribution(logits, parameters) else { continue }
        let sampler = try Sampler(parameters: parameters, vocabularySize: n)
        expectFrequencies(sampler, logits, expected, draws: 6000)
        checked += 1
    }
    #expect(checked >= 16)
}

@Test func nucleusWithNearTiesInALargeVocabulary() throws {
    // Many logits share their high bits (and some are equal), so the radix select of the
    // nucleus must go through all its levels and the final run of exact ties.
    let n = 3000
    var rng = Xoshiro256StarStar(seed: 22)
    var logits = randomTestLogits(n, &rng, ties: false).map { $0 - 8 }  // a low background
    for i in stride(from: 5, to: n, by: 97) {
        logits[i] = Float(bitPattern: 0x4000_0000 + UInt32(rng.next() % 6))  // 2.0 plus 0...5 ulp
    }
    logits[40] = 2.5
    for (topP, topK) in [(0.3, 0), (0.5, 0), (0.5, 20), (0.93, 0), (0.7, 25)] as [(Float, Int)] {
        let parameters = SamplingParameters(temperature: 1, topK: topK, topP: topP, seed: 7)
        guard let expected = referenceDistribution(logits, parameters) else { continue }
        let sampler = try Sampler(parameters: parameters, vocabularySize: n)
        expectFrequencies(sampler, logits, expected, draws: 8000)
    }
}

@Test func topKWithAllEqualLogitsKeepsTheLowestIndices() throws {
    let logits = [Float](repeating: 0.25, count: 40)
    let sampler = try Sampler(parameters: .init(temperature: 1, topK: 3, topP: 1, seed: 1), vocabularySize: 40)
    expectFrequencies(sampler, logits, [1.0 / 3, 1.0 / 3, 1.0 / 3] + [Double](repeating: 0, count: 37), draws: 3000)
    let nucleus = try Sampler(parameters: .init(temperature: 1, topK: 0, topP: 0.09, seed: 1), vocabularySize: 40)
    expectFrequencies(nucleus, logits, [0.25, 0.25, 0.25, 0.25] + [Double](repeating: 0, count: 36), draws: 3000)
}

@Test func topPSmallKeepsOnlyTheTopToken() throws {
    // The top token alone reaches topP: always chosen, whatever the seed.
    let logits: [Float] = [0, 3, 1, 2.9, -1]  // p(1) ≈ 0.45
    for seed in 0..<50 as Range<UInt64> {
        let sampler = try Sampler(parameters: .init(temperature: 1, topK: 0, topP: 0.4, seed: seed), vocabularySize: 5)
        #expect(sampleOnce(sampler, logits) == 1)
    }
}

@Test func minPDropsUnlikelyTokens() throws {
    var rng = Xoshiro256StarStar(seed: 8)
    for n in vocabSizes {
        for minP: Float in [0.01, 0.2, 0.6] {
            for topK in [0, 10] {
                let sampler = try Sampler(
                    parameters: .init(temperature: 1, topK: topK, topP: 1, minP: minP, seed: 3),
                    vocabularySize: n)
                for _ in 0..<20 {
                    let logits = randomTestLogits(n, &rng, ties: false)
                    let probs = referenceSoftmax(logits)
                    let pMax = probs.max()!
                    for _ in 0..<5 {
                        let t = sampleOnce(sampler, logits)
                        #expect(probs[t] >= Double(minP) * pMax * (1 - 1e-4), "n=\(n) minP=\(minP) token \(t)")
                        if topK > 0 { #expect(rankOrder(logits).prefix(topK).contains(t)) }
                    }
                }
            }
        }
    }
}

// MARK: - Distribution

@Test func frequenciesMatchSoftmax() throws {
    let logits: [Float] = [1.0, 0.5, -0.3, 2.0, 0.0]
    let expected = referenceSoftmax(logits)
    let draws = 20_000
    for seed in [1, 2, 3] as [UInt64] {
        let sampler = try Sampler(
            parameters: .init(temperature: 1, topK: 0, topP: 1, seed: seed), vocabularySize: logits.count)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<draws { counts[sampleOnce(sampler, logits)] += 1 }
        for t in logits.indices {
            let mean = Double(draws) * expected[t]
            let standardError = (Double(draws) * expected[t] * (1 - expected[t])).squareRoot()
            #expect(abs(Double(counts[t]) - mean) < 4.5 * standardError, "token \(t): \(counts[t]) vs \(mean)")
        }
    }
}

@Test func temperatureSharpensAndFlattens() throws {
    let logits: [Float] = [1, 0]
    func frequencyOfZero(_ temperature: Float) throws -> Double {
        let sampler = try Sampler(
            parameters: .init(temperature: temperature, topK: 0, topP: 1, seed: 11), vocabularySize: 2)
        let hits = (0..<10_000).filter { _ in sampleOnce(sampler, logits) == 0 }.count
        return Double(hits) / 10_000
    }
    // p0 = 1 / (1 + e^(-1/T)): T=0.5 → 0.881, T=1 → 0.731, T=4 → 0.562.
    #expect(abs(try frequencyOfZero(0.5) - 0.881) < 0.02)
    #expect(abs(try frequencyOfZero(1) - 0.731) < 0.02)
    #expect(abs(try frequencyOfZero(4) - 0.562) < 0.02)
}

// MARK: - Repetition penalty

@Test func repetitionPenaltyOnConcreteNumbers() throws {
    let sampler = try Sampler(
        parameters: .init(temperature: 0, repeatPenalty: 2, repeatLastN: 64), vocabularySize: 5)
    var logits: [Float] = [10, 1, 0, -2, 3]
    // Token 0 appears twice but is penalised once; 2 (zero) and 3 (negative) are multiplied.
    let chosen = sampler.sample(logits: &logits, history: [0, 2, 3, 0])
    #expect(logits == [5, 1, 0, -4, 3])
    #expect(chosen == 0)

    // The huge logit in the history loses to the next best once penalised.
    let sampler2 = try Sampler(
        parameters: .init(temperature: 0, repeatPenalty: 2, repeatLastN: 64), vocabularySize: 2)
    var logits2: [Float] = [3, 2.5]
    #expect(sampler2.sample(logits: &logits2, history: [0]) == 1)
    #expect(logits2 == [1.5, 2.5])

    // Out-of-range history tokens are ignored.
    var logits3: [Float] = [1, 1, 1, 1, 1]
    _ = sampler.sample(logits: &logits3, history: [-1, 5, 99])
    #expect(logits3 == [1, 1, 1, 1, 1])
}

@Test func repetitionPenaltyWindow() throws {
    let history = [0, 1, 2, 2]
    func penalised(_ lastN: Int) throws -> [Float] {
        let sampler = try Sampler(
            parameters: .init(temperature: 0, repeatPenalty: 4, repeatLastN: lastN), vocabularySize: 4)
        var logits: [Float] = [8, 8, 8, 8]
        _ = sampler.sample(logits: &logits, history: history)
        return logits
    }
    #expect(try penalised(0) == [8, 8, 8, 8])
    #expect(try penalised(2) == [8, 8, 2, 8])
    #expect(try penalised(3) == [8, 2, 2, 8])
    #expect(try penalised(-1) == [2, 2, 2, 8])
    #expect(try penalised(100) == [2, 2, 2, 8])

    // Repeated calls on one sampler (the "already penalised" marks must reset each call).
    let sampler = try Sampler(parameters: .init(temperature: 0, repeatPenalty: 2, repeatLastN: -1), vocabularySize: 4)
    for _ in 0..<3 {
        var logits: [Float] = [4, 4, 4, 4]
        _ = sampler.sample(logits: &logits, history: [1, 1, 3])
        #expect(logits == [4, 2, 4, 2])
    }
}

@Test func repetitionPenaltyLowersProbability() throws {
    let logits: [Float] = [5, 0]
    func frequencyOfZero(penalty: Float) throws -> Double {
        let sampler = try Sampler(
            parameters: .init(temperature: 1, topK: 0, topP: 1, repeatPenalty: penalty, seed: 5),
            vocabularySize: 2)
        let hits = (0..<10_000).filter { _ in sampleOnce(sampler, logits, history: [0]) == 0 }.count
        return Double(hits) / 10_000
    }
    // Without penalty p0 = 0.9933; with penalty 5 the logit becomes 1: p0 = 0.731.
    #expect(try frequencyOfZero(penalty: 1) > 0.98)
    #expect(abs(try frequencyOfZero(penalty: 5) - 0.731) < 0.02)
}

// MARK: - Robustness

@Test func nanLogitsDoNotCrash() throws {
    var rng = Xoshiro256StarStar(seed: 9)
    for n in vocabSizes {
        for parameters in [
            SamplingParameters.greedy,
            SamplingParameters(temperature: 1, topK: 0, topP: 1, seed: 1),
            SamplingParameters(temperature: 1, topK: 3, topP: 0.9, minP: 0.1, seed: 1),
            SamplingParameters(temperature: 0.8, topK: 0, topP: 0.5, repeatPenalty: 1.3, seed: 1),
        ] {
            let sampler = try Sampler(parameters: parameters, vocabularySize: n)
            for _ in 0..<20 {
                var logits = randomTestLogits(n, &rng)
                for i in logits.indices where rng.nextFloat() < 0.3 { logits[i] = .nan }
                let t = sampleOnce(sampler, logits, history: [0, n - 1])
                #expect(t >= 0 && t < n)
                if logits.contains(where: { !$0.isNaN }) { #expect(!logits[t].isNaN) }
            }
            // All NaN, all -inf: no valid token, but no crash either.
            #expect(sampleOnce(sampler, [Float](repeating: .nan, count: n)) == 0)
            #expect(sampleOnce(sampler, [Float](repeating: -.infinity, count: n)) == 0)
        }
    }
}

@Test func infiniteLogitsAndExtremeTemperatures() throws {
    // +inf logits take all the probability.
    for seed in 0..<20 as Range<UInt64> {
        let sampler = try Sampler(parameters: .init(temperature: 1, topK: 0, topP: 1, seed: seed), vocabularySize: 4)
        #expect([1, 3].contains(sampleOnce(sampler, [0, .infinity, 5, .infinity])))
        let tiny = try Sampler(parameters: .init(temperature: 1e-30, topK: 0, topP: 0.9, seed: seed), vocabularySize: 3)
        #expect(sampleOnce(tiny, [1, 2, 1.5]) == 1)
    }
}
