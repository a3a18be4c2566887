import Foundation
import Testing

@testable import ModelIO

/// One corrupt file per case: its bytes and the phrases its error must mention.
struct CorruptCase: CustomStringConvertible, Sendable {
    let label: String
    let bytes: [UInt8]
    let phrases: [String]
    var description: String { label }

    init(_ label: String, header: String, data: [UInt8] = [], lengthField: UInt64? = nil, _ phrases: String...) {
        self.label = label
        self.bytes = safetensorsBytes(header: header, data: data, lengthField: lengthField)
        self.phrases = phrases
    }

    init(_ label: String, bytes: [UInt8], _ phrases: String...) {
        self.label = label
        self.bytes = bytes
        self.phrases = phrases
    }
}

/// A valid entry, for building headers around one broken field.
func entry(_ name: String, _ dtype: String = "\"F32\"", shape: String = "[2]", offsets: String = "[0,8]") -> String {
    "\"\(name)\":{\"dtype\":\(dtype),\"shape\":\(shape),\"data_offsets\":\(offsets)}"
}

let eightBytes = [UInt8](repeating: 0, count: 8)

let corruptCases: [CorruptCase] = [
    CorruptCase("too short", bytes: [1, 0, 0, 0, 0], "5 bytes, shorter than the 8-byte header length"),
    CorruptCase("absurd header length", header: "{}", lengthField: 1 << 40, "header length 1099511627776 is absurdly large"),
    CorruptCase("header length past the end", header: "{}", lengthField: 3, "header length 3 extends beyond the end of the file (10 bytes)"),
    CorruptCase("header length 2^64-1", header: "{}", lengthField: .max, "header length 18446744073709551615 is absurdly large"),
    CorruptCase("invalid JSON", header: "{\"w\": {", "header is not valid JSON"),
    CorruptCase("empty header", header: "", "header is not valid JSON"),
    CorruptCase("header not an object", header: "[1, 2]", "header is not a JSON object"),
    CorruptCase("entry not an object", header: "{\"w\": 5}", "entry 'w' is not an object"),
    CorruptCase("missing dtype", header: #"{"w":{"shape":[2],"data_offsets":[0,8]}}"#, data: eightBytes, "tensor 'w' has no \"dtype\""),
    CorruptCase("dtype not a string", header: "{\(entry("w", "4"))}", data: eightBytes, "tensor 'w': \"dtype\" is not a string"),
    CorruptCase("unknown dtype", header: "{\(entry("w", "\"F9\""))}", data: eightBytes, "tensor 'w' has unknown dtype \"F9\""),
    CorruptCase("missing shape", header: #"{"w":{"dtype":"F32","data_offsets":[0,8]}}"#, data: eightBytes, "tensor 'w' has no \"shape\""),
    CorruptCase("shape not an array", header: "{\(entry("w", shape: "2"))}", data: eightBytes, "tensor 'w': \"shape\" is not an array"),
    CorruptCase("fractional dimension", header: "{\(entry("w", shape: "[1.5]"))}", data: eightBytes, "tensor 'w': \"shape\" contains 1.5, not an integer"),
    CorruptCase("exponent dimension", header: "{\(entry("w", shape: "[2e0]"))}", data: eightBytes, "tensor 'w': \"shape\" contains 2"),
    CorruptCase("boolean dimension", header: "{\(entry("w", shape: "[true]"))}", data: eightBytes, "tensor 'w': \"shape\" contains true, not an integer"),
    CorruptCase("string dimension", header: "{\(entry("w", shape: "[\"2\"]"))}", data: eightBytes, "tensor 'w': \"shape\" contains \"2\", not an integer"),
    CorruptCase("negative dimension", header: "{\(entry("w", shape: "[-2, 1]"))}", data: eightBytes, "tensor 'w' has negative dimension -2 in shape [-2, 1]"),
    CorruptCase("missing data_offsets", header: #"{"w":{"dtype":"F32","shape":[2]}}"#, data: eightBytes, "tensor 'w' has no \"data_offsets\""),
    CorruptCase("one offset", header: "{\(entry("w", offsets: "[0]"))}", data: eightBytes, "tensor 'w': \"data_offsets\" is not an array of two integers"),
    CorruptCase("offsets not an array", header: "{\(entry("w", offsets: "\"0-8\""))}", data: eightBytes, "tensor 'w': \"data_offsets\" is not an array of two integers"),
    CorruptCase("fractional offset", header: "{\(entry("w", offsets: "[0,8.5]"))}", data: eightBytes, "tensor 'w': \"data_offsets\" [0, 8.5] are not integers"),
    CorruptCase("offset beyond Int", header: "{\(entry("w", offsets: "[0,18446744073709551615]"))}", data: eightBytes, "tensor 'w': \"data_offsets\" [0, 18446744073709551615] are not integers"),
    CorruptCase("negative offset", header: "{\(entry("w", offsets: "[-8,0]"))}", data: eightBytes, "tensor 'w' has negative data_offsets [-8, 0]"),
    CorruptCase("end before begin", header: "{\(entry("w", offsets: "[8,0]"))}", data: eightBytes, "tensor 'w' has data_offsets [8, 0] whose end is before its begin"),
    CorruptCase("offsets beyond the file", header: "{\(entry("w", offsets: "[0,16]"))}", data: eightBytes,
                "tensor 'w' has data_offsets [0, 16] beyond the end of the file (the data section is 8 bytes)"),
    // Numbers beyond Int32 must parse as integers: this fails on size, not on type.
    CorruptCase("offsets beyond Int32", header: "{\(entry("w", "\"U8\"", shape: "[3000000000]", offsets: "[0,3000000000]"))}", data: eightBytes,
                "tensor 'w' has data_offsets [0, 3000000000] beyond the end of the file"),
    CorruptCase("size mismatch", header: "{\(entry("w", shape: "[3]"))}", data: eightBytes, "tensor 'w' occupies 8 bytes but shape [3] of F32 needs 12"),
    CorruptCase("size overflow", header: "{\(entry("w", shape: "[4294967296,4294967296]"))}", data: eightBytes, "tensor 'w' has shape [4294967296, 4294967296] whose size overflows"),
    CorruptCase("overlap", header: "{\(entry("first", shape: "[2]", offsets: "[0,8]")),\(entry("second", "\"F16\"", shape: "[2]", offsets: "[6,10]"))}",
                data: eightBytes + [0, 0], "tensors 'first' and 'second' overlap (data bytes 0..<8 and 6..<10)"),
    CorruptCase("contained overlap", header: "{\(entry("outer", "\"U8\"", shape: "[8]", offsets: "[0,8]")),\(entry("inner", "\"U8\"", shape: "[1]", offsets: "[7,8]")),\(entry("z", "\"U8\"", shape: "[1]", offsets: "[2,3]"))}",
                data: eightBytes, "tensors 'outer' and 'z' overlap"),
    CorruptCase("duplicate names", header: "{\(entry("w", offsets: "[0,8]")),\(entry("w", offsets: "[8,16]"))}", data: eightBytes + eightBytes, "duplicate tensor name 'w'"),
    CorruptCase("duplicate escaped name", header: "{\(entry("ab")),\(entry("\\u0061b", offsets: "[8,16]"))}", data: eightBytes + eightBytes, "duplicate tensor name 'ab'"),
    CorruptCase("metadata not an object", header: #"{"__metadata__":[1]}"#, "\"__metadata__\" is not an object"),
    CorruptCase("metadata value not a string", header: #"{"__metadata__":{"format":1}}"#, "\"__metadata__\" value for key 'format' is not a string"),
    CorruptCase("control characters in names stay on one line", header: "{\"bad\\nname\": 5}", "entry 'bad\\nname' is not an object"),
]

@Suite struct SafetensorsValidationTests {
    @Test(arguments: corruptCases)
    func corruptFileThrowsAClearError(_ corrupt: CorruptCase) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("corrupt.safetensors")
        try writeBytes(corrupt.bytes, to: path)
        let error = try #require(modelIOError { _ = try SafetensorsFile(path: path) })
        let message = error.description
        #expect(message.hasPrefix("\(path): invalid safetensors file: "), "\(message)")
        #expect(!message.contains("\n"))
        for phrase in corrupt.phrases {
            #expect(message.contains(phrase), "\(message)")
        }
    }

    @Test func nestedDuplicateKeysAreNotTensorNames() throws {
        // Repeated keys inside entries or metadata values are not duplicate tensors; a key-looking
        // string inside an array is not a key either.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("ok.safetensors")
        let header = #"{"__metadata__":{"w":"x, \"w\": {"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"note":["w","w"]}}"#
        try writeBytes(safetensorsBytes(header: header, data: eightBytes), to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.tensors.map(\.name) == ["w"])
        #expect(file.metadata == ["w": "x, \"w\": {"])
    }
}
