// Token sampling: repetition penalty, greedy, top-k, temperature, top-p, min-p.
//
// The order and meaning of the steps follow llama.cpp, so its users get what they expect:
//   1. repetition penalty on the distinct tokens among the last `repeatLastN` of the history;
//   2. temperature 0 → argmax;
//   3. top-k, 4. softmax with temperature, 5. top-p, 6. min-p, 7. renormalise and draw.
//
// Tokens rank by logit, descending, ties going to the lower token id. Nothing is sorted (the
// standard library takes milliseconds to sort 50k keys): top-k keeps a small heap, and top-p
// finds its nucleus by a radix select on the logits' bits, in a few linear passes. Both give
// the kept tokens as a set, which is all the draw needs. Probabilities stay unnormalised (the
// top logit has weight exactly 1) and thresholds are scaled instead, saving a division a token.

import Glibc
import Kernels
import GPT2Runtime

/// An invalid sampling setting.
public enum SamplingError: Error, CustomStringConvertible, Equatable {
    /// A parameter is out of range; `requirement` says what it must be.
    case invalidParameter(name: String, value: String, requirement: String)
    /// The vocabulary size is not in 1...Sampler.maximumVocabularySize.
    case invalidVocabularySize(Int)

    public var description: String {
        switch self {
        case let .invalidParameter(name, value, requirement):
            return "invalid sampling parameter \(name) = \(value): \(requirement)"
        case let .invalidVocabularySize(size):
            return "invalid vocabulary size \(size): must be between 1 and \(Sampler.maximumVocabularySize)"
        }
    }
}

/// How the next token is chosen from the logits.
public struct SamplingParameters: Sendable, Equatable {
    /// Softmax temperature; 0 selects greedy decoding (argmax).
    public var temperature: Float
    /// Keep only the `topK` most likely tokens; 0 disables (whole vocabulary).
    public var topK: Int
    /// Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches
    /// `topP`; in (0, 1], 1 disables.
    public var topP: Float
    /// Drop tokens less likely than `minP` times the most likely one; in [0, 1), 0 disables.
    public var minP: Float
    /// Penalty for tokens seen recently (> 0; 1 disables). Positive logits are divided by it,
    /// the others multiplied.
    public var repeatPenalty: Float
    /// How many of the most recent tokens the penalty looks at; 0 → none, -1 → the whole history.
    public var repeatLastN: Int
    /// Seed of the random number generator; the same seed gives the same text.
    public var seed: UInt64

    /// Creates sampling parameters; the defaults are llama.cpp's usual ones.
    public init(
        temperature: Float = 0.8,
        topK: Int = 40,
        topP: Float = 0.95,
        minP: Float = 0,
        repeatPenalty: Float = 1.0,
        repeatLastN: Int = 64,
        seed: UInt64 = 0
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repeatPenalty = repeatPenalty
        self.repeatLastN = repeatLastN
        self.seed = seed
    }

    /// Deterministic decoding: always the most likely token, no penalty.
    public static let greedy = SamplingParameters(
        temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, repeatLastN: 0)

    /// Throws a `SamplingError` naming the first parameter that is out of range.
    public func validate() throws {
        func invalid(_ name: String, _ value: some CustomStringConvertible, _ requirement: String)
            -> SamplingError
        {
            .invalidParameter(name: name, value: value.description, requirement: requirement)
        }
        // Comparisons are written so that NaN fails them.
        guard temperature >= 0, temperature.isFinite else {
            throw invalid("temperature", temperature, "must be a finite number >= 0 (0 means greedy)")
        }
        guard topK >= 0 else {
            throw invalid("topK", topK, "must be >= 0 (0 disables it)")
        }
        guard topP > 0, topP <= 1 else {
            throw invalid("topP", topP, "must be in (0, 1] (1 disables it)")
        }
        guard minP >= 0, minP < 1 else {
            throw invalid("minP", minP, "must be in [0, 1) (0 disables it)")
        }
        guard repeatPenalty > 0, repeatPenalty.isFinite else {
            throw invalid("repeatPenalty", repeatPenalty, "must be a finite number > 0 (1 disables it)")
        }
        guard repeatLastN >= -1 else {
            throw invalid("repeatLastN", repeatLastN, "must be >= -1 (0 means none, -1 the whole history)")
        }
    }
}

