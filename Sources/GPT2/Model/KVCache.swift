import GPT2Runtime

/// Keys and values of every past position, per layer: [L][H, capacity, hd] each, so that the
/// attention pass over one head's history reads one contiguous run of memory.
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
        let perLayer = heads * capacity * headSize
        keys = AlignedBuffer(count: layers * perLayer)
        values = AlignedBuffer(count: layers * perLayer)
    }

    /// The keys of `layer`: [H, capacity, hd].
    public func keys(layer: Int) -> UnsafeMutablePointer<Float> {
        keys.pointer + layer * heads * capacity * headSize
    }

    /// The values of `layer`: [H, capacity, hd].
    public func values(layer: Int) -> UnsafeMutablePointer<Float> {
        values.pointer + layer * heads * capacity * headSize
    }

    public var byteCount: Int { 2 * keys.count * MemoryLayout<Float>.size }
}
