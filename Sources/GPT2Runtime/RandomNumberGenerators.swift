// Seedable pseudo-random number generators.
//
// The standard library's SystemRandomNumberGenerator cannot be seeded, and its streams are not
// specified. Sampling must be reproducible (same seed, same text, on every platform), so we use
// the well-known generators of Blackman and Vigna (https://prng.di.unimi.it), bit for bit.

import Glibc

/// SplitMix64 (Steele, Lea and Flood): a tiny generator used to expand one 64-bit seed into
/// the state of a larger generator, as recommended by the xoshiro authors.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator whose first output is the SplitMix64 output for `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A small, fast, seedable generator (xoshiro256** seeded through SplitMix64) — identical
/// streams on every platform for a given seed, so the same seed gives the same text.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    /// Seeds the 256-bit state with four consecutive SplitMix64 outputs of `seed`
    /// (never all zero, so every seed, 0 included, is valid).
    public init(seed: UInt64) {
        var splitMix = SplitMix64(seed: seed)
        s0 = splitMix.next()
        s1 = splitMix.next()
        s2 = splitMix.next()
        s3 = splitMix.next()
    }

    /// Sets the raw 256-bit state, as in the reference implementation's `s[0...3]`.
    /// The state must not be all zero (the generator would output only zeros).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        precondition(state != (0, 0, 0, 0), "xoshiro256** state must not be all zero")
        (s0, s1, s2, s3) = state
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, by: 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, by: 45)
        return result
    }

    @inline(__always)
    private func rotateLeft(_ x: UInt64, by k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }
}

extension Xoshiro256StarStar {
    /// A uniform float in [0, 1) made from the top 24 bits (every value is exactly representable).
    @inline(__always)
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A standard normal sample (mean 0, variance 1) by the Box–Muller transform; used for
    /// random weights. One of the pair is discarded to keep the generator state plain.
    public mutating func nextGaussian() -> Float {
        // u1 in (0, 1] so that log(u1) is finite.
        let u1 = Float((next() >> 40) + 1) * 0x1p-24
        let u2 = nextFloat()
        return (-2 * log(u1)).squareRoot() * cos(2 * Float.pi * u2)
    }
}
