import Foundation
import GPT2Runtime
import Testing

@testable import ModelIO

// Reference conversions written independently of the library: they work on exact values with
// Double arithmetic (every Float and half value is exactly a Double) instead of bit tricks.

/// IEEE half bits → Float, by decoding sign, exponent and mantissa.
func referenceF16ToFloat(_ bits: UInt16) -> Float {
    let sign: Double = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = Double(bits & 0x3FF)
    if exponent == 0x1F { return mantissa == 0 ? Float(sign * .infinity) : .nan }
    if exponent == 0 { return Float(sign * mantissa * 0x1p-24) }
    return Float(sign * (1024 + mantissa) * Double(sign: .plus, exponent: exponent - 25, significand: 1))
}

/// Rounds a finite non-negative value to `significandBits` bits (including the implicit one),
/// with subnormals below 2^minExponent, round to nearest even. Returns the magnitude bits of the
/// target format, or nil on overflow (the caller turns that into inf).
func referenceRound(_ magnitude: Double, significandBits: Int, minExponent: Int, maxExponent: Int) -> UInt32? {
    let stored = significandBits - 1
    if magnitude < Double(sign: .plus, exponent: minExponent, significand: 1) {
        // Subnormal: count quanta of 2^(minExponent - stored); a carry into the exponent field
        // gives the smallest normal, which is the right encoding.
        let quantum = Double(sign: .plus, exponent: minExponent - stored, significand: 1)
        return UInt32((magnitude / quantum).rounded(.toNearestOrEven))
    }
    var exponent = Int(magnitude.exponent)
    var significand = (magnitude / Double(sign: .plus, exponent: exponent - stored, significand: 1))
        .rounded(.toNearestOrEven)
    if significand == Double(1 << significandBits) {
        exponent += 1
        significand /= 2
    }
    if exponent > maxExponent { return nil }
    let bias = maxExponent
    return UInt32(exponent + bias) << UInt32(stored) | (UInt32(significand) - (1 << UInt32(stored)))
}

/// `x` in a 16-bit format whose sign is the top bit (`referenceRound`'s parameters, and the
/// format's bits for infinity and for the NaN it gives).
func referenceFloatTo16Bits(_ x: Float, significandBits: Int, minExponent: Int, maxExponent: Int,
                            infinity: UInt16, nan: UInt16) -> UInt16 {
    let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
    if x.isNaN { return nan }
    if x.isInfinite { return sign | infinity }
    guard let magnitude = referenceRound(Double(x.magnitude), significandBits: significandBits,
                                         minExponent: minExponent, maxExponent: maxExponent) else {
        return sign | infinity
    }
    return sign | UInt16(magnitude)
}

func referenceFloatToF16(_ x: Float) -> UInt16 {
    referenceFloatTo16Bits(x, significandBits: 11, minExponent: -14, maxExponent: 15, infinity: 0x7C00, nan: 0x7E00)
}

func referenceFloatToBF16(_ x: Float) -> UInt16 {
    referenceFloatTo16Bits(x, significandBits: 8, minExponent: -126, maxExponent: 127, infinity: 0x7F80, nan: 0x7FC0)
}

/// Runs a conversion on unaligned copies of the input and output (byte offset 1), to exercise
/// unaligned vector loads and stores, and returns the output.
func convertUnaligned<In, Out>(
    _ input: [In], outputType: Out.Type,
    _ convert: (UnsafeRawPointer, UnsafeMutableRawPointer, Int) -> Void
) -> [Out] {
    let count = input.count
    let inBytes = count * MemoryLayout<In>.stride
    let outBytes = count * MemoryLayout<Out>.stride
    let source = UnsafeMutableRawPointer.allocate(byteCount: inBytes + 1, alignment: 64)
    let destination = UnsafeMutableRawPointer.allocate(byteCount: outBytes + 1, alignment: 64)
    defer { source.deallocate(); destination.deallocate() }
    input.withUnsafeBytes { (source + 1).copyMemory(from: $0.baseAddress!, byteCount: inBytes) }
    convert(source + 1, destination + 1, count)
    return (0..<count).map { (destination + 1).loadUnaligned(fromByteOffset: $0 * MemoryLayout<Out>.stride, as: Out.self) }
}

/// Float inputs that stress half rounding: every value of the target format, the exact ties
/// between neighbours and one float ulp either side, special values and random bit patterns.
func roundingInputs(decode: (UInt16) -> Float) -> [Float] {
    var values: [Float] = []
    for bits in 0...UInt16.max {
        let value = decode(bits)
        values.append(value)
        let next = decode(bits &+ 1)
        if value.isFinite && next.isFinite && (bits & 0x7FFF) != 0x7FFF {
            // The midpoint is exact in Double; as a Float it is exact for all but the largest
            // ties, and the neighbours cover those anyway.
            let midpoint = Float((Double(value) + Double(next)) / 2)
            values.append(midpoint)
            values.append(midpoint.nextUp)
            values.append(midpoint.nextDown)
        }
    }
    values += [0, -0, .infinity, -.infinity, .nan, -.nan, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
               .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, 65504, 65519.99, 65520, Float.leastNormalMagnitude / 1000]
    var generator = SplitMix64(seed: 42)
    for _ in 0..<100_000 {
        values.append(Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())))
    }
    values.append(1)  // an odd count, so the scalar tail runs too
    return values
}

