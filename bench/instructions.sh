#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# instructions.sh: user-space instructions per request of plugin-host
# builds, counted by valgrind's callgrind. Unlike CPU time, the count does
# not move with the machine's noise, so a change of a few percent in the
# host's own code shows from one run; it says nothing about the kernel,
# which takes most of a small request's time (see RESULTS.md), or about
# cache misses (but see -c). One worker, --splice off, no access log, the
# nginx origin and a wrk -t1 -c8 load of SECONDS; counters are zeroed after
# a warm-up, so start-up and plugin loading are not counted.
#
#   bench/instructions.sh [-s 1k|64k|1m] [-d SECONDS] [-k DIR] [-c] BIN[#NULLS]|nginx...
#   bench/instructions.sh /tmp/before/plugin-host target/release/plugin-host
#   bench/instructions.sh -s 64k target/release/plugin-host#0 target/release/plugin-host#1
#   bench/instructions.sh -c target/release/plugin-host#0 target/release/plugin-host#1 nginx
#
# BIN#N runs BIN with a plugin.config of N null transforms (the
# libplugin_null.so beside BIN); plain BIN runs --no-plugins. `nginx` runs
# the nginx peer proxy of run.sh (one process, master_process off, access
# log off), for comparison. -k keeps each callgrind file in DIR (for
# callgrind_annotate). -c also simulates the first-level instruction
# cache (valgrind's model of this machine's, without the kernel, which in
# a real run evicts more) and reports its misses per request, and the
# code the measured window ran: distinct 64-byte lines and 4 KiB pages.
# Prints one line per target: requests, instructions per request (and
# with -c the cache figures), and the ten functions with the most
# instructions of their own per request. Loopback only; every run is
# bounded by -d; every server started is stopped.
set -euo pipefail
SIZE=1k DUR=4 KEEP="" CACHE=0
while getopts "s:d:k:c" opt; do
    case "$opt" in
        s) SIZE="$OPTARG" ;;
        d) DUR="$OPTARG" ;;
        k) KEEP="$OPTARG" ;;
        c) CACHE=1 ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
(($#)) || { echo "usage: $0 [-s SIZE] [-d SECONDS] [-k DIR] [-c] BIN[#NULLS]|nginx..." >&2; exit 2; }
ORIGIN_PORT="${ORIGIN_PORT:-18480}"
PH_PORT="${PH_PORT:-18481}"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/nginx.sh
source "$BENCH_DIR/lib/nginx.sh"
# shellcheck source=lib/plugin_host.sh
source "$BENCH_DIR/lib/plugin_host.sh"
BENCH_COMMANDS="nginx wrk valgrind callgrind_control python3" ensure_packages nginx wrk valgrind python3
make_work_dir
trap cleanup EXIT
start_origin
[[ -z "$KEEP" ]] || mkdir -p "$KEEP"
n=0
for target in "$@"; do
    n=$((n + 1))
    sim=()
    ((CACHE == 0)) || sim=(--cache-sim=yes --dump-instr=yes)
    out="$WORK_DIR/callgrind.$n"
    # Uncompressed names and positions: each dump file reads on its own.
    grind=(valgrind --tool=callgrind --callgrind-out-file="$out.%p" --compress-strings=no --compress-pos=no "${sim[@]}")
    if [[ "$target" == nginx ]]; then
        dir="$WORK_DIR/nginx-proxy" port="$NGINX_PORT" keep_as="nginx"
        write_nginx_proxy_conf "$dir" "" "" 0
        # One process: the worker is the one valgrind runs.
        sed -i 's/^daemon off;/daemon off;\nmaster_process off;/' "$dir/nginx.conf"
        "${grind[@]}" "$(nginx_bin)" -p "$dir" -c "$dir/nginx.conf" >"$WORK_DIR/host.$n.log" 2>&1 &
    else
        null_target "$target" 0
        port="$PH_PORT" keep_as="$(basename "$TARGET_BIN").$TARGET_NULLS"
        "${grind[@]}" "$TARGET_BIN" run "${PLUGIN_ARGS[@]}" --threads 1 --listen "127.0.0.1:$PH_PORT" \
            --origin "127.0.0.1:$ORIGIN_PORT" --log-level warn --access-log off --splice off \
            >"$WORK_DIR/host.$n.log" 2>&1 &
    fi
    pid=$!
    STARTED_PIDS+=("$pid")
    wait_port "$port" 60 || die "$target did not listen under valgrind; see $WORK_DIR/host.$n.log"
    wrk -t1 -c8 -d2s "http://127.0.0.1:$port/$SIZE" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    reqs="$(wrk -t1 -c8 -d"${DUR}s" "http://127.0.0.1:$port/$SIZE" | awk '/requests in/ {print $1}')"
    callgrind_control -d "$pid" >/dev/null 2>&1
    stop_server "$pid"
    # callgrind_control -d writes part 1 beside the file the exit writes.
    dump="$out.$pid.1"
    [[ -s "$dump" ]] || die "$target: no callgrind dump $dump"
    [[ -z "$KEEP" ]] || cp "$dump" "$KEEP/$keep_as.callgrind"
    python3 - "$dump" "$reqs" "$target" "$SIZE" <<'EOF'
import collections, sys
path, reqs, target, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
own = collections.Counter()
fn, ob, after_call = None, None, False
npos, events, totals = 1, [], []
lines, pages = set(), set()
for line in open(path):
    if line.startswith("positions:"):
        npos = len(line.split()) - 1
    elif line.startswith("events:"):
        events = line.split()[1:]
    elif line.startswith("summary:"):
        totals = [int(x) for x in line.split()[1:]]
    elif line.startswith("ob="):
        ob = line[3:].strip()
    elif line.startswith("fn="):
        fn = line[3:].strip()
    elif line.startswith("calls="):
        after_call = True  # the next cost line is the callee's, not fn's own
    elif line[:1].isdigit():
        parts = line.split()
        if after_call:
            after_call = False
        elif len(parts) > npos:
            own[fn] += int(parts[npos])
            if npos == 2:  # --dump-instr: the first position is the address
                addr = int(parts[0], 16)
                lines.add((ob, addr >> 6))
                pages.add((ob, addr >> 12))
total = sum(own.values())
extra = ""
if "I1mr" in events:
    misses = totals[events.index("I1mr")]
    extra = f"\t{misses / reqs:.0f} L1i misses/request\t{len(lines)} code lines\t{len(pages)} code pages"
print(f"{target}\t{size}\t{reqs} requests\t{total / reqs:.0f} instructions/request{extra}")
for name, n in own.most_common(10):
    print(f"    {n / reqs:7.0f}  {name[:100]}")
EOF
done
