import GPT2Runtime
import Kernels

/// Keys and values of every past position, per layer: keys [L][H, ⌈capacity/16⌉, hd, 16] (tiles
/// of 16 positions, transposed: see `keyCacheIndex`), values [L][H, capacity, hd], so that the
/// attention pass over one head's history reads two contiguous runs of memory.
public final class KVCache: @unchecked Sendable {
    public let layers: Int, heads: Int, headSize: Int
    /// Positions it can hold (the model's n_positions).
    public let capacity: Int
    private let keys: AlignedBuffer<Float>
    private let values: AlignedBuffer<Float>

    public init(layers: Int, heads: Int, headSize: Int, capacity: Int) {
        self.layers = layers
        self.heads = heads
        self.headSize = headSize
        self.capacity = capacity
        keys = AlignedBuffer(count: layers * keyCacheCount(H: heads, capacity: capacity, hd: headSize))
        values = AlignedBuffer(count: layers * heads * capacity * headSize)
    }

    /// The keys of `layer`: [H, ⌈capacity/16⌉, hd, 16].
    public func keys(layer: Int) -> UnsafeMutablePointer<Float> {
        keys.pointer + layer * keyCacheCount(H: heads, capacity: capacity, hd: headSize)
    }

    /// The values of `layer`: [H, capacity, hd].
    public func values(layer: Int) -> UnsafeMutablePointer<Float> {
        values.pointer + layer * heads * capacity * headSize
    }

    public var byteCount: Int { (keys.count + values.count) * MemoryLayout<Float>.size }
}
