import Glibc
import GPT2Runtime
import Kernels

/// Every test sees the same "random" data (GPT2Runtime's SplitMix64).
typealias SeededGenerator = SplitMix64

extension SplitMix64 {
    /// Uniform in [-1, 1) (24 random bits), cheap even in a debug build.
    mutating func nextSigned() -> Float {
        Float(Int32(truncatingIfNeeded: next() >> 40) - (1 << 23)) * 0x1p-23
    }
}

/// `count` floats with `pad` guard floats on each side, filled with a NaN canary, at an address
/// that is only 4-byte aligned (kernels must not assume more). Tests fill `pointer[0..<count]` and
/// check `guardsIntact` afterwards to catch writes outside the buffer.
final class GuardedBuffer {
    static let canaryBits: UInt32 = 0x7FC0_DEAD
    static var canary: Float { Float(bitPattern: canaryBits) }
    let count: Int
    private let pad = 37
    private let base: UnsafeMutablePointer<Float>

    init(count: Int) {
        self.count = count
        base = .allocate(capacity: count + 2 * pad)
        base.initialize(repeating: GuardedBuffer.canary, count: count + 2 * pad)
    }

    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        for i in 0..<count { pointer[i] = values[i] }
    }

    convenience init(count: Int, random rng: inout SeededGenerator, scale: Float = 1) {
        self.init(count: count)
        for i in 0..<count { pointer[i] = rng.nextSigned() * scale }
    }

    deinit { base.deallocate() }

    var pointer: UnsafeMutablePointer<Float> { base + pad }
    var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    subscript(i: Int) -> Float { pointer[i] }

    var guardsIntact: Bool {
        (0..<pad).allSatisfy {
            base[$0].bitPattern == GuardedBuffer.canaryBits
                && base[pad + count + $0].bitPattern == GuardedBuffer.canaryBits
        }
    }
}

/// GPT-2's tanh GELU in Double: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func geluReference(_ x: Double) -> Double {
    0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
}

/// Largest `|got − expected| / (1 + |expected|)` over two equally long sequences (NaN → infinity).
func maxScaledError(_ got: some Collection<Float>, _ expected: some Collection<Double>) -> Double {
    precondition(got.count == expected.count)
    var worst = 0.0
    for (g, e) in zip(got, expected) {
        let error = abs(Double(g) - e) / (1 + abs(e))
        if !(error <= worst) { worst = error.isNaN ? .infinity : error }
    }
    return worst
}

/// The scalar fp32 matmul reference, in Double: v[m, n] = Σ_k x[m, k] · w[k, n] for x [M, K] and
/// w [K, N] row-major (before bias and epilogue).
func referenceMatmul(_ x: some Collection<Float>, _ w: some Collection<Float>, M: Int, K: Int, N: Int) -> [Double] {
    let x = Array(x), w = Array(w)
    var product = [Double](repeating: 0, count: M * N)
    for m in 0..<M {
        for n in 0..<N {
            var s = 0.0
            for k in 0..<K { s += Double(x[m * K + k]) * Double(w[k * N + n]) }
            product[m * N + n] = s
        }
    }
    return product
}

/// What a matmul epilogue makes of the exact product `v`, given the bias and the prior `y`.
func referenceEpilogue(_ v: Double, bias: Float?, prior: Float, _ epilogue: MatmulEpilogue) -> Double {
    let value = v + Double(bias ?? 0)
    switch epilogue {
    case .store: return value
    case .accumulate: return Double(prior) + value
    case .gelu: return geluReference(value)
    }
}
