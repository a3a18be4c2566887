#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Shared by the harnesses whose reader takes a path. The fuzz input goes into one scratch file
// per process, unlinked as soon as it is created (so that nothing is left behind, even after
// a crash) and reached through /proc/self/fd. The file lives in /dev/shm when there is one:
// on a disk file system, rewriting it for every input runs ~25x slower.

/// A scratch file for fuzz inputs, rewritten by `write`; `path` opens the same file.
struct ScratchFile {
    let descriptor: Int32
    var path: String { "/proc/self/fd/\(descriptor)" }

    init() {
        let environmentDirectory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : environmentDirectory
        let name = "\(directory)/gpt2-fuzz-\(getpid())"
        descriptor = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        precondition(descriptor >= 0, "cannot create the scratch file \(name)")
        unlink(name)
    }

    /// Replaces the contents with `size` bytes from `data`. Traps if that fails: a harness that
    /// silently fuzzes nothing would be worse than one that stops.
    func write(_ data: UnsafeRawPointer, _ size: Int) {
        precondition(ftruncate(descriptor, 0) == 0, "cannot truncate the scratch file")
        var written = 0
        while written < size {
            let n = pwrite(descriptor, data + written, size - written, off_t(written))
            precondition(n > 0, "cannot write the scratch file")
            written += n
        }
    }
}
