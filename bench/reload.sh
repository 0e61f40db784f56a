#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Hot-reload benchmark (issue 9): how long plugin-host takes from SIGHUP to
# the first response on the new generation, and what reloading once per
# second does to the p99 latency of a steady wrk load, against the same
# load without reloads and against nginx reloading once per second. Prints
# markdown tables. See bench/README.md.
#
# Usage: bench/reload.sh [-n RELOADS] [-d DURATION] [-r ROUNDS] [-i INTERVAL] [-o DIR] [PART...]
#   -n RELOADS   reloads timed by the swap part (default 100)
#   -d DURATION  wrk duration per latency run, in seconds (default 20s)
#   -r ROUNDS    rounds of the latency runs; the report shows medians (default 3)
#   -i INTERVAL  seconds between reloads under load (default 1)
#   -o DIR       also save the raw files (swap.tsv, swap.summary, latency.tsv, stats)
# Parts: swap ph nginx (default: all three).
# Env: REPO, PLUGIN_HOST_BIN, PLUGIN_NULL_SO, PLUGIN_PROBE_SO, PROXY_CPU,
#      LOAD_CPU, BENCH_SKIP_INSTALL=1, BENCH_SKIP_BUILD=1, BENCH_KEEP=1.
set -euo pipefail

# Its own ports, so it does not collide with a run.sh running meanwhile
# (the numbers would still be disturbed: check the "others" column).
ORIGIN_PORT="${ORIGIN_PORT:-18180}"
PH_PORT="${PH_PORT:-18181}"
NGINX_PORT="${NGINX_PORT:-18182}"
PH_ADMIN_PORT="${PH_ADMIN_PORT:-18191}"

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/nginx.sh
source "$BENCH_DIR/lib/nginx.sh"
# shellcheck source=lib/plugin_host.sh
source "$BENCH_DIR/lib/plugin_host.sh"

RELOADS=100
DURATION=20
ROUNDS=3
INTERVAL=1
OUT_DIR=""
WRK_THREADS=1
WRK_CONNS=32
ALL_PARTS=(swap ph nginx)

usage() { awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"; exit "${1:-0}"; }

while getopts "n:d:r:i:o:h" opt; do
    case "$opt" in
    n) RELOADS="$OPTARG" ;;
    d) DURATION="${OPTARG%s}" ;;
    r) ROUNDS="$OPTARG" ;;
    i) INTERVAL="$OPTARG" ;;
    o) OUT_DIR="$OPTARG" ;;
    h) usage 0 ;;
    *) usage 2 ;;
    esac
