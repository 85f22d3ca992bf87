#!/bin/bash
# The cost of message authentication (docs/performance.md): 5000 messages of about 1 KiB from
# smtp-source (10 sessions kept open, -d, the same pre-formatted message each time, -F) into one local
# mailbox, with MODE one of
#   off           the client outside the trusted networks, [msgauth] verify = false
#   verify        the same client, verify = true: SPF, DKIM (the message carries an rsa-sha256
#                 signature of bench.example), DMARC, against a real DNS server on loopback
#                 (unbound, tests/e2e/dns_server.py) that publishes the records
#   sign-rsa      the client trusted, every message signed with a 2048-bit RSA key
#   sign-ed25519  the same with an Ed25519 key
# Prints the seconds until all are accepted, until all are in the Maildir, and the server's
# CPU seconds. Run from the repository after make build; alternate the modes a few times.
#   for m in off verify sign-rsa sign-ed25519; do bench/msgauth_cost.sh $m; done
set -eu
MODE=${1:?usage: $0 off|verify|sign-rsa|sign-ed25519}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EHLO_BIN="${EHLO_BIN:-$ROOT/build/ehlo}"
D=${TMPDIR:-/tmp}/ehlo-msgauth-cost/$MODE
rm -rf "$D"; mkdir -p "$D"/mail/u/{new,cur,tmp}
PORT=${PORT:-2627}
N=${N:-5000}

key_type=rsa; [ "$MODE" = sign-ed25519 ] && key_type=ed25519
flags=(); [ "$key_type" = ed25519 ] && flags=(--ed25519)
"$EHLO_BIN" dkim keygen bench.example b "${flags[@]}" --out "$D/key.pem" > "$D/record.txt"
record=$(python3 - "$D/record.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read().strip()
m = re.match(r'(\S+) IN TXT \((.*)\)', t, re.S)
print(m.group(1) + " TXT " + " ".join('"%s"' % s for s in re.findall(r'"([^"]*)"', m.group(2))))
PY
)

python3 "$ROOT/tests/e2e/dns_server.py" "$record" 'bench.example. TXT "v=spf1 ip4:127.0.0.1 -all"' \
    '_dmarc.bench.example. TXT "v=DMARC1; p=reject"' > "$D/dns.out" 2>"$D/dns.err" &
DNS_PID=$!
trap 'kill $DNS_PID 2>/dev/null || true; [ -n "${P:-}" ] && kill $P 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$D/dns.out" ] && break; sleep 0.1; done
FORWARDER=$(head -1 "$D/dns.out")

{
    printf 'From: Alice <alice@bench.example>\nTo: u@example.test\nSubject: cost of message authentication\n'
    printf 'Date: Thu, 03 Dec 2026 10:00:00 +0000\nMessage-ID: <cost@bench.example>\n\n'
    for i in $(seq 14); do printf 'line %02d of a message of about one kilobyte, the same in every mode.....\n' "$i"; done
} > "$D/plain.eml"
if [ "$MODE" = verify ]; then
    "$EHLO_BIN" dkim sign --domain bench.example --selector b --key "$D/key.pem" "$D/plain.eml" | tr -d '\r' > "$D/message.eml"
else
    cp "$D/plain.eml" "$D/message.eml"
fi

trusted='[]'; verify=false; sign=""
case $MODE in
    off) ;;
    verify) verify=true ;;
    sign-rsa|sign-ed25519) trusted='["127.0.0.1/32"]'
        sign="[[msgauth.sign]]
domain = \"bench.example\"
selector = \"b\"
key_file = \"$D/key.pem\"" ;;
    *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac
cat > "$D/ehlo.toml" <<T
[server]
hostname = "mx.test"
listen = ["127.0.0.1:$PORT"]
[limits]
connections_per_client = 0
greeting_delay = 0
message_rate = 0
recipient_rate = 0
connection_rate = 0
[spool]
path = "$D/spool"
[relay]
trusted_networks = $trusted
[log]
level = "warn"
[dns]
forwarders = ["$FORWARDER"]
timeout = 5
[msgauth]
verify = $verify
$sign
[[domain]]
name = "example.test"
mailboxes = ["u"]
maildir_root = "$D/mail"
T
${WRAP:-} "$EHLO_BIN" serve --config "$D/ehlo.toml" 2>"$D/err" & P=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
T0=$(date +%s.%N)
smtp-source -d -s 10 -m "$N" -F "$D/message.eml" -f alice@bench.example -t u@example.test "127.0.0.1:$PORT"
T1=$(date +%s.%N)
while [ "$(ls "$D/mail/u/new" | wc -l)" -lt "$N" ]; do sleep 0.1; done
T2=$(date +%s.%N)
CPU=$(awk '{print ($14+$15)/100}' /proc/$P/stat)
sample=$(ls "$D/mail/u/new" | head -1)
verdict=$(grep -m1 -o 'dkim=[a-z]*\|DKIM-Signature: v=1; a=[a-z0-9-]*' "$D/mail/u/new/$sample" || true)
kill $P; wait $P || true
echo "mode=$MODE accept_s=$(echo "$T1-$T0"|bc) delivered_s=$(echo "$T2-$T0"|bc) cpu_s=$CPU sample: $verdict"
