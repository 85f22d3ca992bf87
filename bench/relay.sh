#!/bin/bash
# Relay benchmark: smtp-source -> RELAY (SMART_HOST) -> smtp-sink, for ehlo and for a private
# Postfix, one after the other on the same machine, same load, same sink. Prints a Markdown
# table: messages accepted per second (until smtp-source has its last 250), messages relayed
# per second (until the sink has counted the last one), and the relay's CPU seconds (user +
# system, from its own cgroup when one can be made, else from /proc) per 1000 messages.
#
#   bench/relay.sh [-s SESSIONS] [-m MESSAGES] [-l SIZE] [-r REPS] [SERVER...]
#
# SERVER is ehlo and/or postfix (default both). As root, loopback only. Ports: relays on
# 26300 (ehlo) and 26310 (postfix), the sink on 26390. Every wait is bounded (smtp-source 300 s,
# relaying 180 s); every process started is stopped at the end, also on Ctrl-C.
# EHLO_BIN picks the ehlo binary (default build/ehlo); POSTFIX_ADAPTER the Postfix adapter
# (default: the shared benchmark's, ../shared/bench/adapters/postfix next to this repository).
set -u
die() { echo "relay.sh: $*" >&2; exit 1; }
log() { echo "relay.sh: $*" >&2; }

here=$(dirname "$(readlink -f "$0")")
repo=$(readlink -f "$here/..")
SESSIONS=10 MESSAGES=2000 SIZE=1024 REPS=1
while getopts "s:m:l:r:h" o; do
    case $o in
    s) SESSIONS=$OPTARG ;; m) MESSAGES=$OPTARG ;; l) SIZE=$OPTARG ;; r) REPS=$OPTARG ;;
    *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
SERVERS=("$@"); [ ${#SERVERS[@]} -gt 0 ] || SERVERS=(ehlo postfix)

EHLO_ADAPTER="$here/adapters/ehlo"
POSTFIX_ADAPTER=${POSTFIX_ADAPTER:-$(readlink -f "$repo/..")/shared/bench/adapters/postfix}
SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
SMTP_SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
SINK_PORT=26390
SOURCE_TIMEOUT=300 RELAY_TIMEOUT=180
RCPT=user@relay.example        # not local to either relay: relayed for the trusted 127.0.0.1

[ "$(id -u)" = 0 ] || die "run as root (Postfix's master starts as root; cgroups)"
[ -x "$SMTP_SOURCE" ] && [ -x "$SMTP_SINK" ] || die "smtp-source/smtp-sink missing (apt-get install postfix)"
for s in "${SERVERS[@]}"; do
    case $s in
    ehlo) [ -x "${EHLO_BIN:-$repo/build/ehlo}" ] || die "no ehlo binary: make build, or set EHLO_BIN" ;;
    postfix) [ -x "$POSTFIX_ADAPTER" ] || die "no Postfix adapter at $POSTFIX_ADAPTER (set POSTFIX_ADAPTER)" ;;
    *) die "unknown server $s (ehlo, postfix)" ;;
    esac
done
export EHLO_BIN=${EHLO_BIN:-$repo/build/ehlo}

# smtp-source without TCP_NODELAY waits for delayed ACKs; the shared benchmark's preload fixes
# that when it has been built (shared/bench/setup)
NODELAY=${SMTP_BENCH_CACHE:-$HOME/.cache/smtp-bench}/tools/nodelay.so
[ -r "$NODELAY" ] || NODELAY=""

WORK=$(mktemp -d /tmp/ehlo-relay-bench.XXXXXX); chmod 755 "$WORK"
CG_BASE="" CG_KIND=""
if [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then CG_BASE=/sys/fs/cgroup/cpuacct CG_KIND=v1
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then CG_BASE=/sys/fs/cgroup CG_KIND=v2; fi
CPU_HOW=${CG_KIND:+cgroup $CG_KIND, one group per relay}
CPU_HOW=${CPU_HOW:-/proc utime+stime+cutime+cstime of the relay processes}

SINK_PID="" CURRENT="" CURRENT_DIR="" CURRENT_CG=""
cleanup() {
    [ -n "$CURRENT" ] && adapter_of "$CURRENT" stop "$CURRENT_DIR" >/dev/null 2>&1
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
    if [ -n "$CURRENT_CG" ] && [ -d "$CURRENT_CG" ]; then
        for p in $(cat "$CURRENT_CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        rmdir "$CURRENT_CG" 2>/dev/null
    fi
    [ -n "${KEEP:-}" ] && log "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

adapter_of() { local s=$1; shift; case $s in ehlo) "$EHLO_ADAPTER" "$@" ;; postfix) "$POSTFIX_ADAPTER" "$@" ;; esac; }
port_of() { case $1 in ehlo) echo 26300 ;; postfix) echo 26310 ;; esac; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
now() { date +%s.%N; }

