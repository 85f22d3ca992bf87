#!/usr/bin/env bash
# The second build of `make test`: every library, the binary and all the tests built under
# AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer (cmake -DEHLO_SANITIZE=ON) and
# the whole ctest suite run on it. A finding stops the process that meets it with an error (so
# its test fails) and leaves a report under BUILD/sanitizer-reports/; the run fails if any
# report is there at the end, whichever process wrote it (a server, a CLI command, a test).
#
#   run.sh BUILD_DIR [JOBS]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$1"
jobs="${2:-$(nproc)}"

# A folder configured some other way is configured again: this run is only worth its name
# on the sanitized build.
if [ ! -f "$build/build.ninja" ] || ! grep -q '^EHLO_SANITIZE:BOOL=ON$' "$build/CMakeCache.txt" 2>/dev/null; then
    # -O1: sanitizer reports stay readable and the build stays short; assertions are on.
    cmake -S "$root" -B "$build" -G Ninja -DEHLO_SANITIZE=ON -DCMAKE_BUILD_TYPE=Sanitize \
        -DCMAKE_CXX_FLAGS_SANITIZE="-O1" -DCMAKE_C_FLAGS_SANITIZE="-O1" >/dev/null
fi
cmake --build "$build" -j "$jobs"

reports="$build/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
# Servers started as root run as the daemon account: it writes its reports here too.
chmod 1777 "$reports"

# detect_leaks: LeakSanitizer at every exit; verify_asan_link_order=0: the disk-fault test
# preloads its EIO shim ahead of the runtime (the shim only wraps libc calls).
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:abort_on_error=0:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:verify_asan_link_order=0"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1:exitcode=87"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
# The tests that measure memory or time of the real build say SKIPPED here (tests/e2e/harness.py).
export EHLO_SANITIZED=1

status=0
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 900) || status=$?

if [ -n "$(ls -A "$reports")" ]; then
    echo "sanitizer: findings in $reports:" >&2
    for f in "$reports"/*; do
        echo "==== $f" >&2
        head -c 20000 "$f" >&2
    done
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "sanitizer: the suite failed under the sanitizers" >&2
    exit "$status"
fi
echo "sanitizer: the whole suite passed under ASan, LSan and UBSan, no report written"
