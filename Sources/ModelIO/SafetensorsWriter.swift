#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes safetensors files.
public enum SafetensorsWriter {
    /// One tensor to write. `bytes` is read during `write` only and must stay valid until then.
    public struct Entry {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let bytes: UnsafeRawBufferPointer

        public init(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    /// Writes a safetensors file: header entries in the order given, data contiguous in that
    /// order, header padded with spaces so that the data section starts at a multiple of 8 bytes
    /// (as the Python library does). Deterministic: same input → byte-identical file. Writes to a
    /// temporary file in the same directory and renames it into place, so readers never see a
    /// half-written file. Throws `ModelIOError.cannotWrite` for invalid entries or I/O errors.
    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to path: String) throws {
        let header = try makeHeader(entries, metadata: metadata, path: path)

        try writeFileAtomically(path) { append in
            try header.withUnsafeBytes { try append($0) }
            for entry in entries { try append(entry.bytes) }
        }
    }

    /// The length field, the JSON header and its padding, validating the entries on the way.
    static func makeHeader(_ entries: [Entry], metadata: [String: String], path: String) throws -> [UInt8] {
        func fail(_ reason: String) -> ModelIOError { .cannotWrite(path: path, reason: reason) }

        var json = "{"
        var first = true
        if !metadata.isEmpty {
            // Keys sorted: dictionary order is random, and the output must be deterministic.
            let pairs = metadata.keys.sorted().map { "\(jsonStringLiteral($0)):\(jsonStringLiteral(metadata[$0]!))" }
            json += "\"__metadata__\":{\(pairs.joined(separator: ","))}"
            first = false
        }
        var names = Set<String>()
        var offset = 0
        for entry in entries {
            let tensor = "tensor \(quoted(entry.name))"
            if entry.name == "__metadata__" {
                throw fail("\"__metadata__\" is reserved and cannot name a tensor")
            }
            if !names.insert(entry.name).inserted {
                throw fail("duplicate tensor name \(quoted(entry.name))")
            }
            if let negative = entry.shape.first(where: { $0 < 0 }) {
                throw fail("\(tensor) has negative dimension \(negative) in shape \(entry.shape)")
            }
            guard let expected = checkedByteCount(entry.shape, entry.dtype) else {
                throw fail("\(tensor) has shape \(entry.shape) whose size overflows")
            }
            if expected != entry.bytes.count {
                throw fail("\(tensor) has \(entry.bytes.count) bytes but shape \(entry.shape) of \(entry.dtype.rawValue) needs \(expected)")
            }
            let end = offset + expected
            if !first { json += "," }
            first = false
            let dims = entry.shape.map(String.init).joined(separator: ",")
            json += "\(jsonStringLiteral(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(dims)],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"

        var body = Array(json.utf8)
        // Pad with spaces (valid JSON whitespace) so the data section is 8-byte aligned.
        while (8 + body.count) % 8 != 0 { body.append(UInt8(ascii: " ")) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + body.count)
        withUnsafeBytes(of: UInt64(body.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: body)
        return out
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        guard var cursor = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(fd, cursor, min(remaining, 1 << 30))
            if written < 0 {
                if errno == EINTR { continue }
                throw ModelIOError.cannotWrite(path: path, reason: MappedFile.describeErrno(errno))
            }
            cursor += written
            remaining -= written
        }
    }
}

/// The C `write`, which the static method `write` hides inside `SafetensorsWriter`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
