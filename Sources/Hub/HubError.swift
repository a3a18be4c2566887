/// Why a hub download or cache lookup failed, in one line for the user.
public enum HubError: Error, CustomStringConvertible, Equatable {
    case repositoryNotFound(repo: String, revision: String)
    case fileNotFound(repo: String, revision: String, file: String)
    case noMatchingFiles(repo: String, patterns: [String])
    case unauthorized(repo: String, status: Int)
    case offlineNotCached(path: String)
    case checksumMismatch(file: String, expected: String, actual: String)
    case sizeMismatch(file: String, expected: Int64, actual: Int64)
    case badResponse(url: String, status: Int)
    case transport(url: String, reason: String)
    case malformedResponse(url: String, reason: String)

    public var description: String {
        switch self {
        case let .repositoryNotFound(repo, revision):
            return "repository \(repo) (revision \(revision)) not found on the hub; check the name, or set HF_TOKEN if it is private or gated"
        case let .fileNotFound(repo, revision, file):
            return "\(file) not found in \(repo) at revision \(revision)"
        case let .noMatchingFiles(repo, patterns):
            return "no file in \(repo) matches \(patterns.joined(separator: ", "))"
        case let .unauthorized(repo, status):
            return "access to \(repo) denied (HTTP \(status)): set HF_TOKEN to a token that can read it"
        case let .offlineNotCached(path):
            return "not in the cache at \(path) and HF_HUB_OFFLINE is set"
        case let .checksumMismatch(file, expected, actual):
            return "\(file): sha256 \(actual) does not match the hub's \(expected); the download was removed, run again"
        case let .sizeMismatch(file, expected, actual):
            return "\(file): got \(actual) bytes, the hub announced \(expected); the download was removed, run again"
        case let .badResponse(url, status):
            return "\(url): HTTP \(status)"
        case let .transport(url, reason):
            return "\(url): \(reason)"
        case let .malformedResponse(url, reason):
            return "\(url): \(reason)"
        }
    }
}
