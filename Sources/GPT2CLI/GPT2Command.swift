import ArgumentParser
import Foundation
import GPT2
import ModelIO
import Profiling

@main
struct GPT2Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt2",
        abstract: "Run OpenAI's GPT-2 on the CPU: generate text, score it, inspect checkpoints.",
        discussion: """
            A model is a Hugging Face GPT-2 checkpoint directory (config.json, model.safetensors, \
            vocab.json, merges.txt), a .safetensors file or a GGUF file (.gguf: F32, F16 or Q8_0, tokenizer included). Commands that generate text use a \
            random-weight GPT-2 124M when no --model is given (created once under \
            \(DefaultModel.directory)).
            """,
        version: BuildInfo.versionText,
        subcommands: [Generate.self, Tokenize.self, Perplexity.self, Quantize.self, InitRandom.self, Inspect.self,
                      Bench.self, Calibrate.self, Profile.self, Download.self]
    )

    /// Exit status of an error found in the command line before anything runs (parsing and
    /// `validate()`): EX_USAGE from sysexits.h.
    static let usageErrorStatus: Int32 = 64
    /// Exit status of an error while running (a file missing or invalid, a write failing, …).
    static let runtimeErrorStatus: Int32 = 1

    /// Every error is one line, `Error: …`, on stderr. Exit status: 0 success, 64 a usage error,
    /// 1 an error while running, 130 `generate`/`bench` stopped by Ctrl-C after reporting; any
    /// other command ends by the signal itself (see `Signals`).
    static func main() {
        Signals.install()
        // A model file truncated or overwritten while a command reads it ends the command with
        // a one-line error (a loaded model no longer reads its file: a run that is already
        // generating keeps going).
        MappedFile.exitOnTruncation()
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch where exitCode(for: error) == .success {
            exit(withError: error)
        } catch {
            fail(error, status: usageErrorStatus, hint: true)
        }
        do {
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch where exitCode(for: error) == .success {
            exit(withError: error)  // --help: ArgumentParser's help command throws to print it
        } catch {
            fail(error, status: runtimeErrorStatus, hint: false)
        }
    }

    private static func fail(_ error: Error, status: Int32, hint: Bool) -> Never {
        var line = "Error: " + errorMessage(for: error)
        if hint {
            let names = configuration.subcommands.map { $0._commandName }
            let subcommand = CommandLine.arguments.dropFirst().first(where: names.contains)
            line += " (see 'gpt2 \(subcommand.map { "\($0) " } ?? "")--help')"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
        Foundation.exit(status)
    }
}
