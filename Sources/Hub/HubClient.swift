import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Downloads model repositories from the Hugging Face hub into its cache (see `HubRepoCache`).
///
/// HTTP goes through Foundation's `URLSession` (FoundationNetworking on Linux), which ships with
/// the Swift toolchain: the download needs no package dependency, where AsyncHTTPClient would
/// bring SwiftNIO and its tree for a handful of GET requests.
public struct HubClient: Sendable {
    /// Which files of a repository to fetch.
    public enum FileSelection: Sendable {
        /// These exact files; each must exist in the repository.
        case named([String])
        /// Every file whose path matches one of these globs (`*.gguf`); at least one must match.
        case matching([String])
    }

    /// The files a GPT-2 checkpoint directory needs.
    public static let gpt2Files = ["config.json", "model.safetensors", "vocab.json", "merges.txt"]

    public let environment: HubEnvironment

    public init(environment: HubEnvironment = HubEnvironment()) {
        self.environment = environment
    }

    /// Fetches the selected files of `repo` at `revision` (skipping those already cached) and
    /// returns the snapshot directory. `progress` is called with (file, bytes so far, total).
    /// With `HF_HUB_OFFLINE` set, answers from the cache or fails.
    public func download(
        repo: String, revision: String = "main", files: FileSelection = .named(gpt2Files),
        progress: (@Sendable (String, Int64, Int64?) -> Void)? = nil
    ) throws -> String {
        let cache = HubRepoCache(cacheDirectory: environment.cacheDirectory, repo: repo)
        if environment.offline { return try cachedSnapshot(cache: cache, revision: revision, files: files) }

        let info = try repositoryInfo(repo: repo, revision: revision)
        let wanted: [String]
        switch files {
        case let .named(names):
            if let missing = names.first(where: { !info.files.contains($0) }) {
                throw HubError.fileNotFound(repo: repo, revision: revision, file: missing)
            }
            wanted = names
        case let .matching(patterns):
            wanted = info.files.filter { file in patterns.contains { fnmatch($0, file, 0) == 0 } }
            if wanted.isEmpty { throw HubError.noMatchingFiles(repo: repo, patterns: patterns) }
        }
        // The hub's answers name paths in the cache: none may climb out of it.
        if let unsafe = wanted.first(where: { !Self.isSafeRelativePath($0) }) {
            throw HubError.malformedResponse(url: environment.endpoint, reason: "unsafe file name \(unsafe.debugDescription) in \(repo)")
        }
        try cache.writeRef(revision, commit: info.commit)
        for file in wanted where !FileManager.default.fileExists(atPath: cache.snapshotDirectory(commit: info.commit) + "/" + file) {
            try fetch(file: file, repo: repo, commit: info.commit, cache: cache, progress: progress)
        }
        return cache.snapshotDirectory(commit: info.commit)
    }

    /// The snapshot for `revision` when every selected file is in it.
    func cachedSnapshot(cache: HubRepoCache, revision: String, files: FileSelection) throws -> String {
        guard let snapshot = cache.snapshot(for: revision) else { throw HubError.offlineNotCached(path: cache.folder) }
        let present: Bool
        switch files {
        case let .named(names):
            present = names.allSatisfy { FileManager.default.fileExists(atPath: snapshot + "/" + $0) }
        case let .matching(patterns):
            let listed = FileManager.default.subpaths(atPath: snapshot) ?? []
            present = listed.contains { file in patterns.contains { fnmatch($0, file, 0) == 0 } }
        }
        guard present else { throw HubError.offlineNotCached(path: snapshot) }
        return snapshot
    }

