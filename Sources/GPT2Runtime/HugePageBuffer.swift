import Glibc

/// Owned storage for large, long-lived arrays (packed weights): aligned to 2 MiB and advised
/// `MADV_HUGEPAGE` before the first write, so that transparent huge pages back it. On this
/// machine (THP in `madvise` mode) plain allocations get 4 KiB pages and stream ~20% slower.
///
/// Contents start uninitialised; the first writer decides where the pages live (first touch).
public final class HugePageBuffer<Element>: @unchecked Sendable {
    public static var alignment: Int { 2 << 20 }
    public let pointer: UnsafeMutablePointer<Element>
    public let count: Int
    /// Bytes reserved (rounded up to whole huge pages).
    public let byteCount: Int

    public init(count: Int) {
        precondition(count >= 0)
        self.count = count
        let align = Self.alignment
        byteCount = max(align, (count * MemoryLayout<Element>.stride + align - 1) / align * align)
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, align, byteCount)
        precondition(rc == 0 && raw != nil, "posix_memalign(\(byteCount)) failed: \(rc)")
        _ = madvise(raw, byteCount, MADV_HUGEPAGE)
        pointer = raw!.bindMemory(to: Element.self, capacity: max(1, count))
    }

    deinit { free(pointer) }

    public var buffer: UnsafeMutableBufferPointer<Element> { .init(start: pointer, count: count) }
}

/// Releases the pages that lie wholly inside `start ..< start+bytes` (`MADV_DONTNEED`): they
/// leave this process's resident set. For weights copied elsewhere (packed) at load: pages of a
/// read-only file mapping are read again from the page cache if touched; pages of a private
/// buffer read as zeros afterwards, so use it only on a buffer that is about to be freed.
public func releaseMappedPages(_ start: UnsafeRawPointer, bytes: Int) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let lo = (Int(bitPattern: start) + page - 1) / page * page
    let hi = (Int(bitPattern: start) + bytes) / page * page
    guard hi > lo else { return }
    _ = madvise(UnsafeMutableRawPointer(bitPattern: lo), hi - lo, MADV_DONTNEED)
}
