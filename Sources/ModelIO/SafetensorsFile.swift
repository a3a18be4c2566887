import GPT2Runtime
import Foundation

/// A safetensors file, memory-mapped and validated on open.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON header, then the data.
/// Each header entry is `{"dtype": ..., "shape": [...], "data_offsets": [begin, end]}` with
/// offsets relative to the start of the data; `"__metadata__"` holds string pairs. Tensors of
/// any dtype may be present; only `floats()` requires F32, F16 or BF16.
public final class SafetensorsFile: TensorFile, @unchecked Sendable {
    /// The mapping that backs every tensor view.
    public let file: MappedFile
    /// All tensors, in data-offset order.
    public let tensors: [TensorInfo]
    /// The `"__metadata__"` entry (empty when absent).
    public let metadata: [String: String]
    /// Absolute file offset of the data section (8 + header length).
    public let dataOffset: Int
    private let indexByName: [String: Int]

    /// The largest header we accept; real ones are tens of KB, so anything bigger is corruption.
    public static let maxHeaderLength = 100_000_000

    /// Maps and validates the file. Throws `ModelIOError` naming the file and the problem.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        func fail(_ problem: String) -> ModelIOError {
            ModelIOError.malformed(path: path, format: "safetensors", problem: problem)
        }

        guard bytes.count >= 8 else {
            throw fail("file is \(bytes.count) bytes, shorter than the 8-byte header length field")
        }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(Self.maxHeaderLength) else {
            throw fail("header length \(headerLength) is absurdly large (limit \(Self.maxHeaderLength) bytes)")
        }
        guard 8 + Int(headerLength) <= bytes.count else {
            throw fail("header length \(headerLength) extends beyond the end of the file (\(bytes.count) bytes)")
        }
        let dataOffset = 8 + Int(headerLength)
        let dataSize = bytes.count - dataOffset
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<dataOffset])

        guard let json = try? JSONSerialization.jsonObject(with: Data(headerBytes)) else {
            throw fail("header is not valid JSON")
        }
        guard let header = json as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        // JSONSerialization keeps only one of two equal keys, so look for repeats in the text.
        if let duplicate = firstDuplicateTopLevelKey(headerBytes) {
            throw fail("duplicate tensor name \(quoted(duplicate))")
        }

        var metadata: [String: String] = [:]
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(header.count)
        // Sorted so that a file with several problems always reports the same one.
        for name in header.keys.sorted() {
            let value = header[name]!
            if name == "__metadata__" {
                guard let object = value as? [String: Any] else {
                    throw fail("\"__metadata__\" is not an object")
                }
                for (key, item) in object {
                    guard let string = item as? String else {
                        throw fail("\"__metadata__\" value for key \(quoted(key)) is not a string")
                    }
                    metadata[key] = string
                }
                continue
            }
            let tensor = "tensor \(quoted(name))"
            guard let entry = value as? [String: Any] else {
                throw fail("entry \(quoted(name)) is not an object")
            }

            guard let dtypeValue = entry["dtype"] else { throw fail("\(tensor) has no \"dtype\"") }
            guard let dtypeName = dtypeValue as? String else {
                throw fail("\(tensor): \"dtype\" is not a string")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("\(tensor) has unknown dtype \"\(dtypeName)\"")
            }

            guard let shapeValue = entry["shape"] else { throw fail("\(tensor) has no \"shape\"") }
            guard let shapeArray = shapeValue as? [Any] else {
                throw fail("\(tensor): \"shape\" is not an array")
            }
            var shape: [Int] = []
            for item in shapeArray {
                guard let dim = jsonInteger(item) else {
                    throw fail("\(tensor): \"shape\" contains \(describeJSON(item)), not an integer")
                }
                shape.append(dim)
            }
            if let negative = shape.first(where: { $0 < 0 }) {
                throw fail("\(tensor) has negative dimension \(negative) in shape \(shape)")
            }

            guard let offsetsValue = entry["data_offsets"] else {
                throw fail("\(tensor) has no \"data_offsets\"")
            }
            guard let offsetsArray = offsetsValue as? [Any], offsetsArray.count == 2 else {
                throw fail("\(tensor): \"data_offsets\" is not an array of two integers")
            }
            guard let begin = jsonInteger(offsetsArray[0]), let end = jsonInteger(offsetsArray[1]) else {
                throw fail("\(tensor): \"data_offsets\" [\(describeJSON(offsetsArray[0])), \(describeJSON(offsetsArray[1]))] are not integers")
            }
            guard begin >= 0, end >= 0 else {
                throw fail("\(tensor) has negative data_offsets [\(begin), \(end)]")
            }
            guard end >= begin else {
                throw fail("\(tensor) has data_offsets [\(begin), \(end)] whose end is before its begin")
            }
            guard end <= dataSize else {
                throw fail("\(tensor) has data_offsets [\(begin), \(end)] beyond the end of the file (the data section is \(dataSize) bytes)")
            }
            guard let expected = checkedByteCount(shape, dtype) else {
                throw fail("\(tensor) has shape \(shape) whose size overflows")
            }
            guard expected == end - begin else {
                throw fail("\(tensor) occupies \(end - begin) bytes but shape \(shape) of \(dtype.rawValue) needs \(expected)")
            }
            tensors.append(TensorInfo(
                name: name, dtype: dtype, shape: shape,
                byteRange: (dataOffset + begin)..<(dataOffset + end)))
        }

        tensors.sort {
            ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name)
                < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name)
        }
        // The format requires the tensors to cover the data section exactly: sorted by start,
        // each begins where the previous one ended. A gap means bytes no tensor explains (for
        // instance a header length off by one, which shifts every tensor), an overlap means two
        // tensors share bytes. Empty tensors occupy no bytes.
        var end = dataOffset
        var previous: TensorInfo? = nil
        for tensor in tensors where !tensor.byteRange.isEmpty {
            let range = tensor.byteRange
            if let previous, range.lowerBound < end {
                throw fail("tensors \(quoted(previous.name)) and \(quoted(tensor.name)) overlap (data bytes \(previous.byteRange.lowerBound - dataOffset)..<\(previous.byteRange.upperBound - dataOffset) and \(range.lowerBound - dataOffset)..<\(range.upperBound - dataOffset))")
            }
            if range.lowerBound > end {
                throw fail("data bytes \(end - dataOffset)..<\(range.lowerBound - dataOffset) belong to no tensor (before \(quoted(tensor.name))); the tensors must cover the data section without gaps")
            }
            end = range.upperBound
            previous = tensor
        }
        if end != bytes.count {
            throw fail("the last \(bytes.count - end) bytes of the data section belong to no tensor; the tensors must cover it exactly (is the header length right?)")
        }

        var indexByName: [String: Int] = [:]
        for (index, tensor) in tensors.enumerated() { indexByName[tensor.name] = index }

        self.file = file
        self.tensors = tensors
        self.metadata = metadata
        self.dataOffset = dataOffset
        self.indexByName = indexByName
    }

    /// The tensor called `name`, or nil.
    public subscript(name: String) -> TensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    /// fp32 values: F32 → a view into the mapping when 4-byte aligned (else an aligned copy);
    /// F16/BF16 → converted once into an owned buffer; other dtypes → throws.
    public func floats(_ tensor: TensorInfo) throws -> FloatTensor {
        guard let values = fp32Values(of: tensor, dtype: tensor.dtype, shape: tensor.shape) else {
            throw ModelIOError.unsupportedDType(path: path, tensor: tensor.name, dtype: tensor.dtype)
        }
        return values
    }

    /// fp32 values of the tensor called `name` (see `floats(_:)`).
    public func floats(named name: String) throws -> FloatTensor {
        try floats(tensor(named: name))
    }
}