    /// `GET /api/models/REPO/revision/REV`: the commit and the file list.
    func repositoryInfo(repo: String, revision: String) throws -> (commit: String, files: [String]) {
        let url = "\(environment.endpoint)/api/models/\(repo)/revision/\(escape(revision))"
        let (response, body) = try perform(url: url, method: "GET")
        try check(response, url: url, repo: repo, revision: revision, file: nil)
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let commit = json["sha"] as? String,
              let siblings = json["siblings"] as? [[String: Any]] else {
            throw HubError.malformedResponse(url: url, reason: "expected JSON with \"sha\" and \"siblings\"")
        }
        guard Self.isSafeComponent(commit) else {
            throw HubError.malformedResponse(url: url, reason: "unsafe commit \(commit.debugDescription)")
        }
        return (commit, siblings.compactMap { $0["rfilename"] as? String })
    }

    /// One path component that stays where it is put: not empty, not "." or "..", no "/" or NUL.
    static func isSafeComponent(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
    }

    /// A relative path of safe components (a file of a repository, inside its snapshot).
    static func isSafeRelativePath(_ path: String) -> Bool {
        !path.hasPrefix("/") && path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { isSafeComponent(String($0)) }
    }

    /// Downloads one file into `blobs/ETAG` (resuming `blobs/ETAG.incomplete`), verifies it and
    /// links it into the snapshot.
    func fetch(file: String, repo: String, commit: String, cache: HubRepoCache,
               progress: (@Sendable (String, Int64, Int64?) -> Void)?) throws {
        let url = "\(environment.endpoint)/\(repo)/resolve/\(commit)/\(file.split(separator: "/").map { escape(String($0)) }.joined(separator: "/"))"
        // The hub's own answer (before any redirect to the CDN) names the blob.
        let (head, _) = try perform(url: url, method: "HEAD", followRedirects: false)
        try check(head, url: url, repo: repo, revision: commit, file: file)
        let header = { (name: String) in head.value(forHTTPHeaderField: name) }
        guard let rawETag = header("X-Linked-Etag") ?? header("ETag") else {
            throw HubError.malformedResponse(url: url, reason: "no ETag header")
        }
        let etag = rawETag.replacingOccurrences(of: "W/", with: "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard Self.isSafeComponent(etag) else {
            throw HubError.malformedResponse(url: url, reason: "unsafe ETag \(etag.debugDescription)")
        }
        let size = (header("X-Linked-Size") ?? header("Content-Length")).flatMap { Int64($0) }
        let isLFS = etag.count == 64 && etag.allSatisfy(\.isHexDigit)
        // The body comes from where the hub redirects (the CDN for LFS files), asked directly so
        // that the Range header goes to the server that answers it.
        let location = (300..<400).contains(head.statusCode) ? header("Location") : nil
        let bodyURL = location.flatMap { URL(string: $0, relativeTo: URL(string: url))?.absoluteString } ?? url

        let blob = cache.blobsDirectory + "/" + etag
        if !FileManager.default.fileExists(atPath: blob) {
            try FileManager.default.createDirectory(atPath: cache.blobsDirectory, withIntermediateDirectories: true)
            let partial = blob + ".incomplete"
            if !FileManager.default.fileExists(atPath: partial) {
                _ = FileManager.default.createFile(atPath: partial, contents: nil)
            }
            let sink = try FileHandle(forWritingTo: URL(fileURLWithPath: partial))
            defer { try? sink.close() }
            let offset = try sink.seekToEnd()
            if size.map({ Int64(offset) < $0 }) ?? true {
                var headers: [String: String] = [:]
                if offset > 0 { headers["Range"] = "bytes=\(offset)-" }
                let (response, _) = try perform(url: bodyURL, method: "GET", headers: headers, sink: sink, resumeAt: Int64(offset)) {
                    progress?(file, $0, size)
                }
                try check(response, url: bodyURL, repo: repo, revision: commit, file: file)
            }
            try sink.synchronize()
            let written = Int64(try sink.seekToEnd())
            if let size, written != size {
                try? FileManager.default.removeItem(atPath: partial)
                throw HubError.sizeMismatch(file: file, expected: size, actual: written)
            }
            if isLFS {
                let actual = try sha256(ofFile: partial)
                if actual != etag.lowercased() {
                    try? FileManager.default.removeItem(atPath: partial)
                    throw HubError.checksumMismatch(file: file, expected: etag, actual: actual)
                }
            }
            try FileManager.default.moveItem(atPath: partial, toPath: blob)
        }
        try cache.link(file: file, commit: commit, etag: etag)
    }

