// Aggregation of a profile recording into the figures `gpt2 profile` prints: per-op totals with
// rates and roofline shares, a layer × op matrix, and the time no op accounts for.

import Calibration
import GPT2

/// One row of the per-op table.
public struct OpRow: Sendable, Equatable {
    public var name: String
    public var calls: Int
    public var totalNanoseconds: UInt64
    /// Total ÷ tokens of the phase.
    public var millisecondsPerToken: Double
    /// Share of the phase's summed step wall time, in percent.
    public var percentOfStep: Double
    public var gflops: Double
    public var gbs: Double
    /// Share of the roofline (the time the binding ceiling allows ÷ the time taken), percent;
    /// nil without calibration or for rows without a cost (the uncovered remainder).
    public var rooflinePercent: Double?
    /// "compute" or "memory": which ceiling binds; "" when unknown.
    public var bound: String
    /// Milliseconds each pool thread spent inside this op's parallel regions (empty when threads
    /// were not recorded).
    public var threadBusyMilliseconds: [Double] = []

    /// Share of thread-time inside parallel regions: Σ busy ÷ (threads × total), percent. Below
    /// 100%: time some threads waited (imbalance, barriers) or ran no region at all.
    public var threadsBusyPercent: Double? {
        guard !threadBusyMilliseconds.isEmpty, totalNanoseconds > 0 else { return nil }
        return threadBusyMilliseconds.reduce(0, +) / (Double(threadBusyMilliseconds.count) * totalMilliseconds) * 100
    }

    public var totalMilliseconds: Double { Double(totalNanoseconds) / 1e6 }
}

/// The figures of one phase.
public struct PhaseSummary: Sendable {
    /// The name of the remainder row: step time not inside any op.
    public static let uncoveredName = "(framework overhead)"

    public var phase: Phase
    public var steps: Int
    public var tokens: Int
    /// Sum of the steps' wall times.
    public var stepNanoseconds: UInt64
    /// Ops sorted by total time, largest first, then the uncovered remainder.
    public var rows: [OpRow]
    /// Step time not covered by any op (negative would mean overlapping events).
    public var uncoveredNanoseconds: Int64
    /// Block ops in graph order: the columns of `layerMilliseconds`.
    public var layerOps: [String]
    /// [layer][op] total milliseconds.
    public var layerMilliseconds: [[Double]]

    /// Summarises the events and steps of `phase`. `ceilings` (for `threads` threads) gives the
    /// roofline column.
    public init(recording: ProfileRecording, phase: Phase, ceilings: MachineCeilings?) {
        self.phase = phase
        let steps = recording.steps.filter { $0.phase == phase }
        let events = recording.events.filter { $0.phase == phase }
        self.steps = steps.count
        tokens = steps.reduce(0) { $0 + $1.tokens }
        stepNanoseconds = steps.reduce(0) { $0 + ($1.end - $1.start) }

        var order: [String] = []
        var totals: [String: (calls: Int, ns: UInt64, cost: OpCost)] = [:]
        for e in events {
            if totals[e.name] == nil { order.append(e.name) }
            let t = totals[e.name] ?? (0, 0, OpCost(flops: 0, bytes: 0))
            totals[e.name] = (t.calls + 1, t.ns + e.nanoseconds, t.cost + e.cost)
        }
        let covered = totals.values.reduce(UInt64(0)) { $0 + $1.ns }
        uncoveredNanoseconds = Int64(bitPattern: stepNanoseconds) - Int64(bitPattern: covered)

        let stepNs = Double(max(stepNanoseconds, 1)), tokenCount = Double(max(tokens, 1))
        let peak = ceilings?.fp32Peak(threads: recording.threadCount)
        let int8Peak = ceilings?.int8Peak(threads: recording.threadCount)
        let bandwidth = ceilings?.readBandwidth(threads: recording.threadCount)
        var rows = order.map { name -> OpRow in
            let t = totals[name]!
            let seconds = Double(max(t.ns, 1)) / 1e9
            var roofline: Double?, bound = ""
            // Integer work is rated against the int8 peak; where that was not measured (no VNNI)
            // an int8 op has no compute floor to compare with, and no roofline.
            let integerPeak: Double? = t.cost.intOps == 0 ? 1 : int8Peak
            if let peak, let integerPeak, let bandwidth, peak > 0, integerPeak > 0, bandwidth > 0, t.cost.operations + t.cost.bytes > 0 {
                let computeFloor = t.cost.flops / (peak * 1e9) + t.cost.intOps / (integerPeak * 1e9)
                let memoryFloor = t.cost.bytes / (bandwidth * 1e9)
                roofline = max(computeFloor, memoryFloor) / seconds * 100
                bound = computeFloor >= memoryFloor ? "compute" : "memory"
            }
            return OpRow(name: name, calls: t.calls, totalNanoseconds: t.ns,
                         millisecondsPerToken: Double(t.ns) / 1e6 / tokenCount,
                         percentOfStep: Double(t.ns) / stepNs * 100,
                         gflops: t.cost.operations / seconds / 1e9, gbs: t.cost.bytes / seconds / 1e9,
                         rooflinePercent: roofline, bound: bound)
        }
        if !recording.threadSpans.isEmpty {
            var busy: [String: [Double]] = [:]
            let sorted = recording.events.sorted { $0.start < $1.start }
            for span in recording.threadSpans {
                guard let e = ProfileRecording.enclosing(span, in: sorted), e.phase == phase else { continue }
                busy[e.name, default: [Double](repeating: 0, count: recording.threadCount)][span.thread] += Double(span.end - span.start) / 1e6
            }
            for i in rows.indices {
                rows[i].threadBusyMilliseconds = busy[rows[i].name] ?? [Double](repeating: 0, count: recording.threadCount)
            }
        }
        rows.sort { $0.totalNanoseconds != $1.totalNanoseconds ? $0.totalNanoseconds > $1.totalNanoseconds : $0.name < $1.name }
        let uncovered = UInt64(max(uncoveredNanoseconds, 0))
        rows.append(OpRow(name: Self.uncoveredName, calls: self.steps, totalNanoseconds: uncovered,
                          millisecondsPerToken: Double(uncovered) / 1e6 / tokenCount,
                          percentOfStep: Double(uncoveredNanoseconds) / stepNs * 100,
                          gflops: 0, gbs: 0, rooflinePercent: nil, bound: ""))
        self.rows = rows

        layerOps = [Op.ln1, .qkv, .attention, .attnProj, .ln2, .mlpUp, .mlpDown].map(\.rawValue)
        var matrix = [[Double]](repeating: [Double](repeating: 0, count: layerOps.count), count: recording.layers)
        let column = Dictionary(uniqueKeysWithValues: layerOps.enumerated().map { ($1, $0) })
        for e in events where e.layer >= 0 && e.layer < recording.layers {
            if let c = column[e.name] { matrix[e.layer][c] += Double(e.nanoseconds) / 1e6 }
        }
        layerMilliseconds = matrix
    }

    /// Milliseconds per step.
    public var millisecondsPerStep: Double { steps == 0 ? 0 : Double(stepNanoseconds) / 1e6 / Double(steps) }
}
