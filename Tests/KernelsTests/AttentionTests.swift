import Glibc
import Kernels
import GPT2Runtime
import Testing

/// A KV cache (keys in tiles, `keyCacheCount`; values [H, capacity, hd]) whose unused slots hold
/// the NaN canary: attention using a slot past the causal limit would turn its output into NaN
/// (the tiled kernels do load key lanes past the limit: they must mask them, not use them).
private struct Cache {
    let keys: GuardedBuffer, values: GuardedBuffer
    init(H: Int, capacity: Int, hd: Int) {
        keys = GuardedBuffer(count: keyCacheCount(H: H, capacity: capacity, hd: hd))
        values = GuardedBuffer(count: H * capacity * hd)
        keys.pointer.update(repeating: GuardedBuffer.canary, count: keys.count)
        values.pointer.update(repeating: GuardedBuffer.canary, count: values.count)
    }
}

/// Causal attention of `T` queries at positions `first ..< first + T`, built in Double from the
/// full score matrix: `keys[h][j]`, `values[h][j]` are head h's vectors for positions 0 ..< first + T.
private func attentionReference(
    qkv: GuardedBuffer, keys: [[[Float]]], values: [[[Float]]],
    T: Int, first: Int, H: Int, hd: Int, scale: Double
) -> [Double] {
    let C = H * hd
    var out = [Double](repeating: 0, count: T * C)
    for t in 0..<T {
        for h in 0..<H {
            let count = first + t + 1
            var scores = [Double](repeating: 0, count: count)
            for j in 0..<count {
                var s = 0.0
                for d in 0..<hd { s += Double(qkv[t * 3 * C + h * hd + d]) * Double(keys[h][j][d]) }
                scores[j] = s * scale
            }
            let top = scores.max()!
            let weights = scores.map { Glibc.exp($0 - top) }
            let total = weights.reduce(0, +)
            for d in 0..<hd {
                var s = 0.0
                for j in 0..<count { s += weights[j] * Double(values[h][j][d]) }
                out[t * C + h * hd + d] = s / total
            }
        }
    }
    return out
}

