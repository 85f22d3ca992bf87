#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (a build of tests/fuzz on its own, in FUZZ_BUILD_DIR)
# and runs each for FUZZ_TIME seconds, one after the other, on a copy of its committed corpus.
# Any crash, leak, sanitizer finding or failed check fails the run; the input that did it is
# kept in FUZZ_BUILD_DIR/crashes/. See tests/fuzz/README.md.
#
#   FUZZ_TIME          seconds per target (default 12: `make test`; `make fuzz` gives 300)
#   FUZZ_CORPUS_DIR    where the working corpora live and grow, one folder per target; default a
#                      temporary folder removed at the end (the committed corpus is never written)
#   FUZZ_BUILD_DIR     default build-fuzz
#   FUZZ_TARGETS       default all: session address client_reply config spool_record maildrop
#   JOBS               build parallelism (default: nproc)
#
# Without clang++ or its libFuzzer runtime the run says SKIPPED and exits 0: it has not passed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
fuzz_time="${FUZZ_TIME:-12}"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
targets="${FUZZ_TARGETS:-session address client_reply config spool_record maildrop}"
jobs="${JOBS:-$(nproc)}"

# The longest input worth trying, per target: a dialog, a path, a reply stream, a file.
max_len() {
    case "$1" in
        address) echo 600 ;;
        spool_record) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

scratch="$(mktemp -d "${TMPDIR:-/tmp}/ehlo-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

skip() {
    echo "fuzz: SKIPPED ($1): the libFuzzer targets were not run"
    exit 0
}
command -v clang++ >/dev/null || skip "clang++ not found; Debian: apt-get install clang"
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' > "$scratch/probe.cpp"
clang++ -fsanitize=fuzzer,address,undefined "$scratch/probe.cpp" -o "$scratch/probe" 2>/dev/null ||
    skip "clang++ cannot link -fsanitize=fuzzer; Debian: apt-get install libclang-rt-14-dev"
command -v cmake >/dev/null && command -v ninja >/dev/null || skip "cmake or ninja not found"

start=$(date +%s)
if [ ! -f "$build/build.ninja" ]; then
    cmake -S "$here" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ >"$scratch/configure.log" 2>&1 ||
        { cat "$scratch/configure.log"; echo "fuzz: the clang build could not be configured"; exit 1; }
fi
cmake --build "$build" -j "$jobs" --target $(for t in $targets; do echo "fuzz_$t"; done) >"$scratch/build.log" 2>&1 ||
    { tail -50 "$scratch/build.log"; echo "fuzz: the clang build failed"; exit 1; }
echo "fuzz: built in $(($(date +%s) - start)) s; running each target for $fuzz_time s"

corpora="${FUZZ_CORPUS_DIR:-$scratch/corpus}"
mkdir -p "$build/crashes"
passed=0
failed=0
for t in $targets; do
    work="$corpora/$t"
    mkdir -p "$work"
    cp -n "$here/corpus/$t"/* "$work/" 2>/dev/null || true
    log="$scratch/$t.log"
    # A check that fails aborts; LeakSanitizer reports leaks. What a target writes goes to the
    # scratch folder (TMPDIR), removed even when the target died.
    if (cd "$scratch" && TMPDIR="$scratch" "$build/fuzz_$t" "$work" -max_total_time="$fuzz_time" -max_len="$(max_len "$t")" \
            -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$build/crashes/$t-" -print_final_stats=1) >"$log" 2>&1; then
        passed=$((passed + 1))
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz: $t passed (${runs:-?} inputs in $fuzz_time s, corpus $(ls "$work" | wc -l) files)"
    else
        failed=$((failed + 1))
        tail -60 "$log"
        echo "fuzz: $t FAILED; the input is in $build/crashes/ (see tests/fuzz/README.md)"
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