@Suite struct HalfConversionTests {
    @Test func f16ToF32IsExactForAllBitPatterns() {
        let all = (0...UInt16.max).map { $0 } + [0x3C00, 0x8001, 0x7BFF]  // 65539: ragged tail
        let converted = convertUnaligned(all, outputType: Float.self) {
            convertF16ToF32($0, $1.assumingMemoryBound(to: Float.self), count: $2)
        }
        for (bits, value) in zip(all, converted) {
            let expected = referenceF16ToFloat(bits)
            if expected.isNaN {
                #expect(value.isNaN, "F16 \(String(bits, radix: 16)) should be NaN")
            } else {
                #expect(value.bitPattern == expected.bitPattern, "F16 \(String(bits, radix: 16)) → \(value), expected \(expected)")
            }
        }
    }

    @Test func bf16ToF32IsExactForAllBitPatterns() {
        let all = (0...UInt16.max).map { $0 } + [0x3F80, 0x0001, 0xFF80]
        let converted = convertUnaligned(all, outputType: UInt32.self) {
            convertBF16ToF32($0, $1.assumingMemoryBound(to: Float.self), count: $2)
        }
        for (bits, value) in zip(all, converted) {
            #expect(value == UInt32(bits) << 16, "BF16 \(String(bits, radix: 16))")
        }
    }

    /// Expects `converted[i]` to be `expected(inputs[i])`, or for a NaN input a NaN by `isNaN`
    /// (its payload is free); records the first 10 mismatches.
    func expectConversions(_ inputs: [Float], _ converted: [UInt16], to format: String, expected: (Float) -> UInt16,
                           isNaN: (_ bits: UInt16, _ input: Float) -> Bool,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        var failures = 0
        for (x, bits) in zip(inputs, converted) {
            let want = expected(x)
            if x.isNaN ? isNaN(bits, x) : bits == want { continue }
            failures += 1
            if failures <= 10 {
                Issue.record("F32 \(x) (\(String(x.bitPattern, radix: 16))) → \(format) \(String(bits, radix: 16)), expected \(String(want, radix: 16))",
                             sourceLocation: sourceLocation)
            }
        }
        #expect(failures == 0, sourceLocation: sourceLocation)
    }

    @Test func f32ToF16RoundsToNearestEven() {
        let inputs = roundingInputs(decode: referenceF16ToFloat)
        let converted = convertUnaligned(inputs, outputType: UInt16.self) { source, destination, count in
            convertF32ToF16(source.assumingMemoryBound(to: Float.self), destination, count: count)
        }
        expectConversions(inputs, converted, to: "F16", expected: referenceFloatToF16) { bits, _ in
            bits & 0x7C00 == 0x7C00 && bits & 0x3FF != 0
        }
    }

    @Test func f32ToBF16RoundsToNearestEven() {
        let decodeBF16 = { (bits: UInt16) in Float(bitPattern: UInt32(bits) << 16) }
        var inputs = roundingInputs(decode: decodeBF16)
        // Exact float ties for every bf16 value, and NaNs whose payload lives in the low bits only
        // (naive rounding would carry them into inf or the next exponent).
        for high in stride(from: 0, through: 0xFFFF, by: 7) {
            inputs.append(Float(bitPattern: UInt32(high) << 16 | 0x8000))
        }
        inputs += [Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFF80_0001), Float(bitPattern: 0x7FFF_FFFF)]
        let converted = convertUnaligned(inputs, outputType: UInt16.self) { source, destination, count in
            convertF32ToBF16(source.assumingMemoryBound(to: Float.self), destination, count: count)
        }
        expectConversions(inputs, converted, to: "BF16", expected: referenceFloatToBF16) { bits, x in
            bits & 0x7F80 == 0x7F80 && bits & 0x7F != 0 && (bits & 0x8000 != 0) == (x.sign == .minus)
        }
    }

    @Test func referenceAgreesWithSwiftFloat16() {
        // Cross-check the test's own reference against the compiler's scalar Float16 rounding.
        var generator = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
            if x.isNaN { continue }
            #expect(Float16(x).bitPattern == referenceFloatToF16(x), "\(x)")
        }
    }

    @Test(arguments: [0, 1, 15, 16, 17, 33, 100])
    func raggedCountsTouchNothingPastTheEnd(count: Int) {
        // Guard values after the output must survive.
        let input = (0..<count).map { Float($0) * 0.5 - 3 }
        let formats = [("F16", convertF32ToF16, convertF16ToF32), ("BF16", convertF32ToBF16, convertBF16ToF32)]
        for (format, encode, decode) in formats {
            var halves = [UInt16](repeating: 0xABCD, count: count + 3)
            input.withUnsafeBufferPointer { source in
                halves.withUnsafeMutableBytes { encode(source.baseAddress!, $0.baseAddress!, count) }
            }
            #expect(halves[count...].allSatisfy { $0 == 0xABCD }, "\(format)")
            var back = [Float](repeating: 99, count: count + 3)
            halves.withUnsafeBytes { source in
                back.withUnsafeMutableBufferPointer { decode(source.baseAddress!, $0.baseAddress!, count) }
            }
            #expect(Array(back[..<count]) == input, "\(format)")  // all exactly representable
            #expect(back[count...].allSatisfy { $0 == 99 }, "\(format)")
        }
    }
}
