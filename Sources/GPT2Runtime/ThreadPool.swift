import CNuma
import CPUHints
import Glibc
import Synchronization

/// A fork-join pool of persistent, pinned worker threads built for many tiny parallel regions.
///
/// A GPT-2 decode step runs ~600 parallel regions, so the cost of starting one matters more than
/// anything else here: `DispatchQueue.concurrentPerform` costs 5–20 µs per region on this
/// machine, a blocked thread takes 19–54 µs to wake. Workers therefore spin on an atomic epoch
/// counter for a while after each region (a start costs well under 1 µs) and only then park on a
/// condition variable, so an idle pool costs no CPU.
///
/// The calling thread is worker 0 and takes part in every region.
public final class ThreadPool: @unchecked Sendable {
    /// Number of threads taking part in a region, the caller included.
    public let threadCount: Int

    /// Bumped once per region; workers watch it.
    private let epoch = Atomic<Int>(0)
    /// Workers still running the current region.
    private let pending = Atomic<Int>(0)
    /// Workers parked on `wakeup` (so the caller knows whether it must signal).
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// Arrivals at the in-region barrier, and its generation (sense).
    private let barrierArrivals = Atomic<Int>(0)
    private let barrierGeneration = Atomic<Int>(0)

    /// The region's body. Written by the caller before `epoch` is bumped, read by workers after.
    private var job: ((Int) -> Void)?
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wakeup: UnsafeMutablePointer<pthread_cond_t>
    private var threads: [pthread_t] = []

    /// When set, every thread records the start and end of its part of each region (profiling
    /// traces). Checked once per region; nil costs nothing else. Set it between regions only.
    public var regionRecorder: RegionRecorder?

    /// Spins before parking: ~50–100 µs, longer than the gap between two ops of a token.
    private let spinIterations = 100_000
    /// After this many pauses (~35 µs) a waiting thread also yields its CPU now and then: with
    /// more runnable threads than cores (a busy machine, or more threads than CPUs) the thread it
    /// waits for may be queued behind it, and a pure spin then held every region for a whole
    /// scheduler time slice (measured: 3 threads on 2 cores, 7 ms per empty region).
    private let yieldAfterSpins = 1_000