/// Chooses next tokens from logits. Holds the random generator and all scratch memory, so
/// sampling allocates nothing; one instance per generation stream (not thread-safe).
public final class Sampler {
    /// The settings this sampler was created with.
    public let parameters: SamplingParameters
    /// Number of logits expected per call.
    public let vocabularySize: Int

    private var rng: Xoshiro256StarStar
    /// Rank keys of the best tokens so far, during top-k.
    private let heap: UnsafeMutableBufferPointer<UInt64>
    /// Tokens still in the running during the nucleus selection.
    private let pending: UnsafeMutableBufferPointer<Int32>
    /// The tokens kept so far, and their unnormalised probabilities.
    private let candidates: UnsafeMutableBufferPointer<Int32>
    private let weights: UnsafeMutableBufferPointer<Float>
    /// Unnormalised probabilities by token id.
    private let tokenWeights: UnsafeMutableBufferPointer<Float>
    /// Probability mass per digit during the nucleus selection.
    private let histogram: UnsafeMutableBufferPointer<Float>
    /// Per-token stamp: `marks[t] == stamp` means token t was already penalised this call.
    private let marks: UnsafeMutableBufferPointer<UInt32>
    private var stamp: UInt32 = 0

    /// Largest supported vocabulary (token ids are stored in 32 bits).
    public static let maximumVocabularySize = Int(Int32.max)

    /// Creates a sampler; throws `SamplingError` if the parameters or the size are invalid.
    public init(parameters: SamplingParameters, vocabularySize: Int) throws {
        try parameters.validate()
        guard vocabularySize >= 1, vocabularySize <= Sampler.maximumVocabularySize else {
            throw SamplingError.invalidVocabularySize(vocabularySize)
        }
        self.parameters = parameters
        self.vocabularySize = vocabularySize
        rng = Xoshiro256StarStar(seed: parameters.seed)
        heap = .allocate(capacity: vocabularySize)
        pending = .allocate(capacity: vocabularySize)
        candidates = .allocate(capacity: vocabularySize)
        weights = .allocate(capacity: vocabularySize)
        tokenWeights = .allocate(capacity: vocabularySize)
        histogram = .allocate(capacity: 2048)
        marks = .allocate(capacity: vocabularySize)
        marks.initialize(repeating: 0)
    }

    deinit {
        heap.deallocate()
        pending.deallocate()
        candidates.deallocate()
        weights.deallocate()
        tokenWeights.deallocate()
        histogram.deallocate()
        marks.deallocate()
    }

    /// Restarts the random stream as if the sampler had been created with `seed`.
    public func reseed(_ seed: UInt64) {
        rng = Xoshiro256StarStar(seed: seed)
    }

    /// Samples from a session's logits (see `sample(logits:history:)` on a buffer).
    public func sample(logits: SessionLogits, history: [Int]) -> Int {
        logits.withUnsafeMutableBufferPointer { sample(logits: $0, history: history) }
    }

