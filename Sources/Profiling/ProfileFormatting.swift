// The outputs of `gpt2 profile`: Markdown tables, a Chrome trace-event file and an HTML report.

import Foundation
import ModelIO

extension PhaseSummary {
    /// The heading line of the phase: steps, tokens and speed.
    public var headline: String {
        let tps = stepNanoseconds == 0 ? 0 : Double(tokens) / (Double(stepNanoseconds) / 1e9)
        return "\(phase.rawValue): \(steps) step\(steps == 1 ? "" : "s"), \(tokens) tokens, "
            + String(format: "%.2f ms/step, %.1f tokens/s", millisecondsPerStep, tps)
    }

    /// Table (a): ops by total time, then the uncovered remainder, then the measured total.
    public func opTable() -> String {
        var lines = ["| op | calls | total ms | ms/token | % of step | GFLOP/s | GB/s | % of roofline |",
                     "|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows {
            let isRemainder = r.name == Self.uncoveredName
            let roofline = r.rooflinePercent.map { String(format: "%.0f%%", $0) + " (\(r.bound))" } ?? (isRemainder ? "" : "no calibration")
            lines.append("| \(r.name) | \(r.calls) | \(String(format: "%.3f", isRemainder ? Double(uncoveredNanoseconds) / 1e6 : r.totalMilliseconds)) | "
                + String(format: "%.4f | %.1f%% | ", r.millisecondsPerToken, r.percentOfStep)
                + (isRemainder ? " |  | " : String(format: "%.1f | %.1f | ", r.gflops, r.gbs)) + roofline + " |")
        }
        lines.append(String(format: "| **measured steps** | %d | %.3f | %.4f | 100.0%% |  |  |  |",
                            steps, Double(stepNanoseconds) / 1e6, Double(stepNanoseconds) / 1e6 / Double(max(tokens, 1))))
        return lines.joined(separator: "\n")
    }

