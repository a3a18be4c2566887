#!/usr/bin/env bash
# Builds the tests with a sanitizer and runs them: `scripts/sanitize.sh address|thread [ARGS…]`,
# ARGS passed to `swift test` (e.g. `--filter GPT2RuntimeTests`). Each sanitizer builds into its
# own scratch path (.build-asan, .build-tsan), so the plain debug and release builds stay as
# they are. Any report fails the run.
#   address  AddressSanitizer, with LeakSanitizer; scripts/lsan.supp lists the leaks that are not
#            this project's (Foundation's XML parser, XCTest's runner).
#   thread   ThreadSanitizer: the thread pool's spin waits, NUMA placement, the generator.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizer="${1:-}"
case "$sanitizer" in
    address) scratch=.build-asan ;;
    thread) scratch=.build-tsan ;;
    *) echo "usage: scripts/sanitize.sh address|thread [swift test arguments]" >&2; exit 64 ;;
esac
shift

scripts/install-deps.sh
swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"

# halt_on_error: stop at the first report, so the failing test is the last one printed.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp:print_suppressions=0}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" "$@"
