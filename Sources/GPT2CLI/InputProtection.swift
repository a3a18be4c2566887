import Foundation

/// Why writing `output` would destroy or change one of `inputs` (the files a model load reads,
/// see `GPT2Model.inputFiles(path:)`), as a one-line reason, or nil when it would not. Files are
/// compared by device and inode (hard links, symlinks to them) and paths after resolving
/// symlinks, `.` and `..` (files that do not exist yet but the loader would read).
func inputConflict(output: String, inputs: [String]) -> String? {
    let outputIdentity = fileIdentity(output)
    let outputPath = canonicalPath(output)
    for input in inputs {
        if let outputIdentity, fileIdentity(input) == outputIdentity {
            return input == output ? "it is a file of the input model" : "it is \(input), a file of the input model"
        }
        if canonicalPath(input) == outputPath {
            return "it would be \(input), a file the input model loads"
        }
    }
    return nil
}

/// Device and inode of the file at `path` (following symlinks), or nil if there is none.
private func fileIdentity(_ path: String) -> [UInt64]? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return [UInt64(info.st_dev), UInt64(info.st_ino)]
}

/// `path` with symlinks, `.` and `..` resolved; for a path that does not exist (or a dangling
/// symlink), its resolved folder and its own name.
private func canonicalPath(_ path: String) -> String {
    if let resolved = realpath(path, nil) {
        defer { free(resolved) }
        return String(cString: resolved)
    }
    let name = (path as NSString).lastPathComponent
    let folder = (path as NSString).deletingLastPathComponent
    guard let resolved = realpath(folder.isEmpty ? "." : folder, nil) else { return (path as NSString).standardizingPath }
    defer { free(resolved) }
    return String(cString: resolved) + "/" + name
}
