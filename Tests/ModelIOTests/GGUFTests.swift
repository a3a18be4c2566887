import Foundation
import Testing

@testable import ModelIO

/// Raw GGUF bytes built field by field, so that tests can break any one field.
struct RawGGUF {
    var magic: UInt32 = GGUFFile.magic
    var version: UInt32 = 3
    var tensorCount: UInt64? = nil
    var kvCount: UInt64? = nil
    /// (key, value type, payload bytes)
    var kvs: [(String, UInt32, [UInt8])] = []
    /// (name, ne, ggml type, offset)
    var tensors: [(String, [UInt64], UInt32, UInt64)] = []
    var data: [UInt8] = []
    var alignment = 32

    static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func str(_ s: String) -> [UInt8] { u64(UInt64(s.utf8.count)) + Array(s.utf8) }

    var bytes: [UInt8] {
        var out = Self.u32(magic) + Self.u32(version)
        out += Self.u64(tensorCount ?? UInt64(tensors.count)) + Self.u64(kvCount ?? UInt64(kvs.count))
        for (key, type, payload) in kvs { out += Self.str(key) + Self.u32(type) + payload }
        for (name, ne, type, offset) in tensors {
            out += Self.str(name) + Self.u32(UInt32(ne.count))
            for d in ne { out += Self.u64(d) }
            out += Self.u32(type) + Self.u64(offset)
        }
        while out.count % alignment != 0 { out.append(0) }
        return out + data
    }

    /// A valid file: one string key, one F32 tensor [4] at offset 0.
    static var valid: RawGGUF {
        var g = RawGGUF()
        g.kvs = [("general.architecture", 8, str("gpt2"))]
        g.tensors = [("w", [4], 0, 0)]
        g.data = [UInt8](repeating: 0, count: 16)
        return g
    }
}

struct GGUFTests {
    func open(_ bytes: [UInt8]) throws -> GGUFFile {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try writeBytes(bytes, to: dir.file("m.gguf"))
        return try GGUFFile(path: dir.file("m.gguf"))
    }

    func problem(_ bytes: [UInt8]) -> String {
        do { _ = try open(bytes); return "no error" } catch { return String(describing: error) }
    }

