# shellcheck shell=bash
# plugin-host, the proxy under test: built from the repo if missing, run
# with one worker thread and a plugin.config of 0, 1 or 5 null transforms,
# or one scanner in report mode with 1,000 patterns (ph-scan) or in
# replace mode with 255 (ph-replace, beside nginx sub_filter's limit); its
# access log off or on to a file.

# build_plugin_host: cargo build --release once; afterwards only if the
# binary is missing. A failed build is reported, not fatal: its rows then
# show n/a and the peers are still measured. BENCH_SKIP_BUILD=1 skips it.
build_plugin_host() {
    if [[ -x "$PLUGIN_HOST_BIN" && -f "$PLUGIN_NULL_SO" ]]; then
        return 0
    fi
    if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
        [[ -x "$PLUGIN_HOST_BIN" ]] || log "BENCH_SKIP_BUILD=1 and no $PLUGIN_HOST_BIN: plugin-host rows will be n/a"
        [[ -f "$PLUGIN_NULL_SO" ]] || log "BENCH_SKIP_BUILD=1 and no $PLUGIN_NULL_SO: null-transform rows will be n/a"
        return 0
    fi
    if ! command -v cargo >/dev/null || [[ ! -f "$REPO/Cargo.toml" ]]; then
        log "no cargo or no workspace at $REPO: plugin-host rows will be n/a"
        return 0
    fi
    log "building plugin-host (cargo build --release --workspace in $REPO)"
    if ! (cd "$REPO" && cargo build --release --workspace) >"$WORK_DIR/cargo-build.log" 2>&1; then
        log "cargo build failed (last lines below): plugin-host rows will be n/a"
        tail -n 15 "$WORK_DIR/cargo-build.log" >&2
    fi
}

# build_workspace: cargo build --release --workspace, always (a no-op when
# the build is up to date). For scripts that need this tree's features, not
# just some binary (reload.sh needs a host that handles SIGHUP). A failure
# is fatal. BENCH_SKIP_BUILD=1 skips it.
build_workspace() {
    [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]] || return 0
    command -v cargo >/dev/null && [[ -f "$REPO/Cargo.toml" ]] || die "no cargo or no workspace at $REPO"
    log "building plugin-host (cargo build --release --workspace in $REPO)"
    if ! (cd "$REPO" && cargo build --release --workspace) >"$WORK_DIR/cargo-build.log" 2>&1; then
        tail -n 15 "$WORK_DIR/cargo-build.log" >&2
        die "cargo build failed"
    fi
}

# snapshot_plugin FILE: copy one more plugin into the snapshot dir made by
# snapshot_plugin_host and print the copy's path.
snapshot_plugin() {
    local snap="$WORK_DIR/plugin-host-build" file="$1"
    [[ -f "$file" ]] || die "no $file"
    mkdir -p "$snap"
    cp "$file" "$snap/$(basename "$file")"
    echo "$snap/$(basename "$file")"
}

# snapshot_plugin_host: copy the binary and the null plugin into WORK_DIR
# so one run measures one build even if the repo is rebuilt meanwhile.
snapshot_plugin_host() {
    local snap="$WORK_DIR/plugin-host-build"
    mkdir -p "$snap"
    if [[ -x "$PLUGIN_HOST_BIN" ]]; then
        cp "$PLUGIN_HOST_BIN" "$snap/plugin-host"
        log "plugin-host: $PLUGIN_HOST_BIN ($(date -r "$PLUGIN_HOST_BIN" '+%F %T'))"
        PLUGIN_HOST_BIN="$snap/plugin-host"
    fi
    # Point at the snapshot even when there is nothing to copy: a plugin
    # built later in the run must not be mixed with an older host.
    if [[ -f "$PLUGIN_NULL_SO" ]]; then
        cp "$PLUGIN_NULL_SO" "$snap/libplugin_null.so"
    fi
    PLUGIN_NULL_SO="$snap/libplugin_null.so"
    if [[ -f "$PLUGIN_SCANNER_SO" ]]; then
        cp "$PLUGIN_SCANNER_SO" "$snap/libplugin_scanner.so"
    fi
    PLUGIN_SCANNER_SO="$snap/libplugin_scanner.so"
}

