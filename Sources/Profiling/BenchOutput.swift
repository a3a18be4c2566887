// `gpt2 bench -o md|csv|json|jsonl|sql`.

import Calibration
import Foundation

/// Output formats of `gpt2 bench`.
public enum BenchFormat: String, CaseIterable, Sendable {
    case md, csv, json, jsonl, sql
}

extension Array where Element == BenchRecord {
    /// The records in `format`. JSON is one array, JSONL one object per line, CSV a header and
    /// rows (arrays as space-separated numbers, absent values empty), Markdown a llama-bench-style
    /// table followed by one line per model with its load time and peak RSS, SQL llama-bench's
    /// `CREATE TABLE IF NOT EXISTS test (…)` and one `INSERT` per record.
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
        case .sql:
            return sql()
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
                quoted(r.buildCommit), quoted(r.cpuInfo), r.testTime,
            ]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// llama-bench's SQL (SQLite) form: the table, then one `INSERT` per record; arrays are
    /// space-separated numbers in a TEXT column, absent values NULL.
    func sql() -> String {
        let columns = BenchRecord.CodingKeys.allCases
        func type(_ key: BenchRecord.CodingKeys) -> String {
            switch key {
            case .modelFilename, .modelType, .type, .numa, .test, .samplesNs, .samplesTs, .buildCommit, .cpuInfo, .testTime:
                "TEXT"
            case .modelSize, .modelNParams, .nThreads, .nPrompt, .nGen, .peakRssBytes, .weightBytesPerToken, .profiler:
                "INTEGER"
            case .avgNs, .stddevNs, .avgTs, .stddevTs, .latencyMsP50, .latencyMsP90, .latencyMsP99, .ttftMs, .loadMs,
                 .bandwidthGBs, .bandwidthShare:
                "REAL"
            }
        }
        var lines = ["CREATE TABLE IF NOT EXISTS test ("]
        for (i, key) in columns.enumerated() {
            lines.append("  \(key.rawValue) \(type(key))\(i < columns.count - 1 ? "," : "")")
        }
        lines += [");", ""]
        let names = columns.map(\.rawValue).joined(separator: ", ")
        for r in self {
            func text(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
            func number(_ v: Double?) -> String { v.map { String($0) } ?? "NULL" }
            let values: [String] = [
                text(r.modelFilename), text(r.modelType), String(r.modelSize), String(r.modelNParams), text(r.type),
                String(r.nThreads), text(r.numa), String(r.nPrompt), String(r.nGen), text(r.test),
                String(r.avgNs), String(r.stddevNs), String(r.avgTs), String(r.stddevTs),
                text(r.samplesNs.map(String.init).joined(separator: " ")),
                text(r.samplesTs.map { String($0) }.joined(separator: " ")),
                number(r.latencyMsP50), number(r.latencyMsP90), number(r.latencyMsP99), number(r.ttftMs),
                String(r.loadMs), String(r.peakRssBytes), r.weightBytesPerToken.map(String.init) ?? "NULL",
                number(r.bandwidthGBs), number(r.bandwidthShare), r.profiler ? "1" : "0",
                text(r.buildCommit), text(r.cpuInfo), text(r.testTime),
            ]
            lines.append("INSERT INTO test (\(names)) VALUES (\(values.joined(separator: ", ")));")
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
