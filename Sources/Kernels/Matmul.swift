import GPT2Runtime

/// What a matmul does with each finished output element `v = (x·W)[m,n] + bias[n]`.
public enum MatmulEpilogue: Sendable {
    /// y = v
    case store
    /// y += v — fuses the residual add of GPT-2's projections into the matmul.
    case accumulate
    /// y = gelu(v) — fuses the MLP activation into the up-projection.
    case gelu
}

/// y[M,N] = epilogue(x[M,K] · w[K,N] + bias[N]).
///
/// `w` is row-major [K, N]: the layout of GPT-2's Conv1D weights ([in, out]), read in place from
/// the checkpoint. Threads split the columns; each walks its column slab in tiles of 4 rows ×
/// 64 columns (16 zmm accumulators, one broadcast of x and four loads of w per k), so a tile of
/// w is reused from cache by every block of rows.
public func matmul(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue = .store, pool: ThreadPool
) {
    pool.parallelFor(N, granularity: 16) { columns in
        matmulColumns(y, x, w, bias, M, K, N, columns, epilogue)
    }
}

/// The single-threaded body of `matmul` for the output columns `columns`.
public func matmulColumns(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, _ M: Int, _ K: Int, _ N: Int,
    _ columns: Range<Int>, _ epilogue: MatmulEpilogue
) {
    var n = columns.lowerBound
    let end = columns.upperBound
    while n + 64 <= end {
        var m = 0
        while m + 4 <= M { tile4x64(y + m * N + n, x + m * K, w + n, bias.map { $0 + n }, K, N, epilogue); m += 4 }
        while m < M { tile1x64(y + m * N + n, x + m * K, w + n, bias.map { $0 + n }, K, N, epilogue); m += 1 }
        n += 64
    }
    while n + 16 <= end {
        var m = 0
        while m + 4 <= M { tile4x16(y + m * N + n, x + m * K, w + n, bias.map { $0 + n }, K, N, epilogue); m += 4 }
        while m < M { tile1x16(y + m * N + n, x + m * K, w + n, bias.map { $0 + n }, K, N, epilogue); m += 1 }
        n += 16
    }
    // Ragged columns (N not a multiple of 16): plain dot products.
    while n < end {
        for m in 0..<M {
            var v: Float = 0
            for k in 0..<K { v += x[m * K + k] * w[k * N + n] }
            finishScalar(v, y + m * N + n, bias.map { $0 + n }, epilogue)
        }
        n += 1
    }
}

/// Adds the bias, applies the epilogue and stores 16 outputs.
@inline(__always)
func finish(_ acc: Vec16, _ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?, _ epilogue: MatmulEpilogue) {
    var v = acc
    if let bias { v += bias.vec16() }
    switch epilogue {
    case .store: y.store(v)
    case .accumulate: y.store(y.vec16() + v)
    case .gelu: y.store(gelu(v))
    }
}

// MARK: - Micro-kernels. `y`, `x` point at the tile's first row, `w` and `bias` at its first column.

@inline(__always)
func tile4x64(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, _ K: Int, _ N: Int, _ epilogue: MatmulEpilogue
) {
    var c00 = Vec16(), c01 = Vec16(), c02 = Vec16(), c03 = Vec16()
    var c10 = Vec16(), c11 = Vec16(), c12 = Vec16(), c13 = Vec16()
    var c20 = Vec16(), c21 = Vec16(), c22 = Vec16(), c23 = Vec16()
    var c30 = Vec16(), c31 = Vec16(), c32 = Vec16(), c33 = Vec16()
    let x0 = x, x1 = x + K, x2 = x + 2 * K, x3 = x + 3 * K
    for k in 0..<K {
        let wk = w + k * N
        let b0 = wk.vec16(0), b1 = wk.vec16(16), b2 = wk.vec16(32), b3 = wk.vec16(48)
        var a = Vec16(repeating: x0[k])
        c00 = c00.addingProduct(a, b0); c01 = c01.addingProduct(a, b1)
        c02 = c02.addingProduct(a, b2); c03 = c03.addingProduct(a, b3)
        a = Vec16(repeating: x1[k])
        c10 = c10.addingProduct(a, b0); c11 = c11.addingProduct(a, b1)
        c12 = c12.addingProduct(a, b2); c13 = c13.addingProduct(a, b3)
        a = Vec16(repeating: x2[k])
        c20 = c20.addingProduct(a, b0); c21 = c21.addingProduct(a, b1)
        c22 = c22.addingProduct(a, b2); c23 = c23.addingProduct(a, b3)
        a = Vec16(repeating: x3[k])
        c30 = c30.addingProduct(a, b0); c31 = c31.addingProduct(a, b1)
        c32 = c32.addingProduct(a, b2); c33 = c33.addingProduct(a, b3)
    }
    finish4(c00, c01, c02, c03, y, bias, epilogue)
    finish4(c10, c11, c12, c13, y + N, bias, epilogue)
    finish4(c20, c21, c22, c23, y + 2 * N, bias, epilogue)
    finish4(c30, c31, c32, c33, y + 3 * N, bias, epilogue)
}

