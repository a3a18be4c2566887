/// Vectorised transcendental functions. Swift has no SIMD `exp`; calling libm per lane would
/// cost more than the matmuls around it in prefill.

/// e^x for 8 lanes (one ymm register), relative error ≤ 2 ulp on [-87, 88] (Cephes `expf`:
/// x = n·ln2 + r, |r| ≤ ln2/2, degree-5 polynomial for e^r, 2^n through the exponent bits).
/// Inputs below -87.3 give 0, above 88.7 give +inf, NaN stays NaN. `@_transparent`: an
/// `@inline(__always)` function is still called out of line from other files here.
@_transparent
public func exp(_ x: Vec8) -> Vec8 {
    let log2e: Float = 1.44269504088896341
    let ln2Hi: Float = 0.693359375, ln2Lo: Float = -2.12194440e-4
    let low = Vec8(repeating: -87.3), high = Vec8(repeating: 88.7)
    let clamped = select(x .< low, low, select(x .> high, high, x))
    // n = round(x / ln 2) by adding 1.5·2^23: the sum's low mantissa bits then hold n as an
    // integer. (SIMD `rounded` and Float→Int32 conversions compile to generic library calls.)
    let shifter: Float = 0x1.8p23
    let shifted = clamped * log2e + shifter
    let n = shifted - shifter
    var r = clamped - n * ln2Hi
    r = r - n * ln2Lo
    var p = Vec8(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * (r * r) + r + 1
    let integerN = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let result = p * unsafeBitCast((integerN &+ 127) &<< 23, to: Vec8.self)
    // Edges the clamp hid: underflow to 0, overflow to inf, NaN passes through. (`select`, not
    // `replacing(with:where:)`: see `select`.)
    return select(x .!= x, x, select(x .> high, Vec8(repeating: .infinity), select(x .< low, Vec8(), result)))
}

/// e^x for 16 lanes: `exp(Vec8)` on each half (on AVX2 a Vec16 is two ymm registers anyway).
@inlinable @inline(__always)
public func exp(_ x: Vec16) -> Vec16 {
    Vec16(lowHalf: exp(x.lowHalf), highHalf: exp(x.highHalf))
}

/// √(2/π), the constant of GPT-2's tanh-approximated GELU.
@usableFromInline let geluScale: Float = 0.7978845608028654

/// GPT-2's GELU ("gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), for 16 lanes.
/// Uses the identity 0.5·(1 + tanh(u)) = 1 / (1 + e^(−2u)), which stays accurate where tanh
/// saturates and needs a single exp.
@inlinable @inline(__always)
public func gelu(_ x: Vec16) -> Vec16 {
    let u = geluScale * (x + 0.044715 * x * x * x)
    return x / (1 + exp(-2 * u))
}

/// `gelu` for 8 lanes (the prefill GEMM's epilogue works on ymm halves of a tile row).
@inlinable @inline(__always)
public func gelu(_ x: Vec8) -> Vec8 {
    let u = geluScale * (x + 0.044715 * x * x * x)
    return x / (1 + exp(-2 * u))
}

/// Scalar GELU with the same formula (tails of rows that are not a multiple of 16).
@inlinable @inline(__always)
public func gelu(_ x: Float) -> Float {
    gelu(Vec16(repeating: x))[0]
}
