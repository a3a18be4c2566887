import GPT2Runtime

/// Scratch memory of one forward pass over up to `capacity` tokens: one arena, named views
/// (as in llm.c), allocated once per session so the hot path never allocates.
final class Activations {
    let capacity: Int
    /// Residual stream [B, C].
    let residual: UnsafeMutablePointer<Float>
    /// LayerNorm output, the input of the next matmul [B, C].
    let normed: UnsafeMutablePointer<Float>
    /// Fused q|k|v projections [B, 3C].
    let qkv: UnsafeMutablePointer<Float>
    /// Attention output before its projection [B, C].
    let attention: UnsafeMutablePointer<Float>
    /// MLP hidden activations after GELU [B, I].
    let hidden: UnsafeMutablePointer<Float>
    private let arena: AlignedBuffer<Float>

    init(config: GPT2Config, capacity: Int) {
        self.capacity = capacity
        let C = config.nEmbd, I = config.nInner
        // Each view starts on a 64-byte boundary.
        func padded(_ n: Int) -> Int { (n + 15) / 16 * 16 }
        let sizes = [C, C, 3 * C, C, I].map { padded(capacity * $0) }
        arena = AlignedBuffer(count: sizes.reduce(0, +))
        var offset = 0
        var views: [UnsafeMutablePointer<Float>] = []
        for size in sizes { views.append(arena.pointer + offset); offset += size }
        residual = views[0]; normed = views[1]; qkv = views[2]; attention = views[3]; hidden = views[4]
    }
}
