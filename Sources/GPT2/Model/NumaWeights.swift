import Kernels
import GPT2Runtime

extension GPT2Weights {
    /// The byte ranges of the weights that thread `t` of `threads` streams in decode, per matrix:
    /// the kernels give each thread a contiguous run of units (`ThreadPool.parallelFor`), fp32
    /// panels of 32 outputs (`.packed`) or Q8_0 groups of 8 rows (`.q8_0Interleaved`).
    public func threadSlices(threads: Int) -> [[(start: UnsafeRawPointer, bytes: Int)]] {
        var slices = Array(repeating: [(start: UnsafeRawPointer, bytes: Int)](), count: threads)
        let matrices = blocks.flatMap { [$0.qkv, $0.attnProj, $0.fc, $0.fcProj] } + [lmHead]
        for matrix in matrices {
            let start: UnsafeRawPointer, units: Int, unitBytes: Int
            switch matrix {
            case let .packed(w, K, N):
                (start, units, unitBytes) = (UnsafeRawPointer(w), (N + packedPanelWidth - 1) / packedPanelWidth, K * packedPanelWidth * MemoryLayout<Float>.size)
            case let .q8_0Interleaved(w, K, N):
                (start, units, unitBytes) = (w, Q8Interleaved.groups(N: N), Q8Interleaved.groupBytes(K: K))
            }
            let parts = min(threads, units)
            for t in 0..<parts {
                let r = ThreadPool.staticRange(units: units, parts: parts, part: t)
                slices[t].append((start + r.lowerBound * unitBytes, r.count * unitBytes))
            }
        }
        return slices
    }

    /// Moves each thread's slice of the weights to that thread's node (`--numa distribute`).
    func place(on topology: NumaTopology, _ plan: ThreadPlacement) {
        for (t, slices) in threadSlices(threads: plan.nodes.count).enumerated() {
            for s in slices { topology.move(s.start, bytes: s.bytes, toNode: plan.nodes[t]) }
        }
    }
}
