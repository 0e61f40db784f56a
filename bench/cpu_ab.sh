#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# cpu_ab.sh: CPU per request of several plugin-host builds (and nginx),
# alternated round by round so that a machine whose load drifts (other
# builds on the same cores) charges every build alike. One worker pinned
# to PROXY_CPU, wrk -t1 -c32 keep-alive and the nginx origin on LOAD_CPU,
# the host at --log-level warn with no access log, and --no-plugins, or
# with -n N a plugin.config of N null transforms: the libplugin_null.so
# found beside each BIN, so a snapshot keeps its own plugin build.
#
#   bench/cpu_ab.sh [-r ROUNDS] [-d SECONDS] [-s 1k|64k|1m|16m] [-n NULLS] BIN|nginx...
#   cp target/release/plugin-host /tmp/before   # ... change, rebuild ...
#   bench/cpu_ab.sh -r 5 /tmp/before target/release/plugin-host nginx
#   mkdir /tmp/b && cp target/release/{plugin-host,libplugin_null.so} /tmp/b
#   bench/cpu_ab.sh -n 5 /tmp/b/plugin-host target/release/plugin-host
#   PH_EXTRA_ARGS="--splice off" bench/cpu_ab.sh -s 64k B#0 B#1 B#5
#
# BIN#N overrides -n for that target, so one run can alternate no plugin,
# one null and five nulls of the same build. PH_EXTRA_ARGS are added to
# every plugin-host command line.
#
# Prints one line per round and build, then each build's median and range
# of CPU microseconds per request: utime+stime of the process over the
# run (/proc/PID/stat) divided by the requests wrk completed. Each round's
# line also splits it into user space and kernel (utime, stime). Loopback
# only; every run is bounded by -d; every server started is stopped.
set -euo pipefail
ROUNDS=3 DUR=5 SIZE=1k NULLS=0
while getopts "r:d:s:n:" opt; do
    case "$opt" in
        r) ROUNDS="$OPTARG" ;;
        d) DUR="$OPTARG" ;;
        s) SIZE="$OPTARG" ;;
        n) NULLS="$OPTARG" ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
(($#)) || { echo "usage: $0 [-r ROUNDS] [-d SECONDS] [-s SIZE] [-n NULLS] BIN|nginx..." >&2; exit 2; }
ORIGIN_PORT="${ORIGIN_PORT:-18280}"
PH_PORT="${PH_PORT:-18281}"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/nginx.sh
source "$BENCH_DIR/lib/nginx.sh"
# shellcheck source=lib/plugin_host.sh
source "$BENCH_DIR/lib/plugin_host.sh"
BENCH_COMMANDS="nginx wrk taskset" ensure_packages nginx wrk
make_work_dir
trap cleanup EXIT
start_origin
HZ="$(getconf CLK_TCK)"
RESULTS="$WORK_DIR/results.tsv"
# per_request TICKS REQUESTS: microseconds of CPU per request.
per_request() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }'; }
for round in $(seq "$ROUNDS"); do
    for target in "$@"; do
        nulls=0
        if [[ "$target" == nginx ]]; then
            NGINX_PORT="$PH_PORT" start_nginx_proxy
            main="$TARGET_MAIN_PID" pid="${TARGET_PIDS[1]}"
        else
            null_target "$target" "$NULLS"
            nulls="$TARGET_NULLS" bin="$TARGET_BIN" plugins=("${PLUGIN_ARGS[@]}")
            mapfile -t log_flags < <(PLUGIN_HOST_BIN="$bin" plugin_host_log_args 0 "")
            # shellcheck disable=SC2086 # PH_EXTRA_ARGS is a list of flags by design
            taskset -c "$PROXY_CPU" "$bin" run "${plugins[@]}" --threads 1 --listen "127.0.0.1:$PH_PORT" \
                --origin "127.0.0.1:$ORIGIN_PORT" "${log_flags[@]}" ${PH_EXTRA_ARGS:-} >"$WORK_DIR/host.log" 2>&1 &
            main=$! pid=$!
            STARTED_PIDS+=("$main")
            wait_port "$PH_PORT" 10 || die "$target did not listen; see $WORK_DIR/host.log"
        fi
        # Warm-up: connections open, pools filled, pages faulted in.
        taskset -c "$LOAD_CPU" wrk -t1 -c32 -d1s "http://127.0.0.1:$PH_PORT/$SIZE" >/dev/null
        read -r u0 s0 < <(user_system_ticks "$pid")
        out="$(taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"${DUR}s" "http://127.0.0.1:$PH_PORT/$SIZE")"
        read -r u1 s1 < <(user_system_ticks "$pid")
        stop_server "$main"
        reqs="$(awk '/requests in/ {print $1}' <<<"$out")"
        grep -qE 'Non-2xx|Socket errors' <<<"$out" && log "$target: wrk reported errors: $(grep -E 'Non-2xx|Socket errors' <<<"$out")"
        us="$(per_request $((u1 - u0 + s1 - s0)) "$reqs")"
        user="$(per_request $((u1 - u0)) "$reqs")" system="$(per_request $((s1 - s0)) "$reqs")"
        printf '%s\tround %s\t%s\t%s nulls\t%s us/request\t%s requests\t%s user + %s system\n' \
            "$target" "$round" "$SIZE" "${nulls:-0}" "$us" "$reqs" "$user" "$system"
        printf '%s\t%s\n' "$target" "$us" >>"$RESULTS"
    done
done
for target in "$@"; do
    awk -F'\t' -v t="$target" '$1 == t { print $2 }' "$RESULTS" | sort -n | awk -v t="$target" '
        { v[++n] = $1 }
        END { m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
              printf "%s\tmedian %.2f us/request (%.2f..%.2f, %d rounds)\n", t, m, v[1], v[n], n }'
done
