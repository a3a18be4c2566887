import Foundation
import ModelIO
import Testing
import Tokenizer
import Kernels
@testable import GPT2

/// GPT-2 as GGUF: export, load (F32/F16/Q8_0), tokenizer from metadata, validation.
@Suite(.serialized)
struct GGUFModelTests {
    static let tiny = GPT2Config(nLayer: 2, nHead: 2, nEmbd: 32, nPositions: 16, vocabSize: 300)

    static let directory: String = {
        let dir = NSTemporaryDirectory() + "gpt2-gguf-tests-" + UUID().uuidString
        try! RandomModel.write(config: tiny, seed: 5, to: dir)
        return dir
    }()

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return String(describing: error) }
    }

    func logits(_ model: GPT2Model, _ tokens: [Int]) throws -> [Float] {
        let session = GPT2Session(model: model, threads: 1)
        return Array(try session.evaluate(tokens, logits: .all))
    }

    func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
        var num = 0.0, den = 0.0
        for i in a.indices { num += Double(a[i] - b[i]) * Double(a[i] - b[i]); den += Double(b[i]) * Double(b[i]) }
        return (num / den).squareRoot()
    }

    func export(_ type: GGUFExport.TensorType) throws -> String {
        let model = try GPT2Model.load(path: Self.directory)
        let tokenizer = try GPT2Model.loadTokenizer(path: Self.directory)
        let path = Self.directory + "/model-\(type.rawValue).gguf"
        let report = try GGUFExport.write(model: model, tokenizer: tokenizer, name: "tiny", type: type, to: path)
        #expect(report.tensors == 2 + 12 * 2 + 2)
        return path
    }

    let tokens = [1, 5, 9, 42, 99, 0, 7, 3]

    @Test(arguments: [(GGUFExport.TensorType.f32, 1e-5), (.f16, 2e-3), (.q8_0, 2e-2)])
    func exportedModelMatchesTheSafetensorsModel(type: GGUFExport.TensorType, tolerance: Double) throws {
        let path = try export(type)
        let base = try GPT2Model.load(path: Self.directory)
        let model = try GPT2Model.load(path: path)
        #expect(model.config == Self.tiny)
        #expect(model.storageType == type.rawValue)
        if type == .q8_0 {
            guard case .q8_0Interleaved = model.weights.blocks[0].qkv, case .q8_0Interleaved(let head, _, _) = model.weights.lmHead,
                  case .q8_0Interleaved(let table, _, _) = model.weights.tokenEmbedding, head == table else {
                Issue.record("Q8_0 matrices should load repacked (.q8_0Interleaved), the tied token table as the head itself"); return
            }
        }
        let error = relativeL2(try logits(model, tokens), try logits(base, tokens))
        #expect(error <= tolerance, "\(type): rel. L2 \(error)")

        // The file carries llama.cpp's metadata.
        let file = try GGUFFile(path: path)
        #expect(file[key: "general.architecture"] == .string("gpt2"))
        #expect(file[key: "general.file_type"] == .uint32(type.fileType))
        #expect(file[key: "gpt2.block_count"] == .uint32(2) && file[key: "gpt2.context_length"] == .uint32(16))
        guard case .array(let array)? = file[key: "tokenizer.ggml.token_type"], array.elementType == .int32 else {
            Issue.record("tokenizer.ggml.token_type is not an int32 array"); return
        }
        let tokenTypes = Array(array)
        #expect(tokenTypes.count == 300 && tokenTypes[299] == .int32(3) && tokenTypes[0] == .int32(1))
        #expect(file["position_embd.weight"]?.type == .f32 && file["blk.0.attn_norm.bias"]?.type == .f32)
        #expect(file["token_embd.weight"]?.ne == [32, 300] && file["blk.1.ffn_down.weight"]?.ne == [128, 32])
        #expect(file["output.weight"] == nil, "the head is tied")
    }

    /// Loaded (packed or interleaved) and written again in its own type, a GGUF file comes back
    /// byte for byte: Q8_0 rows are read back from the interleaved layout as stored, not requantised.
    @Test(arguments: [GGUFExport.TensorType.f32, .q8_0])
    func reExportingAGGUFIsLossless(type: GGUFExport.TensorType) throws {
        let original = try export(type)
        let again = Self.directory + "/again-\(type.rawValue).gguf"
        _ = try GGUFExport.write(model: try GPT2Model.load(path: original), tokenizer: try GPT2Model.loadTokenizer(path: original),
                                 name: "tiny", type: type, to: again)
        #expect(FileManager.default.contents(atPath: again) == FileManager.default.contents(atPath: original))
    }

    @Test func tokenizerComesFromTheFile() throws {
        let path = try export(.f32)
        let fromGGUF = try GPT2Model.loadTokenizer(path: path)
        let original = try GPT2Model.loadTokenizer(path: Self.directory)
        let text = "Hello, world! It's 2026 — naïve café <|endoftext|> tokens\n\n  spaces"
        #expect(fromGGUF.encode(text) == original.encode(text))
        #expect(fromGGUF.mergeList == original.mergeList)
        #expect(fromGGUF.vocabularySize == Self.tiny.vocabSize)
    }

    /// Copies the F32 export with changed metadata or tensors, then loads it.
    func loadModified(metadata change: (inout [(key: String, value: GGUFValue)]) -> Void = { _ in },
                      tensors filter: (GGUFTensorInfo) -> Bool = { _ in true }, extraTensor: String? = nil) throws -> String {
        let source = try GGUFFile(path: try export(.f32))
        var metadata = source.metadata
        change(&metadata)
        var tensors = source.tensors.filter(filter).map {
            GGUFWriter.Tensor(name: $0.name, type: $0.type, ne: $0.ne, bytes: source.rawBytes(of: $0))
        }
        if let extraTensor, let norm = source["output_norm.bias"] {
            tensors.append(GGUFWriter.Tensor(name: extraTensor, type: norm.type, ne: norm.ne, bytes: source.rawBytes(of: norm)))
        }
        let path = Self.directory + "/modified.gguf"
        try GGUFWriter.write(metadata: metadata, tensors: tensors, to: path)
        return message {
            _ = try GPT2Model.load(path: path)
            _ = try GPT2Model.loadTokenizer(path: path)
        }
    }

    @Test func badModelsAreClearErrors() throws {
        func set(_ key: String, _ value: GGUFValue?) -> (inout [(key: String, value: GGUFValue)]) -> Void {
            { m in
                m.removeAll { $0.key == key }
                if let value { m.append((key, value)) }
            }
        }
        #expect(try loadModified(metadata: set("general.architecture", .string("llama"))).contains("only \"gpt2\" is supported"))
        #expect(try loadModified(metadata: set("gpt2.block_count", nil)).contains("missing key gpt2.block_count"))
        #expect(try loadModified(metadata: set("gpt2.block_count", .string("2"))).contains("gpt2.block_count is string, not an integer"))
        #expect(try loadModified(metadata: set("gpt2.block_count", .uint32(3))).contains("gpt2.block_count is 3, but the file holds tensors of 2 layers (blk.0 … blk.1)"))
        // Fewer layers than the file holds would run a truncated model: an error, not a shortcut.
        #expect(try loadModified(metadata: set("gpt2.block_count", .uint32(1))).contains("gpt2.block_count is 1, but the file holds tensors of 2 layers"))
        // A one-byte change to a huge count is refused before anything is sized by it.
        #expect(try loadModified(metadata: set("gpt2.block_count", .uint32(1_000_000_000))).contains("n_layer is 1000000000, more than the 4096 this runtime accepts"))
        #expect(try loadModified(metadata: set("gpt2.context_length", .uint64(1 << 40))).contains("n_positions is 1099511627776, more than"))
        #expect(try loadModified(tensors: { !$0.name.hasPrefix("blk.1.") }).contains("gpt2.block_count is 2, but the file holds tensors of 1 layers"))
        #expect(try loadModified(extraTensor: "blk.0.mystery.bias").contains("unexpected tensor \"blk.0.mystery.bias\": not a GPT-2 parameter"))
        #expect(try loadModified(extraTensor: "blk.7.attn_norm.bias").contains("gpt2.block_count is 2, but the file holds tensors of layers 0, 1, 7"))
        #expect(try loadModified(metadata: set("gpt2.embedding_length", .uint32(64))).contains("has ne [32, 300], but the gpt2.* metadata implies [64, 300]"))
        #expect(try loadModified(metadata: set("gpt2.attention.head_count", .uint32(3))).contains("not a multiple of n_head"))
        #expect(try loadModified(tensors: { $0.name != "output_norm.bias" }).contains("tensor \"output_norm.bias\" is missing"))
        #expect(try loadModified(metadata: set("tokenizer.ggml.model", .string("llama"))).contains("only the \"gpt2\" byte-level BPE"))
        #expect(try loadModified(metadata: set("tokenizer.ggml.merges", nil)).contains("tokenizer.ggml.merges is missing"))
        #expect(try loadModified(metadata: set("tokenizer.ggml.tokens", .array(GGUFArray(.string, [.string("a")])))).contains("token_embd.weight has 300 rows but tokenizer.ggml.tokens holds 1 tokens"))
        #expect(try loadModified(metadata: set("general.architecture", nil)).contains("no general.architecture string"))
        #expect(try loadModified(metadata: set("gpt2.attention.layer_norm_epsilon", .string("1e-5"))).contains("layer_norm_epsilon is string, not a number"))
        #expect(try loadModified(tensors: { $0.name != "token_embd.weight" }).contains("no 2-D token_embd.weight tensor"))
        #expect(message { _ = try GPT2Model.load(path: Self.directory + "/absent.gguf") }.contains("no such file"))
    }

    @Test func quantizedVectorsAreRejected() throws {
        // A Q8_0 norm: readable as a GGUF file, rejected by the GPT-2 loader.
        let source = try GGUFFile(path: try export(.f32))
        var q8 = [UInt8](repeating: 0, count: 34)
        let path = Self.directory + "/q8-norm.gguf"
        try q8.withUnsafeMutableBytes { q in
            let tensors = source.tensors.map {
                $0.name == "output_norm.weight"
                    ? GGUFWriter.Tensor(name: $0.name, type: .q8_0, ne: [32], bytes: UnsafeRawBufferPointer(q))
                    : GGUFWriter.Tensor(name: $0.name, type: $0.type, ne: $0.ne, bytes: source.rawBytes(of: $0))
            }
            try GGUFWriter.write(metadata: source.metadata, tensors: tensors, to: path)
        }
        #expect(message { _ = try GPT2Model.load(path: path) }.contains("\"output_norm.weight\" has type Q8_0; only F32 and F16"))

        // A Q4_0 matrix: a known ggml type, but not one the model runs.
        var q4 = [UInt8](repeating: 0, count: 128 * 18)
        try q4.withUnsafeMutableBytes { q in
            let tensors = source.tensors.map {
                $0.name == "blk.0.ffn_up.weight"
                    ? GGUFWriter.Tensor(name: $0.name, type: GGMLType(rawValue: 2), ne: [32, 128], bytes: UnsafeRawBufferPointer(q))
                    : GGUFWriter.Tensor(name: $0.name, type: $0.type, ne: $0.ne, bytes: source.rawBytes(of: $0))
            }
            try GGUFWriter.write(metadata: source.metadata, tensors: tensors, to: path)
        }
        #expect(try GGUFFile(path: path)["blk.0.ffn_up.weight"]?.type.name == "Q4_0")
        #expect(message { _ = try GPT2Model.load(path: path) }.contains("\"blk.0.ffn_up.weight\" has type Q4_0; only F32, F16 and Q8_0 are supported"))
    }

    /// `--numa distribute` moves each thread's decode slice of every matrix to its node: the
    /// slices must cover the packed fp32 and the interleaved Q8_0 matrices alike, exactly.
    @Test(arguments: [GGUFExport.TensorType.f32, .q8_0])
    func numaSlicesCoverEveryMatrix(type: GGUFExport.TensorType) throws {
        let model = try GPT2Model.load(path: try export(type))
        let w = model.weights
        let matrices = w.blocks.flatMap { [$0.qkv, $0.attnProj, $0.fc, $0.fcProj] } + [w.lmHead]
        var expected: [(start: UnsafeRawPointer, bytes: Int)] = []
        for matrix in matrices {
            switch matrix {
            case let .packed(p, K, N): expected.append((UnsafeRawPointer(p), packedCount(K: K, N: N) * 4))
            case let .q8_0Interleaved(p, K, N): expected.append((p, Q8Interleaved.byteCount(K: K, N: N)))
            default: Issue.record("\(type): a matrix is neither packed nor interleaved")
            }
        }
        let threads = 3
        let slices = w.threadSlices(threads: threads)
        #expect(slices.count == threads)
        // Per matrix, the threads' slices follow each other from its start to its end.
        let all = slices.flatMap { $0 }
        for (index, matrix) in expected.enumerated() {
            let mine = all.filter { $0.start >= matrix.start && $0.start < matrix.start + matrix.bytes }.sorted { $0.start < $1.start }
            #expect(!mine.isEmpty && mine.count <= threads)
            var end = matrix.start
            for slice in mine {
                #expect(slice.start == end)
                end += slice.bytes
            }
            #expect(end == matrix.start + matrix.bytes, "\(type) matrix \(index)")
        }
    }
}