    static let allValues: [(key: String, value: GGUFValue)] = [
        ("u8", .uint8(200)), ("i8", .int8(-5)), ("u16", .uint16(65000)), ("i16", .int16(-3000)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-7)), ("f32", .float32(1e-5)), ("b", .bool(true)),
        ("s", .string("héllo ĠGPT")), ("u64", .uint64(.max)), ("i64", .int64(.min)), ("f64", .float64(-2.5)),
        ("strings", .array(GGUFArray(.string, [.string("Ġthe"), .string(""), .string("<|endoftext|>")]))),
        ("ints", .array(GGUFArray(.int32, [.int32(1), .int32(3)]))),
        ("nested", .array(GGUFArray(.array, [.array(GGUFArray(.uint8, [.uint8(1)])), .array(GGUFArray(.uint8, []))]))),
        ("empty", .array(GGUFArray(.float64, []))),
    ]

    @Test func roundTripsEveryValueTypeAndTensorType() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let f32: [Float] = [1, -2, 3.5, 0]
        let f16: [Float16] = [0.5, -1, 2, 4, 8, 16]
        var q8 = [UInt8](repeating: 0, count: 2 * 34)
        for i in 0..<q8.count { q8[i] = UInt8(i % 251) }
        q8[0] = 0; q8[1] = 0x3C; q8[34] = 0; q8[35] = 0x3C  // scale 1.0
        let path = dir.file("a.gguf")
        try f32.withUnsafeBytes { a in
            try f16.withUnsafeBytes { b in
                try q8.withUnsafeBytes { c in
                    let tensors: [GGUFWriter.Tensor] = [
                        .init(name: "a", type: .f32, ne: [4], bytes: a),
                        .init(name: "b", type: .f16, ne: [3, 2], bytes: b),
                        .init(name: "c", type: .q8_0, ne: [32, 2], bytes: c),
                    ]
                    try GGUFWriter.write(metadata: Self.allValues, tensors: tensors, to: path)
                    try GGUFWriter.write(metadata: Self.allValues, tensors: tensors, to: dir.file("b.gguf"))
                }
            }
        }
        #expect(try readBytes(path) == readBytes(dir.file("b.gguf")), "the writer is deterministic")
        let file = try GGUFFile(path: path)
        #expect(file.version == 3 && file.alignment == 32)
        #expect(file.metadata.map(\.key) == Self.allValues.map(\.key))
        for (key, value) in Self.allValues { #expect(file[key: key] == value, "\(key)") }
        #expect(file.tensors.map(\.name) == ["a", "b", "c"])
        #expect(file.tensors.allSatisfy { $0.offset % 32 == 0 && $0.byteRange.lowerBound % 32 == 0 })
        #expect(try file.floats(file.tensor(named: "a")).toArray() == f32)
        let b = try file.floats(file.tensor(named: "b"))
        #expect(b.shape == [2, 3] && b.toArray() == f16.map(Float.init))
        #expect(Array(file.rawBytes(of: try file.tensor(named: "c"))) == q8)
        #expect(file["c"]?.ne == [32, 2] && file["c"]?.type == .q8_0)
        #expect(try readBytes(path).count % 32 == 0, "the last tensor is padded too")
        // Q8_0 cannot be read as floats: a clear error, not a crash.
        let text = String(describing: modelIOError { _ = try file.floats(file.tensor(named: "c")) }!)
        #expect(text.contains("'c' has type Q8_0"))
    }

    @Test func honoursGeneralAlignment() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let x = [Float](repeating: 1, count: 3)
        try x.withUnsafeBytes { bytes in
            try GGUFWriter.write(metadata: [("general.alignment", .uint32(64))],
                                 tensors: [.init(name: "x", type: .f32, ne: [3], bytes: bytes),
                                           .init(name: "y", type: .f32, ne: [3], bytes: bytes)], to: dir.file("a.gguf"))
        }
        let file = try GGUFFile(path: dir.file("a.gguf"))
        #expect(file.alignment == 64 && file.dataOffset % 64 == 0 && file["y"]?.offset == 64)
    }

    @Test func readsVersion2() throws {
        var g = RawGGUF.valid
        g.version = 2
        #expect(try open(g.bytes).version == 2)
    }

    static func corrupt(_ change: (inout RawGGUF) -> Void) -> [UInt8] {
        var g = RawGGUF.valid
        change(&g)
        return g.bytes
    }

    static let cases: [(String, [UInt8], String)] = [
        ("bad magic", corrupt { $0.magic = 0x4C4C_4747 }, "bad magic 'GGLL'"),
        ("version 1", corrupt { $0.version = 1 }, "version 1 is not supported"),
        ("version 4", corrupt { $0.version = 4 }, "unknown version 4"),
        ("big-endian", corrupt { $0.version = UInt32(3).byteSwapped }, "big-endian"),
        ("absurd tensor count", corrupt { $0.tensorCount = 1 << 60 }, "the tensor count 1152921504606846976 is absurd"),
        ("absurd kv count", corrupt { $0.kvCount = .max }, "the key/value count 18446744073709551615 is absurd"),
        ("absurd string length", corrupt { $0.kvs = [("k", 8, RawGGUF.u64(1 << 62))] }, "has length 4611686018427387904 but only"),
        ("absurd array count", corrupt { $0.kvs = [("k", 9, RawGGUF.u32(8) + RawGGUF.u64(1 << 40))] }, "the element count of the value of key 'k' 1099511627776 is absurd"),
        ("unknown value type", corrupt { $0.kvs = [("k", 13, [])] }, "key 'k' has unknown value type 13"),
        ("unknown array element type", corrupt { $0.kvs = [("k", 9, RawGGUF.u32(99) + RawGGUF.u64(0))] }, "array of unknown value type 99"),
        ("bool not 0/1", corrupt { $0.kvs = [("k", 7, [2])] }, "bool with byte value 2"),
        ("invalid UTF-8", corrupt { $0.kvs = [("k", 8, RawGGUF.u64(2) + [0xC3, 0x28])] }, "the value of key 'k' is not valid UTF-8"),
        ("duplicate key", corrupt { $0.kvs += [$0.kvs[0]] }, "duplicate key 'general.architecture'"),
        ("alignment not uint32", corrupt { $0.kvs = [("general.alignment", 10, RawGGUF.u64(32))] }, "general.alignment is uint64, not uint32"),
        ("alignment not a power of two", corrupt { $0.kvs = [("general.alignment", 4, RawGGUF.u32(24))] }, "general.alignment 24 is not a power of two"),
        ("too many dims", corrupt { $0.tensors = [("w", [1, 1, 1, 1, 4], 0, 0)] }, "tensor 'w' has 5 dimensions"),
        ("unknown ggml type", corrupt { $0.tensors = [("w", [4], 77, 0)] }, "tensor 'w' has unknown ggml type 77"),
        ("duplicate tensor", corrupt { $0.tensors = [("w", [2], 0, 0), ("w", [2], 0, 32)] }, "duplicate tensor name 'w'"),
        ("misaligned offset", corrupt { $0.tensors = [("w", [2], 0, 8)] }, "tensor 'w' has offset 8, not a multiple of the alignment 32"),
        ("beyond the file", corrupt { $0.tensors = [("w", [8], 0, 0)] }, "tensor 'w' (32 bytes at data offset 0) extends beyond the end of the file (the data section is 16 bytes)"),
        ("offset beyond the file", corrupt { $0.tensors = [("w", [1], 0, 1 << 40)] }, "extends beyond the end of the file"),
        ("Q8_0 row of 33", corrupt { $0.tensors = [("w", [33, 1], 8, 0)]; $0.data = [UInt8](repeating: 0, count: 64) }, "tensor 'w' of type Q8_0 has rows of 33 elements, not a multiple of its block size 32"),
        ("overflowing size", corrupt { $0.tensors = [("w", [1 << 62, 1 << 62], 0, 0)] }, "tensor 'w' has dimensions"),
        // A zero dimension makes the size 0, but multiplying the dimensions out (innermost first for
        // elementCount, outermost first for a FloatTensor's shape) must not overflow either.
        ("overflow before a zero", corrupt { $0.tensors = [("w", [1 << 40, 1 << 40, 0], 0, 0)] }, "tensor 'w' has dimensions"),
        ("overflow after a zero", corrupt { $0.tensors = [("w", [1, 0, 1 << 40, 1 << 40], 0, 0)] }, "tensor 'w' has dimensions"),
        ("absurd dimension", corrupt { $0.tensors = [("w", [.max], 0, 0)] }, "tensor 'w' has absurd dimension"),
        ("overlap", corrupt { $0.tensors = [("a", [4], 0, 0), ("b", [4], 1, 0)] }, "tensors 'a' and 'b' overlap"),
    ]

    @Test(arguments: cases.map(\.0))
    func rejectsCorruption(label: String) throws {
        let (_, bytes, phrase) = Self.cases.first { $0.0 == label }!
        let text = problem(bytes)
        #expect(text.contains("m.gguf: invalid GGUF file: ") && text.contains(phrase), "\(text)")
        #expect(!text.contains("\n"))
    }

    @Test func summaryOfAUInt64AboveIntMax() {
        // `gpt2 inspect` prints every value's summary; a uint64 above Int.max has no intValue.
        #expect(GGUFValue.uint64(.max).summary == "18446744073709551615")
        #expect(GGUFValue.array(GGUFArray(.uint64, [.uint64(1 << 63)])).summary == "[uint64 × 1] [9223372036854775808]")
    }

    @Test func everyTruncationIsAnErrorNotACrash() throws {
        // A file with every value type, then cut at every length.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let x: [Float] = [1, 2, 3, 4]
        try x.withUnsafeBytes { try GGUFWriter.write(metadata: Self.allValues, tensors: [.init(name: "x", type: .f32, ne: [4], bytes: $0)], to: dir.file("a.gguf")) }
        let full = try readBytes(dir.file("a.gguf"))
        #expect(try open(full).tensors.count == 1)
        // The tensor's 16 bytes end 16 bytes before the end (padding to 32 follows).
        for length in 0..<(full.count - 16) {
            let text = problem(Array(full[0..<length]))
            #expect(text.contains("invalid GGUF file") || text.contains("file is empty"), "length \(length): \(text)")
        }
    }

    @Test func writerRejectsInvalidTensors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let x = [UInt8](repeating: 0, count: 34)
        func problem(_ tensors: (UnsafeRawBufferPointer) -> [GGUFWriter.Tensor], metadata: [(key: String, value: GGUFValue)] = []) -> String {
            x.withUnsafeBytes { bytes in
                do { try GGUFWriter.write(metadata: metadata, tensors: tensors(bytes), to: dir.file("w.gguf")); return "no error" } catch { return String(describing: error) }
            }
        }
        #expect(problem { [.init(name: "q", type: .q8_0, ne: [33], bytes: $0)] }.contains("rows must be a multiple of 32"))
        #expect(problem { [.init(name: "q", type: .f32, ne: [4], bytes: $0)] }.contains("has 34 bytes but [4] of F32 needs 16"))
        #expect(problem { [.init(name: "q", type: .q8_0, ne: [32], bytes: $0), .init(name: "q", type: .q8_0, ne: [32], bytes: $0)] }.contains("duplicate tensor name 'q'"))
        #expect(problem({ _ in [] }, metadata: [("a", .array(GGUFArray(.int32, [.string("x")])))]).contains("an array of int32 holds a string"))
        #expect(problem({ _ in [] }, metadata: [("general.alignment", .uint32(3))]).contains("power of two"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("w.gguf")))
    }
}
