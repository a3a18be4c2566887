#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only private mapping of a whole file (mmap), unmapped on deinit.
///
/// Parsers and loaders read the file in place: the kernel pages it in on demand and shares it
/// with the page cache, so opening a 500 MB file costs almost nothing. A file truncated while
/// mapped raises SIGBUS on the next touch of a page past its new end; `exitOnTruncation()` turns
/// that into a one-line error. (A loaded model does not keep its file mapped: see `GPT2Weights`.)
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with (used in error messages).
    public let path: String
    private let base: UnsafeMutableRawPointer
    private let size: Int

    /// Maps the whole file read-only. Throws `ModelIOError.cannotOpen` for a missing, unreadable,
    /// empty or non-regular file (e.g. a directory).
    public init(path: String) throws {
        self.path = path
        // O_NONBLOCK so that opening a FIFO by mistake fails below instead of hanging here.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            throw ModelIOError.cannotOpen(path: path, reason: MappedFile.describeErrno(errno))
        }
        defer { close(fd) }

        var info = stat()
        if fstat(fd, &info) != 0 {
            throw ModelIOError.cannotOpen(path: path, reason: MappedFile.describeErrno(errno))
        }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR {
            throw ModelIOError.cannotOpen(path: path, reason: "is a directory, not a file")
        }
        if kind != S_IFREG {
            throw ModelIOError.cannotOpen(path: path, reason: "not a regular file")
        }
        if info.st_size == 0 {
            throw ModelIOError.cannotOpen(path: path, reason: "file is empty")
        }
        let size = Int(info.st_size)

        // The mapping keeps the file alive after the descriptor is closed.
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw ModelIOError.cannotOpen(path: path, reason: "mmap failed: \(MappedFile.describeErrno(errno))")
        }
        self.base = mapped
        self.size = size
        MappedRanges.insert(base: mapped, size: size, path: path)
    }

    deinit {
        MappedRanges.remove(base: base)
        munmap(base, size)
    }

    /// Installs a SIGBUS handler for the process: a fault inside a live `MappedFile` (its file
    /// was truncated or replaced in place while it was being read) prints
    /// "Error: PATH was truncated or changed while it was being read" to stderr and exits with
    /// status 1, instead of a crash; any other SIGBUS still kills the process as before.
    /// For command-line tools: a library cannot recover from the fault, only report it.
    public static func exitOnTruncation() {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { _, info, _ in
            if let info, let path = MappedRanges.path(containing: info.pointee._sifields._sigfault.si_addr) {
                let messages = ["Error: ", nil, " was truncated or changed while it was being read\n"] as [StaticString?]
                for part in messages {
                    if let part { _ = write(2, part.utf8Start, part.utf8CodeUnitCount) } else { _ = write(2, path, strlen(path)) }
                }
                _exit(1)
            }
            signal(SIGBUS, SIG_DFL)  // not a mapped model file: the fault repeats and kills as usual
        }
        action.sa_flags = SA_SIGINFO
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, nil)
    }

    /// The whole file's contents, valid for the lifetime of this object.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: size)
    }

    /// The file size in bytes.
    public var count: Int { size }

    /// Hints that the file will be read front to back soon (read-ahead). Harmless if unsupported.
    public func adviseSequential() {
        _ = madvise(base, size, MADV_SEQUENTIAL)
        _ = madvise(base, size, MADV_WILLNEED)
    }

    /// Hints that the whole file will be needed soon. Harmless if unsupported.
    public func adviseWillNeed() {
        _ = madvise(base, size, MADV_WILLNEED)
    }

    /// Asks for transparent huge pages, fewer TLB misses on large weights. Harmless if unsupported.
    public func adviseHugePages() {
        #if os(Linux)
        _ = madvise(base, size, MADV_HUGEPAGE)
        #endif
    }

    static func describeErrno(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case EACCES, EPERM: return "permission denied"
        case EISDIR: return "is a directory, not a file"
        case ENOTDIR: return "a component of the path is not a directory"
        default: return String(cString: strerror(code))
        }
    }
}

/// The live mappings, for the SIGBUS handler: fixed slots written under a lock and read by the
/// handler without one (it must not allocate or lock). A slot's path is a C string it owns.
enum MappedRanges {
    struct Slot {
        var start: UInt = 0, end: UInt = 0
        var path: UnsafeMutablePointer<CChar>? = nil
    }
    static let capacity = 256
    nonisolated(unsafe) static let slots: UnsafeMutablePointer<Slot> = {
        let slots = UnsafeMutablePointer<Slot>.allocate(capacity: capacity)
        slots.initialize(repeating: Slot(), count: capacity)
        return slots
    }()
    nonisolated(unsafe) static var lock = pthread_mutex_t()

    static func insert(base: UnsafeMutableRawPointer, size: Int, path: String) {
        let start = UInt(bitPattern: base)
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        // More live mappings than slots: the extra ones are simply not reported by name.
        guard let free = (0..<capacity).first(where: { slots[$0].end == 0 }) else { return }
        slots[free].path = strdup(path)
        slots[free].start = start
        slots[free].end = start + UInt(size)
    }

    static func remove(base: UnsafeMutableRawPointer) {
        let start = UInt(bitPattern: base)
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard let slot = (0..<capacity).first(where: { slots[$0].start == start && slots[$0].end != 0 }) else { return }
        slots[slot].end = 0
        free(slots[slot].path)
        slots[slot].path = nil
    }

    /// The path of the live mapping that holds `address`, or nil.
    static func path(containing address: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<CChar>? {
        let a = UInt(bitPattern: address)
        for i in 0..<capacity where slots[i].start <= a && a < slots[i].end { return slots[i].path }
        return nil
    }
}
