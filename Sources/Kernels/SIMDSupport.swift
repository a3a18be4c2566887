#if GPT2_AVX2
import _Builtin_intrinsics.intel
import CPUHints
#endif

/// The vector type every kernel is written in: 16 floats = one AVX-512 zmm register.
/// (SwiftPM compiles these targets with -march=native; without it each FMA is a libm call.)
public typealias Vec16 = SIMD16<Float>

/// 8 floats = one AVX2 ymm register. Register-blocked kernels (GEMM tiles, attention tiles)
/// count their accumulators in these: AVX2 has 16 ymm registers, and a kernel holding 12
/// Vec16 accumulators (24 ymm) spills on every k (measured: 55 vs 94 GFLOP/s on Zen 3).
public typealias Vec8 = SIMD8<Float>

extension UnsafePointer where Pointee == Float {
    /// Loads 16 floats from any address.
    @inlinable @inline(__always)
    public func vec16(_ offset: Int = 0) -> Vec16 {
        UnsafeRawPointer(self + offset).loadUnaligned(as: Vec16.self)
    }
}

extension UnsafePointer where Pointee == Float {
    /// Loads 8 floats from any address.
    @inlinable @inline(__always)
    public func vec8(_ offset: Int = 0) -> Vec8 {
        UnsafeRawPointer(self + offset).loadUnaligned(as: Vec8.self)
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inlinable @inline(__always)
    public func vec16(_ offset: Int = 0) -> Vec16 {
        UnsafeRawPointer(self + offset).loadUnaligned(as: Vec16.self)
    }

    @inlinable @inline(__always)
    public func vec8(_ offset: Int = 0) -> Vec8 {
        UnsafeRawPointer(self + offset).loadUnaligned(as: Vec8.self)
    }

    /// Stores 8 floats at any address.
    @inlinable @inline(__always)
    public func store(_ v: Vec8, _ offset: Int = 0) {
        UnsafeMutableRawPointer(self + offset).storeBytes(of: v, as: Vec8.self)
    }

    /// Stores 16 floats at any address.
    @inlinable @inline(__always)
    public func store(_ v: Vec16, _ offset: Int = 0) {
        UnsafeMutableRawPointer(self + offset).storeBytes(of: v, as: Vec16.self)
    }
}

/// Prefetches the cache line at `address` for reading into every cache level (`prefetcht0`).
@inline(__always)
func prefetchL1(_ address: UnsafeRawPointer) { gpt2_prefetch_l1(address) }

/// Prefetches the cache line at `address` for reading into L2 and below (`prefetcht1`).
@inline(__always)
func prefetchL2(_ address: UnsafeRawPointer) { gpt2_prefetch_l2(address) }

// MARK: - Reductions and lane-wise maxima. Written out because `pointwiseMax`, `SIMD.max()` and
// `SIMD.sum()` compiled to out-of-line generic calls here (one per use, in the hottest loops).

/// `ifTrue` where `mask` is set, else `ifFalse`: one `vblendvps`. `replacing(with:where:)` is
/// written lane by lane in the standard library; in larger functions LLVM lowered it to a branch
/// per lane and scalar code (`exp` inside attention's softmax: prefill attention ran 1.7–1.9x
/// faster once its blends were `select`s).
@_transparent @usableFromInline
func select(_ mask: SIMDMask<SIMD8<Int32>>, _ ifTrue: Vec8, _ ifFalse: Vec8) -> Vec8 {
    #if GPT2_AVX2
    return _mm256_blendv_ps(ifFalse, ifTrue, unsafeBitCast(mask, to: Vec8.self))
    #else
    return ifFalse.replacing(with: ifTrue, where: mask)
    #endif
}

/// max(a, b) per lane (a where either is NaN). `pointwiseMax` follows `Swift.max` lane by lane.
@_transparent @usableFromInline
func lanewiseMax(_ a: Vec8, _ b: Vec8) -> Vec8 {
    select(a .< b, b, a)
}

/// Largest of 8 lanes, as a tree of pairwise maxima.
@inline(__always)
func horizontalMax(_ v: Vec8) -> Float {
    Swift.max(Swift.max(Swift.max(v[0], v[1]), Swift.max(v[2], v[3])),
              Swift.max(Swift.max(v[4], v[5]), Swift.max(v[6], v[7])))
}

/// max |x[i]| over the 32 floats at `x` (exact: the order of the maxima does not matter).
/// The activation quantisers' block scale: with `pointwiseMax` and `.max()` it was seven generic
/// calls per block, ~8 µs for decode's 3072-wide row.
@inline(__always)
func absoluteMax32(_ x: UnsafePointer<Float>) -> Float {
    @inline(__always) func abs(_ v: Vec8) -> Vec8 { lanewiseMax(v, -v) }
    let m01 = lanewiseMax(abs(x.vec8(0)), abs(x.vec8(8))), m23 = lanewiseMax(abs(x.vec8(16)), abs(x.vec8(24)))
    return horizontalMax(lanewiseMax(m01, m23))
}
