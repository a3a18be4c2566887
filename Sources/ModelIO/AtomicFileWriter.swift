import Glibc
import Synchronization

/// Writes a file through a uniquely named temporary file in the same directory
/// (`PATH.tmp-PID-RANDOM`), renamed into place at the end, so readers never see a half-written
/// file and an existing file is replaced whole or not at all. `body` gets a function that appends
/// bytes. An existing regular file at `path` keeps its permission bits. Temporary files that a
/// killed run of this or another process left for the same `path` (their PID no longer runs) are
/// removed first; the temporary file of this run is removed on errors and, through
/// `TemporaryFiles.removeAll()`, by a signal handler.
func writeFileAtomically(_ path: String, _ body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    TemporaryFiles.removeStale(for: path)
    var temporaryPath = ""
    var fd: Int32 = -1
    for _ in 0..<16 {
        temporaryPath = TemporaryFiles.name(for: path, pid: getpid(), random: UInt32.random(in: 0...UInt32.max))
        try TemporaryFiles.register(temporaryPath, for: path)
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd >= 0 { break }
        let openError = errno
        TemporaryFiles.unregister(temporaryPath)
        errno = openError
        if openError != EEXIST { break }
    }
    if fd < 0 {
        throw ModelIOError.cannotWrite(path: path, reason: "cannot create a temporary file: \(MappedFile.describeErrno(errno))")
    }
    var succeeded = false
    defer {
        if fd >= 0 { close(fd) }
        if !succeeded {
            unlink(temporaryPath)
            TemporaryFiles.unregister(temporaryPath)
        }
    }
    try body { bytes in try SafetensorsWriter.writeAll(fd, bytes, path: path) }
    var existing = stat()
    if stat(path, &existing) == 0, existing.st_mode & S_IFMT == S_IFREG, fchmod(fd, existing.st_mode & 0o7777) != 0 {
        throw ModelIOError.cannotWrite(path: path, reason: "cannot copy the permissions of the file it replaces: \(MappedFile.describeErrno(errno))")
    }
    if fsync(fd) != 0 {
        throw ModelIOError.cannotWrite(path: path, reason: "fsync failed: \(MappedFile.describeErrno(errno))")
    }
    if close(fd) != 0 {
        fd = -1
        throw ModelIOError.cannotWrite(path: path, reason: MappedFile.describeErrno(errno))
    }
    fd = -1
    try TemporaryFiles.rename(temporaryPath, to: path)
    succeeded = true
}

/// The temporary files `writeFileAtomically` is writing, so that a handler of SIGINT or SIGTERM
/// can remove them before the process ends.
public enum TemporaryFiles {
    private struct State {
        var paths: Set<String> = []
        /// Set by `removeAll()`: the process is ending, no new temporary file may start.
        var closed = false
    }

    private static let state = Mutex(State())

    /// Removes every temporary file being written and refuses new ones from then on; a file
    /// already renamed into place stays. Meant for a signal handler that then ends the process
    /// (it runs on an ordinary thread: it takes a lock).
    public static func removeAll() {
        state.withLock { state in
            for path in state.paths { unlink(path) }
            state.paths.removeAll()
            state.closed = true
        }
    }

    /// `PATH.tmp-PID-RANDOM`.
    static func name(for path: String, pid: pid_t, random: UInt32) -> String {
        "\(path).tmp-\(pid)-\(random)"
    }

    static func register(_ temporaryPath: String, for path: String) throws {
        try state.withLock { state in
            if state.closed { throw ModelIOError.cannotWrite(path: path, reason: "the process is being interrupted") }
            state.paths.insert(temporaryPath)
        }
    }

    static func unregister(_ temporaryPath: String) {
        _ = state.withLock { $0.paths.remove(temporaryPath) }
    }

    /// Renames under the lock, so that `removeAll()` either removes the temporary file or finds
    /// it already in place: never a half-renamed state.
    static func rename(_ temporaryPath: String, to path: String) throws {
        try state.withLock { state in
            if state.closed { throw ModelIOError.cannotWrite(path: path, reason: "the process is being interrupted") }
            if Glibc.rename(temporaryPath, path) != 0 {
                throw ModelIOError.cannotWrite(path: path, reason: "rename failed: \(MappedFile.describeErrno(errno))")
            }
            state.paths.remove(temporaryPath)
        }
    }

    /// Removes `PATH.tmp-PID-RANDOM` files whose process no longer exists: left by a run that was
    /// killed (SIGKILL, power loss), they would otherwise fill the disk. Files of live processes,
    /// this one included, are left alone.
    static func removeStale(for path: String) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let prefix = (slash.map { String(path[path.index(after: $0)...]) } ?? path) + ".tmp-"
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = stalePID(name, prefix: prefix), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(directory + "/" + name)
        }
    }

    /// The PID in `PREFIX<pid>-<random>`, or nil when `name` is not exactly of that form.
    static func stalePID(_ name: String, prefix: String) -> pid_t? {
        guard name.hasPrefix(prefix) else { return nil }
        let parts = name.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let pid = pid_t(parts[0]), pid > 0, UInt32(parts[1]) != nil else { return nil }
        return pid
    }
}
