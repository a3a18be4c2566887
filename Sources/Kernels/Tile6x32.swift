/// The prefill GEMM's register block on AVX-512 (`packedTile6x32`): a 6 × 32 block of fp32 sums
/// in 12 zmm accumulators, with two loads of `b` and one broadcast of `a` 15 of AVX-512's 32
/// registers. Per k it issues the same 20 instructions as `Tile6x16` for twice the FMAs: on Zen 4,
/// where a zmm FMA is one instruction executed as two 256-bit halves, that halves the front-end
/// and load traffic per flop. (Without AVX-512 each Vec16 is two ymm, the 24 accumulators spill,
/// and `Tile6x16` is the block to use; this one still computes the same sums.)
///
/// Two concrete structs rather than one generic over the vector type: a generic version gave the
/// same release code, but the tests' debug build (`-O` on this module) left its SIMD8 instance
/// unspecialised, calling SIMD witnesses per FMA (the packed-matmul test: 10 s → 430 s).
struct Tile6x32 {
    /// Row i is (c[2i], c[2i+1]): columns 0..<16 and 16..<32.
    var c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51: Vec16

    /// A tile whose row i starts at `row(i)`.
    @_transparent
    init(_ row: (Int) -> (Vec16, Vec16)) {
        (c00, c01) = row(0); (c10, c11) = row(1); (c20, c21) = row(2)
        (c30, c31) = row(3); (c40, c41) = row(4); (c50, c51) = row(5)
    }

    /// c[i, 0..<32] += Σ_k a[k, i] · b[k, 0..<32] over `steps` values of k. `a` is packed
    /// [steps, 6]; row k of `b` starts at b + k · bStride. Per k: two loads, six broadcasts,
    /// twelve FMAs.
    @_transparent
    mutating func accumulate(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, steps: Int, bStride: Int) {
        var a = a, b = b
        for _ in 0..<steps {
            let b0 = b.vec16(0), b1 = b.vec16(16)
            var s = Vec16(repeating: a[0])
            c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = Vec16(repeating: a[1])
            c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = Vec16(repeating: a[2])
            c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = Vec16(repeating: a[3])
            c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = Vec16(repeating: a[4])
            c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = Vec16(repeating: a[5])
            c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            a += 6
            b += bStride
        }
    }
}
