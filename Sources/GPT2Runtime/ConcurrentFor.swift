import Dispatch
import Foundation

/// Runs `body` over `0..<count` split into contiguous chunks (about four per core) on
/// libdispatch's threads, and returns when every chunk is done.
///
/// For work off the inference path (packing and converting weights at load or export), where no
/// `ThreadPool` is running: its workers spin, and a second pool would compete with them. `body`
/// runs concurrently on disjoint ranges, so it must only write what its range owns.
public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let chunks = min(count, 4 * ProcessInfo.processInfo.activeProcessorCount)
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            box.value(c * count / chunks ..< (c + 1) * count / chunks)
        }
    }
}

/// Moves a value across a concurrency boundary the caller knows to be safe (disjoint writes).
private struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