// MARK: - JSON helpers

/// A JSON integer that fits in Int, or nil for anything else (floats such as 1.5 or 1e3,
/// booleans, strings, out-of-range numbers). JSONSerialization hands numbers back as NSNumber
/// whose storage type tells integers from floating point. (`value is Bool` cannot tell a
/// boolean apart: NSNumbers 0 and 1 bridge to Bool too.)
func jsonInteger(_ value: Any) -> Int? {
    guard let number = value as? NSNumber else { return nil }
    switch String(cString: number.objCType) {
    case "s", "S", "i", "I", "l", "q", "C":
        return number.intValue
    case "L", "Q":
        return Int(exactly: number.uint64Value)
    default:
        return nil  // "d"/"f" (floating point, NSDecimalNumber), "c" (Bool)
    }
}

/// A short rendering of a JSON value for an error message.
func describeJSON(_ value: Any) -> String {
    if let string = value as? String { return "\"\(quoted(string).dropFirst().dropLast())\"" }
    if let number = value as? NSNumber {
        if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
        return number.stringValue
    }
    if value is NSNull { return "null" }
    if value is [Any] { return "an array" }
    if value is [String: Any] { return "an object" }
    return "a value"
}

/// The first key that appears twice in the top-level object of `json`, which must already be
/// known to be valid JSON. Skips over strings and nested values without interpreting them.
func firstDuplicateTopLevelKey(_ json: UnsafeRawBufferPointer) -> String? {
    var seen = Set<String>()
    var depth = 0
    var expectingKey = false
    var i = 0
    let n = json.count
    while i < n {
        let c = json[i]
        if c == UInt8(ascii: "\"") {
            let start = i
            i += 1
            while i < n && json[i] != UInt8(ascii: "\"") {
                i += json[i] == UInt8(ascii: "\\") ? 2 : 1
            }
            let end = min(i + 1, n)  // one past the closing quote
            if depth == 1 && expectingKey {
                expectingKey = false
                let literal = UnsafeRawBufferPointer(rebasing: json[start..<end])
                guard let key = decodeJSONString(literal) else { return nil }
                if !seen.insert(key).inserted { return key }
            }
            i = end
            continue
        }
        switch c {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            depth += 1
            if c == UInt8(ascii: "{") && depth == 1 { expectingKey = true }
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            depth -= 1
        case UInt8(ascii: ","):
            if depth == 1 { expectingKey = true }
        default:
            break
        }
        i += 1
    }
    return nil
}

/// Decodes one JSON string literal, quotes included.
private func decodeJSONString(_ literal: UnsafeRawBufferPointer) -> String? {
    guard literal.count >= 2 else { return nil }
    let inner = UnsafeRawBufferPointer(rebasing: literal[1..<(literal.count - 1)])
    if !inner.contains(UInt8(ascii: "\\")) {
        return String(decoding: inner, as: UTF8.self)
    }
    var wrapped = Data("[".utf8)
    wrapped.append(contentsOf: literal)
    wrapped.append(contentsOf: "]".utf8)
    return (try? JSONSerialization.jsonObject(with: wrapped) as? [String])?.first
}
