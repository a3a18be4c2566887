// `gpt2 bench -o md|csv|json|jsonl`.

import Calibration
import Foundation

/// Output formats of `gpt2 bench`.
public enum BenchFormat: String, CaseIterable, Sendable {
    case md, csv, json, jsonl
}

extension Array where Element == BenchRecord {
    /// The records in `format`. JSON is one array, JSONL one object per line, CSV a header and
    /// rows (arrays as space-separated numbers, absent values empty), Markdown a llama-bench-style
    /// table followed by one line per model with its load time and peak RSS.
    public func formatted(_ format: BenchFormat, ceilings: MachineCeilings?) throws -> String {
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
        case .jsonl:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return try map { String(decoding: try encoder.encode($0), as: UTF8.self) + "\n" }.joined()
        case .csv:
            return csv()
        case .md:
            return markdown(ceilings: ceilings)
        }
    }

    func csv() -> String {
        let keys = BenchRecord.CodingKeys.allCases.map(\.rawValue)
        var lines = [keys.joined(separator: ",")]
        for r in self {
            func number(_ v: Double?) -> String { v.map { String($0) } ?? "" }
            func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
            let fields: [String] = [
                quoted(r.modelFilename), quoted(r.modelType), String(r.modelSize), String(r.modelNParams), r.type,
                String(r.nThreads), r.numa, String(r.nPrompt), String(r.nGen), r.test,
                String(r.avgNs), String(r.stddevNs), String(r.avgTs), String(r.stddevTs),
                quoted(r.samplesNs.map(String.init).joined(separator: " ")),
                quoted(r.samplesTs.map { String($0) }.joined(separator: " ")),
                number(r.latencyMsP50), number(r.latencyMsP90), number(r.latencyMsP99), number(r.ttftMs),
                String(r.loadMs), String(r.peakRssBytes), r.weightBytesPerToken.map(String.init) ?? "",
                number(r.bandwidthGBs), number(r.bandwidthShare), String(r.profiler),
            ]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func markdown(ceilings: MachineCeilings?) -> String {
        let showNuma = contains { $0.numa != "off" }, showProfiler = contains { $0.profiler }
        var header = ["model", "size", "params", "type", "threads"]
        if showNuma { header.append("numa") }
        if showProfiler { header.append("profiler") }
        header += ["test", "t/s", "p50 ms", "p90 ms", "p99 ms", "TTFT ms", "weights GB/s", "% of read BW"]
        var lines = ["| " + header.joined(separator: " | ") + " |",
                     "|" + header.enumerated().map { $0.offset < 4 || $0.element == "test" || $0.element == "numa" ? " --- |" : " ---: |" }.joined()]
        func ms(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "" }
        for r in self {
            var row = [(r.modelFilename as NSString).lastPathComponent,
                       String(format: "%.2f MiB", Double(r.modelSize) / 1_048_576),
                       String(format: "%.2f M", Double(r.modelNParams) / 1e6), r.type, String(r.nThreads)]
            if showNuma { row.append(r.numa) }
            if showProfiler { row.append(r.profiler ? "on" : "off") }
            row += [r.test, String(format: "%.2f ± %.2f", r.avgTs, r.stddevTs),
                    ms(r.latencyMsP50), ms(r.latencyMsP90), ms(r.latencyMsP99), ms(r.ttftMs),
                    r.bandwidthGBs.map { String(format: "%.1f", $0) } ?? "",
                    r.bandwidthShare.map { String(format: "%.0f%%", $0 * 100) } ?? (r.bandwidthGBs == nil ? "" : "n/a")]
            lines.append("| " + row.joined(separator: " | ") + " |")
        }
        var seen = Set<String>()
        lines.append("")
        for r in self where seen.insert(r.modelFilename).inserted {
            let rss = map { $0.modelFilename == r.modelFilename ? $0.peakRssBytes : 0 }.max() ?? 0
            lines.append("\((r.modelFilename as NSString).lastPathComponent): loaded in \(String(format: "%.1f", r.loadMs)) ms, "
                + "peak RSS \(String(format: "%.1f", Double(rss) / 1_048_576)) MiB")
        }
        if ceilings == nil {
            lines.append("% of read BW: no calibration cached at \(MachineCeilings.cachePath); run `gpt2 calibrate`")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
