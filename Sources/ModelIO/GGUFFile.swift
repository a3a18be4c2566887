import GPT2Runtime

// GGUF, llama.cpp's model file format (ggml/docs/gguf.md), read by mmap and validated on open.
//
// Layout (all little-endian): magic "GGUF", u32 version (2 or 3), u64 tensor count, u64
// key/value count; the key/value pairs (key: u64 length + UTF-8 bytes; value: u32 type +
// payload; an array is u32 element type + u64 count + elements); the tensor infos (name,
// u32 n_dims, n_dims × u64 ne with ne0 the innermost, contiguous dimension first, u32 ggml
// type, u64 offset relative to the data section); zero padding to `general.alignment`
// (default 32); the data section. Tensor data is used in place from the mapping.

/// The value types of GGUF metadata, numbered as in the file.
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of a fixed-size value; nil for strings and arrays.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one value of this type can occupy (for bounding counts).
    var minimumSize: Int { fixedSize ?? (self == .string ? 8 : 12) }
}

/// One GGUF metadata value.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// An array of values of one type.
    case array(GGUFArray)

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        case .array: .array
        }
    }

    /// The value as an Int if it is an integer of any width that fits.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// The value as a Double if it is a number (integer or float).
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: intValue.map(Double.init)
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements of an array of strings, or nil.
    public var stringArray: [String]? {
        guard case .array(let array) = self, array.elementType == .string else { return nil }
        var strings: [String] = []
        strings.reserveCapacity(array.count)
        for item in array {
            guard case .string(let s) = item else { return nil }
            strings.append(s)
        }
        return strings.count == array.count ? strings : nil
    }

    /// A short human-readable rendering (arrays abbreviated), for `gpt2 inspect`.
    public var summary: String {
        switch self {
        case .string(let s): return quoted(s.count > 60 ? String(s.prefix(60)) + "…" : s)
        case .bool(let b): return String(b)
        case .float32(let v): return String(v)
        case .float64(let v): return String(v)
        case .array(let array):
            let head = array.prefix(4).map(\.summary).joined(separator: ", ")
            return "[\(array.elementType) × \(array.count)]" + (array.count == 0 ? "" : " [\(head)\(array.count > 4 ? ", …" : "")]")
        case .uint64(let v): return String(v)  // above Int.max it has no intValue
        default: return String(intValue!)
        }
    }
}

/// A GGUF metadata array: `count` values of `elementType`.
///
/// An array read from a file stays in its encoded form inside the mapping (validated on open)
/// and is decoded as it is iterated: a GPT-2 vocabulary is 50257 strings, which as `GGUFValue`s
/// would take ~48 bytes each on top of the text. Arrays built in memory (to write a file) hold
/// their values.
public struct GGUFArray: Sequence, Equatable, @unchecked Sendable {
    public let elementType: GGUFValueType
    public let count: Int
    private let storage: Storage

    private enum Storage {
        case values([GGUFValue])
        /// The elements' bytes in a mapped file, kept alive by `owner`.
        case encoded(UnsafeRawBufferPointer, owner: AnyObject, path: String)
    }

    /// An array of `elements`, which must all be of `elementType` (the writer checks).
    public init(_ elementType: GGUFValueType, _ elements: [GGUFValue]) {
        self.elementType = elementType
        self.count = elements.count
        self.storage = .values(elements)
    }

    init(_ elementType: GGUFValueType, count: Int, encoded: UnsafeRawBufferPointer, owner: AnyObject, path: String) {
        self.elementType = elementType
        self.count = count
        self.storage = .encoded(encoded, owner: owner, path: path)
    }

    public func makeIterator() -> Iterator { Iterator(array: self) }

    /// Decodes the elements in order. An encoded array was validated when the file was opened,
    /// so decoding ends early only if the file changed since.
    public struct Iterator: IteratorProtocol {
        let array: GGUFArray
        var index = 0
        var reader: GGUFReader?

        init(array: GGUFArray) {
            self.array = array
            if case let .encoded(bytes, owner, path) = array.storage {
                reader = GGUFReader(bytes: bytes, path: path, owner: owner)
            }
        }

        public mutating func next() -> GGUFValue? {
            guard index < array.count else { return nil }
            defer { index += 1 }
            switch array.storage {
            case .values(let values): return values[index]
            case .encoded: return try? reader!.value(array.elementType, context: "an array element", depth: 1)
            }
        }
    }

    public static func == (a: GGUFArray, b: GGUFArray) -> Bool {
        a.elementType == b.elementType && a.count == b.count && a.elementsEqual(b)
    }
}