@Suite("attention and KV cache")
struct AttentionTests {
    @Test("storeKeyValues + attention match a Double causal softmax",
          arguments: [8, 12, 16, 24, 64], [1, 2, 3])
    func matchesReference(hd: Int, threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        var rng = SeededGenerator(seed: UInt64(hd * 10 + threads))
        for H in [1, 3] {
            // T: one query (decode), fewer than a 6-query block, whole blocks, blocks + leftovers.
            for T in [1, 5, 6, 13, 33] {
                for first in [0, 7, 40] {
                    // Larger queries make the softmax peaky, so the running max keeps moving.
                    for queryScale: Float in [1, 8] {
                        let C = H * hd, capacity = first + T + 5
                        let context = "hd=\(hd) threads=\(threads) H=\(H) T=\(T) first=\(first) q×\(queryScale)"
                        let cache = Cache(H: H, capacity: capacity, hd: hd)
                        // History: positions 0 ..< first, written directly into the cache.
                        var keys = [[[Float]]](repeating: [], count: H), values = keys
                        for h in 0..<H {
                            for j in 0..<first {
                                let k = (0..<hd).map { _ in rng.nextSigned() }
                                let v = (0..<hd).map { _ in rng.nextSigned() }
                                for d in 0..<hd {
                                    cache.keys.pointer[keyCacheIndex(h: h, position: j, d: d, capacity: capacity, hd: hd)] = k[d]
                                    cache.values.pointer[(h * capacity + j) * hd + d] = v[d]
                                }
                                keys[h].append(k); values[h].append(v)
                            }
                        }
                        let qkv = GuardedBuffer(count: T * 3 * C, random: &rng)
                        for t in 0..<T {
                            for i in 0..<C { qkv.pointer[t * 3 * C + i] *= queryScale }
                        }
                        let qkvBefore = qkv.values
                        storeKeyValues(qkv: qkv.pointer, keys: cache.keys.pointer, values: cache.values.pointer,
                                       T: T, firstPosition: first, H: H, hd: hd, capacity: capacity)
                        for h in 0..<H {
                            for t in 0..<T {
                                keys[h].append((0..<hd).map { qkv[t * 3 * C + C + h * hd + $0] })
                                values[h].append((0..<hd).map { qkv[t * 3 * C + 2 * C + h * hd + $0] })
                            }
                        }
                        // Every slot: history kept, new tokens at first + t, the rest untouched.
                        var misplaced = 0
                        for h in 0..<H {
                            for position in 0..<capacity {
                                for d in 0..<hd {
                                    let slot = (h * capacity + position) * hd + d
                                    let k = cache.keys[keyCacheIndex(h: h, position: position, d: d, capacity: capacity, hd: hd)]
                                    let v = cache.values[slot]
                                    if position < first + T {
                                        if k != keys[h][position][d] || v != values[h][position][d] { misplaced += 1 }
                                    } else if k.bitPattern != GuardedBuffer.canaryBits
                                                || v.bitPattern != GuardedBuffer.canaryBits {
                                        misplaced += 1
                                    }
                                }
                            }
                        }
                        #expect(misplaced == 0, "\(context): \(misplaced) cache elements wrong")
                        #expect(cache.keys.guardsIntact && cache.values.guardsIntact, "\(context)")

                        let out = GuardedBuffer(count: T * C)
                        let scale = 1 / Float(hd).squareRoot()
                        attention(out.pointer, qkv: qkv.pointer, keys: cache.keys.pointer,
                                  values: cache.values.pointer, T: T, firstPosition: first, H: H, hd: hd,
                                  capacity: capacity, scale: scale, pool: pool)
                        let want = attentionReference(qkv: qkv, keys: keys, values: values,
                                                      T: T, first: first, H: H, hd: hd, scale: Double(scale))
                        let error = maxScaledError(out.values, want)
                        #expect(error <= 1e-5, "\(context): scaled error \(error)")
                        #expect(out.guardsIntact, "\(context): wrote outside out")
                        #expect(qkv.values == qkvBefore, "\(context): qkv modified")
                    }
                }
            }
        }
    }

    /// The 6-query block kernel and the one-query kernel (decode, and prefill's leftover rows) do
    /// the same arithmetic per query, so the results are identical, not just close.
    @Test("prefill then token-by-token decode agrees with one prefill of everything",
          arguments: [1, 2, 3], [(24, 21, 6), (64, 40, 13), (16, 37, 1)])
    func incrementalDecodeMatchesPrefill(threads: Int, shape: (hd: Int, total: Int, prompt: Int)) {
        let pool = ThreadPool(threadCount: threads)
        var rng = SeededGenerator(seed: 4242)
        let H = 2, hd = shape.hd, C = H * hd, total = shape.total, prompt = shape.prompt, capacity = 45
        let scale = 1 / Float(hd).squareRoot()
        let qkv = GuardedBuffer(count: total * 3 * C, random: &rng)

        // All tokens at once.
        let full = Cache(H: H, capacity: capacity, hd: hd)
        storeKeyValues(qkv: qkv.pointer, keys: full.keys.pointer, values: full.values.pointer,
                       T: total, firstPosition: 0, H: H, hd: hd, capacity: capacity)
        let expected = GuardedBuffer(count: total * C)
        attention(expected.pointer, qkv: qkv.pointer, keys: full.keys.pointer, values: full.values.pointer,
                  T: total, firstPosition: 0, H: H, hd: hd, capacity: capacity, scale: scale, pool: pool)

        // A prompt, then one token at a time.
        let cache = Cache(H: H, capacity: capacity, hd: hd)
        let out = GuardedBuffer(count: total * C)
        var position = 0
        for T in [prompt] + Array(repeating: 1, count: total - prompt) {
            let rows = qkv.pointer + position * 3 * C
            storeKeyValues(qkv: rows, keys: cache.keys.pointer, values: cache.values.pointer,
                           T: T, firstPosition: position, H: H, hd: hd, capacity: capacity)
            attention(out.pointer + position * C, qkv: rows, keys: cache.keys.pointer, values: cache.values.pointer,
                      T: T, firstPosition: position, H: H, hd: hd, capacity: capacity, scale: scale, pool: pool)
            position += T
        }
        #expect(cache.keys.values.map(\.bitPattern) == full.keys.values.map(\.bitPattern))
        #expect(cache.values.values.map(\.bitPattern) == full.values.values.map(\.bitPattern))
        // Same arithmetic per (query, head): identical results.
        #expect(out.values == expected.values)
        #expect(out.guardsIntact && expected.guardsIntact)
    }

