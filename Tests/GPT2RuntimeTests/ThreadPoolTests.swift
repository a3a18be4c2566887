import Glibc
import GPT2Runtime
import Synchronization
import Testing

/// Checks that `ranges` are non-empty, disjoint and together cover `0..<count` exactly once.
private func tilesExactly(_ ranges: [Range<Int>], _ count: Int) -> Bool {
    var next = 0
    for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
        if range.isEmpty || range.lowerBound != next { return false }
        next = range.upperBound
    }
    return next == count
}

/// The ranges that `split` hands to the body it is given (which may run on several threads).
private func rangesVisited(_ split: (_ body: (Range<Int>) -> Void) -> Void) -> [Range<Int>] {
    let ranges = Locked<[Range<Int>]>([])
    split { range in ranges.withLock { $0.append(range) } }
    return ranges.withLock { $0 }
}

/// The libdispatch `parallelFor` used off the inference path.
@Test(arguments: [0, 1, 2, 3, 17, 1000, 100_000])
func dispatchParallelForCoversEachIndexOnce(count: Int) {
    let got = rangesVisited { parallelFor(count, $0) }
    #expect(tilesExactly(got, count), "n=\(count): \(got)")
}

@Suite("ThreadPool", .serialized)
struct ThreadPoolTests {
    // MARK: run

    @Test("run() calls every thread index exactly once per region", arguments: 1...4)
    func runCallsEachIndexOnce(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        #expect(pool.threadCount == threads)
        let perIndex = AlignedBuffer<Int>(count: threads)
        let calls = Atomic<Int>(0)
        let outOfRange = Atomic<Int>(0)
        let regions = 2_000
        for region in 0..<regions {
            pool.run { index in
                guard index >= 0 && index < threads else { outOfRange.add(1, ordering: .relaxed); return }
                // Each index owns its slot; a second call for the same index in one region shows up
                // as a count ahead of `region + 1`.
                perIndex.pointer[index] += 1
                calls.add(1, ordering: .relaxed)
            }
            // After run() returns, every thread has finished: all slots are up to date.
            if (0..<threads).contains(where: { perIndex.pointer[$0] != region + 1 }) { break }
        }
        #expect(outOfRange.load(ordering: .relaxed) == 0)
        #expect(calls.load(ordering: .relaxed) == regions * threads)
        #expect((0..<threads).map { perIndex.pointer[$0] } == Array(repeating: regions, count: threads))
    }

    @Test("run() on the caller: thread 0 is the calling thread")
    func threadZeroIsCaller() {
        let pool = ThreadPool(threadCount: 3)
        let caller = pthread_self()
        let zeroOnCaller = Atomic<Bool>(false)
        let othersOnCaller = Atomic<Int>(0)
        pool.run { index in
            let same = pthread_equal(pthread_self(), caller) != 0
            if index == 0 { zeroOnCaller.store(same, ordering: .relaxed) }
            else if same { othersOnCaller.add(1, ordering: .relaxed) }
        }
        #expect(zeroOnCaller.load(ordering: .relaxed) == true)
        #expect(othersOnCaller.load(ordering: .relaxed) == 0)
    }

    // MARK: parallelFor

    @Test("parallelFor covers 0..<n exactly once",
          arguments: [0, 1, 2, 3, 16, 17, 1000], 1...4)
    func parallelForCovers(count: Int, threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        for granularity in [1, 2, 3, 4, 16, 64, 2000] {
            let got = rangesVisited { pool.parallelFor(count, granularity: granularity, $0) }
            let context = "n=\(count) threads=\(threads) granularity=\(granularity): \(got)"
            #expect(tilesExactly(got, count), "\(context)")
            #expect(got.count <= threads, "\(context)")
            // Boundaries are multiples of the granularity and the parts are balanced: in units of
            // `granularity`, sizes differ by at most one (the last part may be cut short by n).
            let sorted = got.sorted { $0.lowerBound < $1.lowerBound }
            #expect(sorted.allSatisfy { $0.lowerBound % granularity == 0 }, "\(context)")
            if count > 0 {
                let units = (count + granularity - 1) / granularity
                #expect(sorted.count == min(threads, units), "\(context)")
                let unitSizes = sorted.map { ($0.count + granularity - 1) / granularity }
                #expect(unitSizes.max()! - unitSizes.min()! <= 1, "\(context)")
            }
        }
        // Default granularity.
        let hits = AlignedBuffer<Int>(count: max(count, 1))
        pool.parallelFor(count) { range in
            for i in range { hits.pointer[i] += 1 }
        }
        #expect((0..<count).allSatisfy { hits.pointer[$0] == 1 })
    }

