import GPT2Runtime

/// Where one tensor of a model file lives: its name and its absolute byte range in the file.
public protocol StoredTensor: Sendable {
    var name: String { get }
    /// Absolute byte range in the file (not relative to the data section).
    var byteRange: Range<Int> { get }
}

extension TensorInfo: StoredTensor {}
extension GGUFTensorInfo: StoredTensor {}

/// A memory-mapped model file whose tensors are looked up by name (safetensors, GGUF).
public protocol TensorFile: AnyObject {
    associatedtype Tensor: StoredTensor
    /// The mapping that backs every tensor view.
    var file: MappedFile { get }
    /// The tensor called `name`, or nil.
    subscript(name: String) -> Tensor? { get }
}

extension TensorFile {
    /// The path the file was opened with.
    public var path: String { file.path }

    /// The tensor called `name`; throws `ModelIOError.tensorNotFound` if there is none.
    public func tensor(named name: String) throws -> Tensor {
        guard let tensor = self[name] else { throw ModelIOError.tensorNotFound(path: path, name: name) }
        return tensor
    }

    /// The stored bytes of `tensor` (which must come from this file), inside the mapping.
    public func rawBytes(of tensor: Tensor) -> UnsafeRawBufferPointer {
        precondition(tensor.byteRange.upperBound <= file.count, "tensor \(tensor.name) is not from \(path)")
        return UnsafeRawBufferPointer(rebasing: file.bytes[tensor.byteRange])
    }

    /// The values of `tensor`, stored as `dtype` with `shape` (outermost first), as fp32: F32 →
    /// a view into the mapping when 4-byte aligned, else an aligned copy; F16 and BF16 →
    /// converted once into an owned buffer; nil for any other dtype.
    func fp32Values(of tensor: Tensor, dtype: DType, shape: [Int]) -> FloatTensor? {
        let source = rawBytes(of: tensor)
        let count = shape.reduce(1, *)
        if dtype == .f32, Int(bitPattern: source.baseAddress) % MemoryLayout<Float>.alignment == 0 {
            return FloatTensor(shape: shape, pointer: source.baseAddress!.assumingMemoryBound(to: Float.self),
                               owner: file, isMappedView: true)
        }
        let convert: (UnsafeRawPointer, UnsafeMutablePointer<Float>, Int) -> Void
        switch dtype {
        case .f32: convert = { UnsafeMutableRawPointer($1).copyMemory(from: $0, byteCount: 4 * $2) }
        case .f16: convert = { convertF16ToF32($0, $1, count: $2) }
        case .bf16: convert = { convertBF16ToF32($0, $1, count: $2) }
        default: return nil
        }
        let buffer = AlignedBuffer<Float>(count: count, zeroed: false)
        if count > 0 { convert(source.baseAddress!, buffer.pointer, count) }
        return FloatTensor(shape: shape, buffer: buffer)
    }
}