# CPU seconds of everything in the relay's cgroup, or (no cgroup) of its adapter's pids:
# utime + stime + cutime + cstime, which counts the children a Postfix master has reaped
cpu_seconds() {   # cpu_seconds SERVER DIR
    if [ -n "$CURRENT_CG" ]; then
        if [ "$CG_KIND" = v1 ]; then awk '{ printf "%.3f", $1 / 1e9 }' "$CURRENT_CG/cpuacct.usage"
        else awk '/^usage_usec/ { printf "%.3f", $2 / 1e6 }' "$CURRENT_CG/cpu.stat"; fi
        return
    fi
    local tck total=0 p
    tck=$(getconf CLK_TCK)
    for p in $(adapter_of "$1" pids "$2"); do
        total=$(( total + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }' || echo 0) ))
    done
    awk -v t="$total" -v k="$tck" 'BEGIN { printf "%.3f", t / k }'
}

make_cgroup() {   # a cgroup for the relay about to start, if processes can be moved into it
    CURRENT_CG=""
    [ -n "$CG_BASE" ] || return 0
    local cg="$CG_BASE/ehlo-relay-bench.$$.$1"
    mkdir -p "$cg" 2>/dev/null || return 0
    if sh -c "echo \$\$ > '$cg/cgroup.procs'" 2>/dev/null; then CURRENT_CG=$cg
    else rmdir "$cg" 2>/dev/null; CPU_HOW="/proc (cgroup $cg unusable)"; log "$CPU_HOW"; fi
}

sink_count() { tr '\r' '\n' < "$1" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1; }

start_sink() {   # a fresh smtp-sink, so that its message counter starts at 0
    port_busy "$SINK_PORT" && die "127.0.0.1:$SINK_PORT is in use"
    "$SMTP_SINK" -c -u nobody "127.0.0.1:$SINK_PORT" 1000 > "$1" 2>&1 &
    SINK_PID=$!
    for _ in $(seq 100); do port_busy "$SINK_PORT" && return 0; sleep 0.1; done
    die "smtp-sink did not listen on $SINK_PORT"
}

stop_sink() { kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; SINK_PID=""; }

run_one() {   # run_one SERVER REP: sets RESULT to "acc del cpu at-sink errors"
    local s=$1 port dir sinklog t0 t1 t2 c0 c1 got=0 errors=0 deadline
    port=$(port_of "$s"); dir="$WORK/$s.$2"; sinklog="$WORK/sink.$s.$2.log"
    mkdir -p "$dir"
    port_busy "$port" && die "127.0.0.1:$port is in use"
    start_sink "$sinklog"
    make_cgroup "$s.$2"
    CURRENT=$s CURRENT_DIR=$dir
    # started from a shell inside the cgroup: the relay and all it forks are charged there
    if [ -n "$CURRENT_CG" ]; then
        sh -c "echo \$\$ > '$CURRENT_CG/cgroup.procs' && exec \"\$@\"" sh \
            env SMART_HOST="127.0.0.1:$SINK_PORT" "$(adapter_path "$s")" start "$dir" "$port" >&2 ||
            die "$s did not start"
    else
        SMART_HOST="127.0.0.1:$SINK_PORT" adapter_of "$s" start "$dir" "$port" >&2 || die "$s did not start"
    fi
    sleep 1                                          # let it settle (Postfix spawns its daemons)
    c0=$(cpu_seconds "$s" "$dir")
    t0=$(now)
    LD_PRELOAD=$NODELAY timeout "$SOURCE_TIMEOUT" "$SMTP_SOURCE" -d -s "$SESSIONS" -m "$MESSAGES" \
        -l "$SIZE" -f sender@client.test -t "$RCPT" "127.0.0.1:$port" > "$WORK/source.$s.$2.log" 2>&1 ||
        errors=$(( errors + 1 ))
    t1=$(now)
    deadline=$(( $(date +%s) + RELAY_TIMEOUT ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        got=$(sink_count "$sinklog"); got=${got:-0}
        [ "$got" -ge "$MESSAGES" ] && break
        sleep 0.02
    done
    t2=$(now)
    c1=$(cpu_seconds "$s" "$dir")
    adapter_of "$s" stop "$dir" >/dev/null 2>&1
    CURRENT=""
    if [ -n "$CURRENT_CG" ]; then
        for _ in $(seq 50); do [ -s "$CURRENT_CG/cgroup.procs" ] || break; sleep 0.1; done
        rmdir "$CURRENT_CG" 2>/dev/null; CURRENT_CG=""
    fi
    stop_sink
    RESULT=$(awk -v n="$MESSAGES" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v c0="$c0" -v c1="$c1" \
        -v got="$got" -v e="$errors" 'BEGIN {
            printf "%.0f %.0f %.2f %d %d\n", n / (t1 - t0), (got >= n ? n / (t2 - t0) : 0),
                   (c1 - c0) * 1000 / n, got, e }')
}

adapter_path() { case $1 in ehlo) echo "$EHLO_ADAPTER" ;; postfix) echo "$POSTFIX_ADAPTER" ;; esac; }

log "load: $SESSIONS sessions x $MESSAGES messages of $SIZE octets, $REPS run(s) per server; CPU: $CPU_HOW; client TCP_NODELAY: ${NODELAY:+yes}${NODELAY:-no (shared/bench/setup builds nodelay.so)}"
declare -A RESULTS
for rep in $(seq "$REPS"); do
    for s in "${SERVERS[@]}"; do
        log "$s, run $rep"
        run_one "$s" "$rep"
        RESULTS[$s.$rep]=$RESULT
        log "  $s: ${RESULTS[$s.$rep]} (acc/s relayed/s cpu-s/1k sink-count errors)"
    done
done

echo "Relay: smtp-source -d -s $SESSIONS -m $MESSAGES -l $SIZE -> relay (SMART_HOST) -> smtp-sink, loopback"
echo
echo "| relay | run | acc msg/s | relayed msg/s | CPU s / 1000 msgs | at sink | errors |"
echo "|---|---|---|---|---|---|---|"
for s in "${SERVERS[@]}"; do
    for rep in $(seq "$REPS"); do
        read -r acc del cpu got err <<< "${RESULTS[$s.$rep]}"
        [ "$del" = 0 ] && del="incomplete"
        echo "| $s | $rep | $acc | $del | $cpu | $got / $MESSAGES | $err |"
    done
done
echo
echo "acc: until smtp-source has its last 250; relayed: until smtp-sink has counted the last"
echo "message; CPU: the relay's processes only ($CPU_HOW), from the start of the load until"
echo "the last message reached the sink. smtp-source and smtp-sink are not charged."