    @Test("staticRange partitions 0..<units into near-equal contiguous parts")
    func staticRangePartitions() {
        for units in 0...70 {
            for parts in 1...9 {
                let ranges = (0..<parts).map { ThreadPool.staticRange(units: units, parts: parts, part: $0) }
                var next = 0
                for range in ranges {
                    #expect(range.lowerBound == next, "units=\(units) parts=\(parts): \(ranges)")
                    next = range.upperBound
                }
                #expect(next == units, "units=\(units) parts=\(parts)")
                let sizes = ranges.map(\.count)
                #expect(sizes.max()! - sizes.min()! <= 1, "units=\(units) parts=\(parts): \(sizes)")
                // Larger parts come first.
                #expect(sizes == sizes.sorted(by: >), "units=\(units) parts=\(parts): \(sizes)")
            }
        }
    }

    // MARK: parallelForChunked

    @Test("parallelForChunked covers 0..<n exactly once",
          arguments: [0, 1, 2, 3, 16, 17, 1000], 1...4)
    func parallelForChunkedCovers(count: Int, threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        for chunk in [1, 2, 3, 16, 1000, 5000] {
            let got = rangesVisited { pool.parallelForChunked(count, chunk: chunk, $0) }
            let context = "n=\(count) threads=\(threads) chunk=\(chunk)"
            #expect(tilesExactly(got, count), "\(context): \(got.sorted { $0.lowerBound < $1.lowerBound })")
            if threads > 1 && count > chunk {  // one thread takes 0..<n in one call
                #expect(got.allSatisfy { $0.count <= chunk && $0.lowerBound % chunk == 0 }, "\(context)")
            }
        }
    }

    @Test("parallelForChunked: every item is visited exactly once under uneven work", arguments: 2...4)
    func parallelForChunkedUnevenWork(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        let count = 300
        let hits = AlignedBuffer<Int>(count: count)
        let checksum = Atomic<Int>(0)
        for _ in 0..<20 {
            pool.parallelForChunked(count, chunk: 1) { range in
                for i in range {
                    hits.pointer[i] += 1
                    var s = 0
                    for j in 0..<(i * 7 % 301) { s &+= j }  // work that varies per item
                    checksum.add(s & 1, ordering: .relaxed)
                }
            }
        }
        #expect((0..<count).allSatisfy { hits.pointer[$0] == 20 })
    }

    // MARK: barrier

