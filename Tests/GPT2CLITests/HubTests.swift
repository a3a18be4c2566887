import ArgumentParser
import Foundation
import Testing
@testable import GPT2CLI
@testable import Hub

/// The hub client against `MockHub`, the cache layout on disk, and `-m`/`-hf` resolution.
@Suite(.serialized)
struct HubTests {
    static let weights = Data((0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })
    static func repoFiles() -> [MockHub.RepoFile] {
        [
            .init(name: "config.json", content: Data("{\"n_layer\": 1}".utf8), isLFS: false),
            .init(name: "model.safetensors", content: weights, isLFS: true),
            .init(name: "vocab.json", content: Data("{}".utf8), isLFS: false),
            .init(name: "merges.txt", content: Data("#version: 0.2\n".utf8), isLFS: false),
            .init(name: "onnx/model.gguf", content: Data(repeating: 7, count: 1000), isLFS: true),
        ]
    }

    static func temporaryCache() -> String {
        let path = NSTemporaryDirectory() + "gpt2-hub-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func environment(_ hub: MockHub, cache: String, offline: Bool = false, token: String? = nil) -> HubEnvironment {
        var variables = ["HF_HUB_CACHE": cache, "HF_ENDPOINT": hub.endpoint + "/"]
        if offline { variables["HF_HUB_OFFLINE"] = "1" }
        if let token { variables["HF_TOKEN"] = token }
        return HubEnvironment(variables)
    }

    @Test func sha256MatchesKnownVectors() {
        func hex(_ bytes: [UInt8]) -> String { var hash = SHA256(); hash.update(bytes); return hash.hexDigest() }
        #expect(hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var million = SHA256()
        for _ in 0..<1000 { million.update([UInt8](repeating: UInt8(ascii: "a"), count: 999)); million.update([UInt8(ascii: "a")]) }
        #expect(million.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func environmentDefaults() {
        let defaults = HubEnvironment(["HOME": "/h"])
        #expect(defaults.cacheDirectory.hasSuffix("/.cache/huggingface/hub"))
        #expect(defaults.endpoint == "https://huggingface.co")
        #expect(defaults.token == nil && !defaults.offline)
        #expect(HubEnvironment(["HF_HOME": "/x"]).cacheDirectory == "/x/hub")
        #expect(HubEnvironment(["HF_HOME": "/x", "HF_HUB_CACHE": "/y"]).cacheDirectory == "/y")
    }

