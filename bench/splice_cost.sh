#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# splice_cost.sh: where the CPU of a body goes with --splice off and on,
# on both ends: the host's (one worker on PROXY_CPU) and the client's
# (wrk -t1 -c32 on LOAD_CPU, with the nginx origin), plus the requests
# completed. On loopback the client's kernel receives what the host sent,
# so a cost moved from one to the other shows here and not in cpu_ab.sh.
#
#   bench/splice_cost.sh [-r ROUNDS] [-d SECONDS] [-s 64k|1m|16m] [BIN]
#
# Loopback only; every run is bounded by -d; every server started is stopped.
set -euo pipefail
ROUNDS=2 DUR=4 SIZE=1m
while getopts "r:d:s:" opt; do
    case "$opt" in
        r) ROUNDS="$OPTARG" ;;
        d) DUR="$OPTARG" ;;
        s) SIZE="$OPTARG" ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
ORIGIN_PORT="${ORIGIN_PORT:-18282}"
PH_PORT="${PH_PORT:-18283}"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/nginx.sh
source "$BENCH_DIR/lib/nginx.sh"
BIN="${1:-$REPO/target/release/plugin-host}"
[[ -x /usr/bin/time ]] || die "needs /usr/bin/time (apt-get install time)"
BENCH_COMMANDS="nginx wrk taskset" ensure_packages nginx wrk
make_work_dir
trap cleanup EXIT
start_origin
HZ="$(getconf CLK_TCK)"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for round in $(seq "$ROUNDS"); do
    for mode in off on; do
        taskset -c "$PROXY_CPU" "$BIN" run --no-plugins --threads 1 --listen "127.0.0.1:$PH_PORT" \
            --origin "127.0.0.1:$ORIGIN_PORT" --log-level warn --access-log off --splice "$mode" \
            >"$WORK_DIR/host.log" 2>&1 &
        main=$!
        STARTED_PIDS+=("$main")
        wait_port "$PH_PORT" 10 || die "$BIN did not listen; see $WORK_DIR/host.log"
        taskset -c "$LOAD_CPU" wrk -t1 -c32 -d1s "http://127.0.0.1:$PH_PORT/$SIZE" >/dev/null
        before="$(ticks "$main")"
        /usr/bin/time -o "$WORK_DIR/wrk.time" -f "%U %S" \
            taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"${DUR}s" "http://127.0.0.1:$PH_PORT/$SIZE" >"$WORK_DIR/wrk.out"
        after="$(ticks "$main")"
        stop_server "$main"
        reqs="$(awk '/requests in/ {print $1}' "$WORK_DIR/wrk.out")"
        client_s="$(awk '{print $1 + $2}' "$WORK_DIR/wrk.time")"
        awk -v m="$mode" -v r="$round" -v s="$SIZE" -v h=$((after - before)) -v c="$client_s" -v n="$reqs" -v hz="$HZ" \
            'BEGIN { printf "round %s\t%s\t--splice %s\t%d requests\thost %.1f us/request\tclient %.1f us/request\n",
                     r, s, m, n, h / hz * 1e6 / n, c * 1e6 / n }'
    done
done