    @Test("barrier() separates the phases of a region", arguments: 1...4)
    func barrierOrdersPhases(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        let slots = AlignedBuffer<Int>(count: threads * 16)  // one cache line per thread
        let errors = AlignedBuffer<Int>(count: threads * 16)
        let passes = AlignedBuffer<Int>(count: threads * 16)
        // More threads than the machine's cores make spinning waits slow: fewer iterations then.
        let regions = 20
        let iterations = threads <= 2 ? 250 : 100
        for region in 0..<regions {
            pool.run { t in
                for i in 0..<iterations {
                    let stamp = (region * iterations + i + 1) * 1000
                    slots.pointer[t * 16] = stamp + t                   // phase 1: write own slot
                    pool.barrier()
                    for s in 0..<threads where slots.pointer[s * 16] != stamp + s {
                        errors.pointer[t * 16] += 1                     // phase 2: read everyone's
                    }
                    pool.barrier()                                      // nobody writes before all read
                    passes.pointer[t * 16] += 1
                }
            }
        }
        #expect((0..<threads).map { errors.pointer[$0 * 16] } == Array(repeating: 0, count: threads))
        #expect((0..<threads).map { passes.pointer[$0 * 16] }
                == Array(repeating: regions * iterations, count: threads))
    }

    // MARK: many regions, parking and wake-up

    @Test("100 000 consecutive tiny regions complete", arguments: [2, 3])
    func manyTinyRegions(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        let perIndex = AlignedBuffer<Int>(count: threads * 16)
        let regions = threads == 2 ? 100_000 : 20_000
        for _ in 0..<regions {
            pool.run { index in perIndex.pointer[index * 16] += 1 }
        }
        #expect((0..<threads).map { perIndex.pointer[$0 * 16] } == Array(repeating: regions, count: threads))
        // Mixed with parallelFor / parallelForChunked regions.
        let total = Atomic<Int>(0)
        for i in 0..<10_000 {
            if i % 2 == 0 {
                pool.parallelFor(3) { range in total.add(range.count, ordering: .relaxed) }
            } else {
                pool.parallelForChunked(5, chunk: 1) { range in total.add(range.count, ordering: .relaxed) }
            }
        }
        #expect(total.load(ordering: .relaxed) == 5_000 * 3 + 5_000 * 5)
    }

    @Test("regions after idle gaps wake parked workers", arguments: 2...4)
    func regionsAfterSleeps(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        let perIndex = AlignedBuffer<Int>(count: threads * 16)
        let gaps = [2, 5, 20, 3, 10, 2, 15, 7]
        for (round, gap) in gaps.enumerated() {
            sleepMilliseconds(gap)  // workers spin < 1 ms, then park on the condition variable
            pool.run { index in perIndex.pointer[index * 16] += 1 }
            // A few back-to-back regions right after the wake-up, with a barrier in one.
            for _ in 0..<3 { pool.run { index in perIndex.pointer[index * 16] += 1 } }
            pool.run { index in
                pool.barrier()
                perIndex.pointer[index * 16] += 1
            }
            #expect((0..<threads).allSatisfy { perIndex.pointer[$0 * 16] == (round + 1) * 5 },
                    "round \(round) after \(gap) ms")
        }
    }

    // MARK: lifetime

    @Test("deinit stops and joins the workers (50 pools)")
    func deinitJoinsThreads() {
        let before = processThreadCount()
        var released = 0
        var createdWorkers = 0
        for i in 0..<50 {
            let threads = 2 + i % 3
            createdWorkers += threads - 1
            weak var weakPool: ThreadPool?
            do {
                let pool = ThreadPool(threadCount: threads)
                weakPool = pool
                switch i % 5 {
                case 0: break                                   // destroyed before any region
                case 1: pool.run { _ in }                       // destroyed while workers spin
                case 2: pool.run { _ in }; sleepMilliseconds(3)  // destroyed while workers park
                default:
                    let n = Atomic<Int>(0)
                    pool.parallelFor(100) { n.add($0.count, ordering: .relaxed) }
                    #expect(n.load(ordering: .relaxed) == 100)
                }
            }
            if weakPool == nil { released += 1 }
        }
        #expect(released == 50, "pools still alive after their last reference went away")
        let after = processThreadCount()
        // 100 workers were created; with leaks they would all still exist. Other tests running
        // at the same time may own a few threads, hence the slack.
        #expect(after - before < 40, "threads before: \(before), after: \(after), workers created: \(createdWorkers)")
    }

    @Test("workers are pinned to the CPUs given")
    func pinning() {
        let cpus = ThreadPool.availableCPUs()
        onFreshThread {  // the pool pins its calling thread too: keep that off the test's threads
            let pool = ThreadPool(threadCount: 3, cpus: cpus)
            let affinity = Locked<[Int: [Int]]>([:])
            pool.run { index in
                let mine = ThreadPool.availableCPUs()  // affinity of the calling thread
                affinity.withLock { $0[index] = mine }
            }
            let got = affinity.withLock { $0 }
            for index in 0..<3 {
                #expect(got[index] == [cpus[index % cpus.count]], "thread \(index): \(got[index] ?? [])")
            }
        }
    }

    @Test("availableCPUs lists distinct CPUs in ascending order")
    func availableCPUs() {
        let cpus = ThreadPool.availableCPUs()
        #expect(!cpus.isEmpty)
        #expect(cpus == cpus.sorted())
        #expect(Set(cpus).count == cpus.count)
        #expect(cpus.allSatisfy { $0 >= 0 })
    }
}
