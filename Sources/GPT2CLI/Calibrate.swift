import ArgumentParser
import Foundation
import Calibration
import GPT2Runtime

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure this machine's read bandwidth and compute peaks; cache them for bench and profile.",
        discussion: """
            Streaming read bandwidth (a buffer much larger than the L3 cache, huge pages \
            requested), the fp32 FMA peak (register-blocked SIMD16 multiply-adds) and, when the \
            build targets a CPU with AVX-512 VNNI, the int8 vpdpbusd peak, each on 1…N threads, \
            best of several runs. Takes a few seconds. The results are written to \
            \(MachineCeilings.cachePath).
            """)

    @Option(name: [.short, .long], parsing: .unconditional, help: "Measure 1…THREADS threads (default: every CPU this process may use).")
    var threads: Int?

    @Option(name: .customLong("buffer-mib"), parsing: .unconditional, help: "Size of the bandwidth buffer in MiB.")
    var bufferMiB = 512

    @Option(name: .short, parsing: .unconditional, help: "Runs of each measurement; the best counts.")
    var r = 5

    @Flag(help: "Print the cached calibration without measuring.")
    var show = false

    func validate() throws {
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be between 1 and 1024, got \(threads)") }
        guard bufferMiB >= 64 else { throw ValidationError("--buffer-mib must be at least 64 (the L3 cache is 32 MiB), got \(bufferMiB)") }
        guard r >= 1 else { throw ValidationError("-r must be at least 1, got \(r)") }
        if let threads { warnIfOversubscribed(threads: threads, option: "--threads") }
    }

    func run() throws {
        let path = MachineCeilings.cachePath
        if show {
            guard let cached = MachineCeilings.loadCached() else { throw ValidationError("no calibration cached at \(path); run `gpt2 calibrate`") }
            print(cached.table())
            print("measured \(cached.measuredAt), cached at \(path)")
            return
        }
        let maxThreads = threads ?? ThreadPool.availableCPUs().count
        printError("calibrate: 1…\(maxThreads) threads, \(bufferMiB) MiB buffer, best of \(r)"
            + (Calibrator.canMeasureVNNI ? "" : "; int8 VNNI not measured (this build or CPU has no AVX-512 VNNI)"))
        let ceilings = Calibrator.measure(maxThreads: maxThreads, bufferBytes: bufferMiB << 20, repetitions: r)
        try ceilings.save()
        print(ceilings.table())
        print("cached at \(path)")
    }
}
