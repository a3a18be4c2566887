import Kernels
import GPT2Runtime

extension GPT2Weights {
    /// Copies every GGML Q8_0 matrix (`.q8_0`) into one huge-page buffer in the interleaved
    /// layout (`.q8_0Interleaved`, see `Q8Interleaved`), in parallel over groups of rows. With
    /// `releaseMapped`, each matrix's originals are released from memory (`MADV_DONTNEED`) right
    /// after it is copied, as the fp32 packing does, so the resident weights stay about one copy.
    /// Returns the matrices and the buffer that owns the new ones (nil when none was Q8_0).
    static func interleaveQ8(_ matrices: [LinearWeight], releaseMapped: Bool) -> ([LinearWeight], HugePageBuffer<UInt8>?) {
        var total = 0
        for case let .q8_0(_, K, N) in matrices { total += Q8Interleaved.byteCount(K: K, N: N) }
        guard total > 0 else { return (matrices, nil) }
        let buffer = HugePageBuffer<UInt8>(count: total)
        var offset = 0
        let interleaved = matrices.map { weight -> LinearWeight in
            guard case let .q8_0(src, K, N) = weight else { return weight }
            let dst = UnsafeMutableRawPointer(buffer.pointer + offset)
            let groups = Q8Interleaved.groups(N: N)
            // Chunks of 16 groups: enough work per task, and each thread first-touches what it writes.
            parallelFor((groups + 15) / 16) { chunks in
                Q8Interleaved.repack(dst, from: src, K: K, N: N, groups: chunks.lowerBound * 16..<min(groups, chunks.upperBound * 16))
            }
            if releaseMapped { releaseMappedPages(src, bytes: N * Q8_0.byteCount(K)) }
            offset += Q8Interleaved.byteCount(K: K, N: N)
            return .q8_0Interleaved(UnsafeRawPointer(dst), K: K, N: N)
        }
        return (interleaved, buffer)
    }
}
