import ArgumentParser
import Foundation
import GPT2
import GPT2Runtime

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model as GGUF v3 (Q8_0, F16 or F32), loadable here and by llama.cpp.",
        discussion: """
            IN is a Hugging Face checkpoint (directory or .safetensors) or a GGUF file. OUT gets \
            llama.cpp's GPT-2 metadata, tensor names and tokenizer. --type applies to every \
            matmul weight, token_embd (also the LM head) included; position_embd, norms and \
            biases stay F32. OUT is written to a temporary file beside it, then renamed: an \
            existing OUT is replaced whole (keeping its permissions) or not at all. OUT may not be \
            the input, nor any file of the input checkpoint.
            """)

    @Argument(help: "Input model: a checkpoint directory, a .safetensors file or a .gguf file.")
    var input: String

    @Argument(help: "Output .gguf file.")
    var output: String

    @Argument(help: ArgumentHelp("Matrix storage, as llama-quantize takes it: q8_0, f16 or f32 (any case).", valueName: "type"))
    var positionalType: String?

    @Option(help: "Matrix storage: q8_0, f16 or f32 (any case; the same as the positional TYPE).")
    var type: String?

    /// The storage asked for: the positional TYPE or --type (they must agree), else q8_0.
    var tensorType: GGUFExport.TensorType? {
        GGUFExport.TensorType(rawValue: (positionalType ?? type ?? "q8_0").lowercased())
    }

    @Option(help: "general.name (default: the input's file name).")
    var name: String?

    func validate() throws {
        if let positionalType, let type, positionalType.lowercased() != type.lowercased() {
            throw ValidationError("the type is given twice and differs: \(positionalType) and --type \(type)")
        }
        guard tensorType != nil else {
            throw ValidationError("unknown type \"\(positionalType ?? type ?? "")\"; expected q8_0, f16 or f32")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ValidationError("\(output) is a directory; OUT is the .gguf file to write")
        }
        if let conflict = inputConflict(output: output, inputs: GPT2Model.inputFiles(path: input)) {
            throw ValidationError("refusing to write \(output): \(conflict); choose another output file")
        }
    }

    func run() throws {
        let target = tensorType!
        let start = monotonicNanoseconds()
        let model = try GPT2Model.load(path: input)
        let tokenizer = try GPT2Model.loadTokenizer(path: input)
        let loaded = monotonicNanoseconds()
        let modelName = name ?? ((input as NSString).lastPathComponent as NSString).deletingPathExtension
        let replacing = FileManager.default.fileExists(atPath: output)
        let report = try GGUFExport.write(model: model, tokenizer: tokenizer, name: modelName, type: target, to: output)
        let end = monotonicNanoseconds()
        let inputBytes = (try? FileManager.default.attributesOfItem(atPath: model.weightsPath)[.size] as? Int) ?? 0
        func mb(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
        printError("\(input) (\(model.storageType), \(mb(inputBytes))) → \(output) (\(target.rawValue), \(mb(report.bytesWritten)))"
            + (replacing ? ", replaced the existing file" : ""))
        printError("\(report.tensors) tensors: \(target == .f32 ? "all f32" : "\(report.converted) matrices \(target.rawValue), the rest f32")"
            + (report.fallbacks.isEmpty ? "" : ", \(report.fallbacks.count) as f16 (rows not a multiple of 32): \(report.fallbacks.joined(separator: ", "))"))
        printError("load \(formatDuration(nanoseconds: loaded - start)), convert + write \(formatDuration(nanoseconds: end - loaded))")
    }
}
