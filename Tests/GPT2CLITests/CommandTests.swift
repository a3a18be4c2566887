import ArgumentParser
import Foundation
import GPT2
import ModelIO
import Testing
@testable import GPT2CLI

/// Parses and runs a `gpt2` command line in-process; returns the one-line error message the
/// binary would print after "Error: ", or nil on success.
func runCommand(_ arguments: [String]) -> String? {
    do {
        var command = try GPT2Command.parseAsRoot(arguments)
        try command.run()
        return nil
    } catch {
        return errorMessage(for: error)
    }
}

/// A random-weight checkpoint written to a fresh temporary directory: 2 layers, 4 heads, GPT-2's
/// vocabulary, the given width and context.
func randomModelDirectory(_ label: String, nEmbd: Int, nPositions: Int, seed: UInt64) -> String {
    let dir = NSTemporaryDirectory() + "gpt2-cli-\(label)-" + UUID().uuidString
    try! RandomModel.write(config: GPT2Config(nLayer: 2, nHead: 4, nEmbd: nEmbd, nPositions: nPositions, vocabSize: 50257), seed: seed, to: dir)
    return dir
}

/// The `gpt2` subcommands, run in-process on a small random model.
@Suite(.serialized)
struct CommandTests {
    static let modelDirectory = randomModelDirectory("tests", nEmbd: 64, nPositions: 48, seed: 3)

    func run(_ arguments: [String]) -> String? { runCommand(arguments) }

    func temporaryFile(_ contents: String) -> String {
        let path = NSTemporaryDirectory() + "gpt2-cli-" + UUID().uuidString + ".txt"
        FileManager.default.createFile(atPath: path, contents: Data(contents.utf8))
        return path
    }

    /// Every reading command on the real binary, with what it must print.
    @Test func everyCommandPrintsWhatItShould() throws {
        let m = Self.modelDirectory
        // GPT-2's own ids for these texts (Hugging Face's GPT2TokenizerFast gives the same).
        let ids = try GPT2Process.run(["tokenize", "-p", "Hello, world"])
        #expect(ids.status == 0 && ids.stdout.split(whereSeparator: \.isWhitespace) == ["15496", "11", "995"], "\(ids)")
        let shown = try GPT2Process.run(["tokenize", "-m", m, "-p", "Hi there", "--show"])
        #expect(shown.status == 0 && shown.stdout.contains("17250") && shown.stdout.contains("612"), "\(shown)")

        // Greedy generation is deterministic: the same command prints the same text, prompt first.
        let arguments = ["generate", "-m", m, "-p", "Hello", "-n", "3", "--temperature", "0", "--ignore-eos", "-t", "1"]
        let a = try GPT2Process.run(arguments), b = try GPT2Process.run(arguments)
        #expect(a.status == 0 && a.stdout.hasPrefix("Hello") && a.stdout.count > "Hello".count && a.stdout == b.stdout, "\(a)")
        #expect(a.stderr.contains("generation: 3 tokens"), "\(a.stderr)")
        let sampled = try GPT2Process.run(["generate", "-m", m, "-p", "Hello, world", "-n", "5", "--seed", "1", "-t", "2"])
        #expect(sampled.status == 0 && sampled.stderr.contains("seed: 1") && sampled.stdout.hasPrefix("Hello, world"), "\(sampled)")

        // inspect names every tensor with its shape, from the directory or the file.
        for path in [m, m + "/model.safetensors"] {
            let listing = try GPT2Process.run(["inspect", path])
            #expect(listing.status == 0, "\(listing)")
            for name in ["transformer.wte.weight", "transformer.h.1.mlp.c_proj.weight", "transformer.ln_f.bias"] {
                #expect(listing.stdout.contains(name), "\(name) in \(path)")
            }
            #expect(listing.stdout.contains("[256, 64]"), "mlp.c_proj's shape")
        }
    }

    /// The flags llama.cpp users type: -s, --temp, -c/--ctx-size, and quantize's positional type
    /// in any case.
    @Test func llamaCppFlags() throws {
        let generate = try Generate.parse(["-s", "5", "--temp", "0", "-c", "32", "-p", "x"])
        #expect(generate.seed == 5 && generate.temperature == 0 && generate.contextSize == 32)
        #expect(try Generate.parse(["--seed", "6", "--temperature", "0.5", "--ctx-size", "8", "-p", "x"]).contextSize == 8)
        let m = Self.modelDirectory
        #expect(run(["generate", "-m", m, "-p", "Hello", "-c", "4096"])?.contains("-c 4096 is more than the model's context of 48") == true)
        #expect(run(["generate", "-m", m, "-p", "Hello", "-c", "0"])?.contains("-c must be at least 1") == true)

        let out = NSTemporaryDirectory() + "gpt2-cli-" + UUID().uuidString
        #expect(run(["quantize", m, out + "-a.gguf", "Q8_0"]) == nil)
        #expect(try GGUFFile(path: out + "-a.gguf")["blk.0.attn_qkv.weight"]?.type == .q8_0)
        #expect(run(["quantize", m, out + "-b.gguf", "--type", "F16"]) == nil)
        #expect(try GGUFFile(path: out + "-b.gguf")["blk.0.attn_qkv.weight"]?.type == .f16)
        #expect(run(["quantize", m, out + "-c.gguf", "f16", "--type", "q8_0"])?.contains("the type is given twice and differs") == true)
    }

