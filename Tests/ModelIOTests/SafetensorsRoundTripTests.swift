import GPT2Runtime
import Foundation
import Testing

@testable import ModelIO

/// Values with many distinct bit patterns, including negatives and non-representable fractions.
func sampleFloats(_ count: Int, seed: UInt64) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float.random(in: -100...100, using: &generator) }
}

func halfBytes(_ values: [Float], _ convert: (UnsafePointer<Float>, UnsafeMutableRawPointer, Int) -> Void) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 2 * values.count)
    values.withUnsafeBufferPointer { source in
        out.withUnsafeMutableBytes { convert(source.baseAddress!, $0.baseAddress!, values.count) }
    }
    return out
}

/// Writes `entries` (name, dtype, shape, bytes) to `path`, keeping the byte arrays alive.
func writeSafetensors(_ entries: [(String, DType, [Int], [UInt8])], metadata: [String: String] = [:], to path: String) throws {
    func build(_ index: Int, _ built: [SafetensorsWriter.Entry]) throws {
        if index == entries.count {
            try SafetensorsWriter.write(built, metadata: metadata, to: path)
            return
        }
        let (name, dtype, shape, bytes) = entries[index]
        try bytes.withUnsafeBytes {
            try build(index + 1, built + [SafetensorsWriter.Entry(name: name, dtype: dtype, shape: shape, bytes: $0)])
        }
    }
    try build(0, [])
}

@Suite struct SafetensorsRoundTripTests {
    static let raggedSizes = [0, 1, 3, 15, 16, 17, 31, 33, 100, 1001]

