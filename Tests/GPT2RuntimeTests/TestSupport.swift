import Glibc
import GPT2Runtime

/// Every test sees the same "random" data (GPT2Runtime's SplitMix64).
typealias SeededGenerator = SplitMix64

/// Number of threads of this process right now (entries of /proc/self/task).
func processThreadCount() -> Int {
    guard let dir = opendir("/proc/self/task") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { count += 1 }
    }
    return count
}

/// Sleeps for `milliseconds` (long enough for idle pool workers to stop spinning and park).
func sleepMilliseconds(_ milliseconds: Int) {
    usleep(useconds_t(milliseconds * 1000))
}

/// Runs `body` on a new pthread and waits for it (for tests that pin the calling thread).
func onFreshThread(_ body: @escaping @Sendable () -> Void) {
    final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
    let box = Unmanaged.passRetained(Box(body))
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, box.toOpaque())
    precondition(rc == 0)
    pthread_join(thread, nil)
}

/// A value guarded by a pthread mutex, with `Mutex`'s `withLock`, for results that several pool
/// threads write. Not `Synchronization.Mutex`: on Linux its contended path runs inside the Swift
/// runtime, which ThreadSanitizer does not instrument, so TSan misses the lock's ordering and
/// reports every guarded access as a race. pthread calls are intercepted by TSan wherever made.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