    /// Table (c), when threads were recorded: each thread's milliseconds inside each op's parallel
    /// regions, and the share of thread-time that was busy.
    public func threadTable() -> String? {
        let ops = rows.filter { !$0.threadBusyMilliseconds.isEmpty }
        guard let threads = ops.first?.threadBusyMilliseconds.count else { return nil }
        var lines = ["| op | total ms | " + (0..<threads).map { "thread \($0) ms" }.joined(separator: " | ") + " | threads busy |",
                     "|---|" + String(repeating: "---:|", count: threads + 2)]
        for r in ops {
            lines.append("| \(r.name) | " + String(format: "%.3f", r.totalMilliseconds) + " | "
                + r.threadBusyMilliseconds.map { String(format: "%.3f", $0) }.joined(separator: " | ")
                + " | " + (r.threadsBusyPercent.map { String(format: "%.0f%%", $0) } ?? "") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// Table (b): milliseconds of each block op in each layer.
    public func layerTable() -> String {
        var lines = ["| layer | " + layerOps.joined(separator: " | ") + " | total |",
                     "|---:|" + String(repeating: "---:|", count: layerOps.count + 1)]
        for (l, row) in layerMilliseconds.enumerated() {
            lines.append("| \(l) | " + row.map { String(format: "%.3f", $0) }.joined(separator: " | ")
                + String(format: " | %.3f |", row.reduce(0, +)))
        }
        return lines.joined(separator: "\n")
    }
}

/// Escapes text for XML/HTML content and attributes.
func xmlEscaped(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

extension ProfileRecording {
    /// Process ids of the trace: the graph (steps and ops) and the pool's threads.
    public static let graphProcess = 1, threadsProcess = 2

    /// Chrome trace-event JSON (chrome://tracing, Perfetto). Process 1 has a track of steps and
    /// a track of ops; process 2 has one track per pool thread with the spans that thread spent
    /// inside each parallel region, named after the op that ran it. Single-threaded work (tiny
    /// ops a kernel runs without a region) shows on the op track only.
    public func chromeTrace() -> String {
        let origin = steps.map(\.start).min() ?? events.map(\.start).min() ?? 0
        func us(_ t: UInt64) -> String { String(format: "%.3f", Double(Int64(bitPattern: t &- origin)) / 1e3) }
        func dur(_ a: UInt64, _ b: UInt64) -> String { String(format: "%.3f", Double(b - a) / 1e3) }
        var items: [String] = [
            #"{"name":"process_name","ph":"M","pid":1,"args":{"name":"graph"}}"#,
            #"{"name":"thread_name","ph":"M","pid":1,"tid":0,"args":{"name":"steps"}}"#,
            #"{"name":"thread_name","ph":"M","pid":1,"tid":1,"args":{"name":"ops"}}"#,
            #"{"name":"process_name","ph":"M","pid":2,"args":{"name":"pool threads"}}"#,
        ]
        for t in 0..<threadCount {
            items.append(#"{"name":"thread_name","ph":"M","pid":2,"tid":\#(t),"args":{"name":"thread \#(t)"}}"#)
        }
        for s in steps {
            items.append(#"{"name":"\#(s.phase.rawValue) (\#(s.tokens) tokens)","cat":"step","ph":"X","ts":\#(us(s.start)),"dur":\#(dur(s.start, s.end)),"pid":1,"tid":0}"#)
        }
        for e in events {
            items.append(#"{"name":\#(jsonStringLiteral(e.name)),"cat":"op","ph":"X","ts":\#(us(e.start)),"dur":\#(dur(e.start, e.end)),"pid":1,"tid":1,"args":{"layer":\#(e.layer),"tokens":\#(e.tokens),"phase":"\#(e.phase.rawValue)"}}"#)
        }
        let sorted = events.sorted { $0.start < $1.start }
        for span in threadSpans {
            let name = Self.enclosing(span, in: sorted)?.name ?? "region"
            items.append(#"{"name":\#(jsonStringLiteral(name)),"cat":"thread","ph":"X","ts":\#(us(span.start)),"dur":\#(dur(span.start, span.end)),"pid":2,"tid":\#(span.thread)}"#)
        }
        return "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n" + items.joined(separator: ",\n") + "\n]}\n"
    }

    /// The event (of `sorted`, ordered by start) whose interval contains `span`.
    static func enclosing(_ span: ThreadSpan, in sorted: [OpEvent]) -> OpEvent? {
        var low = 0, high = sorted.count  // first event starting after span.start
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid].start <= span.start { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let e = sorted[low - 1]
        return e.end >= span.end ? e : nil
    }
}

/// A self-contained HTML page (well-formed XHTML, inline SVG, no scripts or external files) with
/// bar charts and tables of the profile.
public func profileReportHTML(title: String, summaries: [PhaseSummary], notes: [String]) -> String {
    var html = """
    <!DOCTYPE html>
    <html xmlns="http://www.w3.org/1999/xhtml"><head><meta charset="utf-8"/><title>\(xmlEscaped(title))</title>
    <style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}\
    td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}\
    svg text{font-size:12px;font-family:sans-serif}</style></head><body>
    <h1>\(xmlEscaped(title))</h1>

    """
    for note in notes { html += "<p>\(xmlEscaped(note))</p>\n" }
    for s in summaries {
        html += "<h2>\(xmlEscaped(s.headline))</h2>\n"
        html += "<h3>Time per op (ms, all steps)</h3>\n"
        html += barChart(s.rows.map { ($0.name, $0.name == PhaseSummary.uncoveredName ? Double(max(s.uncoveredNanoseconds, 0)) / 1e6 : $0.totalMilliseconds) },
                         unit: "ms", color: s.phase == .prefill ? "#4878a8" : "#d0743c")
        html += "<table><tr><th>op</th><th>calls</th><th>total ms</th><th>ms/token</th><th>% of step</th><th>GFLOP/s</th><th>GB/s</th><th>% of roofline</th></tr>\n"
        for r in s.rows {
            let roofline = r.rooflinePercent.map { String(format: "%.0f%%", $0) + " (\(r.bound))" } ?? ""
            html += "<tr><td>\(xmlEscaped(r.name))</td><td>\(r.calls)</td>"
                + String(format: "<td>%.3f</td><td>%.4f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td>",
                         r.totalMilliseconds, r.millisecondsPerToken, r.percentOfStep, r.gflops, r.gbs)
                + "<td>\(xmlEscaped(roofline))</td></tr>\n"
        }
        html += "</table>\n<h3>Time per layer (ms)</h3>\n"
        html += barChart(s.layerMilliseconds.enumerated().map { ("layer \($0.offset)", $0.element.reduce(0, +)) },
                         unit: "ms", color: "#6a9a58")
        html += "<table><tr><th>layer</th>" + s.layerOps.map { "<th>\(xmlEscaped($0))</th>" }.joined() + "</tr>\n"
        for (l, row) in s.layerMilliseconds.enumerated() {
            html += "<tr><td>\(l)</td>" + row.map { String(format: "<td>%.3f</td>", $0) }.joined() + "</tr>\n"
        }
        html += "</table>\n"
        let threaded = s.rows.filter { !$0.threadBusyMilliseconds.isEmpty }
        if let threads = threaded.first?.threadBusyMilliseconds.count {
            html += "<h3>Threads busy inside each op's parallel regions (% of thread-time)</h3>\n"
            html += barChart(threaded.map { ($0.name, $0.threadsBusyPercent ?? 0) }, unit: "%", color: "#8a6bb0")
            html += "<table><tr><th>op</th><th>total ms</th>" + (0..<threads).map { "<th>thread \($0) ms</th>" }.joined() + "</tr>\n"
            for r in threaded {
                html += "<tr><td>\(xmlEscaped(r.name))</td>" + String(format: "<td>%.3f</td>", r.totalMilliseconds)
                    + r.threadBusyMilliseconds.map { String(format: "<td>%.3f</td>", $0) }.joined() + "</tr>\n"
            }
            html += "</table>\n"
        }
    }
    return html + "</body></html>\n"
}

/// A horizontal SVG bar chart, one labelled bar per item.
func barChart(_ items: [(label: String, value: Double)], unit: String, color: String) -> String {
    let rowHeight = 18, labelWidth = 170, barWidth = 480
    let height = rowHeight * items.count + 10
    let top = max(items.map(\.value).max() ?? 0, 1e-9)
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(labelWidth + barWidth + 110)\" height=\"\(height)\">\n"
    for (i, item) in items.enumerated() {
        let y = i * rowHeight + 5
        let w = max(0, item.value) / top * Double(barWidth)
        svg += "<text x=\"0\" y=\"\(y + 13)\">\(xmlEscaped(item.label))</text>"
            + String(format: "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" ", labelWidth, y, w, rowHeight - 4)
            + "fill=\"\(color)\"/>"
            + String(format: "<text x=\"%.1f\" y=\"%d\">%.3f ", Double(labelWidth) + w + 4, y + 13, item.value) + "\(unit)</text>\n"
    }
    return svg + "</svg>\n"
}