done
shift $((OPTIND - 1))
PARTS=("$@")
((${#PARTS[@]})) || PARTS=("${ALL_PARTS[@]}")
for p in "${PARTS[@]}"; do
    [[ " ${ALL_PARTS[*]} " == *" $p "* ]] || die "unknown part '$p' (known: ${ALL_PARTS[*]})"
done
[[ "$RELOADS" =~ ^[1-9][0-9]*$ ]] && ((RELOADS <= 10000)) || die "-n wants 1..10000 reloads"
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] && ((DURATION <= 600)) || die "-d wants 1..600 seconds"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] && ((ROUNDS <= 20)) || die "-r wants 1..20 rounds"
[[ "$INTERVAL" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v i="$INTERVAL" 'BEGIN { exit !(i >= 0.1 && i <= 60) }' ||
    die "-i wants 0.1..60 seconds"

CLK_TCK="$(getconf CLK_TCK)"

has_part() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }

# ph_stats: plugin-host's /stats (one JSON line), or {} if it does not answer.
ph_stats() {
    curl -s -m 5 "http://127.0.0.1:$PH_ADMIN_PORT/stats" || echo '{}'
}

# stats_field JSON EXPR: a value out of /stats, e.g. 'generation',
# 'reloads.failed', or 'len(generations)'.
stats_field() {
    python3 -c '
import json, sys
s = json.loads(sys.argv[1] or "{}")
class D(dict):
    __getattr__ = dict.get
def wrap(v):
    return D({k: wrap(x) for k, x in v.items()}) if isinstance(v, dict) else v
try:
    print(eval(sys.argv[2], {"len": len}, {k: wrap(v) for k, v in s.items()}))
except Exception:
    print("na")' "$1" "$2"
}

# write_ph_config FILE STAMP [LINE...]: the probe with STAMP, then LINEs;
# written beside the file and renamed over it, so a reload never reads a
# half-written config.
write_ph_config() {
    local file="$1" stamp="$2"
    shift 2
    {
        echo "$PLUGIN_PROBE_SO stamp=$stamp"
        local line
        for line in "$@"; do echo "$line"; done
    } >"$file.tmp"
    mv -f "$file.tmp" "$file"
}

# start_ph NAME [LINE...]: plugin-host with `probe stamp=0` and LINEs, with
# its admin endpoint on PH_ADMIN_PORT.
start_ph() {
    local name="$1"
    shift
    mkdir -p "$WORK_DIR/$name"
    write_ph_config "$WORK_DIR/$name/plugin.config" 0 "$@"
    port_free "$PH_ADMIN_PORT" || die "port $PH_ADMIN_PORT is taken; is another plugin-host running?"
    PH_EXTRA_ARGS="--admin-listen 127.0.0.1:$PH_ADMIN_PORT" launch_plugin_host "$name" || die "plugin-host did not start"
    wait_port "$PH_ADMIN_PORT" 5 || die "plugin-host's admin endpoint did not listen on $PH_ADMIN_PORT"
}

# ---------------------------------------------------------------- swap

# swap_part: RELOADS reloads, each timed from SIGHUP to the first response
# carrying its stamp, on one keep-alive connection (reload_swap.py).
swap_part() {
    local dir="$WORK_DIR/swap" before after rss0 rss1 summary
    start_ph swap
    before="$(ph_stats)"
    rss0="$(rss_kib "$TARGET_MAIN_PID")"
    log "swap: $RELOADS reloads of 'probe stamp=i', SIGHUP to pid $TARGET_MAIN_PID, client on cpu $LOAD_CPU"
    summary="$(taskset -c "$LOAD_CPU" python3 "$BENCH_DIR/reload_swap.py" --port "$PH_PORT" \
        --pid "$TARGET_MAIN_PID" --config "$dir/plugin.config" --probe "$PLUGIN_PROBE_SO" \
        -n "$RELOADS" --timeout 5 --deadline $((RELOADS * 6 + 30)) --out "$WORK_DIR/swap.tsv" \
        2>"$WORK_DIR/swap.stderr" | grep '^SWAP ' || true)"
    if [[ -s "$WORK_DIR/swap.stderr" ]]; then
        sed 's/^/[swap] /' "$WORK_DIR/swap.stderr" >&2
    fi
    # Let the last old generation retire before reading the counters.
    sleep 0.5
    after="$(ph_stats)"
    rss1="$(rss_kib "$TARGET_MAIN_PID")"
    kill -0 "$TARGET_MAIN_PID" 2>/dev/null || summary="${summary:-SWAP} host_died=1"
    {
        echo "${summary:-SWAP n=0 ok=0 error=no_summary}"
        echo "STATS generation_before=$(stats_field "$before" generation)" \
            "generation_after=$(stats_field "$after" generation)" \
            "reloads_succeeded=$(stats_field "$after" reloads.succeeded)" \
            "reloads_failed=$(stats_field "$after" reloads.failed)" \
            "live_generations=$(stats_field "$after" 'len(generations)')" \
            "plugin_images=$(stats_field "$after" plugin_images)" \
            "rss_before_kib=$rss0 rss_after_kib=$rss1"
    } >"$WORK_DIR/swap.summary"
    echo "$after" >"$WORK_DIR/swap.stats.json"
    log "$(tr '\n' ' ' <"$WORK_DIR/swap.summary")"
    stop_server "$TARGET_MAIN_PID"
}

# ---------------------------------------------------------------- latency

# parse_wrk FILE: "rps p50 p99 max requests non2xx connect read write timeout"
# (latencies in ms) from wrk --latency output.
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            return v
        }
        /^ *Latency / && max == "" { max = ms($4) }
        /^ *50%/ { p50 = ms($2) }
        /^ *99%/ { p99 = ms($2) }
        /requests in/ { reqs = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Socket errors:/ { gsub(",", ""); c = $4; r = $6; w = $8; t = $10 }
        /Non-2xx or 3xx responses:/ { n = $5 }
        END {
            printf "%s %s %s %s %d %d %d %d %d %d\n", (rps == "" ? "na" : rps), (p50 == "" ? "na" : p50),
                (p99 == "" ? "na" : p99), (max == "" ? "na" : max), reqs, n, c, r, w, t
        }
    ' "$1"
}

# run_wrk URL SECONDS OUT: the load, pinned beside the origin; OUT.ticks
# gets wrk's own CPU in clock ticks (see run.sh). `timeout --foreground`
# leaves wrk in our process group, so a Ctrl-C reaches it.
run_wrk() {
    (
        taskset -c "$LOAD_CPU" timeout --foreground $(($2 + 30)) \
            wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$2s" --latency "$1" >"$3" 2>&1 || true
        times >"$3.times"
        awk -v hz="$CLK_TCK" 'NR == 2 {
            split($1, u, /[ms]/); split($2, s, /[ms]/)
            printf "%d\n", ((u[1] + s[1]) * 60 + u[2] + s[2]) * hz }' "$3.times" >"$3.ticks"
    )
}