/// A ggml tensor type, as numbered in ggml.h. Every type ggml defines is known by name and
/// block layout (so `inspect` can describe any file); only F32, F16 and Q8_0 can be used by
/// the model.
public struct GGMLType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let f32 = GGMLType(rawValue: 0)
    public static let f16 = GGMLType(rawValue: 1)
    public static let q8_0 = GGMLType(rawValue: 8)

    /// (name, elements per block, bytes per block) of every type ggml.h defines.
    static let layouts: [UInt32: (name: String, blockSize: Int, blockBytes: Int)] = [
        0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
        6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
        10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
        14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74),
        18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
        22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
        26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
        30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
    ]

    /// Whether ggml defines this type number.
    public var isKnown: Bool { Self.layouts[rawValue] != nil }
    public var name: String { Self.layouts[rawValue]?.name ?? "type \(rawValue)" }
    public var description: String { name }
    /// Elements per block along ne0 (1 for plain types).
    public var blockSize: Int { Self.layouts[rawValue]!.blockSize }
    /// Bytes per block.
    public var blockBytes: Int { Self.layouts[rawValue]!.blockBytes }

    /// Bytes of a tensor of this type with dimensions `ne` (innermost first); nil when ne0 is
    /// not a multiple of the block size, a dimension is negative, or the size or the element
    /// count overflows (see `checkedElementCount`: a zero dimension makes the size 0 while a
    /// product of the other dimensions can still overflow).
    public func byteCount(ne: [Int]) -> Int? {
        guard let first = ne.first else { return blockBytes }  // a scalar
        guard first % blockSize == 0, checkedElementCount(ne) != nil else { return nil }
        guard let rows = checkedElementCount(Array(ne.dropFirst())), first >= 0 else { return nil }
        let (rowBytes, o1) = (first / blockSize).multipliedReportingOverflow(by: blockBytes)
        let (total, o2) = rowBytes.multipliedReportingOverflow(by: rows)
        return o1 || o2 ? nil : total
    }
}

/// Where one tensor of a GGUF file lives.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let type: GGMLType
    /// GGML's ne: the innermost (contiguous) dimension first. A matrix of N rows of K is [K, N].
    public let ne: [Int]
    /// Offset from the start of the data section, as stored.
    public let offset: Int
    /// Absolute byte range in the file.
    public let byteRange: Range<Int>

    /// The shape outermost first (numpy/safetensors order): `ne` reversed.
    public var shape: [Int] { ne.reversed() }
    public var elementCount: Int { ne.reduce(1, *) }
}

/// A GGUF file (version 2 or 3), memory-mapped and fully validated on open.
public final class GGUFFile: TensorFile, @unchecked Sendable {
    /// The mapping that backs every tensor view.
    public let file: MappedFile
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, or 32.
    public let alignment: Int
    /// Absolute offset of the data section.
    public let dataOffset: Int
    private let valueIndex: [String: Int]
    private let tensorIndex: [String: Int]

    /// The file magic "GGUF" read as a little-endian u32.
    public static let magic: UInt32 = 0x4655_4747
    /// Default data alignment when `general.alignment` is absent.
    public static let defaultAlignment = 32
    /// llama.cpp's GGML_MAX_DIMS.
    static let maxDimensions = 4
    /// Arrays nest at most this deep (GPT-2 files use one level).
    static let maxArrayDepth = 8

    /// Maps and validates `path`. Throws `ModelIOError` (`.malformed` with format "GGUF" and a
    /// one-line problem) for anything out of the spec.
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        let path = file.path
        var reader = GGUFReader(bytes: file.bytes, path: path, owner: file)
        func fail(_ problem: String) -> ModelIOError { .malformed(path: path, format: "GGUF", problem: problem) }

        guard file.count >= 4 else { throw fail("file is \(file.count) bytes, too short for the magic") }
        let magic = try reader.u32("the magic")
        guard magic == Self.magic else {
            let text = withUnsafeBytes(of: magic.littleEndian) { String(decoding: $0, as: UTF8.self) }
            throw fail("bad magic \(quoted(text)) (expected 'GGUF')")
        }
        let version = try reader.u32("the version")
        guard version == 2 || version == 3 else {
            if version == 1 { throw fail("version 1 is not supported (only 2 and 3)") }
            if version.byteSwapped == 2 || version.byteSwapped == 3 {
                throw fail("big-endian GGUF files are not supported")
            }
            throw fail("unknown version \(version) (only 2 and 3 are supported)")
        }
        let tensorCount = try reader.count("the tensor count", minimumSize: 32)
        let kvCount = try reader.count("the key/value count", minimumSize: 12)

