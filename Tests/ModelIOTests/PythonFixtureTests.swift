import Foundation
import Testing

@testable import ModelIO

// A file written by Python's `safetensors.torch.save_file` (safetensors 0.8.0, torch 2.13),
// embedded so the test target needs no resources. Generated with:
//
//   import torch
//   from safetensors.torch import save_file
//   torch.manual_seed(0)
//   s = [0.0, -0.0, 1.0, -2.5, 65504.0, 65519.996, 65520.0, 1e5, -1e5,
//        2**-24, 2**-25, 2**-25 * 1.0000001, 3 * 2**-25, 2**-14, 2**-14 - 2**-24, 6e-8, 1e-40, -1e-40,
//        1.1754942e-38, 1 + 2**-11, 1 + 3 * 2**-11, 1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20,
//        3.4028235e38, -3.4028235e38, float('inf'), float('-inf'), float('nan'), 0.1, 1 / 3, -7.77]
//   src = torch.tensor(s + torch.randn(32).mul(100).tolist(), dtype=torch.float32)
//   save_file({
//       "conv.source": src, "conv.f16": src.to(torch.float16), "conv.bf16": src.to(torch.bfloat16),
//       "w.f32": torch.arange(15, dtype=torch.float32).reshape(3, 5) / 4 - 1,
//       "w.f16": (torch.arange(7, dtype=torch.float32) / 8 - 0.3).to(torch.float16),
//       "w.bf16": (torch.arange(6, dtype=torch.float32) * 1.5 - 2).reshape(2, 3).to(torch.bfloat16),
//       "buf.i64": torch.tensor([1, -2, 3, 1 << 40], dtype=torch.int64),
//       "scalar": torch.tensor(3.25),
//   }, "fixture.safetensors", metadata={"format": "pt", "source": "torch"})
//
// The conv.* tensors are torch's own F32 → F16 / BF16 conversions of special values (ties,
// subnormals, overflow, inf, NaN) and random ones: the expectations for our converters.
let pythonFixtureBase64 = """
MAIAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCIsInNvdXJjZSI6InRvcmNoIn0sImJ1Zi5pNjQiOnsiZHR5cGUi
OiJJNjQiLCJzaGFwZSI6WzRdLCJkYXRhX29mZnNldHMiOlswLDMyXX0sImNvbnYuc291cmNlIjp7ImR0eXBlIjoiRjMyIiwic2hh
cGUiOls2NF0sImRhdGFfb2Zmc2V0cyI6WzMyLDI4OF19LCJzY2FsYXIiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6W10sImRhdGFf
b2Zmc2V0cyI6WzI4OCwyOTJdfSwidy5mMzIiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzMsNV0sImRhdGFfb2Zmc2V0cyI6WzI5
MiwzNTJdfSwiY29udi5iZjE2Ijp7ImR0eXBlIjoiQkYxNiIsInNoYXBlIjpbNjRdLCJkYXRhX29mZnNldHMiOlszNTIsNDgwXX0s
IncuYmYxNiI6eyJkdHlwZSI6IkJGMTYiLCJzaGFwZSI6WzIsM10sImRhdGFfb2Zmc2V0cyI6WzQ4MCw0OTJdfSwiY29udi5mMTYi
OnsiZHR5cGUiOiJGMTYiLCJzaGFwZSI6WzY0XSwiZGF0YV9vZmZzZXRzIjpbNDkyLDYyMF19LCJ3LmYxNiI6eyJkdHlwZSI6IkYx
NiIsInNoYXBlIjpbN10sImRhdGFfb2Zmc2V0cyI6WzYyMCw2MzRdfX0gIAEAAAAAAAAA/v////////8DAAAAAAAAAAAAAAAAAQAA
AAAAAAAAAIAAAIA/AAAgwADgf0f/739HAPB/RwBQw0cAUMPHAACAMwAAADMBAAAzAADAMwAAgDgAwH84WdmAM8IWAQDCFgGA//9/
AAAQgD8AMIA/AICAPwCAgT8IgIA///9/f///f/8AAIB/AACA/wAAwH/NzMw9q6qqPtej+MAAK+HC2Hjmwn52yMExjS3C+L2pQt5m
ikJqz/zBnoVTw/ToAEK9qvzCR/4LQtSB9kEVvz9BFoj3Qv5a30KR0sXB8EMHw9eXKcMGqWJCobOeQimJb0JvghvDTosIwvVMOUO0
CZZC8zJqwqi3isFIyJJBxu8KQyiiHkN6Qr1CQLyowgAAUEAAAIC/AABAvwAAAL8AAIC+AAAAAAAAgD4AAAA/AABAPwAAgD8AAKA/
AADAPwAA4D8AAABAAAAQQAAAIEAAAACAgD8gwIBHgEeAR8NHw8eAMwAzADPAM4A4gDiBMwEAAYCAAIA/gD+AP4I/gT+Af4D/gH+A
////zT2rPvnA4cLmwsjBLsKqQopC/cFUwwFC/cIMQvdBQEH4Qt9CxsEHwyrDY0KfQnBCHMMJwjlDlkJqwovBk0ELQx9DvUKpwgDA
AL+APyBAgECwQAAAAIAAPADB/3v/ewB8AHwA/AEAAAABAAIAAAT/AwEAAAAAgAAAADwCPAQ8DDwEPAB8APwAfAD8AH5mLlU1xccJ
1zTXRM5s0U5VU1Tmz5zaB1Dl12BQtE/+SbxX+1YvzjrYTdkVU/ZUfFPc2ETQylmwVFLTVsyWTFdY9VjqVUbVzbSasWaqzSxmMjM1
Mzc=
"""

