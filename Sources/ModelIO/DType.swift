/// Element types of stored tensors, named as in the safetensors header.
public enum DType: String, Sendable, CaseIterable {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f8e4m3 = "F8_E4M3"
    case f8e5m2 = "F8_E5M2"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u64 = "U64"
    case u32 = "U32"
    case u16 = "U16"
    case u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
        }
    }

    /// Whether `SafetensorsFile.floats()` can turn this dtype into fp32.
    public var isConvertibleToFloat: Bool {
        self == .f32 || self == .f16 || self == .bf16
    }
}

/// Where one tensor lives in a model file, and what it holds.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Absolute byte offsets in the file (not relative to the data section).
    public let byteRange: Range<Int>

    public init(name: String, dtype: DType, shape: [Int], byteRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }

    /// Number of elements: the product of the shape (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Number of bytes the tensor occupies in the file.
    public var byteCount: Int { byteRange.count }
}

/// The number of elements of `shape`, or nil if a dimension is negative or the product of the
/// non-zero dimensions overflows. Zeros are left out of the check so that a shape accepted here
/// can be multiplied out in any order (a shape's users do not all go innermost first).
func checkedElementCount(_ shape: [Int]) -> Int? {
    var product = 1
    var hasZero = false
    for dim in shape {
        if dim < 0 { return nil }
        if dim == 0 { hasZero = true; continue }
        let (next, overflow) = product.multipliedReportingOverflow(by: dim)
        if overflow { return nil }
        product = next
    }
    return hasZero ? 0 : product
}

/// The byte size of `shape` elements of `dtype`, or nil on a negative dimension or overflow.
func checkedByteCount(_ shape: [Int], _ dtype: DType) -> Int? {
    guard let elements = checkedElementCount(shape) else { return nil }
    let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
    return overflow ? nil : bytes
}
