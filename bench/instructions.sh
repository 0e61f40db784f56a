#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# instructions.sh: user-space instructions per request of plugin-host
# builds, counted by valgrind's callgrind. Unlike CPU time, the count does
# not move with the machine's noise, so a change of a few percent in the
# host's own code shows from one run; it says nothing about the kernel,
# which takes most of a small request's time (see RESULTS.md), or about
# cache misses. One worker, --splice off, no access log, the nginx origin
# and a wrk -t1 -c8 load of SECONDS; counters are zeroed after a warm-up,
# so start-up and plugin loading are not counted.
#
#   bench/instructions.sh [-s 1k|64k|1m] [-d SECONDS] [-k DIR] BIN[#NULLS]...
#   bench/instructions.sh /tmp/before/plugin-host target/release/plugin-host
#   bench/instructions.sh -s 64k target/release/plugin-host#0 target/release/plugin-host#1
#
# BIN#N runs BIN with a plugin.config of N null transforms (the
# libplugin_null.so beside BIN); plain BIN runs --no-plugins. -k keeps
# each callgrind file in DIR (for callgrind_annotate). Prints one line per
# target: requests, instructions per request, and the ten functions with
# the most instructions of their own per request. Loopback only; every run
# is bounded by -d; every server started is stopped.
set -euo pipefail
SIZE=1k DUR=4 KEEP=""
while getopts "s:d:k:" opt; do
    case "$opt" in
        s) SIZE="$OPTARG" ;;
        d) DUR="$OPTARG" ;;
        k) KEEP="$OPTARG" ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
(($#)) || { echo "usage: $0 [-s SIZE] [-d SECONDS] [-k DIR] BIN[#NULLS]..." >&2; exit 2; }
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
    null_target "$target" 0
    bin="$TARGET_BIN" nulls="$TARGET_NULLS" plugins=("${PLUGIN_ARGS[@]}")
    out="$WORK_DIR/callgrind.$n"
    # Uncompressed names and positions: each dump file reads on its own.
    valgrind --tool=callgrind --callgrind-out-file="$out.%p" --compress-strings=no --compress-pos=no \
        "$bin" run "${plugins[@]}" --threads 1 --listen "127.0.0.1:$PH_PORT" --origin "127.0.0.1:$ORIGIN_PORT" \
        --log-level warn --access-log off --splice off >"$WORK_DIR/host.$n.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    wait_port "$PH_PORT" 60 || die "$target did not listen under valgrind; see $WORK_DIR/host.$n.log"
    wrk -t1 -c8 -d2s "http://127.0.0.1:$PH_PORT/$SIZE" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    reqs="$(wrk -t1 -c8 -d"${DUR}s" "http://127.0.0.1:$PH_PORT/$SIZE" | awk '/requests in/ {print $1}')"
    callgrind_control -d "$pid" >/dev/null 2>&1
    stop_server "$pid"
    # callgrind_control -d writes part 1 beside the file the exit writes.
    dump="$out.$pid.1"
    [[ -s "$dump" ]] || die "$target: no callgrind dump $dump"
    [[ -z "$KEEP" ]] || cp "$dump" "$KEEP/$(basename "$bin").$nulls.callgrind"
    python3 - "$dump" "$reqs" "$target" "$SIZE" <<'EOF'
import collections, sys
path, reqs, target, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
own = collections.Counter()
fn, after_call = None, False
for line in open(path):
    if line.startswith("fn="):
        fn = line[3:].strip()
    elif line.startswith("calls="):
        after_call = True  # the next cost line is the callee's, not fn's own
    elif line[:1].isdigit():
        parts = line.split()
        if after_call:
            after_call = False
        elif len(parts) >= 2:
            own[fn] += int(parts[1])
total = sum(own.values())
print(f"{target}\t{size}\t{reqs} requests\t{total / reqs:.0f} instructions/request")
for name, n in own.most_common(10):
    print(f"    {n / reqs:7.0f}  {name[:100]}")
EOF
done