@Suite struct PythonFixtureTests {
    func openFixture(_ dir: TemporaryDirectory) throws -> SafetensorsFile {
        let data = try #require(Data(base64Encoded: pythonFixtureBase64, options: .ignoreUnknownCharacters))
        let path = dir.file("fixture.safetensors")
        try data.write(to: URL(fileURLWithPath: path))
        return try SafetensorsFile(path: path)
    }

    @Test func readsTheHeader() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try openFixture(dir)
        #expect(file.metadata == ["format": "pt", "source": "torch"])
        #expect(file.dataOffset % 8 == 0)
        // save_file orders tensors by dtype alignment, then name; ours are listed by offset.
        #expect(file.tensors.map(\.name) == ["buf.i64", "conv.source", "scalar", "w.f32", "conv.bf16", "w.bf16", "conv.f16", "w.f16"])
        #expect(file["buf.i64"]?.dtype == .i64)
        #expect(file["w.f32"]?.shape == [3, 5])
        #expect(file["w.bf16"]?.dtype == .bf16)
        #expect(file["w.bf16"]?.shape == [2, 3])
        #expect(file["w.f16"]?.dtype == .f16)
        #expect(file["scalar"]?.shape == [])
        #expect(file["conv.source"]?.elementCount == 64)
        #expect(file.tensors.last?.byteRange.upperBound == file.file.count)
    }

    @Test func readsTheValues() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try openFixture(dir)
        let f32 = try file.floats(named: "w.f32")
        #expect(f32.isMappedView)
        #expect(f32.toArray() == (0..<15).map { Float($0) / 4 - 1 })
        #expect(try file.floats(named: "w.bf16").toArray() == (0..<6).map { Float($0) * 1.5 - 2 })
        let f16 = try file.floats(named: "w.f16")
        #expect(f16.shape == [7])
        #expect(f16.toArray() == (0..<7).map { Float(Float16(Float($0) / 8 - 0.3)) })
        #expect(try file.floats(named: "scalar").toArray() == [3.25])

        let ids = file.rawBytes(of: file["buf.i64"]!)
        #expect((0..<4).map { ids.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) } == [1, -2, 3, 1 << 40])
        let error = modelIOError { _ = try file.floats(named: "buf.i64") }
        #expect(error?.description.contains("tensor 'buf.i64' has dtype I64") == true)
    }

    @Test func ourConversionsMatchTorch() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try openFixture(dir)
        let source = try file.floats(named: "conv.source")
        let count = source.count
        let torchF16 = file.rawBytes(of: file["conv.f16"]!)
        let torchBF16 = file.rawBytes(of: file["conv.bf16"]!)

        var ourF16 = [UInt16](repeating: 0, count: count)
        var ourBF16 = [UInt16](repeating: 0, count: count)
        ourF16.withUnsafeMutableBytes { convertF32ToF16(source.pointer, $0.baseAddress!, count: count) }
        ourBF16.withUnsafeMutableBytes { convertF32ToBF16(source.pointer, $0.baseAddress!, count: count) }
        let fromF16 = try file.floats(named: "conv.f16")
        let fromBF16 = try file.floats(named: "conv.bf16")

        for i in 0..<count {
            let x = source.pointer[i]
            let expectedF16 = torchF16.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            let expectedBF16 = torchBF16.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            if x.isNaN {
                #expect(fromF16.pointer[i].isNaN && fromBF16.pointer[i].isNaN)
                #expect(Float(Float16(bitPattern: ourF16[i])).isNaN)
                #expect(Float(bitPattern: UInt32(ourBF16[i]) << 16).isNaN)
                continue
            }
            #expect(ourF16[i] == expectedF16, "F16 of \(x): ours \(String(ourF16[i], radix: 16)), torch \(String(expectedF16, radix: 16))")
            #expect(ourBF16[i] == expectedBF16, "BF16 of \(x): ours \(String(ourBF16[i], radix: 16)), torch \(String(expectedBF16, radix: 16))")
            #expect(fromF16.pointer[i].bitPattern == referenceF16ToFloat(expectedF16).bitPattern)
            #expect(fromBF16.pointer[i].bitPattern == UInt32(expectedBF16) << 16)
        }
    }
}