    /// Picks the next token. `logits` (length vocabularySize) may be modified in place (the
    /// repetition penalty is applied to them, NaN becomes -infinity). `history` = all tokens so
    /// far (prompt + generated); ids outside the vocabulary are ignored.
    ///
    /// If no logit is above -infinity, token 0 is returned. Non-greedy sampling uses exactly one
    /// random number per call, so a stream depends only on the seed and the number of tokens.
    public func sample(logits: UnsafeMutableBufferPointer<Float>, history: [Int]) -> Int {
        precondition(logits.count == vocabularySize, "expected \(vocabularySize) logits, got \(logits.count)")
        let p = parameters
        let n = vocabularySize

        applyRepetitionPenalty(logits, history: history)
        let (maxLogit, best) = sanitizeAndArgmax(logits)
        if p.temperature == 0 {
            return best
        }
        let u = rng.nextFloat()
        if maxLogit == -.infinity {
            return best  // nothing is possible; answer rather than crash
        }
        let invTemperature = 1 / p.temperature

        // Softmax weights: of the top k only, or of the whole vocabulary.
        var count: Int  // candidates[0..<count] with weights[0..<count], in no particular order
        var total: Float
        if p.topK > 0 && p.topK < n {
            count = selectTopK(logits, k: p.topK)
            for j in 0..<count {
                weights[j] = logits[Int(candidates[j])]
            }
            total = exponentiate(weights.baseAddress!, into: weights.baseAddress!, count: count,
                                 maxLogit: maxLogit, invTemperature: invTemperature)
            for j in 0..<count {
                tokenWeights[Int(candidates[j])] = weights[j]
            }
            if p.topP < 1 && count > 1 {
                pending.baseAddress!.update(from: candidates.baseAddress!, count: count)
                count = selectNucleus(logits, pending: count, target: p.topP * total)
            }
        } else {
            total = exponentiate(logits.baseAddress!, into: tokenWeights.baseAddress!, count: n,
                                 maxLogit: maxLogit, invTemperature: invTemperature)
            if p.topP < 1 && n > 1 {
                // Only the tokens that can be in the nucleus go on. A token with probability
                // below (1 - topP) / (n - 1) never is, unless it is the most likely one: all
                // the tokens from it on have less than 1 - topP together, so the tokens before
                // it have already reached topP. The top weight is 1, hence the min.
                let threshold = min((1 - p.topP) / Float(n - 1) * total, 1)
                var m = 0
                for i in 0..<n where tokenWeights[i] >= threshold {
                    pending[m] = Int32(truncatingIfNeeded: i)
                    m += 1
                }
                count = selectNucleus(logits, pending: m, target: p.topP * total)
            } else if p.minP == 0 {
                return drawFromAll(total: total, u: u)
            } else {
                count = 0  // min-p alone: filter here, the pass below keeps them all
                for i in 0..<n where tokenWeights[i] >= p.minP {
                    candidates[count] = Int32(truncatingIfNeeded: i)
                    count += 1
                }
            }
        }

        // Min-p (the top weight is exactly 1, so minP * p_max is minP in weight units); this
        // also lines the weights up with the candidates for the draw.
        var kept = 0
        for j in 0..<count {
            let w = tokenWeights[Int(candidates[j])]
            if w >= p.minP {
                candidates[kept] = candidates[j]
                weights[kept] = w
                kept += 1
            }
        }
        return draw(count: kept, u: u)
    }

    /// Convenience for arrays; see `sample(logits:history:)`.
    public func sample(logits: inout [Float], history: [Int]) -> Int {
        logits.withUnsafeMutableBufferPointer { sample(logits: $0, history: history) }
    }

    // MARK: - Steps

