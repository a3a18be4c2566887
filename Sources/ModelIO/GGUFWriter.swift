#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes GGUF v3 files the way llama.cpp's gguf-py does: header, metadata in the order given,
/// tensor infos with offsets at multiples of the alignment, zero padding up to the data
/// section and after every tensor. Deterministic: same input, same bytes.
public enum GGUFWriter {
    /// One tensor to write; `bytes` is read during `write` only.
    public struct Tensor {
        public let name: String
        public let type: GGMLType
        /// Dimensions innermost first (a matrix of N rows of K is [K, N]).
        public let ne: [Int]
        public let bytes: UnsafeRawBufferPointer

        public init(name: String, type: GGMLType, ne: [Int], bytes: UnsafeRawBufferPointer) {
            self.name = name
            self.type = type
            self.ne = ne
            self.bytes = bytes
        }
    }

    /// Writes `metadata` and `tensors` to `path` (through a temporary file renamed into place).
    /// The alignment is `general.alignment` if the metadata sets it (uint32), else 32. Throws
    /// `ModelIOError.cannotWrite` for invalid entries or I/O errors.
    public static func write(metadata: [(key: String, value: GGUFValue)], tensors: [Tensor], to path: String) throws {
        let header = try makeHeader(metadata: metadata, tensors: tensors, path: path)
        let alignment = try self.alignment(metadata, path: path)
        let zeros = [UInt8](repeating: 0, count: alignment)
        try writeFileAtomically(path) { write in
            try header.withUnsafeBytes { try write($0) }
            for tensor in tensors {
                try write(tensor.bytes)
                let padding = (alignment - tensor.bytes.count % alignment) % alignment
                try zeros.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<padding])) }
            }
        }
    }

    static func alignment(_ metadata: [(key: String, value: GGUFValue)], path: String) throws -> Int {
        guard let value = metadata.first(where: { $0.key == "general.alignment" })?.value else {
            return GGUFFile.defaultAlignment
        }
        guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0, a <= 1 << 20 else {
            throw ModelIOError.cannotWrite(path: path, reason: "general.alignment must be a uint32 power of two, got \(value.summary)")
        }
        return Int(a)
    }

    /// Everything before the data section, padding included, validating the entries.
    static func makeHeader(metadata: [(key: String, value: GGUFValue)], tensors: [Tensor], path: String) throws -> [UInt8] {
        func fail(_ reason: String) -> ModelIOError { .cannotWrite(path: path, reason: reason) }
        let alignment = try self.alignment(metadata, path: path)
        var out: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out.append(contentsOf: s.utf8) }
        func value(_ v: GGUFValue) throws {
            switch v {
            case .uint8(let x): out.append(x)
            case .int8(let x): out.append(UInt8(bitPattern: x))
            case .uint16(let x): withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) }
            case .int16(let x): withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) }
            case .uint32(let x): u32(x)
            case .int32(let x): u32(UInt32(bitPattern: x))
            case .float32(let x): u32(x.bitPattern)
            case .bool(let x): out.append(x ? 1 : 0)
            case .string(let x): string(x)
            case .uint64(let x): u64(x)
            case .int64(let x): u64(UInt64(bitPattern: x))
            case .float64(let x): u64(x.bitPattern)
            case .array(let items):
                let type = items.elementType
                u32(type.rawValue)
                u64(UInt64(items.count))
                for item in items {
                    guard item.type == type else { throw fail("an array of \(type) holds a \(item.type)") }
                    try value(item)
                }
            }
        }

        u32(GGUFFile.magic)
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        var keys = Set<String>()
        for (key, v) in metadata {
            guard keys.insert(key).inserted else { throw fail("duplicate key \(quoted(key))") }
            string(key)
            u32(v.type.rawValue)
            try value(v)
        }
        var names = Set<String>()
        var offset = 0
        for tensor in tensors {
            let name = "tensor \(quoted(tensor.name))"
            guard names.insert(tensor.name).inserted else { throw fail("duplicate tensor name \(quoted(tensor.name))") }
            guard tensor.type.isKnown else { throw fail("\(name) has unknown ggml type \(tensor.type.rawValue)") }
            guard tensor.ne.count <= GGUFFile.maxDimensions, tensor.ne.allSatisfy({ $0 >= 0 }) else {
                throw fail("\(name) has invalid dimensions \(tensor.ne)")
            }
            guard let size = tensor.type.byteCount(ne: tensor.ne) else {
                throw fail("\(name) has dimensions \(tensor.ne) that \(tensor.type) cannot hold (rows must be a multiple of \(tensor.type.blockSize))")
            }
            guard size == tensor.bytes.count else {
                throw fail("\(name) has \(tensor.bytes.count) bytes but \(tensor.ne) of \(tensor.type) needs \(size)")
            }
            string(tensor.name)
            u32(UInt32(tensor.ne.count))
            for d in tensor.ne { u64(UInt64(d)) }
            u32(tensor.type.rawValue)
            u64(UInt64(offset))
            offset += (size + alignment - 1) / alignment * alignment
        }
        while out.count % alignment != 0 { out.append(0) }
        return out
    }
}

