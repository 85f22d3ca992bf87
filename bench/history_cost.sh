#!/bin/sh
# The history's cost (docs/performance.md): one run of 5000 messages of 1 KiB from
# smtp-source (10 sessions) into one local mailbox, with [history] enabled = $1 (true|false);
# prints the time until all are accepted, until all are in the Maildir, and the server's CPU
# seconds. Run from the repository after make build; alternate the two settings a few times.
#   bench/history_cost.sh false; bench/history_cost.sh true
set -e
EHLO_BIN="${EHLO_BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/ehlo}"
D=${TMPDIR:-/tmp}/ehlo-history-cost/$1; rm -rf $D; mkdir -p $D/mail/u/new $D/mail/u/cur $D/mail/u/tmp
cat > $D/ehlo.toml <<T
[server]
hostname = "mx.test"
listen = ["127.0.0.1:2626"]
[spool]
path = "$D/spool"
[relay]
trusted_networks = ["127.0.0.1/32"]
[log]
level = "warn"
[history]
enabled = $1
[[domain]]
name = "example.test"
mailboxes = ["u"]
maildir_root = "$D/mail"
T
"$EHLO_BIN" serve --config $D/ehlo.toml 2>$D/err & P=$!
sleep 1
T0=$(date +%s.%N)
smtp-source -s 10 -m 5000 -l 1024 -f a@client.test -t u@example.test 127.0.0.1:2626
T1=$(date +%s.%N)
while [ "$(ls $D/mail/u/new | wc -l)" -lt 5000 ]; do sleep 0.1; done
T2=$(date +%s.%N)
CPU=$(awk '{print ($14+$15)/100}' /proc/$P/stat)
kill $P; wait $P || true
echo "history=$1 accept_s=$(echo "$T1-$T0"|bc) delivered_s=$(echo "$T2-$T0"|bc) cpu_s=$CPU"
