import GPT2Runtime
import Foundation
import Testing

@testable import ModelIO

/// A fresh directory under the system temporary directory; call `remove()` when done.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("ModelIOTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Raw safetensors bytes: length field (the real header length unless overridden), header, data.
func safetensorsBytes(header: String, data: [UInt8] = [], lengthField: UInt64? = nil) -> [UInt8] {
    let json = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: (lengthField ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
    return out + json + data
}

/// The error thrown by `body`, which must throw a `ModelIOError`.
func modelIOError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ModelIOError? {
    do {
        try body()
        Issue.record("expected a ModelIOError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as ModelIOError {
        return error
    } catch {
        Issue.record("expected a ModelIOError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Bytes of an array of trivial values.
func bytesOf<T>(_ values: [T]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}
