#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Idle-connection memory: open COUNT keep-alive client connections to each
# proxy (one request each, then idle), and read the proxy's VmRSS before
# and while they are held. Prints a markdown table. See bench/README.md.
#
# Usage: bench/idle_rss.sh [-n COUNT] [TARGET...]
# Targets: ph0 nginx haproxy ats (default: all). Env as for run.sh.
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/nginx.sh
source "$BENCH_DIR/lib/nginx.sh"
# shellcheck source=lib/ats.sh
source "$BENCH_DIR/lib/ats.sh"
# shellcheck source=lib/haproxy.sh
source "$BENCH_DIR/lib/haproxy.sh"
# shellcheck source=lib/plugin_host.sh
source "$BENCH_DIR/lib/plugin_host.sh"

COUNT=10000
ALL_TARGETS=(ph0 nginx haproxy ats)

while getopts "n:h" opt; do
    case "$opt" in
    n) COUNT="$OPTARG" ;;
    h) awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")
if ! [[ "$COUNT" =~ ^[1-9][0-9]*$ ]] || ((COUNT > 25000)); then
    die "-n wants 1..25000 connections"
fi

# plugin-host must accept more than the default connection cap.
PH_EXTRA_ARGS="--max-connections 20000"
# plugin-host's RSS with the clients held, for the target line.
PH_IDLE_KIB=""

start_target() {
    case "$1" in
    ph0) start_plugin_host ph0 0 ;;
    nginx) start_nginx_proxy 0 ;;
    haproxy) start_haproxy haproxy 0 ;;
    ats) start_ats ats "" ;;
    *) die "unknown target '$1' (known: ${ALL_TARGETS[*]})" ;;
    esac
}

# measure_idle TARGET: prints one table row.
measure_idle() {
    local target="$1" before during ready open label
    label="$target"
    case "$target" in
    ph0) label="plugin-host" ;;
    nginx) label="nginx (master+worker)" ;;
    haproxy) label="HAProxy" ;;
    ats) label="ATS" ;;
    esac
    TARGET_MAIN_PID=""
    if ! start_target "$target"; then
        echo "| $label | n/a | n/a | n/a | n/a |"
        return
    fi
    # One request first so lazily built state (pools, caches) is in the baseline.
    curl -s -o /dev/null -m 10 "http://127.0.0.1:$TARGET_PORT/1k" || true
    sleep 1
    before="$(rss_kib "${TARGET_PIDS[@]}")"

    coproc CLIENT { python3 "$BENCH_DIR/idle_clients.py" --port "$TARGET_PORT" --count "$COUNT" --deadline 120; }
    read -r -t 150 ready <&"${CLIENT[0]}" || ready="READY opened=0 failed=timeout"
    sleep 1
    during="$(rss_kib "${TARGET_PIDS[@]}")"
    echo check >&"${CLIENT[1]}"
    read -r -t 30 open <&"${CLIENT[0]}" || open="OPEN ?"
    wait "$CLIENT_PID" 2>/dev/null || true
    log "$target: $ready, ${open#OPEN } still open at measurement; RSS ${before} -> ${during} KiB"
    [[ "$target" != ph0 ]] || PH_IDLE_KIB="$during"

    awk -v l="$label" -v b="$before" -v d="$during" -v r="$ready" -v o="${open#OPEN }" -v n="$COUNT" 'BEGIN {
        split(r, a, /[ =]/); opened = a[3]
        per = opened > 0 ? sprintf("%.1f", (d - b) / opened) : "n/a"
        printf "| %s | %.1f | %.1f | %s | %s of %d (%s open at measurement) |\n", l, b / 1024, d / 1024, per, opened, n, o
    }'
    stop_server "$TARGET_MAIN_PID"
}

main() {
    [[ "${BENCH_SKIP_INSTALL:-0}" == 1 ]] || ensure_packages
    make_work_dir
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    # Every server and the client inherit this: COUNT sockets each side,
    # plus origin connections and files. Without CAP_SYS_RESOURCE (as in
    # containers) the hard limit is the ceiling, so take all of it.
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    (($(ulimit -n) >= COUNT + 1000)) || die "ulimit -n is $(ulimit -n); $COUNT connections need $((COUNT + 1000))"
    build_plugin_host
    snapshot_plugin_host
    start_origin

    echo "Idle keep-alive connections: $COUNT clients, one GET /1k each, then held idle."
    echo
    echo "| server | RSS before (MiB) | RSS with idle clients (MiB) | KiB per connection | connections |"
    echo "|---|---|---|---|---|"
    local target
    for target in "${TARGETS[@]}"; do
        measure_idle "$target"
    done
    # Issue 13's target, reported, not asserted: no more than the 15 MiB
    # recorded before its work began, which holds for 10,000 connections.
    if [[ -n "$PH_IDLE_KIB" ]] && ((COUNT == 10000)); then
        awk -v d="$PH_IDLE_KIB" -v n="$COUNT" 'BEGIN {
            printf "\nTarget: plugin-host RSS with %d idle keep-alive connections at most 15 MiB: %.1f MiB, %s.\n",
                n, d / 1024, (d <= 15 * 1024 ? "met" : "not met") }'
    fi
}

main
