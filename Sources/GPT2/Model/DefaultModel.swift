// The model that the `gpt2` commands (generate, bench, profile, …) and the regression benchmarks
// run when none is given.

import Foundation
import GPT2Runtime

/// The embedded default: a random-weight GPT-2 124M (seed 0), written once into the user's
/// cache (`swiftGPT2CacheDirectory()`), so every tool that needs "GPT-2 124M" measures the same
/// bytes without downloading anything.
public enum DefaultModel {
    /// Where the checkpoint lives: `<cache>/gpt2-random-seed0`.
    public static var directory: String { swiftGPT2CacheDirectory() + "/gpt2-random-seed0" }

    /// Returns the default model's directory, writing it first if it is not there yet; `note`
    /// is told when that happens (it takes a few seconds).
    public static func ensure(note: (String) -> Void = { _ in }) throws -> String {
        let dir = directory
        if FileManager.default.fileExists(atPath: dir + "/model.safetensors") { return dir }
        note("note: no --model given; writing a random-weight GPT-2 124M to \(dir) (once)")
        try RandomModel.write(config: GPT2Config.preset("gpt2")!, seed: 0, to: dir)
        return dir
    }
}
