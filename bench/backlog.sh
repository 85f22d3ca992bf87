#!/bin/sh
# The backlog figure of docs/performance.md: N messages of 1 MiB queued for a destination that
# is down, ehlo restarted, the destination (Postfix's smtp-sink) brought up; prints the peak
# resident memory of ehlo while receiving and while delivering the backlog, and fails if any
# message is lost or delivered twice. Needs about 2 x N MiB of free disk under $TMPDIR.
#   bench/backlog.sh [N]      (default 20000; run from the repository, after make build)
set -e
cd "$(dirname "$0")/.."
EHLO_BIN="${EHLO_BIN:-$PWD/build/ehlo}" EHLO_BACKLOG_MESSAGES="${1:-20000}" \
    exec python3 tests/e2e/t_17_backlog_memory.py -v