    @Test func downloadWritesTheHubCacheLayout() throws {
        let hub = try MockHub(files: Self.repoFiles())
        let cache = Self.temporaryCache()
        let snapshot = try HubClient(environment: Self.environment(hub, cache: cache, token: "secret")).download(repo: "org/tiny")
        let folder = cache + "/models--org--tiny"
        #expect(snapshot == folder + "/snapshots/" + MockHub.commit)
        #expect(try String(contentsOfFile: folder + "/refs/main", encoding: .utf8) == MockHub.commit)
        let sha = MockHub.sha256Hex(Self.weights)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: snapshot + "/model.safetensors") == "../../blobs/" + sha)
        #expect(FileManager.default.contents(atPath: snapshot + "/model.safetensors") == Self.weights)
        #expect(FileManager.default.contents(atPath: snapshot + "/config.json") == Data("{\"n_layer\": 1}".utf8))
        #expect(!FileManager.default.fileExists(atPath: folder + "/blobs/" + sha + ".incomplete"))
        #expect(hub.requests.contains { $0.path == "/blobs/" + sha })  // the 302 was followed
        #expect(hub.requests.allSatisfy { $0.headers["authorization"] == "Bearer secret" || $0.path.hasPrefix("/blobs/") })

        // A second run downloads nothing; a glob picks files in subfolders, linked one level deeper.
        let before = hub.requests.count
        _ = try HubClient(environment: Self.environment(hub, cache: cache)).download(repo: "org/tiny")
        #expect(hub.requests.count == before + 1)  // the API call only
        _ = try HubClient(environment: Self.environment(hub, cache: cache)).download(repo: "org/tiny", files: .matching(["*.gguf"]))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: snapshot + "/onnx/model.gguf")
            == "../../../blobs/" + MockHub.sha256Hex(Data(repeating: 7, count: 1000)))
    }

    @Test func resumesAnInterruptedDownload() throws {
        let hub = try MockHub(files: Self.repoFiles())
        let cache = Self.temporaryCache()
        let sha = MockHub.sha256Hex(Self.weights)
        let blobs = cache + "/models--org--tiny/blobs"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        try Self.weights.prefix(60_000).write(to: URL(fileURLWithPath: blobs + "/" + sha + ".incomplete"))
        let snapshot = try HubClient(environment: Self.environment(hub, cache: cache)).download(repo: "org/tiny")
        #expect(hub.requests.contains { $0.path == "/blobs/" + sha && $0.headers["range"] == "bytes=60000-" })
        #expect(FileManager.default.contents(atPath: snapshot + "/model.safetensors") == Self.weights)
    }

    @Test func corruptedBlobIsRejected() throws {
        let hub = try MockHub(files: Self.repoFiles())
        hub.corruptBlobs = true
        let cache = Self.temporaryCache()
        let sha = MockHub.sha256Hex(Self.weights)
        #expect {
            try HubClient(environment: Self.environment(hub, cache: cache)).download(repo: "org/tiny")
        } throws: { error in
            "\(error)".hasPrefix("model.safetensors: sha256 ") && "\(error)".contains("does not match the hub's \(sha)")
        }
        #expect(!FileManager.default.fileExists(atPath: cache + "/models--org--tiny/blobs/" + sha))
        #expect(!FileManager.default.fileExists(atPath: cache + "/models--org--tiny/blobs/" + sha + ".incomplete"))
    }

    /// A hostile hub (or HF_ENDPOINT) names paths in the cache: commit, ETag and file names
    /// that would climb out of it are refused, and nothing is written outside.
    @Test func hostileNamesAreRefused() throws {
        let outside = NSTemporaryDirectory() + "gpt2-hub-outside-" + UUID().uuidString
        let cache = Self.temporaryCache() + "/a/b"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let hostile = "../../../../" + (outside as NSString).lastPathComponent
        let hub = try MockHub(files: Self.repoFiles())
        hub.commitOverride = hostile
        #expect { try HubClient(environment: Self.environment(hub, cache: cache)).download(repo: "org/tiny") } throws: { "\($0)".contains("unsafe commit") }
        hub.commitOverride = nil
        hub.etagOverride = hostile
        #expect { try HubClient(environment: Self.environment(hub, cache: cache)).download(repo: "org/tiny") } throws: { "\($0)".contains("unsafe ETag") }
        let climbing = try MockHub(files: Self.repoFiles() + [.init(name: "../escape.txt", content: Data("x".utf8), isLFS: false)])
        #expect {
            try HubClient(environment: Self.environment(climbing, cache: cache)).download(repo: "org/tiny", files: .matching(["*.txt"]))
        } throws: { "\($0)".contains("unsafe file name") }
        #expect(!FileManager.default.fileExists(atPath: outside))
        #expect(!FileManager.default.fileExists(atPath: (cache as NSString).deletingLastPathComponent + "/escape.txt"))
    }

    @Test func offlineUsesTheCacheOnly() throws {
        let hub = try MockHub(files: Self.repoFiles())
        let cache = Self.temporaryCache()
        let offline = HubClient(environment: Self.environment(hub, cache: cache, offline: true))
        #expect(throws: HubError.offlineNotCached(path: cache + "/models--org--tiny")) { try offline.download(repo: "org/tiny") }
        #expect(hub.requests.isEmpty)
        let snapshot = try HubClient(environment: Self.environment(hub, cache: cache)).download(repo: "org/tiny")
        let count = hub.requests.count
        #expect(try offline.download(repo: "org/tiny") == snapshot)
        #expect(hub.requests.count == count)
        #expect("\(HubError.offlineNotCached(path: "P"))" == "not in the cache at P and HF_HUB_OFFLINE is set")
    }

    @Test func missingRepositoryFileAndAuthErrors() throws {
        let hub = try MockHub(files: Self.repoFiles())
        let client = HubClient(environment: Self.environment(hub, cache: Self.temporaryCache()))
        #expect(throws: HubError.repositoryNotFound(repo: "org/none", revision: "main")) { try client.download(repo: "org/none") }
        #expect(throws: HubError.fileNotFound(repo: "org/tiny", revision: "main", file: "nope.bin")) {
            try client.download(repo: "org/tiny", files: .named(["nope.bin"]))
        }
        #expect(throws: HubError.noMatchingFiles(repo: "org/tiny", patterns: ["*.onnx"])) {
            try client.download(repo: "org/tiny", files: .matching(["*.onnx"]))
        }
        #expect(throws: HubError.unauthorized(repo: "private/model", status: 401)) { try client.download(repo: "private/model") }
        #expect("\(HubError.unauthorized(repo: "r", status: 401))".contains("set HF_TOKEN"))
        let unreachable = HubClient(environment: HubEnvironment(["HF_HUB_CACHE": Self.temporaryCache(), "HF_ENDPOINT": "http://127.0.0.1:1"]))
        #expect(throws: HubError.self) { try unreachable.download(repo: "org/tiny") }
    }

    @Test func modelOptionsResolveRepositoriesFromTheCache() throws {
        let hub = try MockHub(files: Self.repoFiles())
        let cache = Self.temporaryCache()
        let environment = Self.environment(hub, cache: cache)
        // Neither a path nor cached: the error says where it looked and how to get it.
        #expect {
            try ModelOptions.parse(["-m", "org/tiny"]).resolvedModelPath(hub: environment)
        } throws: { error in
            "\(error)".contains("nor a model in the Hugging Face cache at \(cache)/models--org--tiny") && "\(error)".contains("gpt2 download org/tiny")
        }
        // -hf downloads, then -m ORG/NAME finds the snapshot of refs/main.
        let snapshot = try ModelOptions.parse(["-hf", "org/tiny"]).resolvedModelPath(hub: environment)
        #expect(snapshot == cache + "/models--org--tiny/snapshots/" + MockHub.commit)
        #expect(try ModelOptions.parse(["-m", "org/tiny"]).resolvedModelPath(hub: environment) == snapshot)
        #expect(throws: (any Error).self) { try ModelOptions.parse(["-m", "a", "-hf", "org/tiny"]) }
        // `-hf` is an option, not `-h -f` (help).
        let generate = try GPT2Command.parseAsRoot(["generate", "-hf", "org/x", "-p", "hi"])
        #expect((generate as? Generate)?.modelOptions.hubRepository == "org/x")
        let download = try GPT2Command.parseAsRoot(["download", "org/x", "--include", "*.gguf", "--revision", "v1"]) as? Download
        #expect(download?.include == ["*.gguf"] && download?.revision == "v1")
    }
}