    /// Maps the hub's error statuses to `HubError`.
    func check(_ response: HTTPURLResponse, url: String, repo: String, revision: String, file: String?) throws {
        let status = response.statusCode
        if (200..<400).contains(status) { return }
        switch status {
        case 401, 403:
            // The hub answers 401 for a repository that does not exist, as for a private one.
            throw HubError.unauthorized(repo: repo, status: status)
        case 404:
            if let file, response.value(forHTTPHeaderField: "X-Error-Code") != "RepositoryNotFound" {
                throw HubError.fileNotFound(repo: repo, revision: revision, file: file)
            }
            throw HubError.repositoryNotFound(repo: repo, revision: revision)
        default:
            throw HubError.badResponse(url: url, status: status)
        }
    }

    private func escape(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? component
    }

    /// One request, synchronously. With a `sink`, a 200/206 body is appended to it (a 200 to a
    /// range request restarts the file: the server ignored the range); otherwise it is returned.
    func perform(url: String, method: String, headers: [String: String] = [:], followRedirects: Bool = true,
                 sink: FileHandle? = nil, resumeAt offset: Int64 = 0,
                 onBytes: (@Sendable (Int64) -> Void)? = nil) throws -> (HTTPURLResponse, Data) {
        guard let target = URL(string: url) else { throw HubError.transport(url: url, reason: "not a valid URL") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        request.setValue("swift-gpt2", forHTTPHeaderField: "User-Agent")
        // The token goes to the hub only, not to the CDN it redirects to.
        if let token = environment.token, target.host == URL(string: environment.endpoint)?.host {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let transfer = Transfer(followRedirects: followRedirects, sink: sink, offset: offset, onBytes: onBytes)
        let session = URLSession(configuration: .ephemeral, delegate: transfer, delegateQueue: nil)
        session.dataTask(with: request).resume()
        transfer.done.wait()
        session.finishTasksAndInvalidate()
        if let error = transfer.error { throw HubError.transport(url: url, reason: error.localizedDescription) }
        if let writeError = transfer.writeError { throw writeError }
        guard let response = transfer.response else { throw HubError.transport(url: url, reason: "no response") }
        return (response, transfer.body)
    }
}

/// SHA-256 of a file, read in 4 MiB chunks.
public func sha256(ofFile path: String) throws -> String {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    var hash = SHA256()
    while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { hash.update(chunk) }
    return hash.hexDigest()
}

/// The delegate of one request: the redirect policy, and where the body goes.
private final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let followRedirects: Bool
    let sink: FileHandle?
    let onBytes: (@Sendable (Int64) -> Void)?
    let done = DispatchSemaphore(value: 0)
    var received: Int64
    var response: HTTPURLResponse?
    var body = Data()
    var error: Error?
    var writeError: Error?

    init(followRedirects: Bool, sink: FileHandle?, offset: Int64, onBytes: (@Sendable (Int64) -> Void)?) {
        self.followRedirects = followRedirects
        self.sink = sink
        self.received = offset
        self.onBytes = onBytes
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(followRedirects ? request : nil)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        self.response = response as? HTTPURLResponse
        if let sink, self.response?.statusCode == 200, received > 0 {
            do { try sink.truncate(atOffset: 0); received = 0 } catch { writeError = error }
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let status = response?.statusCode ?? 0
        guard let sink, status == 200 || status == 206 else { body.append(data); return }
        do { try sink.write(contentsOf: data) } catch { writeError = error; dataTask.cancel(); return }
        received += Int64(data.count)
        onBytes?(received)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if writeError == nil { self.error = error }
        done.signal()
    }
}
