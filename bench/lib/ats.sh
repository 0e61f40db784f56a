# shellcheck shell=bash
# Apache Traffic Server as a peer proxy: one sandbox per variant (a
# runroot.yaml pointing config, runtime, log and cache dirs into WORK_DIR),
# started as traffic_server directly, never through systemd or
# traffic_manager. Debian 12 ships ATS 9.2, whose main config file is
# records.config (records.yaml only arrived in 10.0).

ATS_USER="${ATS_USER:-trafficserver}"

# build_ats_null: compile bench/ats-null/null_transform.c with tsxs into
# WORK_DIR (the source tree stays clean); prints the .so path.
build_ats_null() {
    local out="$WORK_DIR/ats-null-build"
    mkdir -p "$out"
    cp "$BENCH_DIR/ats-null/null_transform.c" "$out/"
    (cd "$out" && tsxs -o null_transform.so -c null_transform.c) >"$out/build.log" 2>&1 ||
        die "tsxs failed; see $out/build.log"
    chmod 755 "$out/null_transform.so"
    echo "$out/null_transform.so"
}

# ats_records PORT [LOG]: records.config for a one-thread, cache-off
# reverse proxy, its transaction logging off or (LOG=1) on as packaged:
# logging_enabled 3 with the packaged logging.yaml, which writes the squid
# format in binary to the log dir (squid.blog).
ats_records() {
    local port="$1" log="${2:-0}" logging=0
    [[ "$log" != 1 ]] || logging=3
    # Root must hand the process to an unprivileged user (ATS refuses to
    # serve as root); anyone else just stays who they are.
    if [[ $EUID -eq 0 ]]; then
        echo "CONFIG proxy.config.admin.user_id STRING $ATS_USER"
    else
        echo "CONFIG proxy.config.admin.user_id STRING #-1"
    fi
    cat <<EOF
CONFIG proxy.config.exec_thread.autoconfig INT 0
CONFIG proxy.config.exec_thread.limit INT 1
CONFIG proxy.config.exec_thread.affinity INT 0
CONFIG proxy.config.accept_threads INT 0
CONFIG proxy.config.http.server_ports STRING $port:ip-in=127.0.0.1
CONFIG proxy.config.http.cache.http INT 0
CONFIG proxy.config.reverse_proxy.enabled INT 1
CONFIG proxy.config.url_remap.remap_required INT 1
CONFIG proxy.config.log.logging_enabled INT $logging
CONFIG proxy.config.diags.debug.enabled INT 0
CONFIG proxy.config.http.insert_request_via_str INT 0
CONFIG proxy.config.http.insert_response_via_str INT 0
CONFIG proxy.config.http.keep_alive_no_activity_timeout_in INT 120
CONFIG proxy.config.http.keep_alive_no_activity_timeout_out INT 120
CONFIG proxy.config.net.connections_throttle INT 30000
CONFIG proxy.config.net.max_connections_in INT 30000
EOF
}

# make_ats_sandbox NAME PLUGIN_SO [LOG]: a private layout under
# WORK_DIR/NAME; PLUGIN_SO (may be empty) is the one line of its
# plugin.config; LOG as for ats_records.
make_ats_sandbox() {
    local name="$1" plugin="$2" log="${3:-0}" root="$WORK_DIR/$1"
    mkdir -p "$root"/{etc,run,log,cache,var,share}
    # Start from the packaged defaults (ip_allow.yaml, body_factory, ...)
    # and replace the files that define this benchmark.
    cp -r /etc/trafficserver/. "$root/etc/"
    ats_records "$ATS_PORT" "$log" >"$root/etc/records.config"
    echo "map / http://127.0.0.1:$ORIGIN_PORT/" >"$root/etc/remap.config"
    : >"$root/etc/storage.config"
    if [[ -n "$plugin" ]]; then
        cp "$plugin" "$root/null_transform.so"
        echo "$root/null_transform.so" >"$root/etc/plugin.config"
    else
        : >"$root/etc/plugin.config"
    fi
    cat >"$root/runroot.yaml" <<EOF
prefix: $root
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
sysconfdir: $root/etc
datadir: $root/share
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
localstatedir: $root/var
runtimedir: $root/run
logdir: $root/log
cachedir: $root/cache
EOF
    if [[ $EUID -eq 0 ]]; then
        chown -R "$ATS_USER:" "$root"
    fi
    echo "$root"
}

# start_ats NAME PLUGIN_SO [LOG]: start traffic_server pinned to
# PROXY_CPU; sets TARGET_MAIN_PID, TARGET_PIDS (the one traffic_server
# process) and TARGET_LOG_FILE (empty when LOG is not 1).
start_ats() {
    local name="$1" plugin="$2" log="${3:-0}" root
    root="$(make_ats_sandbox "$name" "$plugin" "$log")"
    # Each round's log holds that round's lines only (ATS appends).
    rm -f "$root/log/squid.blog"
    TARGET_LOG_FILE=""
    [[ "$log" != 1 ]] || TARGET_LOG_FILE="$root/log/squid.blog"
    launch_ats "$name" "$root"
}

# launch_ats NAME ROOT: run traffic_server from the sandbox ROOT, pinned to
# PROXY_CPU, and wait for its port.
launch_ats() {
    local name="$1" root="$2"
    port_free "$ATS_PORT" || die "port $ATS_PORT is taken; is another traffic_server running?"
    TS_RUNROOT="$root/runroot.yaml" taskset -c "$PROXY_CPU" \
        traffic_server --run-root="$root/runroot.yaml" \
        --bind_stdout "$root/log/traffic.out" --bind_stderr "$root/log/traffic.out" \
        >"$root/stdout.log" 2>&1 &
    started_target $! "$ATS_PORT"
    if ! wait_port "$ATS_PORT" 30; then
        log "traffic_server $name did not listen; last lines of its logs:"
        tail -n 20 "$root/stdout.log" "$root/log/"* >&2 2>/dev/null || true
        return 1
    fi
}