    /// Creates a pool of `threadCount` threads (the caller plus `threadCount - 1` workers).
    /// - Parameter cpus: CPUs to pin thread *i* to (`cpus[i % cpus.count]`); empty = no pinning.
    public init(threadCount: Int, cpus: [Int] = []) {
        precondition(threadCount >= 1, "a thread pool needs at least one thread")
        self.threadCount = threadCount
        mutex = .allocate(capacity: 1)
        wakeup = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wakeup, nil)
        if !cpus.isEmpty { Self.pinCurrentThread(to: cpus[0]) }
        for index in 1..<threadCount {
            let cpu = cpus.isEmpty ? nil : cpus[index % cpus.count]
            let context = Unmanaged.passRetained(
                WorkerContext(pool: .passUnretained(self), index: index, cpu: cpu))
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                if let cpu = context.cpu { ThreadPool.pinCurrentThread(to: cpu) }
                let index = context.index
                context.pool._withUnsafeGuaranteedRef { $0.workerLoop(index: index) }
                return nil
            }, context.toOpaque())
            precondition(rc == 0, "pthread_create failed: \(rc)")
            threads.append(thread)
        }
    }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        epoch.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wakeup)
        pthread_mutex_unlock(mutex)
        for thread in threads { pthread_join(thread, nil) }
        pthread_cond_destroy(wakeup)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        wakeup.deallocate()
    }

    /// Runs `body(threadIndex)` once on each of the `threadCount` threads and returns when all
    /// are done. `body` must not start another region on the same pool.
    public func run(_ body: (_ threadIndex: Int) -> Void) {
        if let recorder = regionRecorder {
            regionRecorder = nil  // the recording body below runs the plain path
            defer { regionRecorder = recorder }
            run { thread in
                let start = monotonicNanoseconds()
                body(thread)
                recorder.record(thread: thread, start: start, end: monotonicNanoseconds())
            }
            return
        }
        if threadCount == 1 { body(0); return }
        withoutActuallyEscaping(body) { body in
            job = body
            pending.store(threadCount - 1, ordering: .relaxed)
            epoch.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(wakeup)
                pthread_mutex_unlock(mutex)
            }
            body(0)
            var spins = 0
            while pending.load(ordering: .acquiring) != 0 { backOff(&spins) }
            // Workers dropped their copies before counting down: the closure has not escaped.
            job = nil
        }
    }

    /// Splits `0..<count` into `threadCount` contiguous ranges (sizes differ by at most one
    /// `granularity`, boundaries are multiples of it) and runs `body(range)` on each in parallel.
    public func parallelFor(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let units = (count + granularity - 1) / granularity
        let threads = min(threadCount, units)
        if threads == 1 { body(0..<count); return }
        run { thread in
            guard thread < threads else { return }
            let r = Self.staticRange(units: units, parts: threads, part: thread)
            let range = min(r.lowerBound * granularity, count)..<min(r.upperBound * granularity, count)
            if !range.isEmpty { body(range) }
        }
    }

    /// Dynamic scheduling: threads take chunks of `chunk` items from a shared counter until
    /// `0..<count` is exhausted. For work whose cost varies per item (causal attention rows).
    public func parallelForChunked(_ count: Int, chunk: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        if threadCount == 1 || count <= chunk { body(0..<count); return }
        let next = Atomic<Int>(0)
        run { _ in
            while true {
                let start = next.add(chunk, ordering: .relaxed).oldValue
                if start >= count { break }
                body(start..<min(start + chunk, count))
            }
        }
    }

    /// Waits inside a region until all `threadCount` threads have reached this barrier.
    /// Every thread of the region must call it the same number of times.
    public func barrier() {
        if threadCount == 1 { return }
        let generation = barrierGeneration.load(ordering: .acquiring)
        if barrierArrivals.add(1, ordering: .acquiringAndReleasing).newValue == threadCount {
            barrierArrivals.store(0, ordering: .relaxed)
            barrierGeneration.add(1, ordering: .releasing)
        } else {
            var spins = 0
            while barrierGeneration.load(ordering: .acquiring) == generation { backOff(&spins) }
        }
    }

    /// The `part`-th of `parts` near-equal contiguous ranges of `0..<units`.
    @inlinable
    public static func staticRange(units: Int, parts: Int, part: Int) -> Range<Int> {
        let base = units / parts, extra = units % parts
        let start = part * base + min(part, extra)
        return start..<(start + base + (part < extra ? 1 : 0))
    }

    // MARK: - Workers

    /// What a worker thread starts with. It must not own the pool: a strong reference here made
    /// every worker keep its pool alive for ever, so `deinit` (which stops and joins the workers)
    /// never ran and each pool leaked its threads. `deinit` joins the workers before the pool's
    /// memory goes away, so the unretained reference stays valid for as long as a worker runs.
    private final class WorkerContext {
        let pool: Unmanaged<ThreadPool>
        let index: Int
        let cpu: Int?
        init(pool: Unmanaged<ThreadPool>, index: Int, cpu: Int?) {
            self.pool = pool; self.index = index; self.cpu = cpu
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var current = epoch.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins < spinIterations {
                    if spins > yieldAfterSpins && spins % 64 == 0 { sched_yield() } else { spinPause() }
                } else {
                    park(seen: seen)
                    spins = 0
                }
                current = epoch.load(ordering: .acquiring)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            runCurrentJob(index: index)
            pending.subtract(1, ordering: .releasing)
        }
    }

    /// Kept out of line so the worker's reference to the closure is released before it counts
    /// down `pending` (the caller checks that the closure did not escape).
    @inline(never)
    private func runCurrentJob(index: Int) {
        job?(index)
    }

    private func park(seen: Int) {
        pthread_mutex_lock(mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        while epoch.load(ordering: .sequentiallyConsistent) == seen {
            pthread_cond_wait(wakeup, mutex)
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
    }

    /// One step of a wait that should not last: pause, and after `yieldAfterSpins` steps yield.
    @inline(__always)
    private func backOff(_ spins: inout Int) {
        spins += 1
        if spins < yieldAfterSpins { spinPause() } else { sched_yield() }
    }

    @inline(__always)
    private func spinPause() {
        gpt2_cpu_pause()
    }

    private static func pinCurrentThread(to cpu: Int) {
        _ = gpt2_pin_current_thread(Int32(cpu))
    }

    /// The CPUs this process may run on (its affinity mask), in ascending order.
    public static func availableCPUs() -> [Int] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let n = Int(gpt2_allowed_cpus(&cpus, Int32(cpus.count)))
        if n <= 0 { return Array(0..<max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))) }
        return cpus[0..<n].map(Int.init)
    }
}
