import GPT2Runtime

/// An fp32 tensor: either a view into a mapped file (no copy) or an owned 64-byte-aligned buffer
/// (`AlignedBuffer`, after a F16/BF16 conversion or an unaligned F32 source). `owner` keeps the memory alive:
/// keep the `FloatTensor` (or its owner) around for as long as `pointer` is used.
public struct FloatTensor: @unchecked Sendable {
    public let shape: [Int]
    public let pointer: UnsafePointer<Float>
    /// Number of elements: the product of the shape.
    public let count: Int
    /// The object that owns the memory: a `MappedFile` or an `AlignedBuffer<Float>`.
    public let owner: AnyObject
    /// True when `pointer` points into a file mapping rather than an owned buffer.
    public let isMappedView: Bool

    /// Wraps memory owned by `owner`; `pointer` must hold the product of `shape` floats.
    public init(shape: [Int], pointer: UnsafePointer<Float>, owner: AnyObject, isMappedView: Bool) {
        self.shape = shape
        self.pointer = pointer
        self.count = shape.reduce(1, *)
        self.owner = owner
        self.isMappedView = isMappedView
    }

    /// Wraps an owned buffer whose count matches the shape.
    public init(shape: [Int], buffer: AlignedBuffer<Float>) {
        precondition(shape.reduce(1, *) == buffer.count, "FloatTensor: shape \(shape) does not match \(buffer.count) elements")
        self.init(shape: shape, pointer: UnsafePointer(buffer.pointer), owner: buffer, isMappedView: false)
    }

    /// The elements as a buffer, valid only while this tensor (or its owner) is alive: do not
    /// use it on a temporary such as `try file.floats(t).buffer`.
    public var buffer: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: pointer, count: count)
    }

    /// A copy of the elements.
    public func toArray() -> [Float] {
        withExtendedLifetime(owner) { Array(buffer) }
    }
}
