#!/bin/bash
# The history's cost (docs/performance.md), read from the server itself: ehlo through the
# benchmark's adapter (HISTORY=on|off), the shared benchmark's load shape (smtp-source -d,
# 10 sessions kept open, 1 KiB) into one Maildir, then, once every message is delivered and
# the history writer has had time to write its last batch, the CPU of each of the server's
# threads from /proc (user + system, centiseconds), by the thread's name (ehlo-history is the
# writer, ehlo-spool the spool's, ehlo-delivery the scheduler's, "ehlo" and ehlo-smtp the
# event loops).
#   bench/history_cost.sh on|off [MESSAGES]     (as root, after make build; alternate a few times,
#   then remove ${TMPDIR:-/tmp}/ehlo-history-cost)
set -eu
mode=${1:?on or off}; n=${2:-20000}; port=${PORT:-27200}
here=$(dirname "$(readlink -f "$0")")
# A new folder each time, none deleted meanwhile: files created where many were just deleted
# cost ext4 inode scans that would weigh on one run and not the other.
d=${TMPDIR:-/tmp}/ehlo-history-cost/$mode-$(date +%s%N); mkdir -p "$(dirname "$d")"
HISTORY=$mode "$here/adapters/ehlo" start "$d" "$port"
pid=$(cat "$d/pid")
smtp-source -d -s 10 -m "$n" -l 1024 -f sender@client.test -t alice@example.test "127.0.0.1:$port"
for _ in $(seq 1800); do [ "$(ls "$d/mail/alice/new" | wc -l)" -ge "$n" ] && break; sleep 0.1; done
sleep 2.5   # the writer's wait after a large batch is 1 s
user=0; sys=0; threads=""
for t in /proc/$pid/task/*; do
    read -r u s < <(sed 's/.*) //' "$t/stat" | awk '{print $12, $13}')
    user=$((user + u)); sys=$((sys + s)); [ $((u + s)) -gt 0 ] && threads="$threads $(cat "$t/comm"):$((u + s))"
done
"$here/adapters/ehlo" stop "$d"
echo "history=$mode messages=$n user_cs=$user sys_cs=$sys threads_cs=$threads"