# plugin_host_available: the binary exists and can run (and, for the
# null-transform variants, the plugin exists too: checked per variant).
plugin_host_available() {
    [[ -x "$PLUGIN_HOST_BIN" ]]
}

# write_plugin_config N FILE: N lines, each the absolute path of the null
# plugin (plugin.config syntax: one plugin per line, in chain order).
write_plugin_config() {
    local n="$1" file="$2" i
    : >"$file"
    for ((i = 0; i < n; i++)); do
        echo "$PLUGIN_NULL_SO" >>"$file"
    done
}

# null_target TARGET DEFAULT_NULLS: splits BIN[#N] into TARGET_BIN (the binary)
# and TARGET_NULLS (N, else DEFAULT_NULLS), and sets PLUGIN_ARGS: --no-plugins, or
# --config of a WORK_DIR/plugin.config of TARGET_NULLS null transforms, each the
# libplugin_null.so beside the binary (so a snapshot keeps its own plugin build).
null_target() {
    TARGET_BIN="$1" TARGET_NULLS="$2"
    [[ "$1" != *#* ]] || TARGET_NULLS="${1##*#}" TARGET_BIN="${1%#*}"
    PLUGIN_ARGS=(--no-plugins)
    if ((TARGET_NULLS > 0)); then
        PLUGIN_NULL_SO="$(cd "$(dirname "$TARGET_BIN")" && pwd)/libplugin_null.so"
        [[ -f "$PLUGIN_NULL_SO" ]] || die "$TARGET_NULLS nulls: no $PLUGIN_NULL_SO beside $TARGET_BIN"
        write_plugin_config "$TARGET_NULLS" "$WORK_DIR/plugin.config"
        PLUGIN_ARGS=(--config "$WORK_DIR/plugin.config")
    fi
}

# plugin_host_has_access_log: the binary has the --access-log flag (hosts
# built before it log each transaction as an info line on stderr instead).
plugin_host_has_access_log() {
    "$PLUGIN_HOST_BIN" run --help 2>/dev/null | grep -q -- --access-log
}

# plugin_host_log_mode LOG: one line saying how plugin-host's access log is
# switched off (LOG=0) or on (LOG=1) with this binary, for the report.
plugin_host_log_mode() {
    if plugin_host_has_access_log; then
        if [[ "$1" == 1 ]]; then
            echo "--access-log FILE --access-log-format combined"
        else
            echo "--access-log off"
        fi
    elif [[ "$1" == 1 ]]; then
        echo "no --access-log in this build: --log-level warn,access=info, its access line on stderr redirected to a file"
    else
        echo "no --access-log in this build: --log-level warn (no access line)"
    fi
}

# plugin_host_log_args LOG FILE: the flags for that mode, one a line.
plugin_host_log_args() {
    local log="$1" file="$2"
    echo --log-level
    if plugin_host_has_access_log; then
        printf '%s\n' warn --access-log
        if [[ "$log" == 1 ]]; then
            printf '%s\n' "$file" --access-log-format combined
        else
            echo off
        fi
    elif [[ "$log" == 1 ]]; then
        echo warn,access=info
    else
        echo warn
    fi
}

# start_plugin_host NAME N_NULL [LOG]: start plugin-host pinned to
# PROXY_CPU; sets TARGET_MAIN_PID, TARGET_PIDS, TARGET_PORT and
# TARGET_LOG_FILE (LOG=1: its access log; empty otherwise). Extra flags
# (for the idle-connection test) come from PH_EXTRA_ARGS.
start_plugin_host() {
    local name="$1" n="$2" log="${3:-0}" dir="$WORK_DIR/$1"
    plugin_host_available || return 1
    if ((n > 0)) && [[ ! -f "$PLUGIN_NULL_SO" ]]; then
        log "no $PLUGIN_NULL_SO: $name is n/a"
        return 1
    fi
    mkdir -p "$dir"
    write_plugin_config "$n" "$dir/plugin.config"
    launch_plugin_host "$name" "$log"
}

# write_scanner_config FILE MODE COUNT: one scanner line in MODE (report or
# replace) with COUNT 14-byte patterns (which random bodies never contain:
# every byte is scanned and none matches), the patterns file beside FILE.
write_scanner_config() {
    local file="$1" mode="$2" count="$3" patterns i
    patterns="$(dirname "$file")/patterns.txt"
    for ((i = 0; i < count; i++)); do
        if [[ "$mode" == replace ]]; then
            printf '<tok-%04d-x7q>\tR%d\n' "$i" "$i"
        else
            printf '<tok-%04d-x7q>\n' "$i"
        fi
    done >"$patterns"
    echo "$PLUGIN_SCANNER_SO --patterns $patterns --mode $mode" >"$file"
}

# start_scanner_host NAME MODE: start plugin-host with one scanner line in
# MODE: report with 1,000 patterns (ph-scan), or replace with SUB_PATTERNS
# (ph-replace: nginx sub_filter, its peer, takes at most 255).
start_scanner_host() {
    local name="$1" mode="$2" dir="$WORK_DIR/$1" count=1000
    plugin_host_available || return 1
    if [[ ! -f "$PLUGIN_SCANNER_SO" ]]; then
        log "no $PLUGIN_SCANNER_SO: $name is n/a"
        return 1
    fi
    [[ "$mode" != replace ]] || count="$SUB_PATTERNS"
    mkdir -p "$dir"
    write_scanner_config "$dir/plugin.config" "$mode" "$count"
    launch_plugin_host "$name"
}

# launch_plugin_host NAME [LOG]: start plugin-host on
# WORK_DIR/NAME/plugin.config (written by the caller), as start_plugin_host
# does. Without --access-log in the binary, the log-on file is its stderr.
launch_plugin_host() {
    local name="$1" log="${2:-0}" dir="$WORK_DIR/$1" log_args
    plugin_host_available || return 1
    port_free "$PH_PORT" || die "port $PH_PORT is taken; is another plugin-host running?"
    mapfile -t log_args < <(plugin_host_log_args "$log" "$dir/access.log")
    # Each round's file holds that round's lines only (the host appends).
    rm -f "$dir/access.log"
    TARGET_LOG_FILE=""
    if [[ "$log" == 1 ]]; then
        TARGET_LOG_FILE="$dir/access.log"
        plugin_host_has_access_log || TARGET_LOG_FILE="$dir/stderr.log"
    fi
    # shellcheck disable=SC2086 # PH_EXTRA_ARGS is a list of flags by design
    taskset -c "$PROXY_CPU" "$PLUGIN_HOST_BIN" run \
        --listen "127.0.0.1:$PH_PORT" --origin "127.0.0.1:$ORIGIN_PORT" \
        --threads 1 --config "$dir/plugin.config" "${log_args[@]}" ${PH_EXTRA_ARGS:-} \
        >"$dir/stdout.log" 2>"$dir/stderr.log" &
    started_target $! "$PH_PORT"
    # Ready means it said so on stdout (its contract) and the port answers.
    for _ in $(seq 200); do
        grep -q 'listening on' "$dir/stdout.log" 2>/dev/null && break
        kill -0 "$TARGET_MAIN_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$TARGET_MAIN_PID" 2>/dev/null || ! wait_port "$PH_PORT" 5; then
        log "plugin-host $name did not start; its stderr:"
        tail -n 20 "$dir/stderr.log" >&2
        stop_server "$TARGET_MAIN_PID"
        return 1
    fi
}
