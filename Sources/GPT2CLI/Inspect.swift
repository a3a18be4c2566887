import ArgumentParser
import Foundation
import GPT2
import ModelIO

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's config and every tensor: name, dtype, shape, size.")

    @Argument(help: "A checkpoint directory or a .safetensors file.")
    var path: String

    func run() throws {
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
}
