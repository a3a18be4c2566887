// A fixed amount of work that uses none of swift-gpt2's code, timed right before and right after
// every end-to-end run. On this shared 2-vCPU host the share of the CPUs and of the memory
// bandwidth a process gets changes from minute to minute (two unchanged runs differed by 20–45%
// in median tokens/s), so absolute times cannot be compared across runs; the ratio of a run's
// time to the reference's, measured back to back, can: both slow down together when the
// machine is busy, and only a change in the runtime moves the ratio.
import Foundation
import Glibc

/// The resources the reference exercises, in proportion to what the end-to-end test is bound by.
enum ReferenceWork {
    /// Independent chains of 16-lane multiply-adds in registers, per thread: the CPU time the
    /// process gets (prompt processing is compute-bound).
    case compute
    /// The same, then a streaming read of a 256 MiB buffer (8× L3) four times, split over the
    /// threads: CPU time and memory bandwidth (generation streams every weight once per token,
    /// but on a busy host it is limited by CPU time as much).
    case computeAndMemory

    /// Runs the work once on `threads` threads (not the runtime's thread pool: a regression
    /// there must show in the ratio) and returns its wall time in nanoseconds.
    func nanoseconds(threads: Int) -> UInt64 {
        let start = DispatchTime.now().uptimeNanoseconds
        nonisolated(unsafe) let sums = UnsafeMutableBufferPointer<Float>.allocate(capacity: threads)
        defer { sums.deallocate() }
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var sum = multiplyAddChains(iterations: 16_000_000, seed: Float(thread))
            if case .computeAndMemory = self {
                let floats = referenceBuffer.count / threads / 64 * 64
                for _ in 0..<4 { sum += streamingSum(referenceBuffer.baseAddress! + thread * floats, count: floats) }
            }
            sums[thread] = sum
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        if sums.reduce(0, +) == .infinity { print("") }  // keeps the work alive
        return elapsed
    }
}

/// 8 independent multiply-add chains of 16 lanes (separate multiply and add: no FMA, whose
/// availability depends on the build target).
@inline(never)
func multiplyAddChains(iterations: Int, seed: Float) -> Float {
    let m = SIMD16<Float>(repeating: 0.9999), c = SIMD16<Float>(repeating: 1e-4)
    var a0 = SIMD16<Float>(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3
    var a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6, a7 = a0 + 7
    for _ in 0..<iterations {
        a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c
        a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c
    }
    return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7).sum()
}

/// Sums `count` floats (a multiple of 64) with 4 independent 16-lane accumulators.
@inline(never)
func streamingSum(_ p: UnsafePointer<Float>, count: Int) -> Float {
    let raw = UnsafeRawPointer(p)
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
    var i = 0
    while i < count {
        s0 += raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        s1 += raw.loadUnaligned(fromByteOffset: 4 * (i + 16), as: SIMD16<Float>.self)
        s2 += raw.loadUnaligned(fromByteOffset: 4 * (i + 32), as: SIMD16<Float>.self)
        s3 += raw.loadUnaligned(fromByteOffset: 4 * (i + 48), as: SIMD16<Float>.self)
        i += 64
    }
    return (s0 + s1 + s2 + s3).sum()
}

/// The memory reference's 256 MiB, on huge pages like the model's weights, written once (first
/// use is in a benchmark's setup, not in a timed iteration).
nonisolated(unsafe) let referenceBuffer: UnsafeMutableBufferPointer<Float> = {
    let bytes = 256 << 20
    var raw: UnsafeMutableRawPointer?
    guard posix_memalign(&raw, 2 << 20, bytes) == 0, let raw else { fatalError("cannot allocate the reference buffer") }
    _ = madvise(raw, bytes, MADV_HUGEPAGE)
    let floats = raw.bindMemory(to: Float.self, capacity: bytes / 4)
    for i in 0..<(bytes / 4) { floats[i] = Float(i & 1023) }
    return UnsafeMutableBufferPointer(start: floats, count: bytes / 4)
}()
