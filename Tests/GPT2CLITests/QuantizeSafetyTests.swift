import Foundation
import GPT2
import Glibc
import Testing
@testable import GPT2CLI

/// `gpt2 quantize` never destroys what the user owns: its input, an interrupted write, an
/// existing output's permissions.
@Suite(.serialized)
struct QuantizeSafetyTests {
    /// A copy of the test checkpoint that a test may try to damage.
    func checkpointCopy() throws -> String {
        let dir = NSTemporaryDirectory() + "gpt2-cli-input-" + UUID().uuidString
        try FileManager.default.copyItem(atPath: CommandTests.modelDirectory, toPath: dir)
        return dir
    }

    /// Every file of the directory and its bytes.
    func snapshot(_ directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
        }
        return files
    }

    @Test func writingOverAnInputFileIsRefusedAndTheInputUnchanged() throws {
        let m = try checkpointCopy()
        let before = try snapshot(m)
        let elsewhere = NSTemporaryDirectory() + "gpt2-cli-links-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: elsewhere + "/link.gguf", withDestinationPath: m + "/config.json")
        #expect(link(m + "/model.safetensors", elsewhere + "/hard.gguf") == 0)
        let gguf = elsewhere + "/model.gguf"
        #expect(runCommand(["quantize", m, gguf]) == nil)
        let ggufBytes = try Data(contentsOf: URL(fileURLWithPath: gguf))

        let cases: [(input: String, output: String)] = [
            (m, m + "/config.json"), (m, m + "/model.safetensors"), (m, m + "/vocab.json"), (m, m + "/merges.txt"),
            (m, m + "/./sub/../config.json"), (m, elsewhere + "/link.gguf"), (m, elsewhere + "/hard.gguf"),
            (m + "/model.safetensors", m + "/model.safetensors"), (m + "/model.safetensors", m + "/merges.txt"),
            (m + "/model.safetensors", elsewhere + "/../" + (elsewhere as NSString).lastPathComponent + "/hard.gguf"),
            (gguf, gguf), (gguf, elsewhere + "/./model.gguf"),
        ]
        try FileManager.default.createDirectory(atPath: m + "/sub", withIntermediateDirectories: true)
        for (input, output) in cases {
            let message = runCommand(["quantize", input, output])
            #expect(message?.contains("refusing to write \(output)") == true, "\(input) → \(output): \(message ?? "no error")")
        }
        try FileManager.default.removeItem(atPath: m + "/sub")
        #expect(try snapshot(m) == before)
        #expect(try Data(contentsOf: URL(fileURLWithPath: gguf)) == ggufBytes)
        // A config.json the loader would read beside a lone .safetensors file is refused too.
        try FileManager.default.removeItem(atPath: m + "/config.json")
        #expect(runCommand(["quantize", m + "/model.safetensors", m + "/config.json"])?.contains("a file the input model loads") == true)
        #expect(!FileManager.default.fileExists(atPath: m + "/config.json"))
        try before["config.json"]!.write(to: URL(fileURLWithPath: m + "/config.json"))
        // Next to the checkpoint is fine; the directory itself is not a file to write.
        #expect(runCommand(["quantize", m, m + "/model-q8_0.gguf"]) == nil)
        #expect(runCommand(["quantize", m, m])?.contains("is a directory") == true)
    }

    @Test func refusalIsAUsageErrorOfTheBinary() throws {
        let m = try checkpointCopy()
        let before = try snapshot(m)
        let run = try GPT2Process.run(["quantize", m, m + "/model.safetensors"])
        #expect(run.status == 64)
        #expect(run.stderr.hasPrefix("Error: refusing to write") && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        #expect(try snapshot(m) == before)
    }

    @Test func replacingAnOutputKeepsItsPermissionsAndSaysSo() throws {
        let out = NSTemporaryDirectory() + "gpt2-cli-replace-" + UUID().uuidString + ".gguf"
        FileManager.default.createFile(atPath: out, contents: Data("old".utf8))
        #expect(chmod(out, 0o640) == 0)
        let run = try GPT2Process.run(["quantize", CommandTests.modelDirectory, out])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("replaced the existing file"))
        #expect(try GPT2Model.load(path: out).config.nLayer == 2)
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.posixPermissions] as? Int) == 0o640)
        let fresh = try GPT2Process.run(["quantize", CommandTests.modelDirectory, out + ".new.gguf"])
        #expect(!fresh.stderr.contains("replaced"))
    }

    /// 58 MB of f32 output: writing it takes long enough to be interrupted while the temporary file exists.
    static let largerModel = randomModelDirectory("larger", nEmbd: 256, nPositions: 64, seed: 2)

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalDuringTheWriteLeavesNoTemporaryFileAndTheOldOutput(signal: Int32) throws {
        let dir = NSTemporaryDirectory() + "gpt2-cli-signal-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let out = dir + "/out.gguf"
        FileManager.default.createFile(atPath: out, contents: Data("the user's old file".utf8))
        func temporaryFiles() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.contains(".tmp-") }
        }
        // The write lasts tens of milliseconds; a run that ends before the signal is tried again.
        var interrupted = false
        for _ in 0..<5 where !interrupted {
            let child = try GPT2Process(["quantize", Self.largerModel, out, "--type", "f32"])
            #expect(waitUntil { !temporaryFiles().isEmpty || !child.isRunning })
            child.send(signal)
            let status = child.wait()
            interrupted = status == 128 + signal
            #expect(interrupted || status == 0, "\(child.stderr)")
            #expect(temporaryFiles().isEmpty)
            if interrupted {
                #expect(try String(contentsOfFile: out, encoding: .utf8) == "the user's old file")
            } else {
                FileManager.default.createFile(atPath: out, contents: Data("the user's old file".utf8))
            }
        }
        #expect(interrupted, "every run ended before the signal")
    }

    @Test func aTemporaryFileOfAKilledRunIsRemovedByTheNextRun() throws {
        let dir = NSTemporaryDirectory() + "gpt2-cli-stale-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let out = dir + "/out.gguf"
        let child = try GPT2Process(["quantize", Self.largerModel, out, "--type", "f32"])
        #expect(waitUntil {
            !((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.contains(".tmp-") }.isEmpty
                || !child.isRunning
        })
        child.send(SIGKILL)  // no chance to clean up
        child.wait()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.hasPrefix("out.gguf.tmp-") })
        let run = try GPT2Process.run(["quantize", CommandTests.modelDirectory, out])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.gguf"])
        #expect(try GPT2Model.load(path: out).config.nEmbd == 64)
    }
}
