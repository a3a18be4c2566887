import Glibc

/// Writes a file through a uniquely named temporary file in the same directory, renamed into
/// place at the end, so readers never see a half-written file. `body` gets a function that
/// appends bytes.
func writeFileAtomically(_ path: String, _ body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    var temporaryPath = ""
    var fd: Int32 = -1
    for _ in 0..<16 {
        temporaryPath = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd >= 0 || errno != EEXIST { break }
    }
    if fd < 0 {
        throw ModelIOError.cannotWrite(path: path, reason: "cannot create a temporary file: \(MappedFile.describeErrno(errno))")
    }
    var succeeded = false
    defer {
        if fd >= 0 { close(fd) }
        if !succeeded { unlink(temporaryPath) }
    }
    try body { bytes in try SafetensorsWriter.writeAll(fd, bytes, path: path) }
    if fsync(fd) != 0 {
        throw ModelIOError.cannotWrite(path: path, reason: "fsync failed: \(MappedFile.describeErrno(errno))")
    }
    if close(fd) != 0 {
        fd = -1
        throw ModelIOError.cannotWrite(path: path, reason: MappedFile.describeErrno(errno))
    }
    fd = -1
    if rename(temporaryPath, path) != 0 {
        throw ModelIOError.cannotWrite(path: path, reason: "rename failed: \(MappedFile.describeErrno(errno))")
    }
    succeeded = true
}
