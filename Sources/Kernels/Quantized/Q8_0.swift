/// GGML's Q8_0 format: weights in blocks of 32 along the reduction dimension, each block an
/// fp16 scale `d = max|x| / 127` followed by 32 int8 `q = round(x / d)` — 34 bytes per 32
/// weights, symmetric, no zero point. The layout is byte-for-byte GGML's `block_q8_0`, so the
/// tensors of a GGUF file are used in place.
public enum Q8_0 {
    /// Weights per block.
    public static let blockSize = 32
    /// Bytes per block: a Float16 scale and 32 Int8.
    public static let blockBytes = 34

    /// Bytes needed for `count` weights (`count` must be a multiple of 32).
    public static func byteCount(_ count: Int) -> Int { count / blockSize * blockBytes }

    /// Quantizes `count` floats (a multiple of 32) into `out` (`byteCount(count)` bytes).
    /// Rounding is to nearest, ties away from zero, as GGML's reference `quantize_row_q8_0`.
    public static func quantize(_ x: UnsafePointer<Float>, into out: UnsafeMutableRawPointer, count: Int) {
        precondition(count % blockSize == 0, "Q8_0 needs a multiple of 32 values, got \(count)")
        for b in 0..<(count / blockSize) {
            let block = x + b * blockSize
            let dst = out + b * blockBytes
            var amax: Float = 0
            for i in 0..<blockSize { amax = max(amax, abs(block[i])) }
            let d = amax / 127
            let inverse: Float = d != 0 ? 1 / d : 0
            dst.storeBytes(of: Float16(d).bitPattern, as: UInt16.self)
            let qs = (dst + 2).assumingMemoryBound(to: Int8.self)
            for i in 0..<blockSize { qs[i] = Int8((block[i] * inverse).rounded(.toNearestOrAwayFromZero)) }
        }
    }

    /// Expands `count` Q8_0 weights (a multiple of 32) back to floats: x = d · q.
    public static func dequantize(_ blocks: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count % blockSize == 0, "Q8_0 needs a multiple of 32 values, got \(count)")
        for b in 0..<(count / blockSize) {
            let src = blocks + b * blockBytes
            let d = Float(Float16(bitPattern: src.loadUnaligned(as: UInt16.self)))
            let qs = (src + 2).assumingMemoryBound(to: Int8.self)
            for i in 0..<blockSize { out[b * blockSize + i] = d * Float(qs[i]) }
        }
    }
}
