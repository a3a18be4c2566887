import Foundation

/// Where the Hugging Face hub is and how to reach it, read from the environment variables that
/// `huggingface_hub` reads, so that both share one cache.
public struct HubEnvironment: Sendable {
    /// `HF_HUB_CACHE`, default `$HF_HOME/hub`, with `HF_HOME` defaulting to `~/.cache/huggingface`.
    public var cacheDirectory: String
    /// `HF_ENDPOINT`, default `https://huggingface.co`, without a trailing slash.
    public var endpoint: String
    /// `HF_TOKEN`, sent as `Authorization: Bearer TOKEN`.
    public var token: String?
    /// `HF_HUB_OFFLINE=1`: use the cache only, never the network.
    public var offline: Bool

    public init(_ variables: [String: String] = ProcessInfo.processInfo.environment) {
        let home = variables["HF_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSHomeDirectory() + "/.cache/huggingface"
        cacheDirectory = variables["HF_HUB_CACHE"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/hub"
        var endpoint = variables["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        token = variables["HF_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        offline = ["1", "on", "yes", "true"].contains(variables["HF_HUB_OFFLINE"]?.lowercased() ?? "")
    }
}

/// The hub cache layout for one model repository, as `huggingface_hub` writes it:
/// `models--ORG--NAME/{blobs/ETAG, refs/REVISION (holds the commit), snapshots/COMMIT/FILE}`,
/// where each snapshot file is a relative symlink to `../../blobs/ETAG`.
public struct HubRepoCache: Sendable {
    /// `models--ORG--NAME` in the cache directory.
    public let folder: String

    public init(cacheDirectory: String, repo: String) {
        folder = cacheDirectory + "/models--" + repo.replacingOccurrences(of: "/", with: "--")
    }

    public var blobsDirectory: String { folder + "/blobs" }
    public func snapshotDirectory(commit: String) -> String { folder + "/snapshots/" + commit }

    /// The commit a revision names: the contents of `refs/REVISION`, or the revision itself when
    /// it is a commit with a snapshot; nil when neither is in the cache.
    public func commit(for revision: String) -> String? {
        if let text = try? String(contentsOfFile: folder + "/refs/" + revision, encoding: .utf8) {
            let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !commit.isEmpty { return commit }
        }
        return FileManager.default.fileExists(atPath: snapshotDirectory(commit: revision)) ? revision : nil
    }

    /// The snapshot directory for a revision, when it is in the cache.
    public func snapshot(for revision: String) -> String? {
        guard let commit = commit(for: revision) else { return nil }
        let path = snapshotDirectory(commit: commit)
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Records that `revision` is at `commit` (`refs/REVISION`); a commit needs no ref.
    func writeRef(_ revision: String, commit: String) throws {
        guard revision != commit else { return }
        let path = folder + "/refs/" + revision
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Links `snapshots/COMMIT/FILE` to `blobs/ETAG` with a relative path, as huggingface_hub does.
    func link(file: String, commit: String, etag: String) throws {
        let path = snapshotDirectory(commit: commit) + "/" + file
        let manager = FileManager.default
        try manager.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let depth = file.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth + 2) + "blobs/" + etag
        if (try? manager.destinationOfSymbolicLink(atPath: path)) != nil || manager.fileExists(atPath: path) {
            try manager.removeItem(atPath: path)
        }
        try manager.createSymbolicLink(atPath: path, withDestinationPath: target)
    }
}
