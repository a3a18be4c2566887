/// Records when each thread of a `ThreadPool` was busy inside a parallel region, for traces
/// (`gpt2 profile --trace`): load imbalance and barrier waits show up as gaps between a thread's
/// spans and the op around them.
///
/// Storage is preallocated: thread *i* appends (start, end) pairs to its own slice, so recording
/// takes two clock reads and two stores, no locks and no allocation. The pool's join orders the
/// workers' writes before the caller's next read. Spans beyond `capacity` per thread are
/// counted in `dropped` and not stored.
public final class RegionRecorder: @unchecked Sendable {
    /// Threads this recorder has room for (the pool's `threadCount`).
    public let threadCount: Int
    /// Spans each thread can store.
    public let capacity: Int
    /// [thread][capacity] of (start, end) nanoseconds (monotonicNanoseconds).
    private let spans: UnsafeMutablePointer<(start: UInt64, end: UInt64)>
    private let counts: UnsafeMutablePointer<Int>
    private let overflow: UnsafeMutablePointer<Int>

    public init(threadCount: Int, capacity: Int = 1 << 16) {
        precondition(threadCount >= 1 && capacity >= 1)
        self.threadCount = threadCount
        self.capacity = capacity
        spans = .allocate(capacity: threadCount * capacity)
        // One cache line per thread's counter, so that two threads never write the same line.
        counts = .allocate(capacity: threadCount * 8)
        counts.initialize(repeating: 0, count: threadCount * 8)
        overflow = .allocate(capacity: threadCount * 8)
        overflow.initialize(repeating: 0, count: threadCount * 8)
    }

    deinit {
        spans.deallocate()
        counts.deallocate()
        overflow.deallocate()
    }

    /// Stores one span of `thread`. Called by that thread only.
    @inline(__always)
    public func record(thread: Int, start: UInt64, end: UInt64) {
        let n = counts[thread * 8]
        if n < capacity {
            spans[thread * capacity + n] = (start, end)
            counts[thread * 8] = n + 1
        } else {
            overflow[thread * 8] += 1
        }
    }

    /// The spans `thread` recorded, oldest first. Call between regions.
    public func spans(thread: Int) -> [(start: UInt64, end: UInt64)] {
        Array(UnsafeBufferPointer(start: spans + thread * capacity, count: counts[thread * 8]))
    }

    /// Spans not stored because a thread's buffer was full.
    public var dropped: Int { (0..<threadCount).reduce(0) { $0 + overflow[$1 * 8] } }

    /// Forgets every span.
    public func reset() {
        for t in 0..<threadCount { counts[t * 8] = 0; overflow[t * 8] = 0 }
    }
}
