import ArgumentParser
import Calibration
import Foundation
import GPT2
import Profiling
import GPT2Runtime

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time every op of prefill and decode, per layer, with roofline shares.",
        discussion: """
            Runs one prefill step of -p random tokens and -n decode steps (each step: evaluate, \
            then sample with llama.cpp's default chain) after an untimed warm-up, timing every op \
            of the graph. Prints per phase (a) the ops by total time with GFLOP/s, GB/s and the \
            share of the roofline ceiling that binds (from `gpt2 calibrate`'s cache), (b) a \
            layer × op matrix, and the step time no op covers. --trace writes a Chrome \
            trace-event file (chrome://tracing, ui.perfetto.dev) with one track per pool thread; \
            --report a self-contained HTML page with the same figures as charts.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .short, parsing: .unconditional, help: "Prompt tokens of the prefill step.")
    var p = 128

    @Option(name: .short, parsing: .unconditional, help: "Decode steps.")
    var n = 64

    @Option(help: "Write a Chrome trace-event JSON file.")
    var trace: String?

    @Option(help: "Write a self-contained HTML report.")
    var report: String?

    @Option(parsing: .unconditional, help: "Seed of the random prompt and the sampler.")
    var seed: UInt64 = 0

    func validate() throws {
        guard p >= 1 else { throw ValidationError("-p must be at least 1, got \(p)") }
        guard n >= 0 else { throw ValidationError("-n must not be negative, got \(n)") }
    }

    func run() throws {
        let path = try modelOptions.resolvedModelPath()
        let model = try GPT2Model.load(path: path)
        let threads = modelOptions.threads ?? ThreadPool.availableCPUs().count
        let recording = try ProfileRunner.run(
            model: model, options: ProfileOptions(promptTokens: p, generatedTokens: n, threads: threads,
                                                  recordThreads: trace != nil, seed: seed, numa: modelOptions.numa))
        let ceilings = MachineCeilings.loadCached()
        let summaries = Phase.allCases.map { PhaseSummary(recording: recording, phase: $0, ceilings: ceilings) }
            .filter { $0.steps > 0 }
        var notes = ["model: \(path) (\(model.config.nLayer) layers, \(model.storageType)), \(recording.threadCount) threads, numa \(recording.numa.rawValue)"]
        if let ceilings {
            let int8 = ceilings.int8Peak(threads: threads).map { String(format: ", %.0f GOP/s int8", $0) } ?? ", int8 peak not measured (no VNNI)"
            notes.append("roofline: " + String(format: "%.0f GFLOP/s fp32", ceilings.fp32Peak(threads: threads) ?? 0) + int8
                + String(format: ", %.1f GB/s read", ceilings.readBandwidth(threads: threads) ?? 0)
                + " (gpt2 calibrate, \(ceilings.measuredAt))")
        } else {
            notes.append("roofline: no calibration cached at \(MachineCeilings.cachePath); run `gpt2 calibrate`")
        }
        var out = notes.joined(separator: "\n") + "\n"
        for s in summaries {
            out += "\n## \(s.headline)\n\n\(s.opTable())\n\n### \(s.phase.rawValue): ms per layer and op\n\n\(s.layerTable())\n"
            if let threads = s.threadTable() {
                out += "\n### \(s.phase.rawValue): ms each thread spent inside parallel regions\n\n\(threads)\n"
            }
        }
        print(out, terminator: "")
        if let trace {
            try write(recording.chromeTrace(), to: trace)
            printError("trace: \(trace) (\(recording.threadSpans.count) thread spans"
                + (recording.droppedSpans > 0 ? ", \(recording.droppedSpans) dropped" : "") + ")")
        }
        if let report {
            try write(profileReportHTML(title: "gpt2 profile: \((path as NSString).lastPathComponent)", summaries: summaries, notes: notes), to: report)
            printError("report: \(report)")
        }
    }

    private func write(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
            throw ValidationError("cannot write \(path): \(fileErrorReason(error) ?? "\(error)")")
        }
    }
}
