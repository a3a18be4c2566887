/// The vector type every kernel is written in: 16 floats = one AVX-512 zmm register.
/// (SwiftPM compiles these targets with -march=native; without it each FMA is a libm call.)
public typealias Vec16 = SIMD16<Float>

/// 8 floats = one AVX2 ymm register. Register-blocked kernels (GEMM tiles, attention tiles)
/// count their accumulators in these: AVX2 has 16 ymm registers, and a kernel holding 12
/// Vec16 accumulators (24 ymm) spills on every k (measured: 55 vs 94 GFLOP/s on this Zen 3).
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

/// Dot product of two length-`n` float vectors (16 lanes at a time, scalar tail).
@inlinable @inline(__always)
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = Vec16(), acc1 = Vec16()
    var i = 0
    while i + 32 <= n {
        acc0 = acc0.addingProduct(a.vec16(i), b.vec16(i))
        acc1 = acc1.addingProduct(a.vec16(i + 16), b.vec16(i + 16))
        i += 32
    }
    if i + 16 <= n {
        acc0 = acc0.addingProduct(a.vec16(i), b.vec16(i))
        i += 16
    }
    var sum = (acc0 + acc1).sum()
    while i < n { sum += a[i] * b[i]; i += 1 }
    return sum
}