    @Test func f32F16BF16RoundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var entries: [(String, DType, [Int], [UInt8])] = []
        var expected: [String: [Float]] = [:]
        for (i, size) in Self.raggedSizes.enumerated() {
            let values = sampleFloats(size, seed: UInt64(i))
            entries.append(("f32.\(size)", .f32, [size], bytesOf(values)))
            expected["f32.\(size)"] = values
            entries.append(("f16.\(size)", .f16, [1, size], halfBytes(values) { convertF32ToF16($0, $1, count: $2) }))
            expected["f16.\(size)"] = values.map { Float(Float16($0)) }
            entries.append(("bf16.\(size)", .bf16, [size, 1], halfBytes(values) { convertF32ToBF16($0, $1, count: $2) }))
            expected["bf16.\(size)"] = values.map { Float(bitPattern: UInt32(referenceFloatToBF16($0)) << 16) }
        }
        let path = dir.file("model.safetensors")
        try writeSafetensors(entries, metadata: ["format": "pt", "note": "ragged \"sizes\"\n"], to: path)

        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == ["format": "pt", "note": "ragged \"sizes\"\n"])
        #expect(file.tensors.count == entries.count)
        // Written in order and contiguous, so offset order is the order given (empty tensors
        // share their offset with the next one, so their relative order is not defined).
        #expect(file.tensors.filter { $0.byteCount > 0 }.map(\.name) == entries.filter { !$0.3.isEmpty }.map(\.0))
        #expect(file.dataOffset % 8 == 0)
        var nextOffset = file.dataOffset
        for entry in entries {
            let tensor = try #require(file[entry.0])
            #expect(tensor.dtype == entry.1)
            #expect(tensor.shape == entry.2)
            #expect(tensor.byteRange.lowerBound == nextOffset)
            #expect(Array(file.rawBytes(of: tensor)) == entry.3)
            nextOffset = tensor.byteRange.upperBound
            let floats = try file.floats(tensor)
            #expect(floats.shape == entry.2)
            #expect(floats.count == entry.2.reduce(1, *))
            #expect(floats.toArray() == expected[entry.0]!, "\(entry.0)")
            if entry.1 != .f32 {
                #expect(!floats.isMappedView)
                #expect(Int(bitPattern: floats.pointer) % 64 == 0)
            }
        }
        #expect(nextOffset == file.file.count)
    }

    @Test func writerIsDeterministicAndLeavesNoTemporaryFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let entries: [(String, DType, [Int], [UInt8])] = [
            ("b", .f32, [2, 3], bytesOf(sampleFloats(6, seed: 1))),
            ("a", .u8, [5], [1, 2, 3, 4, 5]),
            ("ü \"x\"", .i64, [], bytesOf([Int64(-7)])),
        ]
        let metadata = ["z": "1", "a": "2", "m": "3", "format": "pt"]
        try writeSafetensors(entries, metadata: metadata, to: dir.file("one.safetensors"))
        try writeSafetensors(entries, metadata: metadata, to: dir.file("two.safetensors"))
        let one = try readBytes(dir.file("one.safetensors"))
        #expect(one == (try readBytes(dir.file("two.safetensors"))))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == ["one.safetensors", "two.safetensors"])

        // Header: entries in the order given, padded with spaces to a multiple of 8.
        let headerLength = Int(one[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        #expect((8 + headerLength) % 8 == 0)
        let header = String(decoding: one[8..<(8 + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"a":"2","format":"pt","m":"3","z":"1"},"b":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"a":{"dtype":"U8","shape":[5],"data_offsets":[24,29]},"ü \"x\"":{"dtype":"I64","shape":[],"data_offsets":[29,37]}}"#))
        #expect(header.reversed().prefix(while: { $0 != "}" }).allSatisfy { $0 == " " })

        // Overwriting an existing file replaces it.
        try writeSafetensors([("only", .u8, [1], [9])], to: dir.file("one.safetensors"))
        let replaced = try SafetensorsFile(path: dir.file("one.safetensors"))
        #expect(replaced.tensors.map(\.name) == ["only"])
        #expect(replaced.metadata.isEmpty)
    }

    @Test func alignedF32IsAViewIntoTheMapping() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let values = sampleFloats(37, seed: 3)
        try writeSafetensors([("w", .f32, [37], bytesOf(values))], to: dir.file("m.safetensors"))
        let file = try SafetensorsFile(path: dir.file("m.safetensors"))
        let floats = try file.floats(named: "w")
        #expect(floats.isMappedView)
        let ownedByTheMapping = floats.owner === file.file
        #expect(ownedByTheMapping)
        let mapping = file.file.bytes
        let start = UnsafeRawPointer(floats.pointer)
        #expect(start >= mapping.baseAddress! && start + 4 * floats.count <= mapping.baseAddress! + mapping.count)
        #expect(start == file.rawBytes(of: file["w"]!).baseAddress)
        #expect(floats.toArray() == values)
    }

    @Test func unalignedF32IsCopiedIntoAnAlignedBuffer() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let values = sampleFloats(21, seed: 4)
        // 3 bytes of U8 first put the F32 data at an odd offset.
        try writeSafetensors([("pad", .u8, [3], [7, 8, 9]), ("w", .f32, [3, 7], bytesOf(values))], to: dir.file("m.safetensors"))
        let file = try SafetensorsFile(path: dir.file("m.safetensors"))
        let tensor = try #require(file["w"])
        #expect(tensor.byteRange.lowerBound % 4 == 3)
        let floats = try file.floats(tensor)
        #expect(!floats.isMappedView)
        #expect(floats.owner is AlignedBuffer<Float>)
        #expect(Int(bitPattern: floats.pointer) % 64 == 0)
        #expect(floats.shape == [3, 7])
        #expect(floats.toArray() == values)
        #expect(Array(file.rawBytes(of: file["pad"]!)) == [7, 8, 9])
    }

    @Test func floatsOfOtherDTypesThrows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("m.safetensors")
        try writeSafetensors([("mask", .bool, [2, 2], [1, 0, 0, 1]), ("ids", .i32, [2], bytesOf([Int32(5), -1]))], to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.tensors.map(\.dtype) == [.bool, .i32])
        let error = modelIOError { _ = try file.floats(named: "ids") }
        #expect(error?.description == "\(path): tensor 'ids' has dtype I32, which cannot be read as fp32 (only F32, F16 and BF16 can)")
        let missing = modelIOError { _ = try file.floats(named: "nothing") }
        #expect(missing?.description == "\(path): no tensor named 'nothing'")
        #expect(file["nothing"] == nil)
    }

    @Test func emptyAndScalarTensors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try writeSafetensors([
            ("empty", .f32, [0, 4], []), ("scalar", .f32, [], bytesOf([Float(2.5)])),
            ("emptyHalf", .f16, [3, 0], []), ("after", .bf16, [1], [0x80, 0x3F]),
        ], to: dir.file("m.safetensors"))
        let file = try SafetensorsFile(path: dir.file("m.safetensors"))
        #expect(try file.floats(named: "empty").count == 0)
        #expect(try file.floats(named: "emptyHalf").count == 0)
        #expect(try file.floats(named: "scalar").toArray() == [2.5])
        #expect(try file.floats(named: "scalar").shape == [])
        #expect(try file.floats(named: "after").toArray() == [1])
    }

    @Test func headerInAnyOrder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("m.safetensors")
        // Entries out of offset order, and unknown extra keys.
        let header = #"{"second":{"dtype":"F32","shape":[1],"data_offsets":[4,8],"extra":1},"first":{"data_offsets":[0,4],"shape":[1],"dtype":"F32"},"__metadata__":{"k":"v"}}"#
        try writeBytes(safetensorsBytes(header: header, data: bytesOf([Float(1), Float(3)])), to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.tensors.map(\.name) == ["first", "second"])
        #expect(file.metadata == ["k": "v"])
        #expect(try file.floats(named: "first").toArray() == [1])
        #expect(try file.floats(named: "second").toArray() == [3])
    }

    /// The format requires the tensors to cover the data section exactly: bytes no tensor
    /// explains are an error, wherever they are.
    @Test func dataNotCoveredByTheTensorsIsAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("m.safetensors")
        func problem(_ header: String, _ data: [UInt8]) throws -> String {
            try writeBytes(safetensorsBytes(header: header, data: data), to: path)
            return modelIOError { _ = try SafetensorsFile(path: path) }?.description ?? "no error"
        }
        let gap = #"{"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"a":{"data_offsets":[0,4],"shape":[1],"dtype":"F32"}}"#
        #expect(try problem(gap, bytesOf([Float(1), Float(-9), Float(3)])).contains("data bytes 4..<8 belong to no tensor (before 'b')"))
        let late = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(try problem(late, bytesOf([Float(1), Float(3)])).contains("data bytes 0..<4 belong to no tensor"))
        let short = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(try problem(short, bytesOf([Float(1), Float(3)])).contains("the last 4 bytes of the data section belong to no tensor"))
    }

    /// A header length one byte short shifts every tensor by a byte; the data the tensors
    /// describe then ends one byte before the file does.
    @Test func headerLengthOffByOneIsAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("m.safetensors")
        try writeSafetensors([("w", .f32, [2], bytesOf([Float(1), Float(2)]))], to: path)
        var bytes = try #require(FileManager.default.contents(atPath: path))
        let length = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        withUnsafeBytes(of: (length - 1).littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
        try bytes.write(to: URL(fileURLWithPath: path))
        let text = modelIOError { _ = try SafetensorsFile(path: path) }?.description ?? "no error"
        #expect(text.contains("belong to no tensor"), "\(text)")
    }

    @Test func writerRejectsBadEntries() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out.safetensors")
        func reason(_ entries: [(String, DType, [Int], [UInt8])]) -> String? {
            modelIOError { try writeSafetensors(entries, to: path) }?.description
        }
        #expect(reason([("w", .f32, [2, 3], [UInt8](repeating: 0, count: 20))])
            == "\(path): cannot write: tensor 'w' has 20 bytes but shape [2, 3] of F32 needs 24")
        #expect(reason([("w", .u8, [1], [0]), ("w", .u8, [1], [0])]) == "\(path): cannot write: duplicate tensor name 'w'")
        #expect(reason([("__metadata__", .u8, [1], [0])])?.contains("reserved") == true)
        #expect(reason([("w", .u8, [-1], [])])?.contains("negative dimension -1") == true)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)

        let nowhere = dir.file("missing-dir/out.safetensors")
        let error = modelIOError { try writeSafetensors([("w", .u8, [1], [0])], to: nowhere) }
        #expect(error?.description.hasPrefix("\(nowhere): cannot write:") == true)
    }

    @Test func truncatedFilesAlwaysThrow() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let full = dir.file("full.safetensors")
        try writeSafetensors([
            ("a", .f32, [5], bytesOf(sampleFloats(5, seed: 9))), ("b", .f16, [3], [0, 60, 0, 188, 0, 0]),
            ("c", .bf16, [2, 2], bytesOf([UInt16](repeating: 0x3F80, count: 4))),
        ], metadata: ["format": "pt"], to: full)
        let bytes = try readBytes(full)
        #expect(try SafetensorsFile(path: full).tensors.count == 3)
        let cut = dir.file("cut.safetensors")
        for length in 0..<bytes.count {
            try writeBytes(Array(bytes[..<length]), to: cut)
            let error = modelIOError { _ = try SafetensorsFile(path: cut) }
            #expect(error?.description.hasPrefix(cut) == true, "length \(length)")
        }
    }
}
