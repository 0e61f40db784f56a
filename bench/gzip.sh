#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Compression side by side: plugin-host's gzip plugin (gzip 6, 7 and 1, br 5,
# zstd 3) against Traffic Server 9.2's compress.so (gzip, level 6 fixed in
# 9.2) and nginx's gzip filter (levels 1 and 6), all as reverse proxies in
# front of the same nginx origin. Bodies: 64 KiB and 1 MiB of HTML-like
# text, and the Rust book's HTML from the toolchain's own docs (every page
# in turn). Prints one markdown table of medians over ROUNDS rounds: req/s,
# CPU µs per request, compressed bytes per response and the ratio to the
# identity size. See bench/README.md ("Compression").
#
# Usage: bench/gzip.sh [-r ROUNDS] [-d DURATION] [TARGET...]
# Targets: ph-gzip6 ph-gzip7 ph-gzip1 ph-br5 ph-zstd3 ats-compress nginx-gzip6 nginx-gzip1
# Env: as bench/run.sh (REPO, PLUGIN_HOST_BIN, BENCH_SKIP_INSTALL=1,
#      BENCH_SKIP_BUILD=1, BENCH_KEEP=1), plus PLUGIN_GZIP_SO.
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/nginx.sh
source "$BENCH_DIR/lib/nginx.sh"
# shellcheck source=lib/ats.sh
source "$BENCH_DIR/lib/ats.sh"
# shellcheck source=lib/plugin_host.sh
source "$BENCH_DIR/lib/plugin_host.sh"

PLUGIN_GZIP_SO="${PLUGIN_GZIP_SO:-$REPO/target/release/libplugin_gzip.so}"
ROUNDS=3
DURATION=10s
ALL_TARGETS=(ph-gzip6 ph-gzip7 ph-gzip1 ph-br5 ph-zstd3 ats-compress nginx-gzip6 nginx-gzip1)
# Bodies: name in the docroot (the book is a folder, fetched page by page).
BODIES=(64k.html 1m.html book)

usage() { awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"; exit "${1:-0}"; }

while getopts "r:d:h" opt; do
    case "$opt" in
    r) ROUNDS="$OPTARG" ;;
    d) DURATION="$OPTARG" ;;
    h) usage 0 ;;
    *) usage 2 ;;
    esac
done
shift $((OPTIND - 1))
select_targets "$@"
CLK_TCK="$(getconf CLK_TCK)"

# make_text_docroot DIR: the HTML-like text (the book's pages concatenated
# and cut to size, so its words and markup are real) and the book itself.
make_text_docroot() {
    local dir="$1" book
    book="$(rustc --print sysroot)/share/doc/rust/html/book"
    [[ -d "$book" ]] || die "no Rust book at $book (rustup component add rust-docs)"
    mkdir -p "$dir/book"
    find "$book" -maxdepth 1 -name '*.html' -exec cp {} "$dir/book/" \;
    # Through a file, not a pipe into head: pipefail would fail on cat's SIGPIPE.
    cat "$dir"/book/*.html >"$WORK_DIR/book.all"
    head -c 65536 "$WORK_DIR/book.all" >"$dir/64k.html"
    : >"$dir/1m.html"
    while (($(stat -c %s "$dir/1m.html") < 1048576)); do
        cat "$WORK_DIR/book.all" >>"$dir/1m.html"
    done
    truncate -s 1048576 "$dir/1m.html"
    chmod -R a+rX "$dir"
    local f
    for f in "$dir"/book/*.html; do
        echo "/book/${f##*/}"
    done >"$WORK_DIR/book.paths"
}

# start_text_origin: nginx on ORIGIN_PORT serving the text docroot as text/html.
start_text_origin() {
    local dir="$WORK_DIR/origin"
    mkdir -p "$dir/tmp"
    make_text_docroot "$WORK_DIR/docroot"
    {
        nginx_main "$dir"
        echo "http {"
        nginx_common_http "$dir"
        cat <<EOF
    types { text/html html; }
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        root $WORK_DIR/docroot;
        gzip off;
        location / { }
    }
}
EOF
    } >"$dir/nginx.conf"
    start_nginx origin "$LOAD_CPU" "$dir/nginx.conf"
    ORIGIN_PIDS=("${TARGET_PIDS[@]}")
}

