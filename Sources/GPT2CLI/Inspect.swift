import ArgumentParser
import Foundation
import GPT2
import ModelIO

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's config and every tensor: name, dtype, shape, size.")

    @Argument(help: "A checkpoint directory, a .safetensors file or a .gguf file.")
    var path: String

    func run() throws {
        if GPT2Model.isGGUF(path) { return try inspectGGUF() }
        let model = try GPT2Model.load(path: path)  // validates everything before printing
        let file = try SafetensorsFile(path: model.weightsPath)
        let c = model.config
        print("file: \(model.weightsPath)")
        print("config: n_layer \(c.nLayer), n_head \(c.nHead), n_embd \(c.nEmbd), n_inner \(c.nInner), "
            + "n_positions \(c.nPositions), vocab_size \(c.vocabSize), layer_norm_epsilon \(c.layerNormEpsilon)")
        print("parameters: \(c.parameterCount) (\(String(format: "%.1f", Double(c.parameterCount) / 1e6))M)")
        if !file.metadata.isEmpty {
            print("metadata: " + file.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        }
        let width = file.tensors.map(\.name.count).max() ?? 4
        print("")
        print("name".padding(toLength: width, withPad: " ", startingAt: 0) + "  dtype  shape                 bytes")
        var total = 0
        for tensor in file.tensors {
            let bytes = tensor.byteRange.count
            total += bytes
            let shape = "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]"
            print(tensor.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + tensor.dtype.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0) + "  "
                + shape.padding(toLength: 20, withPad: " ", startingAt: 0) + "  \(bytes)")
        }
        print("\(file.tensors.count) tensors, \(total) bytes of data")
    }

    /// GGUF: version, alignment, every metadata key (arrays abbreviated), every tensor with its
    /// ggml type and ne (innermost first), then the model config it implies.
    func inspectGGUF() throws {
        let file = try GGUFFile(path: path)
        print("file: \(path) (GGUF v\(file.version), alignment \(file.alignment), data at byte \(file.dataOffset))")
        let keyWidth = file.metadata.map(\.key.count).max() ?? 4
        for (key, value) in file.metadata {
            print("  " + key.padding(toLength: keyWidth, withPad: " ", startingAt: 0) + "  \(value.type)  \(value.summary)")
        }
        let width = file.tensors.map(\.name.count).max() ?? 4
        print("")
        print("name".padding(toLength: width, withPad: " ", startingAt: 0) + "  type  ne                    bytes")
        var total = 0
        for tensor in file.tensors {
            total += tensor.byteRange.count
            let ne = "[" + tensor.ne.map(String.init).joined(separator: ", ") + "]"
            print(tensor.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + tensor.type.name.padding(toLength: 4, withPad: " ", startingAt: 0) + "  "
                + ne.padding(toLength: 20, withPad: " ", startingAt: 0) + "  \(tensor.byteRange.count)")
        }
        print("\(file.tensors.count) tensors, \(total) bytes of data")
        let model = try GPT2Model.load(gguf: path)  // validates it as a GPT-2 after listing it
        let c = model.config
        print("config: n_layer \(c.nLayer), n_head \(c.nHead), n_embd \(c.nEmbd), n_inner \(c.nInner), "
            + "n_positions \(c.nPositions), vocab_size \(c.vocabSize), layer_norm_epsilon \(c.layerNormEpsilon)")
    }
}