/// `finish` for 64 consecutive outputs.
@inline(__always)
func finish4(
    _ c0: Vec16, _ c1: Vec16, _ c2: Vec16, _ c3: Vec16,
    _ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?, _ epilogue: MatmulEpilogue
) {
    finish(c0, y, bias, epilogue)
    finish(c1, y + 16, bias.map { $0 + 16 }, epilogue)
    finish(c2, y + 32, bias.map { $0 + 32 }, epilogue)
    finish(c3, y + 48, bias.map { $0 + 48 }, epilogue)
}

@inline(__always)
func tile1x64(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, _ K: Int, _ N: Int, _ epilogue: MatmulEpilogue
) {
    var c0 = Vec16(), c1 = Vec16(), c2 = Vec16(), c3 = Vec16()
    for k in 0..<K {
        let wk = w + k * N
        let a = Vec16(repeating: x[k])
        c0 = c0.addingProduct(a, wk.vec16(0)); c1 = c1.addingProduct(a, wk.vec16(16))
        c2 = c2.addingProduct(a, wk.vec16(32)); c3 = c3.addingProduct(a, wk.vec16(48))
    }
    finish4(c0, c1, c2, c3, y, bias, epilogue)
}

@inline(__always)
func tile4x16(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, _ K: Int, _ N: Int, _ epilogue: MatmulEpilogue
) {
    var c0 = Vec16(), c1 = Vec16(), c2 = Vec16(), c3 = Vec16()
    for k in 0..<K {
        let b = (w + k * N).vec16()
        c0 = c0.addingProduct(Vec16(repeating: x[k]), b)
        c1 = c1.addingProduct(Vec16(repeating: x[K + k]), b)
        c2 = c2.addingProduct(Vec16(repeating: x[2 * K + k]), b)
        c3 = c3.addingProduct(Vec16(repeating: x[3 * K + k]), b)
    }
    finish(c0, y, bias, epilogue)
    finish(c1, y + N, bias, epilogue)
    finish(c2, y + 2 * N, bias, epilogue)
    finish(c3, y + 3 * N, bias, epilogue)
}

@inline(__always)
func tile1x16(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, _ K: Int, _ N: Int, _ epilogue: MatmulEpilogue
) {
    var c = Vec16()
    for k in 0..<K { c = c.addingProduct(Vec16(repeating: x[k]), (w + k * N).vec16()) }
    finish(c, y, bias, epilogue)
}

/// y[M,N] = epilogue(x[M,K] · w[N,K]ᵀ + bias[N]).
///
/// `w` holds one row of K inputs per output: the layout of the tied LM head (the token embedding
/// [vocab, C]) and of every matrix in a GGUF file. Threads split the rows of `w`; each takes 4
/// rows at a time (kept in L1) across all M inputs, so the matrix is read once per call.
public func matmulTransposed(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    bias: UnsafePointer<Float>? = nil, M: Int, K: Int, N: Int,
    epilogue: MatmulEpilogue = .store, pool: ThreadPool
) {
    pool.parallelFor(N, granularity: 4) { rows in
        var n = rows.lowerBound
        while n + 4 <= rows.upperBound {
            let w0 = w + n * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K
            for m in 0..<M {
                let xm = x + m * K
                var a0 = Vec16(), a1 = Vec16(), a2 = Vec16(), a3 = Vec16()
                var k = 0
                while k + 16 <= K {
                    let v = xm.vec16(k)
                    a0 = a0.addingProduct(v, w0.vec16(k)); a1 = a1.addingProduct(v, w1.vec16(k))
                    a2 = a2.addingProduct(v, w2.vec16(k)); a3 = a3.addingProduct(v, w3.vec16(k))
                    k += 16
                }
                var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
                while k < K {
                    s0 += xm[k] * w0[k]; s1 += xm[k] * w1[k]; s2 += xm[k] * w2[k]; s3 += xm[k] * w3[k]
                    k += 1
                }
                let ym = y + m * N + n
                finishScalar(s0, ym, bias.map { $0 + n }, epilogue)
                finishScalar(s1, ym + 1, bias.map { $0 + n + 1 }, epilogue)
                finishScalar(s2, ym + 2, bias.map { $0 + n + 2 }, epilogue)
                finishScalar(s3, ym + 3, bias.map { $0 + n + 3 }, epilogue)
            }
            n += 4
        }
        while n < rows.upperBound {
            for m in 0..<M { finishScalar(dot(x + m * K, w + n * K, K), y + m * N + n, bias.map { $0 + n }, epilogue) }
            n += 1
        }
    }
}

/// `finish` for one output.
@inline(__always)
func finishScalar(_ acc: Float, _ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?, _ epilogue: MatmulEpilogue) {
    let v = acc + (bias?.pointee ?? 0)
    switch epilogue {
    case .store: y.pointee = v
    case .accumulate: y.pointee += v
    case .gelu: y.pointee = gelu(v)
    }
}
