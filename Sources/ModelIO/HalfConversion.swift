// Half-precision <-> fp32 conversions, 16 lanes at a time.
//
// F16 uses the compiler's Float16 <-> Float vector conversions, which become F16C instructions
// (vcvtph2ps / vcvtps2ph, round to nearest even) on x86-64; they are exact for subnormals, inf
// and NaN. Wider than 16 lanes the compiler scalarises them, so stay at SIMD16.
// BF16 is the top half of an fp32, so both directions are integer bit manipulation.
// Sources and destinations may be unaligned: all vector accesses are unaligned loads/stores.

/// Converts `count` IEEE half-precision values at `src` to fp32. Exact.
public func convertF16ToF32(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
    let out = UnsafeMutableRawPointer(dst)
    forEachSIMD16(count: count) { i in
        let h = src.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<Float16>.self)
        out.storeBytes(of: SIMD16<Float>(h), toByteOffset: 4 * i, as: SIMD16<Float>.self)
    } scalar: { i in
        dst[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self))
    }
}

/// Converts `count` fp32 values to IEEE half precision at `dst`, rounding to nearest even
/// (overflow gives ±inf, NaN stays NaN).
public func convertF32ToF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
    let input = UnsafeRawPointer(src)
    forEachSIMD16(count: count) { i in
        let f = input.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        dst.storeBytes(of: SIMD16<Float16>(f), toByteOffset: 2 * i, as: SIMD16<Float16>.self)
    } scalar: { i in
        let f = input.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
        dst.storeBytes(of: Float16(f), toByteOffset: 2 * i, as: Float16.self)
    }
}

/// Converts `count` bfloat16 values at `src` to fp32. Exact.
public func convertBF16ToF32(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
    let out = UnsafeMutableRawPointer(dst)
    forEachSIMD16(count: count) { i in
        let h = src.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)
        let bits = SIMD16<UInt32>(truncatingIfNeeded: h) &<< 16
        out.storeBytes(of: bits, toByteOffset: 4 * i, as: SIMD16<UInt32>.self)
    } scalar: { i in
        let h = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
        dst[i] = Float(bitPattern: UInt32(h) << 16)
    }
}

/// Converts `count` fp32 values to bfloat16 at `dst`, rounding to nearest even (overflow gives
/// ±inf). NaN stays NaN: its sign and top payload bits are kept and the quiet bit is set, so a
/// payload that lives only in the low bits cannot turn into inf.
public func convertF32ToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
    let input = UnsafeRawPointer(src)
    forEachSIMD16(count: count) { i in
        let bits = input.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<UInt32>.self)
        let lsb = (bits &>> 16) & 1
        let rounded = (bits &+ 0x7FFF &+ lsb) &>> 16
        let quietNaN = (bits &>> 16) | 0x0040
        // All ones where the input is NaN (|bits| > inf: the subtraction wraps and sets the top
        // bit). Arithmetic instead of `.>`, which the compiler scalarises on integer vectors.
        let magnitude = bits & 0x7FFF_FFFF
        let isNaN = (0x7F80_0000 &- magnitude) &>> 31
        let nanMask = SIMD16<UInt32>.zero &- isNaN
        let result = (rounded & ~nanMask) | (quietNaN & nanMask)
        dst.storeBytes(of: SIMD16<UInt16>(truncatingIfNeeded: result), toByteOffset: 2 * i, as: SIMD16<UInt16>.self)
    } scalar: { i in
        let bits = input.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
        dst.storeBytes(of: bf16Bits(fromFloatBits: bits), toByteOffset: 2 * i, as: UInt16.self)
    }
}

/// Scalar fp32 → bfloat16 rounding, the same as the vector loop above.
@inline(__always)
func bf16Bits(fromFloatBits bits: UInt32) -> UInt16 {
    if bits & 0x7FFF_FFFF > 0x7F80_0000 {
        return UInt16(truncatingIfNeeded: (bits >> 16) | 0x0040)
    }
    let lsb = (bits >> 16) & 1
    return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ lsb) >> 16)
}

/// Calls `vector(i)` for i = 0, 16, 32, … while 16 elements remain, then `scalar(i)` for each
/// of the last `count % 16`.
@inline(__always)
private func forEachSIMD16(count: Int, _ vector: (Int) -> Void, scalar: (Int) -> Void) {
    var i = 0
    while i + 16 <= count {
        vector(i)
        i += 16
    }
    while i < count {
        scalar(i)
        i += 1
    }
}