    @Test func perplexityDumpsOneLogitRowPerScoredToken() throws {
        let m = Self.modelDirectory
        let text = temporaryFile(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 8))
        let dump = NSTemporaryDirectory() + "gpt2-cli-logits-" + UUID().uuidString
        #expect(run(["perplexity", "-m", m, "-f", text, "--context", "32", "--stride", "8", "--dump-logits", dump]) == nil)
        let tokens = try GPT2Model.loadTokenizer(path: m).encode(String(contentsOfFile: text, encoding: .utf8))
        let bytes = try #require(FileManager.default.attributesOfItem(atPath: dump)[.size] as? Int)
        #expect(bytes == (tokens.count - 1) * 50257 * 4)
    }

    @Test func quantizeInspectAndKLDivergence() throws {
        let m = Self.modelDirectory
        let out = NSTemporaryDirectory() + "gpt2-cli-" + UUID().uuidString
        #expect(run(["quantize", m, out + "-f32.gguf", "--type", "f32"]) == nil)
        #expect(run(["quantize", m, out + "-q8_0.gguf"]) == nil)
        #expect(run(["quantize", out + "-q8_0.gguf", out + "-f16.gguf", "--type", "f16"]) == nil)
        #expect(run(["inspect", out + "-q8_0.gguf"]) == nil)
        #expect(run(["generate", "-m", out + "-q8_0.gguf", "-p", "Hello", "-n", "3", "--temperature", "0"]) == nil)
        let text = temporaryFile(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 4))
        let base = out + ".kld"
        #expect(run(["perplexity", "-m", out + "-f32.gguf", "-f", text, "--context", "32", "--kl-divergence-base", base]) == nil)
        #expect(run(["perplexity", "-m", out + "-q8_0.gguf", "-f", text, "--context", "32", "--kl-divergence-base", base, "--kl-divergence"]) == nil)
        // A different window is a different run: refused, not compared.
        #expect(run(["perplexity", "-m", out + "-q8_0.gguf", "-f", text, "--context", "16", "--kl-divergence-base", base, "--kl-divergence"])?.contains("was written for another text") == true)
        #expect(run(["perplexity", "-m", m, "-f", text, "--kl-divergence"])?.contains("--kl-divergence needs --kl-divergence-base") == true)
        #expect(run(["quantize", m, out + "-x.gguf", "--type", "q4_0"])?.contains("unknown type \"q4_0\"") == true)
        #expect(run(["quantize", m + "/absent", out + "-x.gguf"])?.contains("no such file") == true)
    }

    @Test func initRandomWritesALoadableModel() throws {
        let out = NSTemporaryDirectory() + "gpt2-cli-init-" + UUID().uuidString
        #expect(run(["init-random", "--config", "gpt2", "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--n-positions", "16", "--vocab-size", "300", "--seed", "9", "--out", out]) == nil)
        let model = try GPT2Model.load(path: out)
        #expect(model.config == GPT2Config(nLayer: 1, nHead: 2, nEmbd: 32, nPositions: 16, vocabSize: 300))
    }

    @Test(arguments: [
        (["generate", "-m", "/nonexistent/model", "-p", "x"], "no such file or directory"),
        (["generate", "-p", "x", "--temperature", "-1"], "temperature"),
        (["generate", "-p", "x", "--top-p", "0"], "topP"),
        (["generate", "-p", "x", "--top-k", "-3"], "topK"),
        (["generate", "-p", "x", "--repeat-penalty", "0"], "repeatPenalty"),
        (["generate", "-p", "x", "-n", "-1"], "-n must not be negative"),
        (["generate", "-p", "x", "-t", "0"], "--threads"),
        (["generate"], "exactly one of --prompt or --file"),
        (["tokenize", "-p", "x", "-f", "y"], "exactly one of --prompt or --file"),
        (["tokenize", "-f", "/nonexistent/file"], "cannot read"),
        (["init-random", "--config", "gpt5", "--out", "/tmp/x"], "unknown --config"),
        (["init-random", "--n-head", "5", "--out", "/tmp/x"], "not a multiple of n_head"),
    ])
    func badArgumentsAreClearErrors(arguments: [String], expected: String) {
        let message = run(arguments)
        #expect(message?.contains(expected) == true, "\(arguments): \(message ?? "no error")")
    }

    @Test func badInputAtRunTimeIsAClearError() throws {
        let m = Self.modelDirectory
        #expect(run(["generate", "-m", m, "-p", ""])?.contains("prompt is empty") == true)
        let long = String(repeating: "word ", count: 60)
        #expect(run(["generate", "-m", m, "-p", long])?.contains("context is 48") == true)
        let text = temporaryFile("Hello there, general.")
        #expect(run(["perplexity", "-m", m, "-f", text, "--context", "100"])?.contains("exceeds the model's context") == true)
        #expect(run(["perplexity", "-m", m, "-f", text, "--stride", "100", "--context", "8"])?.contains("--stride") == true)
        #expect(run(["perplexity", "-m", m, "-f", temporaryFile("a")])?.contains("at least 2 tokens") == true)

        let noTokenizer = NSTemporaryDirectory() + "gpt2-cli-notok-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: noTokenizer, withIntermediateDirectories: true)
        for file in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: m + "/" + file, toPath: noTokenizer + "/" + file)
        }
        #expect(run(["generate", "-m", noTokenizer, "-p", "x"])?.contains("vocab.json, merges.txt missing") == true)

        let corrupt = temporaryFile("not a safetensors file").replacingOccurrences(of: ".txt", with: ".safetensors")
        FileManager.default.createFile(atPath: corrupt, contents: Data("garbage!garbage".utf8))
        #expect(run(["inspect", corrupt])?.contains(corrupt) == true)
    }
}