        var metadata: [(key: String, value: GGUFValue)] = []
        var valueIndex: [String: Int] = [:]
        for i in 0..<kvCount {
            let key = try reader.string("key #\(i)")
            if valueIndex[key] != nil { throw fail("duplicate key \(quoted(key))") }
            let rawType = try reader.u32("the type of key \(quoted(key))")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw fail("key \(quoted(key)) has unknown value type \(rawType)")
            }
            let value = try reader.value(type, context: "the value of key \(quoted(key))", depth: 0)
            valueIndex[key] = metadata.count
            metadata.append((key, value))
        }

        var alignment = Self.defaultAlignment
        if let index = valueIndex["general.alignment"] {
            guard case .uint32(let a) = metadata[index].value else {
                throw fail("general.alignment is \(metadata[index].value.type), not uint32")
            }
            guard a > 0 && a & (a - 1) == 0 && a <= 1 << 20 else {
                throw fail("general.alignment \(a) is not a power of two (up to 1 MiB)")
            }
            alignment = Int(a)
        }

        var infos: [(name: String, ne: [Int], type: GGMLType, offset: Int)] = []
        var tensorIndex: [String: Int] = [:]
        for i in 0..<tensorCount {
            let name = try reader.string("the name of tensor #\(i)")
            let tensor = "tensor \(quoted(name))"
            if tensorIndex[name] != nil { throw fail("duplicate tensor name \(quoted(name))") }
            let nDims = try reader.u32("the dimension count of \(tensor)")
            guard nDims <= UInt32(Self.maxDimensions) else {
                throw fail("\(tensor) has \(nDims) dimensions (at most \(Self.maxDimensions))")
            }
            var ne: [Int] = []
            for d in 0..<Int(nDims) {
                let dim = try reader.u64("dimension \(d) of \(tensor)")
                guard dim <= UInt64(Int64.max) else { throw fail("\(tensor) has absurd dimension \(dim)") }
                ne.append(Int(dim))
            }
            let type = GGMLType(rawValue: try reader.u32("the type of \(tensor)"))
            let offset = try reader.u64("the offset of \(tensor)")
            guard type.isKnown else { throw fail("\(tensor) has unknown ggml type \(type.rawValue)") }
            guard offset <= UInt64(Int.max / 2) else { throw fail("\(tensor) has absurd offset \(offset)") }
            tensorIndex[name] = infos.count
            infos.append((name, ne, type, Int(offset)))
        }

        // The data section starts at the next multiple of the alignment.
        let dataOffset = (reader.position + alignment - 1) / alignment * alignment
        let dataSize = file.count - dataOffset
        var tensors: [GGUFTensorInfo] = []
        for info in infos {
            let tensor = "tensor \(quoted(info.name))"
            if let first = info.ne.first, first % info.type.blockSize != 0 {
                throw fail("\(tensor) of type \(info.type) has rows of \(first) elements, not a multiple of its block size \(info.type.blockSize)")
            }
            guard let size = info.type.byteCount(ne: info.ne) else {
                throw fail("\(tensor) has dimensions \(info.ne) whose size overflows")
            }
            guard info.offset % alignment == 0 else {
                throw fail("\(tensor) has offset \(info.offset), not a multiple of the alignment \(alignment)")
            }
            guard dataSize >= 0, info.offset <= dataSize, size <= dataSize - info.offset else {
                throw fail("\(tensor) (\(size) bytes at data offset \(info.offset)) extends beyond the end of the file (the data section is \(max(dataSize, 0)) bytes)")
            }
            tensors.append(GGUFTensorInfo(
                name: info.name, type: info.type, ne: info.ne, offset: info.offset,
                byteRange: (dataOffset + info.offset)..<(dataOffset + info.offset + size)))
        }
        // Sorted by start, a range overlaps an earlier one iff it starts before the furthest end.
        let sorted = tensors.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        var furthest: GGUFTensorInfo? = nil
        for tensor in sorted {
            if let previous = furthest, tensor.byteRange.lowerBound < previous.byteRange.upperBound {
                throw fail("tensors \(quoted(previous.name)) and \(quoted(tensor.name)) overlap")
            }
            if furthest == nil || tensor.byteRange.upperBound > furthest!.byteRange.upperBound { furthest = tensor }
        }

        self.file = file
        self.version = version
        self.metadata = metadata
        self.tensors = tensors
        self.alignment = alignment
        self.dataOffset = dataOffset
        self.valueIndex = valueIndex
        self.tensorIndex = tensorIndex
    }

    /// The metadata value of `key`, or nil.
    public subscript(key key: String) -> GGUFValue? {
        valueIndex[key].map { metadata[$0].value }
    }

    /// The tensor called `name`, or nil.
    public subscript(name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// fp32 values (shape outermost first): F32 → a view into the mapping (the data section is
    /// aligned, so no copy); F16 → converted once into an owned buffer; other types → throws
    /// `ModelIOError.malformed` naming the tensor and its type.
    public func floats(_ tensor: GGUFTensorInfo) throws -> FloatTensor {
        let dtype: DType? = tensor.type == .f32 ? .f32 : tensor.type == .f16 ? .f16 : nil
        guard let dtype, let values = fp32Values(of: tensor, dtype: dtype, shape: tensor.shape) else {
            throw ModelIOError.malformed(path: path, format: "GGUF",
                                         problem: "tensor \(quoted(tensor.name)) has type \(tensor.type), which cannot be read as fp32 here (only F32 and F16)")
        }
        return values
    }
}