    private func applyRepetitionPenalty(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int]) {
        let penalty = parameters.repeatPenalty
        let lastN = parameters.repeatLastN
        guard penalty != 1, lastN != 0, !history.isEmpty else { return }

        // A fresh stamp marks "already penalised" without clearing the marks each call.
        stamp &+= 1
        if stamp == 0 {
            marks.update(repeating: 0)
            stamp = 1
        }
        let start = lastN < 0 ? 0 : max(0, history.count - lastN)
        for t in history[start...] where t >= 0 && t < vocabularySize && marks[t] != stamp {
            marks[t] = stamp
            let x = logits[t]
            logits[t] = x > 0 ? x / penalty : x * penalty
        }
    }

    /// Replaces NaN by -inf; returns the largest logit and its lowest index.
    private func sanitizeAndArgmax(_ logits: UnsafeMutableBufferPointer<Float>) -> (Float, Int) {
        let n = logits.count
        let base = logits.baseAddress!
        var maxVector = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= n {
            var v = (base + i).vec16()
            let isNaN = v .!= v
            if any(isNaN) {
                v.replace(with: -.infinity, where: isNaN)
                (base + i).store(v)
            }
            // A compare and blend; pointwiseMax is not vectorised (it follows Swift.max).
            maxVector.replace(with: v, where: v .> maxVector)
            i += 16
        }
        var maxLogit = maxVector.max()
        while i < n {
            if base[i].isNaN {
                base[i] = -.infinity
            }
            maxLogit = max(maxLogit, base[i])
            i += 1
        }
        // The lowest index holding the maximum; 16 at a time, then within the block.
        var best = 0
        while best + 16 <= n && !any((base + best).vec16() .== maxLogit) {
            best += 16
        }
        while base[best] != maxLogit {
            best += 1
        }
        return (maxLogit, best)
    }

    /// Puts the k best tokens into candidates[0..<k], in index order; returns k.
    /// A max-heap of rank keys holds the k best seen so far with the worst on top. Tokens come
    /// in index order, so a newcomer enters only with a logit strictly above the worst one's;
    /// blocks of 16 that hold no such logit are skipped with one comparison.
    private func selectTopK(_ logits: UnsafeMutableBufferPointer<Float>, k: Int) -> Int {
        let n = logits.count
        let base = logits.baseAddress!
        for i in 0..<k {
            heap[i] = rankKey(base[i], i)
        }
        var start = k / 2
        while start > 0 {
            start -= 1
            siftDown(from: start, count: k)
        }
        var worst = base[token(heap[0])]

        @inline(__always)
        func offer(_ i: Int) {
            if base[i] > worst {
                heap[0] = rankKey(base[i], i)
                siftDown(from: 0, count: k)
                worst = base[token(heap[0])]
            }
        }
        visit(k..<n, skippingBlocks: { !any((base + $0).vec16() .> worst) }, offer)

        // Collect the winners in index order: every logit above the worst kept one, and the
        // ties with it up to its index.
        let worstToken = token(heap[0])
        var count = 0
        @inline(__always)
        func collect(_ i: Int) {
            if base[i] > worst || (base[i] == worst && i <= worstToken) {
                candidates[count] = Int32(truncatingIfNeeded: i)
                count += 1
            }
        }
        visit(0..<n, skippingBlocks: { !any((base + $0).vec16() .>= worst) }, collect)
        return count
    }

    /// Calls `body(i)` for every i in `range`, except in the aligned blocks of 16 indices that
    /// `canSkip(first index of the block)` rules out, asked when the scan reaches the block.
    @inline(__always)
    private func visit(_ range: Range<Int>, skippingBlocks canSkip: (Int) -> Bool, _ body: (Int) -> Void) {
        var i = range.lowerBound
        while i < range.upperBound && i % 16 != 0 {
            body(i)
            i += 1
        }
        while i + 16 <= range.upperBound {
            if !canSkip(i) {
                for lane in 0..<16 {
                    body(i + lane)
                }
            }
            i += 16
        }
        while i < range.upperBound {
            body(i)
            i += 1
        }
    }

    @inline(__always)
    private func siftDown(from root: Int, count: Int) {
        var parent = root
        let value = heap[parent]
        while true {
            var child = 2 * parent + 1
            if child >= count { break }
            if child + 1 < count && heap[child + 1] > heap[child] {
                child += 1
            }
            if heap[child] <= value { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = value
    }

    /// Top-p by radix select. Puts into candidates[0...] the best of the tokens pending[0..<count]
    /// (in rank order) until their weight reaches `target`, and returns how many (at least one).
    /// Tokens with equal logits must be pending in index order (every step here keeps it).
    ///
    /// Each level buckets the pending tokens on 11 (then 11, then 10) bits of the logit's score,
    /// keeps every bucket above the one where the target is reached, and goes on with that one
    /// only. After all 32 bits the rest tie exactly and are taken in index order.
    private func selectNucleus(
        _ logits: UnsafeMutableBufferPointer<Float>, pending count: Int, target: Float
    ) -> Int {
        var remaining = count
        var kept = 0
        var reached: Float = 0
        for level in 0..<3 {
            if remaining <= 1 { break }
            let shift: UInt32 = level == 0 ? 21 : level == 1 ? 10 : 0
            let mask: UInt32 = level == 2 ? 0x3FF : 0x7FF
            @inline(__always)
            func digit(_ t: Int) -> Int { Int((score(logits[t]) >> shift) & mask) }

            let buckets = histogram.baseAddress!
            buckets.update(repeating: 0, count: Int(mask) + 1)
            for j in 0..<remaining {
                let t = Int(pending[j])
                buckets[digit(t)] += tokenWeights[t]
            }
            // The bucket where the target is reached; -1 if rounding never gets there.
            var boundary = Int(mask)
            while boundary >= 0 && reached + buckets[boundary] < target {
                reached += buckets[boundary]
                boundary -= 1
            }
            var stillPending = 0
            for j in 0..<remaining {
                let t = pending[j]
                let d = digit(Int(t))
                if d > boundary {
                    candidates[kept] = t
                    kept += 1
                } else if d == boundary {
                    pending[stillPending] = t
                    stillPending += 1
                }
            }
            remaining = stillPending
        }
        // Equal logits (or a single token) left: take them in order until the target is met.
        for j in 0..<remaining {
            let t = pending[j]
            candidates[kept] = t
            kept += 1
            reached += tokenWeights[Int(t)]
            if reached >= target { break }
        }
        return kept
    }

    /// Draws among candidates[0..<count] with probabilities proportional to weights[0..<count].
    private func draw(count: Int, u: Float) -> Int {
        let w = UnsafePointer(weights.baseAddress!)
        return Int(candidates[pick(w, count: count, r: u * sum(w, count: count))])
    }

    /// Draws among all tokens with probabilities proportional to tokenWeights.
    private func drawFromAll(total: Float, u: Float) -> Int {
        pick(UnsafePointer(tokenWeights.baseAddress!), count: vocabularySize, r: u * total)
    }
}

// MARK: - Helpers

/// Writes exp((x - maxLogit) / T) for count logits from `source` into `destination` (which may
/// be the same memory) and returns their sum. The top logit(s) get exactly 1, also when the
/// maximum is +inf, where x - max would be NaN.
private func exponentiate(
    _ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, count: Int,
    maxLogit: Float, invTemperature: Float
) -> Float {
    @inline(__always)
    func weights(_ x: SIMD16<Float>) -> SIMD16<Float> {
        var d = (x - maxLogit) * invTemperature
        d.replace(with: 0, where: x .== maxLogit)
        return exp(d)  // Kernels' vectorised exp
    }
    var sum = SIMD16<Float>()
    var i = 0
    while i + 16 <= count {
        let w = weights((source + i).vec16())
        (destination + i).store(w)
        sum += w
        i += 16
    }
    if i < count {
        // Pad the tail with -inf, whose weight is 0.
        var x = SIMD16<Float>(repeating: -.infinity)
        for lane in 0..<(count - i) {
            x[lane] = source[i + lane]
        }
        let w = weights(x)
        for lane in 0..<(count - i) {
            destination[i + lane] = w[lane]
        }
        sum += w
    }
    return sum.sum()
}

/// Sum of w[0..<count].
private func sum(_ w: UnsafePointer<Float>, count: Int) -> Float {
    var vector = SIMD16<Float>()
    var j = 0
    while j + 16 <= count {
        vector += (w + j).vec16()
        j += 16
    }
    var total = vector.sum()
    while j < count {
        total += w[j]
        j += 1
    }
    return total
}

/// The first index where the running sum of the weights w[0..<count] passes r, skipping blocks
/// of 16 by their sums. If rounding keeps it from passing, the last non-zero weight's index.
/// At least one weight must be non-zero.
private func pick(_ w: UnsafePointer<Float>, count: Int, r: Float) -> Int {
    var cumulative: Float = 0
    var j = 0
    while j + 16 <= count {
        let block = (w + j).vec16().sum()
        if r < cumulative + block { break }
        cumulative += block
        j += 16
    }
    while j < count {
        if w[j] > 0 {
            cumulative += w[j]
            if r < cumulative { return j }
        }
        j += 1
    }
    var last = count - 1
    while last > 0 && !(w[last] > 0) {
        last -= 1
    }
    return last
}

/// Heap key that sorts ascending by logit descending, then token id ascending.
@inline(__always)
private func rankKey(_ x: Float, _ token: Int) -> UInt64 {
    UInt64(~score(x)) << 32 | UInt64(truncatingIfNeeded: token)
}

@inline(__always)
private func token(_ key: UInt64) -> Int {
    Int(truncatingIfNeeded: key & 0xFFFF_FFFF)
}

/// Order-preserving map of a (non-NaN) float to an unsigned integer: larger logit, larger score.
/// -0 and +0 get the same score so that they tie.
@inline(__always)
private func score(_ x: Float) -> UInt32 {
    let bits = (x + 0).bitPattern  // + 0 turns -0 into +0
    return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
}
