import Foundation
import Glibc

/// A status line on stderr for long work, rewritten in place (`\r`, then erase to the end of the
/// line) and erased when the work ends. It is shown only where someone watches it: stderr is a
/// terminal, no `--no-progress` was given and `GPT2_NO_PROGRESS` is not set. Logs and pipes get
/// nothing from it.
final class ProgressLine {
    let isEnabled: Bool
    private var isShown = false

    init(disabled: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment) {
        isEnabled = !disabled && isatty(STDERR_FILENO) == 1 && (environment["GPT2_NO_PROGRESS"] ?? "").isEmpty
    }

    /// Replaces the line with `text`.
    func update(_ text: String) {
        guard isEnabled else { return }
        FileHandle.standardError.write(Data(("\r" + text + "\u{1B}[K").utf8))
        isShown = true
    }

    /// Erases the line (before other output, and when the work ends).
    func clear() {
        guard isShown else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        isShown = false
    }

    /// "1:05" or "1:02:03", for an ETA.
    static func clock(seconds: Double) -> String {
        let total = Int(seconds.rounded(.up)), h = total / 3600, m = total / 60 % 60, s = total % 60
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }
}
