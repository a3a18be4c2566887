import Foundation
import Kernels
import ModelIO
import GPT2Runtime
import Tokenizer

/// Writes a loaded GPT-2 as a GGUF v3 file with llama.cpp's GPT-2 metadata and tensor names
/// (what `convert_hf_to_gguf.py` writes), so the file loads both here and in llama.cpp.
public enum GGUFExport {
    /// Storage type of the matrices (every matmul weight, token_embd included). Position
    /// embeddings, norms and biases stay F32, as in llama.cpp's converter.
    public enum TensorType: String, CaseIterable, Sendable {
        case f32, f16, q8_0

        var ggml: GGMLType {
            switch self { case .f32: .f32; case .f16: .f16; case .q8_0: .q8_0 }
        }

        /// `general.file_type` (llama_ftype): ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q8_0 = 7.
        public var fileType: UInt32 {
            switch self { case .f32: 0; case .f16: 1; case .q8_0: 7 }
        }
    }

    /// What `write` did.
    public struct Report: Sendable {
        public var tensors = 0
        /// Tensors stored as Q8_0 or F16.
        public var converted = 0
        /// Bytes of the file written.
        public var bytesWritten = 0
        /// Matrices that could not take the requested type (rows not a multiple of 32) and were
        /// stored as F16 instead, as llama.cpp's converter does.
        public var fallbacks: [String] = []
    }

    /// The metadata llama.cpp writes for a GPT-2, in its order.
    public static func metadata(config: GPT2Config, tokenizer: GPT2Tokenizer, name: String, type: TensorType) -> [(key: String, value: GGUFValue)] {
        let pieces = (0..<tokenizer.vocabularySize).map { tokenizer.piece(of: $0)! }
        // llama_token_type: NORMAL = 1, CONTROL = 3 (GPT-2's only special token is <|endoftext|>).
        let types = pieces.map { GGUFValue.int32($0 == GPT2Tokenizer.endOfTextToken ? 3 : 1) }
        let eot = UInt32(tokenizer.endOfTextID)
        return [
            ("general.architecture", .string("gpt2")),
            ("general.type", .string("model")),
            ("general.name", .string(name)),
            ("gpt2.block_count", .uint32(UInt32(config.nLayer))),
            ("gpt2.context_length", .uint32(UInt32(config.nPositions))),
            ("gpt2.embedding_length", .uint32(UInt32(config.nEmbd))),
            ("gpt2.feed_forward_length", .uint32(UInt32(config.nInner))),
            ("gpt2.attention.head_count", .uint32(UInt32(config.nHead))),
            ("gpt2.attention.layer_norm_epsilon", .float32(config.layerNormEpsilon)),
            ("general.file_type", .uint32(type.fileType)),
            ("general.quantization_version", .uint32(2)),
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("gpt-2")),
            ("tokenizer.ggml.tokens", .array(GGUFArray(.string, pieces.map { .string($0) }))),
            ("tokenizer.ggml.token_type", .array(GGUFArray(.int32, types))),
            ("tokenizer.ggml.merges", .array(GGUFArray(.string, tokenizer.mergeList.map { .string($0) }))),
            ("tokenizer.ggml.bos_token_id", .uint32(eot)),
            ("tokenizer.ggml.eos_token_id", .uint32(eot)),
        ]
    }

    /// Writes `model` and `tokenizer` to `path` as GGUF v3: each matrix as rows of its inputs,
    /// read back from the packed or interleaved layout (Q8_0 rows dequantized first, except into
    /// Q8_0, where the stored bytes are kept).
    /// Rows are converted in parallel.
    public static func write(model: GPT2Model, tokenizer: GPT2Tokenizer, name: String, type: TensorType, to path: String) throws -> Report {
        guard model.config.scaleAttentionWeights else {
            throw GPT2Error.invalidArgument("GGUF has no key for scale_attn_weights = false; llama.cpp always scales")
        }
        let c = model.config, w = model.weights
        let C = c.nEmbd, P = c.nPositions
        var tensors: [GGUFWriter.Tensor] = []
        var buffers: [AlignedBuffer<UInt8>] = []  // keeps converted data alive until written
        var report = Report()

        func vector(_ name: String, _ pointer: UnsafePointer<Float>, ne: [Int]) {
            let count = ne.reduce(1, *)
            tensors.append(.init(name: name, type: .f32, ne: ne, bytes: UnsafeRawBufferPointer(start: pointer, count: 4 * count)))
        }
        func matrix(_ name: String, _ weight: LinearWeight) {
            let K = weight.inputs, N = weight.outputs
            var target = type.ggml
            if target == .q8_0 && K % Q8_0.blockSize != 0 {
                target = .f16
                report.fallbacks.append(name)
            }
            let size = target.byteCount(ne: [K, N])!
            let out = AlignedBuffer<UInt8>(count: max(size, 1), zeroed: false)
            let dst = UnsafeMutableRawPointer(out.pointer)
            let rowBytes = size / max(N, 1)
            parallelFor(N) { range in
                let x = UnsafeMutablePointer<Float>.allocate(capacity: max(K, 1))
                defer { x.deallocate() }
                for n in range {
                    let y = dst + n * rowBytes
                    // Q8_0 to Q8_0 keeps the stored bytes: requantising d·q need not give q back.
                    if target == .q8_0, case let .q8_0Interleaved(w, _, _) = weight {
                        Q8Interleaved.ggmlRow(w, K: K, n: n, into: y)
                        continue
                    }
                    weight.row(n, into: x)
                    switch target {
                    case .q8_0: Q8_0.quantize(x, into: y, count: K)
                    case .f16: convertF32ToF16(x, y, count: K)
                    default: y.copyMemory(from: x, byteCount: 4 * K)
                    }
                }
            }
            if target != .f32 { report.converted += 1 }
            buffers.append(out)
            tensors.append(.init(name: name, type: target, ne: [K, N], bytes: UnsafeRawBufferPointer(start: out.pointer, count: size)))
        }

        matrix("token_embd.weight", w.tokenEmbedding)
        vector("position_embd.weight", w.positionEmbedding, ne: [C, P])
        for (l, b) in w.blocks.enumerated() {
            let p = "blk.\(l)."
            vector(p + "attn_norm.weight", b.ln1Weight, ne: [C])
            vector(p + "attn_norm.bias", b.ln1Bias, ne: [C])
            matrix(p + "attn_qkv.weight", b.qkv)
            vector(p + "attn_qkv.bias", b.qkvBias, ne: [3 * C])
            matrix(p + "attn_output.weight", b.attnProj)
            vector(p + "attn_output.bias", b.attnProjBias, ne: [C])
            vector(p + "ffn_norm.weight", b.ln2Weight, ne: [C])
            vector(p + "ffn_norm.bias", b.ln2Bias, ne: [C])
            matrix(p + "ffn_up.weight", b.fc)
            vector(p + "ffn_up.bias", b.fcBias, ne: [c.nInner])
            matrix(p + "ffn_down.weight", b.fcProj)
            vector(p + "ffn_down.bias", b.fcProjBias, ne: [C])
        }
        vector("output_norm.weight", w.finalNormWeight, ne: [C])
        vector("output_norm.bias", w.finalNormBias, ne: [C])
        if !w.lmHeadIsTied { matrix("output.weight", w.lmHead) }

        try withExtendedLifetime((model, buffers)) {
            try GGUFWriter.write(metadata: metadata(config: c, tokenizer: tokenizer, name: name, type: type),
                                 tensors: tensors, to: path)
        }
        report.tensors = tensors.count
        report.bytesWritten = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return report
    }
}