# start_ph_gzip NAME CONFIG_TEXT: plugin-host with the gzip plugin alone.
start_ph_gzip() {
    local name="$1" dir="$WORK_DIR/$1"
    [[ -x "$PLUGIN_HOST_BIN" && -f "$PLUGIN_GZIP_SO" ]] || { log "no plugin-host or gzip plugin build: $name is n/a"; return 1; }
    mkdir -p "$dir"
    printf '%s\n' "$2" >"$dir/compress.config"
    echo "$PLUGIN_GZIP_SO $dir/compress.config" >"$dir/plugin.config"
    port_free "$PH_PORT" || die "port $PH_PORT is taken; is another plugin-host running?"
    local log_flags
    mapfile -t log_flags < <(plugin_host_log_args 0 "")
    taskset -c "$PROXY_CPU" "$PLUGIN_HOST_BIN" run \
        --listen "127.0.0.1:$PH_PORT" --origin "127.0.0.1:$ORIGIN_PORT" \
        --threads 1 --config "$dir/plugin.config" "${log_flags[@]}" \
        >"$dir/stdout.log" 2>"$dir/stderr.log" &
    started_target $! "$PH_PORT"
    wait_port "$PH_PORT" 20 || { log "plugin-host $name did not listen; see $dir/stderr.log"; return 1; }
}

# start_nginx_gzip LEVEL: the nginx peer proxy with its gzip filter on.
start_nginx_gzip() {
    local dir="$WORK_DIR/nginx-gzip$1"
    write_nginx_proxy_conf "$dir" "        gzip on;
        gzip_comp_level $1;
        gzip_min_length 0;
        gzip_proxied any;
        gzip_types text/html;" ""
    start_nginx proxy "$PROXY_CPU" "$dir/nginx.conf"
    TARGET_PORT="$NGINX_PORT"
}

# start_ats_compress: Traffic Server with compress.so, gzip for text/html.
start_ats_compress() {
    local root so=/usr/lib/trafficserver/modules/compress.so
    [[ -f "$so" ]] || { log "no $so: ats-compress is n/a"; return 1; }
    root="$(make_ats_sandbox ats-compress "")"
    cat >"$root/etc/compress.config" <<EOF
enabled true
cache false
supported-algorithms gzip
compressible-content-type text/html
minimum-content-length 0
EOF
    echo "compress.so $root/etc/compress.config" >"$root/etc/plugin.config"
    [[ $EUID -ne 0 ]] || chown -R "$ATS_USER:" "$root"
    launch_ats ats-compress "$root"
}

# start_target NAME: sets TARGET_* and ACCEPT (the Accept-Encoding to send).
start_target() {
    ACCEPT=gzip
    case "$1" in
    ph-gzip6) start_ph_gzip "$1" $'supported-algorithms gzip\ngzip-level 6\nminimum-content-length 0' ;;
    ph-gzip7) start_ph_gzip "$1" $'supported-algorithms gzip\ngzip-level 7\nminimum-content-length 0' ;;
    ph-gzip1) start_ph_gzip "$1" $'supported-algorithms gzip\ngzip-level 1\nminimum-content-length 0' ;;
    ph-br5) ACCEPT=br && start_ph_gzip "$1" $'supported-algorithms br\nbrotli-level 5\nminimum-content-length 0' ;;
    ph-zstd3) ACCEPT=zstd && start_ph_gzip "$1" $'supported-algorithms zstd\nzstd-level 3\nminimum-content-length 0' ;;
    ats-compress) start_ats_compress ;;
    nginx-gzip6) start_nginx_gzip 6 ;;
    nginx-gzip1) start_nginx_gzip 1 ;;
    esac
}

# paths BODY: the URL paths one body stands for.
paths() {
    if [[ "$1" == book ]]; then cat "$WORK_DIR/book.paths"; else echo "/$1"; fi
}

# wire_bytes BODY: "compressed identity" byte totals over the body's paths,
# after checking every response decodes back to the origin's file.
wire_bytes() {
    local path wire=0 plain=0 got="$WORK_DIR/wire.body" enc
    while read -r path; do
        enc="$(curl -s -m 10 -H "Accept-Encoding: $ACCEPT" -o "$got" -w '%header{content-encoding}' "http://127.0.0.1:$TARGET_PORT$path" || true)"
        [[ "$enc" == "$ACCEPT" ]] || { log "$CUR_TARGET $path: Content-Encoding '$enc', not $ACCEPT"; return 1; }
        case "$ACCEPT" in
        gzip) gzip -dc <"$got" >"$got.plain" ;;
        br) brotli -dc <"$got" >"$got.plain" ;;
        zstd) zstd -dcq <"$got" >"$got.plain" ;;
        esac
        cmp -s "$got.plain" "$WORK_DIR/docroot$path" || { log "$CUR_TARGET $path: decodes to other bytes"; return 1; }
        wire=$((wire + $(stat -c %s "$got")))
        plain=$((plain + $(stat -c %s "$got.plain")))
    done < <(paths "$1")
    echo "$wire $plain"
}