# tree_ticks PID: CPU of a server in clock ticks: its own (all threads) and
# that of its reaped children (fields 16, 17: nginx's retired workers), plus
# its live children's. Differences over a run count workers that came and
# went during it.
tree_ticks() {
    local pid="$1" rest fields total=0 c
    rest="$(cat "/proc/$pid/stat" 2>/dev/null)" || { echo 0; return; }
    rest="${rest##*) }"
    read -r -a fields <<<"$rest"
    total=$((fields[11] + fields[12] + fields[13] + fields[14]))
    for c in $(child_pids "$pid"); do
        total=$((total + $(cpu_ticks "$c")))
    done
    echo "$total"
}

# core_ticks CPU: user+nice+system of one core from /proc/stat, in ticks.
core_ticks() {
    awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4; exit }' /proc/stat
}

# reload_loop KIND PID STOPFILE COUNTFILE: every INTERVAL seconds until
# STOPFILE appears (at most DURATION/INTERVAL + 2 times), reload the server:
# for plugin-host rewrite its config with the next stamp (so every reload
# really swaps a different chain in) and SIGHUP it; for nginx SIGHUP its
# master (what `nginx -s reload` sends), after noting its workers' pids.
# COUNTFILE gets the number of signals sent.
reload_loop() {
    local kind="$1" pid="$2" stop="$3" count="$4" k max
    max="$(awk -v d="$DURATION" -v i="$INTERVAL" 'BEGIN { printf "%d", d / i + 2 }')"
    echo 0 >"$count"
    for ((k = 1; k <= max; k++)); do
        sleep "$INTERVAL"
        [[ ! -e "$stop" ]] || break
        kill -0 "$pid" 2>/dev/null || break
        case "$kind" in
        ph) write_ph_config "$WORK_DIR/ph/plugin.config" "$k" "$PLUGIN_NULL_SO" ;;
        nginx) child_pids "$pid" >>"$count.workers" ;;
        esac
        kill -HUP "$pid"
        echo "$k" >"$count"
    done
}

# record ROUND TARGET MODE FIELDS...: one raw line.
record() {
    local IFS=$'\t'
    echo "$*" >>"$RAW"
}

