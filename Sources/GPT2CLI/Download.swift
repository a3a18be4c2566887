import ArgumentParser
import Foundation
import Hub

/// `gpt2 download REPO`: fetches a model from the Hugging Face hub into the hub cache.
struct Download: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a model from the Hugging Face hub and print its snapshot directory.",
        discussion: """
        Files go to the hub cache shared with huggingface-cli and transformers: HF_HUB_CACHE \
        (default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface). HF_ENDPOINT sets the server, \
        HF_TOKEN authenticates, HF_HUB_OFFLINE=1 answers from the cache only. Interrupted \
        downloads resume; LFS files are checked against their sha256.
        """
    )

    @Argument(help: "The repository, ORG/NAME (e.g. openai-community/gpt2).")
    var repo: String

    @Option(help: "Branch, tag or commit.")
    var revision = "main"

    @Option(help: "Download the files matching this glob (e.g. '*.gguf'); repeatable (default: config.json, model.safetensors, vocab.json, merges.txt).")
    var include: [String] = []

    func run() throws {
        let files: HubClient.FileSelection = include.isEmpty ? .named(HubClient.gpt2Files) : .matching(include)
        print(try HubClient().download(repo: repo, revision: revision, files: files, progress: hubProgressLine()))
    }
}

/// A progress line on stderr for hub downloads, or nil when stderr is not a terminal.
func hubProgressLine() -> (@Sendable (String, Int64, Int64?) -> Void)? {
    guard isatty(STDERR_FILENO) != 0 else { return nil }
    let shown = ShownProgress()
    return { file, bytes, total in
        let megabytes = { (count: Int64) in String(format: "%.1f", Double(count) / 1e6) }
        var line = "\(file): \(megabytes(bytes)) MB"
        if let total, total > 0 { line += " / \(megabytes(total)) MB (\(bytes * 100 / total)%)" }
        guard shown.replace(line) else { return }
        let done = total.map { bytes >= $0 } ?? false
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (done ? "\n" : "")).utf8))
    }
}

/// The last progress line written, so that an unchanged line is not written again.
private final class ShownProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var line = ""
    func replace(_ new: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        if new == line { return false }
        line = new
        return true
    }
}
