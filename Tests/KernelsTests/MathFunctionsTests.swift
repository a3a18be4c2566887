import Glibc
import Kernels
import Testing

/// Applies the 16-lane `Kernels.exp` to every element, 16 consecutive inputs per vector.
private func vectorExp(_ xs: [Float]) -> [Float] {
    var out = [Float](repeating: 0, count: xs.count)
    var i = 0
    while i < xs.count {
        var v = Vec16(repeating: 0)
        let n = min(16, xs.count - i)
        for lane in 0..<n { v[lane] = xs[i + lane] }
        let r = Kernels.exp(v)
        for lane in 0..<n { out[i + lane] = r[lane] }
        i += 16
    }
    return out
}

private func vectorGelu(_ xs: [Float]) -> [Float] {
    var out = [Float](repeating: 0, count: xs.count)
    var i = 0
    while i < xs.count {
        var v = Vec16(repeating: 0)
        let n = min(16, xs.count - i)
        for lane in 0..<n { v[lane] = xs[i + lane] }
        let r = gelu(v)
        for lane in 0..<n { out[i + lane] = r[lane] }
        i += 16
    }
    return out
}

/// |gelu error| allowed at x. The kernel computes gelu(x) = x / (1 + e^(−2u)) in Float: the
/// argument 2u carries a few ulp of relative error (≤ 6e-7·|2u| absolute), exp adds ≤ 3e-7
/// relative, and the result's sensitivity to a relative error in e^(−2u) is 1 − σ(2u). Where
/// x ≪ 0 that sensitivity is 1 and |2u| is large, so a larger relative error is expected there
/// (the values are tiny). The absolute floor covers the reference itself: in Double, 1 + tanh(u)
/// keeps only ~1e-16 absolute accuracy (it is exactly 0 below x ≈ −9.25).
private func geluTolerance(_ x: Float, _ reference: Double) -> Double {
    let x = Double(x)
    let twoU = 2 * (2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)
    let sensitivity = 1 / (1 + Glibc.exp(twoU))
    return (2e-7 + sensitivity * (3e-7 + 6e-7 * abs(twoU))) * abs(reference) + 1e-15 * abs(x)
}

@Suite("exp and GELU")
struct MathFunctionsTests {
    @Test("exp: relative error ≤ 3e-7 against Glibc over a dense sweep of [-87, 88]")
    func expDenseSweep() {
        let step: Float = 1.0 / 2048  // 358 401 points, every lane position hit
        let xs = (0...358_400).map { -87 + Float($0) * step }
        let got = vectorExp(xs)
        var worst = 0.0, worstX: Float = 0
        for (x, y) in zip(xs, got) {
            let want = Glibc.exp(Double(x))
            let error = abs(Double(y) - want) / want
            if !(error <= worst) { worst = error.isNaN ? .infinity : error; worstX = x }
        }
        #expect(worst <= 3e-7, "worst relative error \(worst) at x = \(worstX)")
    }

    @Test("exp: random inputs, including values close to integers multiples of ln 2")
    func expRandom() {
        var rng = SeededGenerator(seed: 2024)
        var xs = (0..<100_000).map { _ in rng.nextSigned() * 87 }
        xs += (-125...126).flatMap { n in [-2, -1, 0, 1, 2].map { Float(n) * Float(M_LN2) + Float($0) * 1e-6 } }
        xs = xs.filter { $0 >= -87 && $0 <= 88 }
        let got = vectorExp(xs)
        let worst = zip(xs, got).map { x, y in abs(Double(y) - Glibc.exp(Double(x))) / Glibc.exp(Double(x)) }.max()!
        #expect(worst <= 3e-7, "worst relative error \(worst)")
    }

    @Test("exp: edges", arguments: [
        (-Float.infinity, Float(0)), (-1000, 0), (-100, 0), (-88, 0), (0, 1), (-0.0, 1),
        (100, .infinity), (1000, .infinity), (.infinity, .infinity),
    ] as [(Float, Float)])
    func expEdges(x: Float, want: Float) {
        let r = Kernels.exp(Vec16(repeating: x))
        for lane in 0..<16 { #expect(r[lane] == want, "exp(\(x)) lane \(lane) = \(r[lane])") }
    }

    @Test("exp: NaN stays NaN, one odd lane does not disturb the others")
    func expNaNAndMixedLanes() {
        let xs: [Float] = [.nan, 0, -.infinity, .infinity, 1, -1, -100, 100, 2, .nan, 3, -3, 50, -50, 87, -87]
        var v = Vec16()
        for i in 0..<16 { v[i] = xs[i] }
        let r = Kernels.exp(v)
        for i in 0..<16 {
            let x = xs[i]
            if x.isNaN {
                #expect(r[i].isNaN, "lane \(i)")
            } else if abs(x) >= 100 || x.isInfinite {
                #expect(r[i] == (x > 0 ? .infinity : 0), "lane \(i): exp(\(x)) = \(r[i])")
            } else {
                let want = Glibc.exp(Double(x))
                #expect(abs(Double(r[i]) - want) <= 3e-7 * want, "lane \(i): exp(\(x)) = \(r[i])")
            }
        }
    }

    @Test("gelu (16 lanes and scalar) matches the tanh formula in Double over [-20, 20]")
    func geluSweep() {
        let xs = (0...40_960).map { -20 + Float($0) / 1024 }
        let vector = vectorGelu(xs)
        var bad: [String] = []
        for (i, x) in xs.enumerated() {
            let want = geluReference(Double(x))
            let scalar = gelu(x)
            if !(abs(Double(vector[i]) - want) <= geluTolerance(x, want)) { bad.append("vector gelu(\(x)) = \(vector[i]), want \(want)") }
            if !(abs(Double(scalar) - want) <= geluTolerance(x, want)) { bad.append("scalar gelu(\(x)) = \(scalar), want \(want)") }
        }
        #expect(bad.isEmpty, "\(bad.count) failures, first: \(bad.prefix(5))")
    }

    @Test("gelu: large negative inputs give -0 or a tiny negative, large positive give x")
    func geluTails() {
        for x: Float in [-10, -15, -20, -50, -1000, -1e10, -1e30, -Float.greatestFiniteMagnitude] {
            let v = gelu(Vec16(repeating: x))[0], s = gelu(x)
            #expect(v <= 0 && v >= -1e-30, "gelu(\(x)) = \(v)")
            #expect(s <= 0 && s >= -1e-30, "scalar gelu(\(x)) = \(s)")
        }
        for x: Float in [6, 10, 20, 100, 1e4, 1e10, 1e30, Float.greatestFiniteMagnitude] {
            #expect(gelu(Vec16(repeating: x))[0] == x, "gelu(\(x))")
            #expect(gelu(x) == x, "scalar gelu(\(x))")
        }
        #expect(gelu(Float(0)) == 0)
        #expect(gelu(Float.nan).isNaN)
    }

    @Test("geluInPlace over ragged lengths equals the element-wise gelu",
          arguments: [0, 1, 15, 16, 17, 31, 33, 100, 3072])
    func geluInPlaceMatches(count: Int) {
        var rng = SeededGenerator(seed: UInt64(count))
        let x = GuardedBuffer(count: count, random: &rng, scale: 6)
        let before = x.values
        geluInPlace(x.pointer, count: count)
        #expect(x.guardsIntact)
        for i in 0..<count {
            let want = geluReference(Double(before[i]))
            #expect(abs(Double(x[i]) - want) <= geluTolerance(before[i], want), "i=\(i) gelu(\(before[i])) = \(x[i])")
        }
    }
}