# measure ROUND TARGET MODE: one wrk run, steady or reloading.
measure() {
    local round="$1" target="$2" mode="$3" out="$WORK_DIR/wrk.$2.$3.$1" loop_pid="" sent=0 seen
    local t0 t1 o0 o1 s0 s1 ns0 ns1 gen0 gen1 fail0 fail1 cpu other c0 c1 k0 k1 core softirqd
    local rps p50 p99 max reqs non2xx sc sr sw st
    rm -f "$WORK_DIR/stop" "$WORK_DIR/count" "$WORK_DIR/count.workers"
    [[ "$target" != ph ]] || {
        seen="$(ph_stats)"
        gen0="$(stats_field "$seen" generation)"
        fail0="$(stats_field "$seen" reloads.failed)"
    }
    # Loopback work deferred to the proxy core's ksoftirqd is our traffic.
    softirqd="$(pgrep -x "ksoftirqd/$PROXY_CPU" || true)"
    read -r s0 _ < <(sys_ticks)
    c0="$(core_ticks "$PROXY_CPU")"
    k0="$(cpu_ticks $softirqd)"
    o0="$(cpu_ticks "${ORIGIN_PIDS[@]}")"
    t0="$(tree_ticks "$TARGET_MAIN_PID")"
    ns0="$(date +%s%N)"
    if [[ "$mode" == reloading ]]; then
        # A subshell: it inherits the functions but not the EXIT trap.
        reload_loop "$target" "$TARGET_MAIN_PID" "$WORK_DIR/stop" "$WORK_DIR/count" &
        loop_pid=$!
        STARTED_PIDS+=("$loop_pid")
        taskset -cp "$LOAD_CPU" "$loop_pid" >/dev/null
    fi
    run_wrk "http://127.0.0.1:$TARGET_PORT/1k" "$DURATION" "$out"
    ns1="$(date +%s%N)"
    t1="$(tree_ticks "$TARGET_MAIN_PID")"
    o1="$(cpu_ticks "${ORIGIN_PIDS[@]}")"
    k1="$(cpu_ticks $softirqd)"
    c1="$(core_ticks "$PROXY_CPU")"
    read -r s1 _ < <(sys_ticks)
    if [[ -n "$loop_pid" ]]; then
        touch "$WORK_DIR/stop"
        stop_server "$loop_pid"
        sent="$(cat "$WORK_DIR/count" 2>/dev/null || echo 0)"
    fi
    # Reloads that took effect: generations for plugin-host, new workers
    # for nginx (each reload forks a fresh one).
    if [[ "$target" == ph ]]; then
        sleep 0.3
        seen="$(ph_stats)"
        gen1="$(stats_field "$seen" generation)"
        fail1="$(stats_field "$seen" reloads.failed)"
        seen="$(awk -v a="$gen0" -v b="$gen1" 'BEGIN { print (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) ? b - a : "na" }')"
        if [[ "$fail0" != "$fail1" ]]; then
            log "$target $mode: reloads failed went from $fail0 to $fail1 (na: no /stats); see $WORK_DIR/ph/stderr.log"
        fi
        kill -0 "$TARGET_MAIN_PID" 2>/dev/null || log "$target $mode: plugin-host is gone; see $WORK_DIR/ph/stderr.log"
    elif [[ "$mode" == reloading ]]; then
        child_pids "$TARGET_MAIN_PID" >>"$WORK_DIR/count.workers"
        seen=$(($(sort -u "$WORK_DIR/count.workers" | grep -c .) - 1))
    else
        seen=0
    fi
    read -r rps p50 p99 max reqs non2xx sc sr sw st < <(parse_wrk "$out")
    if [[ "$rps" == na || "$reqs" -eq 0 ]]; then
        log "$target $mode: wrk gave no result: $(tail -n 3 "$out" | tr '\n' ' ')"
        record "$round" "$target" "$mode" na na na na 0 0 0 0 0 0 "$sent" "$seen" na na na
        return
    fi
    cpu="$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')"
    other="$(awk -v s=$((s1 - s0)) -v t=$((t1 - t0)) -v o=$((o1 - o0)) -v w="$(cat "$out.ticks")" \
        -v ns=$((ns1 - ns0)) -v hz="$CLK_TCK" 'BEGIN { x = (s - t - o - w) * 100 / (ns / 1e9 * hz); printf "%.0f", x < 0 ? 0 : x }')"
    # Of that, what ran on the proxy's core (everything of ours but the
    # target is pinned to the other one): the noise that hits the proxy.
    core="$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v k=$((k1 - k0)) -v ns=$((ns1 - ns0)) -v hz="$CLK_TCK" \
        'BEGIN { x = (c - t - k) * 100 / (ns / 1e9 * hz); printf "%.0f", x < 0 ? 0 : x }')"
    record "$round" "$target" "$mode" "$rps" "$p50" "$p99" "$max" "$reqs" "$non2xx" "$sc" "$sr" "$sw" "$st" "$sent" "$seen" "$cpu" "$other" "$core"
    log "round $round $target $mode: $rps req/s, p50 $p50 ms, p99 $p99 ms, max $max ms;" \
        "non-2xx $non2xx, socket errors c/r/w/t $sc/$sr/$sw/$st; reloads sent $sent, took effect $seen;" \
        "$cpu CPU us/req; others used ${other}% of a core, ${core}% of the proxy's core"
}

