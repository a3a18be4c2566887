import ArgumentParser
import Foundation
import GPT2
import GPT2Runtime
import Hub
import Tokenizer

/// Options shared by every command that runs the model.
struct ModelOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Model: a checkpoint directory, a .safetensors or a .gguf file, or ORG/NAME already in the Hugging Face hub cache (default: a random-weight gpt2).")
    var model: String?

    // A single-dash long name: as a short-flag group, `-hf` would read as `-h -f` (help).
    @Option(name: .customLong("hf", withSingleDash: true), help: "A Hugging Face hub repository (ORG/NAME), downloaded into the hub cache unless already there.")
    var hubRepository: String?

    @Option(name: [.short, .long], parsing: .unconditional, help: "Threads to run on (default: every CPU this process may use).")
    var threads: Int?

    @Option(help: "NUMA: off (no pinning), distribute (threads round-robin over nodes, each thread's weights on its node), isolate (only the current node's CPUs).")
    var numa: NumaStrategy = .off

    func validate() throws {
        if let threads, threads < 1 || threads > 1024 {
            throw ValidationError("--threads must be between 1 and 1024, got \(threads)")
        }
        if let threads { warnIfOversubscribed(threads: threads, option: "-t") }
        if model != nil && hubRepository != nil { throw ValidationError("give either -m or -hf, not both") }
    }

    /// The model path to use: `-hf`'s snapshot (downloaded if needed), `-m` as a path or else as a
    /// repository in the hub cache, or the default random model if none was given.
    func resolvedModelPath(hub: HubEnvironment = HubEnvironment()) throws -> String {
        if let hubRepository {
            return try HubClient(environment: hub).download(repo: hubRepository, progress: hubProgressLine())
        }
        if let model {
            guard !FileManager.default.fileExists(atPath: model), Self.looksLikeRepository(model) else { return model }
            let cache = HubRepoCache(cacheDirectory: hub.cacheDirectory, repo: model)
            if let snapshot = cache.snapshot(for: "main") { return snapshot }
            throw ValidationError("\(model): no such file, nor a model in the Hugging Face cache at \(cache.folder) (fetch it with 'gpt2 download \(model)' or use -hf \(model))")
        }
        return try DefaultModel.ensure(note: printError)
    }

    /// ORG/NAME: two non-empty parts that are not `.` or `..`.
    static func looksLikeRepository(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }
}

/// Text input given either inline or as a file.
struct TextInput: ParsableArguments {
    @Option(name: [.short, .long], help: "Text to use.")
    var prompt: String?

    @Option(name: [.short, .long], help: "Read the text from a file ('-' for standard input).")
    var file: String?

    func validate() throws {
        if (prompt == nil) == (file == nil) { throw ValidationError("give exactly one of --prompt or --file") }
    }

    func read() throws -> String {
        if let prompt { return prompt }
        return try readTextFile(file == "-" ? "/dev/stdin" : file!)
    }
}

/// The UTF-8 text of the file at `path` (a pipe such as /dev/stdin too); a one-line error that
/// says why it cannot be read.
func readTextFile(_ path: String) throws -> String {
    func failure(_ code: Int32) -> ValidationError {
        let reason = String(cString: strerror(code))
        return ValidationError("cannot read \(path): \(reason.prefix(1).lowercased() + reason.dropFirst())")
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw failure(errno) }
    let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    var info = stat()
    if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { throw failure(EISDIR) }
    let data: Data
    do { data = try handle.readToEnd() ?? Data() } catch {
        throw ValidationError("cannot read \(path): \(fileErrorReason(error) ?? "\(error)")")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw ValidationError("\(path) is not valid UTF-8 text")
    }
    return text
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Seconds since `start` (a monotonic timestamp in nanoseconds), as "1.23 s"/"45.6 ms".
func formatDuration(nanoseconds: UInt64) -> String {
    let ms = Double(nanoseconds) / 1e6
    return ms >= 1000 ? String(format: "%.2f s", ms / 1000) : String(format: "%.1f ms", ms)
}

extension NumaStrategy: ExpressibleByArgument {}

/// The CPUs this process may run on (its affinity mask, `sched_getaffinity`).
func usableCPUCount() -> Int { ThreadPool.availableCPUs().count }

/// Warns on stderr, in one line, when `threads` is more than the CPUs this process may use: the
/// pool's workers spin while they wait for each other, so with more threads than CPUs they wait
/// for threads that are not running (64 threads on 2 CPUs measured 20x slower).
func warnIfOversubscribed(threads: Int, option: String) {
    let cpus = usableCPUCount()
    guard threads > cpus else { return }
    printError("warning: \(option) \(threads) is more than the \(cpus) CPUs this process may use; the thread pool "
        + "spins while it waits, so extra threads wait for threads that are not running: expect it to be many times slower "
        + "(64 threads on 2 CPUs ran 20x slower)")
}

/// The one-line message for an error a command throws: Foundation's file errors become "PATH:
/// cannot read: REASON" instead of an NSError dump, everything else is ArgumentParser's message,
/// cut to its first line (it adds the option's help on a second line).
func errorMessage(for error: Error) -> String {
    if let message = fileErrorMessage(error) { return message }
    let message = GPT2Command.message(for: error)
    return message.split(whereSeparator: \.isNewline).first.map(String.init) ?? message
}

/// "PATH: cannot read|write: REASON" for a CocoaError or an NSError from Foundation's file APIs
/// (`Data(contentsOf:)`, `write(to:)`, `FileManager`), instead of "NSCocoaErrorDomain error 256".
func fileErrorMessage(_ error: Error) -> String? {
    guard let reason = fileErrorReason(error) else { return nil }
    let nsError = error as NSError
    let info = nsError.userInfo
    let path = info[NSFilePathErrorKey] as? String ?? (info[NSURLErrorKey] as? URL)?.path
    let isCocoa = nsError.domain == NSCocoaErrorDomain
    let action = isCocoa && (256..<512).contains(nsError.code) ? "cannot read: "
        : isCocoa && (512..<1024).contains(nsError.code) ? "cannot write: " : ""
    return (path.map { "\($0): " } ?? "") + action + reason
}

/// Why a Foundation file operation failed, in words ("no such file or directory"), or nil when
/// `error` is not one of Foundation's file errors.
func fileErrorReason(_ error: Error) -> String? {
    let nsError = error as NSError
    guard nsError.domain == NSCocoaErrorDomain || nsError.domain == NSPOSIXErrorDomain else { return nil }
    var posixCode = nsError.domain == NSPOSIXErrorDomain ? Int32(nsError.code) : nil
    if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        posixCode = Int32(underlying.code)
    }
    if let posixCode {
        let text = String(cString: strerror(posixCode))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
    let info = nsError.userInfo
    if let path = info[NSFilePathErrorKey] as? String ?? (info[NSURLErrorKey] as? URL)?.path {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return "is a directory"  // Foundation reports reading a directory as "unknown" (256)
        }
    }
    switch CocoaError.Code(rawValue: nsError.code) {
    case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or directory"
    case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
    case .fileWriteFileExists: return "the file exists"
    case .fileWriteOutOfSpace: return "no space left on the device"
    case .fileWriteVolumeReadOnly: return "read-only file system"
    case .fileReadCorruptFile: return "the file is corrupt"
    case .fileReadInapplicableStringEncoding: return "not valid text in the expected encoding"
    default: return "the system gave no reason (Foundation error \(nsError.code))"
    }
}
