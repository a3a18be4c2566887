import Foundation
import Hub
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port) that mimics the Hugging Face hub: the
/// model API, `resolve` URLs that redirect LFS files to a blob URL, ETag / X-Linked-Etag /
/// X-Repo-Commit headers, range requests, 404 and 401. One connection at a time, closed after
/// each response.
final class MockHub: @unchecked Sendable {
    struct Request { let method: String; let path: String; let headers: [String: String] }
    struct RepoFile { let name: String; let content: Data; let isLFS: Bool }

    static let commit = "0123456789abcdef0123456789abcdef01234567"
    let repo = "org/tiny"
    let files: [RepoFile]
    /// Bytes served for LFS blobs instead of the real content (to test the checksum).
    var corruptBlobs = false
    /// A hostile hub: the commit it reports and the ETag of its small files, when set.
    var commitOverride: String?
    var etagOverride: String?
    private let lock = NSLock()
    private var recorded: [Request] = []
    private let socket: Int32
    let port: UInt16

    var endpoint: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { lock.lock(); defer { lock.unlock() }; return recorded }

    init(files: [RepoFile]) throws {
        self.files = files
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        socket = fd
        guard bound else { throw HubError.transport(url: "127.0.0.1", reason: "mock hub cannot listen") }
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    deinit { shutdown(socket, Int32(SHUT_RDWR)); close(socket) }

    private func serve() {
        while true {
            let connection = accept(socket, nil, nil)
            if connection < 0 { return }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !data.contains("\r\n\r\n".data(using: .utf8)!) {
            let count = read(connection, &buffer, buffer.count)
            if count <= 0 { return }
            data.append(contentsOf: buffer[0..<count])
        }
        let lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ").map(String.init)
        guard parts.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let request = Request(method: parts[0], path: parts[1], headers: headers)
        lock.lock(); recorded.append(request); lock.unlock()
        var (status, responseHeaders, body) = respond(to: request)
        responseHeaders["Content-Length"] = String(body.count)
        responseHeaders["Connection"] = "close"
        var head = "HTTP/1.1 \(status) Status\r\n"
        for (name, value) in responseHeaders { head += "\(name): \(value)\r\n" }
        var out = Data((head + "\r\n").utf8)
        if request.method != "HEAD" { out.append(body) }
        out.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let count = write(connection, raw.baseAddress! + sent, raw.count - sent)
                if count <= 0 { return }
                sent += count
            }
        }
    }

    static func sha256Hex(_ data: Data) -> String { var hash = SHA256(); hash.update(data); return hash.hexDigest() }

    private func respond(to request: Request) -> (Int, [String: String], Data) {
        let path = request.path
        if path.hasPrefix("/api/models/private/") || path.hasPrefix("/private/") { return (401, [:], Data("unauthorized".utf8)) }
        if path == "/api/models/\(repo)/revision/main" || path == "/api/models/\(repo)/revision/\(Self.commit)" {
            let siblings = files.map { ["rfilename": $0.name] }
            let json = try! JSONSerialization.data(withJSONObject: ["sha": commitOverride ?? Self.commit, "siblings": siblings])
            return (200, ["Content-Type": "application/json"], json)
        }
        if path.hasPrefix("/api/models/") { return (404, ["X-Error-Code": "RepositoryNotFound"], Data()) }
        if path.hasPrefix("/blobs/"), let file = files.first(where: { Self.sha256Hex($0.content) == path.dropFirst(7) }) {
            var content = file.content
            if corruptBlobs { content[content.count / 2] ^= 0xFF }
            if let range = request.headers["range"], range.hasPrefix("bytes="),
               let start = Int(range.dropFirst(6).split(separator: "-").first ?? "") {
                return (206, ["Content-Range": "bytes \(start)-\(content.count - 1)/\(content.count)"], content.subdata(in: start..<content.count))
            }
            return (200, [:], content)
        }
        let prefix = "/\(repo)/resolve/"
        guard path.hasPrefix(prefix) else { return (404, ["X-Error-Code": "RepositoryNotFound"], Data()) }
        let rest = path.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/"),
              let file = files.first(where: { $0.name == rest[rest.index(after: slash)...] }) else {
            return (404, ["X-Error-Code": "EntryNotFound"], Data())
        }
        if file.isLFS {
            let sha = Self.sha256Hex(file.content)
            return (302, ["Location": "\(endpoint)/blobs/\(sha)", "X-Repo-Commit": Self.commit, "ETag": "\"lfs-pointer-etag\"",
                          "X-Linked-Etag": "\"\(sha)\"", "X-Linked-Size": String(file.content.count)], Data())
        }
        return (200, ["ETag": "\"\(etagOverride ?? String(Self.sha256Hex(file.content).prefix(40)))\"", "X-Repo-Commit": Self.commit], file.content)
    }
}
