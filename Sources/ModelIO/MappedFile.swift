#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only private mapping of a whole file (mmap), unmapped on deinit.
///
/// Model weights are used in place from the mapping: the kernel pages them in on demand and
/// shares them with the page cache, so opening a 500 MB file costs almost nothing.
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
    }

    deinit {
        munmap(base, size)
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
