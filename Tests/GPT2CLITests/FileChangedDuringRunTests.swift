import Foundation
import GPT2
import Testing

/// A model file truncated while `gpt2 generate` runs, on a real process: the loaded model owns
/// its memory, so generation goes on and ends normally.
struct FileChangedDuringRunTests {
    /// The `gpt2` binary that `swift build --build-tests` builds beside the test bundle.
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/gpt2").path

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary)))
    func truncatingTheModelDuringGenerationDoesNotCrash() throws {
        let dir = NSTemporaryDirectory() + "gpt2-truncate-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Wide enough that 1000 tokens take a while after the load, so the truncation lands mid-run.
        try RandomModel.write(config: GPT2Config(nLayer: 2, nHead: 4, nEmbd: 256, nPositions: 1024, vocabSize: 50257), seed: 1, to: dir)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["generate", "-m", dir, "-p", "Hello", "-n", "1000", "--temperature", "0", "--ignore-eos", "-t", "1"]
        let stderr = Pipe(), stdout = Pipe()
        process.standardError = stderr
        process.standardOutput = stdout
        try process.run()
        // "threads: …" is printed after the load, right before generation starts.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("threads:") {
            let chunk = stderr.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        #expect(truncate(dir + "/model.safetensors", 0) == 0)
        let rest = stderr.fileHandleForReading.readDataToEndOfFile()
        _ = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let log = String(decoding: seen + rest, as: UTF8.self)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(log)")
        #expect(log.contains("generation: 1000 tokens"), "\(log)")
    }
}
