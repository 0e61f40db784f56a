# shellcheck shell=bash
# HAProxy (Debian's package) as a peer proxy: one process, one thread,
# pinned to PROXY_CPU, keep-alive on both sides, with the buffer and splice
# tuning an operator sets for large bodies. Config and logs live under
# WORK_DIR; /etc/haproxy is never read and the packaged service is left
# alone.

# write_haproxy_cfg DIR LOG: DIR/haproxy.cfg on HAPROXY_PORT forwarding to
# the origin. LOG=1 adds HAProxy's usual request logging (`option httplog`)
# to stdout in raw format, which start_haproxy sends to DIR/access.log:
# HAProxy formats every line and writes it with one write(2), the cheapest
# honest target it has (syslog over a socket would add a collector's CPU,
# which is not HAProxy's).
write_haproxy_cfg() {
    local dir="$1" log="$2" log_global="" log_defaults="" maxconn
    # HAProxy refuses to start when 2 fds per connection and 2 per splice
    # pipe do not fit in its fd limit; it cannot go past the hard limit
    # (20,000 in some containers), so maxconn is what the limit allows
    # beside 1,024 pipes (plenty for 32 busy connections), at most 30,000.
    maxconn=$((($(ulimit -n) - 100 - 2 * 1024) / 2))
    ((maxconn <= 30000)) || maxconn=30000
    if [[ "$log" == 1 ]]; then
        # As Debian's packaged haproxy.cfg logs, to stdout instead of /dev/log.
        log_global="    log stdout format raw local0"
        log_defaults="    log global
    option httplog
    option dontlognull"
    fi
    mkdir -p "$dir"
    cat >"$dir/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn $maxconn
    maxpipes 1024
    # 64 KiB buffers instead of 16 KiB, and splice(2) (option splice-auto
    # below) where the kernel can move body bytes without a copy: the
    # tuning an operator sets for large bodies. With its defaults HAProxy
    # spent about twice the CPU per 1 MiB response (616 against 300 us).
    tune.bufsize 65536
$log_global

defaults
    mode http
    option http-keep-alive
    http-reuse always
    option splice-auto
$log_defaults
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 120s
    timeout http-request 10s

frontend bench
    bind 127.0.0.1:$HAPROXY_PORT
    maxconn $maxconn
    default_backend origin

backend origin
    server origin 127.0.0.1:$ORIGIN_PORT
EOF
}

# start_haproxy NAME LOG: start haproxy in the foreground (-db: no daemon,
# no master process, so its pid is the one process that serves) pinned to
# PROXY_CPU; sets TARGET_MAIN_PID, TARGET_PIDS, TARGET_PORT and
# TARGET_LOG_FILE (empty when LOG=0).
start_haproxy() {
    local name="$1" log="$2" dir="$WORK_DIR/$1"
    write_haproxy_cfg "$dir" "$log"
    haproxy -c -q -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1 || {
        log "haproxy $name: config refused: $(tr '\n' ' ' <"$dir/check.log")"
        return 1
    }
    port_free "$HAPROXY_PORT" || die "port $HAPROXY_PORT is taken; is another haproxy running?"
    TARGET_LOG_FILE=""
    [[ "$log" != 1 ]] || TARGET_LOG_FILE="$dir/access.log"
    taskset -c "$PROXY_CPU" haproxy -db -f "$dir/haproxy.cfg" >"$dir/access.log" 2>"$dir/stderr.log" &
    started_target $! "$HAPROXY_PORT"
    if ! wait_port "$HAPROXY_PORT" 10; then
        log "haproxy $name did not listen; its stderr:"
        tail -n 20 "$dir/stderr.log" >&2
        stop_server "$TARGET_MAIN_PID"
        return 1
    fi
}
