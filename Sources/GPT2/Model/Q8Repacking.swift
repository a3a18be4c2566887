import Kernels
import GPT2Runtime

extension GPT2Weights {
    /// Copies every GGML Q8_0 matrix (`.q8_0`, the LM head included) into one huge-page buffer
    /// in the interleaved layout (`.q8_0Interleaved`, see `Q8Interleaved`), in parallel over
    /// groups of rows. With `releaseMapped`, each matrix's originals are released from memory
    /// (`MADV_DONTNEED`) right after it is copied, as the fp32 packing does, so the resident
    /// weights stay about one copy; a tied token embedding brings back only the rows it looks up.
    /// Returns the new matrices and the buffer that owns them (nil when there was no Q8_0 matrix).
    static func interleaveQ8(
        _ blocks: [BlockWeights], lmHead: LinearWeight, releaseMapped: Bool
    ) -> ([BlockWeights], LinearWeight, HugePageBuffer<UInt8>?) {
        let matrices = blocks.flatMap { [$0.qkv, $0.attnProj, $0.fc, $0.fcProj] } + [lmHead]
        var total = 0
        for case let .q8_0(_, K, N) in matrices { total += Q8Interleaved.byteCount(K: K, N: N) }
        guard total > 0 else { return (blocks, lmHead, nil) }
        let buffer = HugePageBuffer<UInt8>(count: total)
        var offset = 0
        func interleaved(_ weight: LinearWeight) -> LinearWeight {
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
        let newBlocks = blocks.map { b in
            var p = b
            p.qkv = interleaved(b.qkv); p.attnProj = interleaved(b.attnProj); p.fc = interleaved(b.fc); p.fcProj = interleaved(b.fcProj)
            return p
        }
        return (newBlocks, interleaved(lmHead), buffer)
    }
}
