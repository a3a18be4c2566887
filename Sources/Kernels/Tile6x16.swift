/// The register block shared by the prefill GEMM (`packedTile6x16`) and attention's scores
/// (`scoreTile6x16`): a 6 × 16 block of fp32 sums in 12 ymm accumulators, which with two
/// loads of `b` and one broadcast of `a` uses exactly AVX2's 16 registers.
struct Tile6x16 {
    /// Row i is (c[2i], c[2i+1]): columns 0..<8 and 8..<16.
    var c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51: Vec8

    /// A tile whose row i starts at `row(i)`.
    @_transparent
    init(_ row: (Int) -> (Vec8, Vec8)) {
        (c00, c01) = row(0); (c10, c11) = row(1); (c20, c21) = row(2)
        (c30, c31) = row(3); (c40, c41) = row(4); (c50, c51) = row(5)
    }

    /// A tile of zeros.
    @_transparent
    init() { self.init { _ in (Vec8(), Vec8()) } }

    /// c[i, 0..<16] += Σ_k a[k, i] · b[k, 0..<16] over `steps` values of k. `a` is packed
    /// [steps, 6]; row k of `b` starts at b + k · bStride. Per k: two loads, six broadcasts,
    /// twelve FMAs.
    @_transparent
    mutating func accumulate(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, steps: Int, bStride: Int) {
        var a = a, b = b
        for _ in 0..<steps {
            let b0 = b.vec8(0), b1 = b.vec8(8)
            var s = Vec8(repeating: a[0])
            c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = Vec8(repeating: a[1])
            c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = Vec8(repeating: a[2])
            c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = Vec8(repeating: a[3])
            c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = Vec8(repeating: a[4])
            c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = Vec8(repeating: a[5])
            c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            a += 6
            b += bStride
        }
    }
}