# lua_for BODY: a wrk script sending Accept-Encoding and cycling the paths.
lua_for() {
    local script="$WORK_DIR/wrk-$1.lua"
    {
        echo "local paths = {"
        paths "$1" | sed 's/.*/  "&",/'
        echo "}"
        echo "local i = 0"
        echo "request = function()"
        echo "  i = i % #paths + 1"
        echo "  return wrk.format(\"GET\", paths[i], { [\"Accept-Encoding\"] = \"$ACCEPT\" })"
        echo "end"
    } >"$script"
    echo "$script"
}

# measure ROUND TARGET: one line per body into RAW.
measure() {
    local round="$1" target="$2" body out="$WORK_DIR/wrk.out" t0 t1 rps reqs cpu wire plain
    for body in "${BODIES[@]}"; do
        read -r wire plain < <(wire_bytes "$body") || { printf '%s\t%s\t%s\tna\tna\tna\tna\n' "$round" "$target" "$body" >>"$RAW"; continue; }
        t0="$(cpu_ticks "${TARGET_PIDS[@]}")"
        taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"$DURATION" -s "$(lua_for "$body")" "http://127.0.0.1:$TARGET_PORT" >"$out" 2>&1 || true
        t1="$(cpu_ticks "${TARGET_PIDS[@]}")"
        rps="$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
        reqs="$(awk '/requests in/ { print $1 }' "$out")"
        cpu="$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="${reqs:-0}" 'BEGIN { printf "%.1f", n ? d * 1e6 / hz / n : 0 }')"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$target" "$body" "${rps:-na}" "$cpu" "$wire" "$plain" >>"$RAW"
        log "round $round $target $body: ${rps:-na} req/s, $cpu CPU us/req, $wire of $plain bytes"
    done
}

# report: medians per target and body as a markdown table.
report() {
    python3 - "$RAW" "${TARGETS[@]}" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
targets, bodies = sys.argv[2:], ["64k.html", "1m.html", "book"]
def med(t, b, col):
    vals = [float(r[col]) for r in rows if r[1] == t and r[2] == b and r[col] != "na"]
    return statistics.median(vals) if vals else None
print("| target | " + " | ".join(f"{b} req/s | {b} CPU µs/req | {b} bytes | {b} ratio" for b in bodies) + " |")
print("|---" * (1 + 4 * len(bodies)) + "|")
for t in targets:
    cells = []
    for b in bodies:
        rps, cpu, wire, plain = (med(t, b, c) for c in (3, 4, 5, 6))
        if rps is None:
            cells += ["n/a"] * 4
        else:
            cells += [f"{rps:.0f}", f"{cpu:.1f}", f"{wire:.0f}", f"{wire / plain:.3f}"]
    print(f"| {t} | " + " | ".join(cells) + " |")
EOF
}

main() {
    [[ "${BENCH_SKIP_INSTALL:-0}" == 1 ]] || ensure_packages
    command -v brotli >/dev/null && command -v zstd >/dev/null && command -v gzip >/dev/null ||
        die "gzip, brotli and zstd are needed to check the bodies (apt-get install gzip brotli zstd)"
    make_work_dir
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    RAW="$WORK_DIR/raw.tsv"
    printf 'round\ttarget\tbody\trps\tcpu_us_per_req\twire_bytes\tidentity_bytes\n' >"$RAW"
    build_plugin_host
    if [[ -f "$PLUGIN_GZIP_SO" ]]; then
        cp "$PLUGIN_GZIP_SO" "$WORK_DIR/libplugin_gzip.so"
        PLUGIN_GZIP_SO="$WORK_DIR/libplugin_gzip.so"
    fi
    snapshot_plugin_host
    start_text_origin
    log "origin up on 127.0.0.1:$ORIGIN_PORT (cpu $LOAD_CPU); proxies on cpu $PROXY_CPU"
    local round i n=${#TARGETS[@]} target
    for ((round = 1; round <= ROUNDS; round++)); do
        for ((i = 0; i < n; i++)); do
            target="${TARGETS[$(((i + round - 1) % n))]}"
            CUR_TARGET="$target"
            TARGET_MAIN_PID=""
            if start_target "$target"; then
                measure "$round" "$target"
            else
                log "round $round $target: n/a"
            fi
            [[ -z "$TARGET_MAIN_PID" ]] || stop_server "$TARGET_MAIN_PID"
        done
    done
    report
}

main