# verify_target: 200 with the origin's bytes (and, for plugin-host, the probe's stamp).
verify_target() {
    local got="$WORK_DIR/verify.body" hdr="$WORK_DIR/verify.head" code
    code="$(curl -s -m 10 -D "$hdr" -o "$got" -w '%{http_code}' "http://127.0.0.1:$TARGET_PORT/1k" || true)"
    [[ "$code" == 200 ]] && cmp -s "$got" "$WORK_DIR/docroot/1k" || {
        log "$1: /1k returned status '$code' or a different body"
        return 1
    }
    [[ "$1" != ph ]] || grep -qi '^x-probe-stamp: 0' "$hdr" || {
        log "ph: no x-probe-stamp: 0 on the response"
        return 1
    }
}

# latency_target ROUND TARGET: start, verify, warm up, the two runs, stop.
# Odd rounds measure steady first, even rounds reloading first.
latency_target() {
    local round="$1" target="$2" modes=(steady reloading) m
    ((round % 2)) || modes=(reloading steady)
    case "$target" in
    ph) start_ph ph "$PLUGIN_NULL_SO" ;;
    nginx) start_nginx_proxy 0 ;;
    esac
    if verify_target "$target"; then
        run_wrk "http://127.0.0.1:$TARGET_PORT/1k" 2 "$WORK_DIR/warmup.out"
        for m in "${modes[@]}"; do
            measure "$round" "$target" "$m"
        done
    else
        for m in "${modes[@]}"; do
            record "$round" "$target" "$m" na na na na 0 0 0 0 0 0 0 0 na na na
        done
    fi
    [[ "$target" != ph ]] || ph_stats >"$WORK_DIR/ph.stats.$round.json"
    stop_server "$TARGET_MAIN_PID"
}

main() {
    [[ "${BENCH_SKIP_INSTALL:-0}" == 1 ]] ||
        BENCH_COMMANDS="nginx wrk curl taskset python3" ensure_packages nginx wrk curl python3
    make_work_dir
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    RAW="$WORK_DIR/latency.tsv"
    printf 'round\ttarget\tmode\trps\tp50_ms\tp99_ms\tmax_ms\trequests\tnon2xx\tsock_connect\tsock_read\tsock_write\tsock_timeout\treloads_sent\treloads_effective\tcpu_us_per_req\tother_pct\tother_proxy_core_pct\n' >"$RAW"

    if has_part swap || has_part ph; then
        build_workspace
        snapshot_plugin_host
        PLUGIN_PROBE_SO="$(snapshot_plugin "$PLUGIN_PROBE_SO")"
        [[ -f "$PLUGIN_NULL_SO" ]] || die "no $PLUGIN_NULL_SO"
        # A host from before hot reload would die of the first SIGHUP.
        "$PLUGIN_HOST_BIN" reload --help >/dev/null 2>&1 || die "$PLUGIN_HOST_BIN has no hot reload; rebuild it"
    fi
    start_origin
    log "origin up on 127.0.0.1:$ORIGIN_PORT (cpu $LOAD_CPU); proxies on cpu $PROXY_CPU"

    if has_part swap; then
        swap_part
    fi

    local targets=() round i n
    has_part ph && targets+=(ph)
    has_part nginx && targets+=(nginx)
    n=${#targets[@]}
    if ((n)); then
        log "latency: wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s --latency /1k, steady and reloading every ${INTERVAL}s, $ROUNDS round(s)"
        for ((round = 1; round <= ROUNDS; round++)); do
            for ((i = 0; i < n; i++)); do
                latency_target "$round" "${targets[$(((i + round - 1) % n))]}"
            done
        done
    fi

    if [[ -n "$OUT_DIR" ]]; then
        mkdir -p "$OUT_DIR"
        cp "$RAW" "$WORK_DIR"/swap.tsv "$WORK_DIR"/swap.summary "$WORK_DIR"/*.stats*.json "$OUT_DIR"/ 2>/dev/null || true
    fi
    python3 "$BENCH_DIR/reload_report.py" --duration "$DURATION" --rounds "$ROUNDS" --interval "$INTERVAL" \
        --swap-summary "$WORK_DIR/swap.summary" --latency "$RAW"
}

main