    /// Decode's fused step (store + attend, heads split statically, prefetching) must leave the
    /// same cache and give the same outputs, bit for bit, as the separate store and attention.
    @Test("attentionStep equals storeKeyValues + attention with T = 1",
          arguments: [1, 2, 3], [8, 12, 64])
    func attentionStepMatchesSeparateOps(threads: Int, hd: Int) {
        let pool = ThreadPool(threadCount: threads)
        var rng = SeededGenerator(seed: UInt64(77 + hd + threads))
        let H = 5, C = H * hd, capacity = 70, scale = 1 / Float(hd).squareRoot()
        for position in [0, 1, 15, 16, 17, 47, 69] {
            let context = "threads=\(threads) hd=\(hd) position=\(position)"
            let separate = Cache(H: H, capacity: capacity, hd: hd), fused = Cache(H: H, capacity: capacity, hd: hd)
            let history = GuardedBuffer(count: max(position, 1) * 3 * C, random: &rng)
            for cache in [separate, fused] where position > 0 {
                storeKeyValues(qkv: history.pointer, keys: cache.keys.pointer, values: cache.values.pointer,
                               T: position, firstPosition: 0, H: H, hd: hd, capacity: capacity)
            }
            let qkv = GuardedBuffer(count: 3 * C, random: &rng)
            let want = GuardedBuffer(count: C), got = GuardedBuffer(count: C)
            storeKeyValues(qkv: qkv.pointer, keys: separate.keys.pointer, values: separate.values.pointer,
                           T: 1, firstPosition: position, H: H, hd: hd, capacity: capacity)
            attention(want.pointer, qkv: qkv.pointer, keys: separate.keys.pointer, values: separate.values.pointer,
                      T: 1, firstPosition: position, H: H, hd: hd, capacity: capacity, scale: scale, pool: pool)
            attentionStep(got.pointer, qkv: qkv.pointer, keys: fused.keys.pointer, values: fused.values.pointer,
                          position: position, H: H, hd: hd, capacity: capacity, scale: scale, pool: pool)
            #expect(got.values.map(\.bitPattern) == want.values.map(\.bitPattern), "\(context)")
            #expect(fused.keys.values.map(\.bitPattern) == separate.keys.values.map(\.bitPattern), "\(context)")
            #expect(fused.values.values.map(\.bitPattern) == separate.values.values.map(\.bitPattern), "\(context)")
            #expect(got.guardsIntact && fused.keys.guardsIntact && fused.values.guardsIntact, "\(context)")
        }
    }

    @Test("a query attending to a single key returns that key's value exactly")
    func singlePosition() {
        let pool = ThreadPool(threadCount: 2)
        var rng = SeededGenerator(seed: 5)
        let H = 3, hd = 16, C = H * hd
        let qkv = GuardedBuffer(count: 3 * C, random: &rng, scale: 50)
        let cache = Cache(H: H, capacity: 1, hd: hd)
        storeKeyValues(qkv: qkv.pointer, keys: cache.keys.pointer, values: cache.values.pointer,
                       T: 1, firstPosition: 0, H: H, hd: hd, capacity: 1)
        let out = GuardedBuffer(count: C)
        attention(out.pointer, qkv: qkv.pointer, keys: cache.keys.pointer, values: cache.values.pointer,
                  T: 1, firstPosition: 0, H: H, hd: hd, capacity: 1, scale: 0.25, pool: pool)
        #expect(out.values == Array(qkv.values[(2 * C)..<(3 * C)]))
    }
}
