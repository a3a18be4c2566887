import Kernels
import GPT2Runtime

extension GPT2Weights {
    /// The byte ranges of the packed weights that thread `t` of `threads` streams, per matrix:
    /// `matmulPacked` gives each thread a contiguous run of panels (`ThreadPool.parallelFor`).
    public func threadSlices(threads: Int) -> [[(start: UnsafeRawPointer, bytes: Int)]] {
        var slices = Array(repeating: [(start: UnsafeRawPointer, bytes: Int)](), count: threads)
        let matrices = blocks.flatMap { [$0.qkv, $0.attnProj, $0.fc, $0.fcProj] } + [lmHead]
        for case let .packed(w, K, N) in matrices {
            let panels = (N + packedPanelWidth - 1) / packedPanelWidth
            let parts = min(threads, panels)
            for t in 0..<parts {
                let r = ThreadPool.staticRange(units: panels, parts: parts, part: t)
                let panelBytes = K * packedPanelWidth * MemoryLayout<Float>.size
                slices[t].append((UnsafeRawPointer(w) + r.lowerBound * panelBytes, r.count * panelBytes))
            }
        }
        return slices
    }

    /// Moves each thread's slice of the packed weights to that thread's node (`--numa distribute`).
    func place(on topology: NumaTopology, _ plan: ThreadPlacement) {
        for (t, slices) in threadSlices(threads: plan.nodes.count).enumerated() {
            for s in slices { topology.move(s.start, bytes: s.bytes, toNode: plan.nodes[t]) }
        }
    }
}
