import Foundation
import ModelIO
import Synchronization

/// SIGINT, SIGTERM and SIGHUP for the whole process.
///
/// `install()` blocks the three signals before any other thread exists (threads inherit the
/// mask), and one thread takes them with `sigwait`, so what runs on a signal is ordinary code
/// (locks, formatting, writes), not an async-signal handler. A signal the process was started
/// with ignored stays ignored (`nohup` ignores SIGHUP, a shell ignores SIGINT in background jobs). By default a signal removes the
/// temporary files of unfinished atomic writes (`TemporaryFiles`) and ends the process by that
/// same signal, so a shell sees 130 for SIGINT and 143 for SIGTERM. A command can take over the
/// next SIGINT with `onInterrupt`; a second SIGINT ends the process as by default.
enum Signals {
    /// The signals taken, fixed by `install()`: those not ignored when the process started.
    nonisolated(unsafe) private static var handled: [Int32] = []
    private static let interruptHandler = Mutex<(@Sendable () -> Void)?>(nil)

    /// Call first thing in `main`, before any thread starts.
    static func install() {
        handled = [SIGINT, SIGTERM, SIGHUP].filter { !isIgnored($0) }
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        Thread.detachNewThread { waitForSignals() }
    }

    /// The next SIGINT calls `handler` on the signal thread instead of ending the process.
    static func onInterrupt(_ handler: @escaping @Sendable () -> Void) {
        interruptHandler.withLock { $0 = handler }
    }

    /// A flag that the next SIGINT raises, for a loop that stops cleanly when it sees it.
    static func interruptFlag() -> InterruptFlag {
        let flag = InterruptFlag()
        onInterrupt { flag.raise() }
        return flag
    }

    private static func waitForSignals() -> Never {
        var set = signalSet()
        while true {
            var signal: Int32 = 0
            guard sigwait(&set, &signal) == 0 else { continue }
            let handler = signal == SIGINT ? interruptHandler.withLock { handler in defer { handler = nil }; return handler } : nil
            if let handler { handler() } else { terminate(by: signal) }
        }
    }

    /// Removes unfinished temporary files, then ends the process by `signal` (its default action).
    private static func terminate(by signal: Int32) -> Never {
        TemporaryFiles.removeAll()
        Glibc.signal(signal, SIG_DFL)
        var only = sigset_t()
        sigemptyset(&only)
        sigaddset(&only, signal)
        pthread_sigmask(SIG_UNBLOCK, &only, nil)
        raise(signal)  // this thread no longer blocks it: the process ends here
        _exit(128 + signal)
    }

    private static func isIgnored(_ signal: Int32) -> Bool {
        var current = sigaction()
        sigaction(signal, nil, &current)
        return unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == 1  // SIG_IGN
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        return set
    }
}

/// Raised by a SIGINT (see `Signals.interruptFlag()`), read by the loop that should stop.
final class InterruptFlag: Sendable {
    private let raised = Atomic(false)
    var isRaised: Bool { raised.load(ordering: .relaxed) }
    func raise() { raised.store(true, ordering: .relaxed) }
}

/// Exit status of a command stopped by Ctrl-C after reporting what it had done (128 + SIGINT).
let interruptedExitStatus: Int32 = 130