/// A bounds-checked little-endian cursor over the file; every read names what it was reading
/// so that a truncated file says where it ends.
struct GGUFReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    /// What keeps `bytes` alive, for the arrays that refer to them.
    let owner: AnyObject
    var position = 0

    func fail(_ problem: String) -> ModelIOError { .malformed(path: path, format: "GGUF", problem: problem) }

    mutating func take(_ n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawPointer {
        guard n <= bytes.count - position else {
            throw fail("truncated: the file ends (at byte \(bytes.count)) while reading \(what())")
        }
        defer { position += n }
        return bytes.baseAddress! + position
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 {
        UInt32(littleEndian: try take(4, what()).loadUnaligned(as: UInt32.self))
    }

    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 {
        UInt64(littleEndian: try take(8, what()).loadUnaligned(as: UInt64.self))
    }

    /// A u64 count of items that each need at least `minimumSize` bytes: more than the rest of
    /// the file can hold is rejected before anything is allocated.
    mutating func count(_ what: @autoclosure () -> String, minimumSize: Int) throws -> Int {
        let n = try u64(what())
        let remaining = UInt64(bytes.count - position)
        guard n <= remaining / UInt64(minimumSize) else {
            throw fail("\(what()) \(n) is absurd: the remaining \(remaining) bytes cannot hold that many")
        }
        return Int(n)
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let length = try u64("the length of \(what())")
        guard length <= UInt64(bytes.count - position) else {
            throw fail("truncated: \(what()) has length \(length) but only \(bytes.count - position) bytes remain")
        }
        let start = try take(Int(length), what())
        guard let string = String(validating: UnsafeRawBufferPointer(start: start, count: Int(length)), as: UTF8.self) else {
            throw fail("\(what()) is not valid UTF-8")
        }
        return string
    }

    mutating func value(_ type: GGUFValueType, context: @autoclosure () -> String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try take(1, context()).load(as: UInt8.self))
        case .int8: return .int8(try take(1, context()).load(as: Int8.self))
        case .uint16: return .uint16(UInt16(littleEndian: try take(2, context()).loadUnaligned(as: UInt16.self)))
        case .int16: return .int16(Int16(littleEndian: try take(2, context()).loadUnaligned(as: Int16.self)))
        case .uint32: return .uint32(try u32(context()))
        case .int32: return .int32(Int32(bitPattern: try u32(context())))
        case .float32: return .float32(Float(bitPattern: try u32(context())))
        case .uint64: return .uint64(try u64(context()))
        case .int64: return .int64(Int64(bitPattern: try u64(context())))
        case .float64: return .float64(Double(bitPattern: try u64(context())))
        case .bool:
            let byte = try take(1, context()).load(as: UInt8.self)
            guard byte <= 1 else { throw fail("\(context()) is a bool with byte value \(byte) (must be 0 or 1)") }
            return .bool(byte == 1)
        case .string: return .string(try string(context()))
        case .array:
            guard depth < GGUFFile.maxArrayDepth else { throw fail("\(context()): arrays nest too deeply") }
            let rawType = try u32("the element type of \(context())")
            guard let elementType = GGUFValueType(rawValue: rawType) else {
                throw fail("\(context()) is an array of unknown value type \(rawType)")
            }
            let n = try count("the element count of \(context())", minimumSize: elementType.minimumSize)
            let start = position
            if let size = elementType.fixedSize, elementType != .bool {
                _ = try take(n * size, context())
            } else {
                // Walked (and so validated) here, decoded only when iterated.
                for i in 0..<n { _ = try value(elementType, context: "element \(i) of \(context())", depth: depth + 1) }
            }
            let encoded = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
            return .array(GGUFArray(elementType, count: n, encoded: encoded, owner: owner, path: path))
        }
    }
}
