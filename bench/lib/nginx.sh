# shellcheck shell=bash
# nginx in its two roles: the ORIGIN every proxy forwards to (static files,
# pinned with the load generator on LOAD_CPU) and a PEER proxy (pinned on
# PROXY_CPU). Each gets its own prefix dir and config under WORK_DIR; the
# system's /etc/nginx is never read.

# Body sizes the benchmark serves, as "name bytes".
SIZES=("1k 1024" "64k 65536" "1m 1048576")
# Served too, but only measured when asked for (cpu_ab.sh -s 16m): large
# bodies are where splice(2) is meant to pay.
EXTRA_SIZES=("16m 16777216")

# nginx_common_http DIR: the http{} settings both roles share. Temp paths
# live in DIR so nothing is written under /var/lib/nginx.
nginx_common_http() {
    local dir="$1"
    cat <<EOF
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 120s;
    # The default (1000) would make wrk reconnect during a run; every
    # target is measured on long-lived keep-alive connections instead.
    keepalive_requests 100000000;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
EOF
}

# nginx_main DIR: the top-level directives both roles share. daemon off
# keeps the master in the foreground so its pid is the one we started.
nginx_main() {
    local dir="$1"
    cat <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 30000; }
EOF
}

# make_docroot DIR: one file per size, filled with random bytes so a
# proxy that alters a body is caught by the byte comparison in run.sh.
make_docroot() {
    local dir="$1" entry name bytes
    mkdir -p "$dir"
    for entry in "${SIZES[@]}" "${EXTRA_SIZES[@]}"; do
        read -r name bytes <<<"$entry"
        head -c "$bytes" /dev/urandom >"$dir/$name"
    done
    chmod -R a+rX "$dir"
}

# start_nginx ROLE CPU CONF: start one nginx master pinned to CPU; sets
# TARGET_MAIN_PID (the master) and TARGET_PIDS (master and worker).
start_nginx() {
    local role="$1" cpu="$2" conf="$3" dir port
    dir="$(dirname "$conf")"
    port="$(awk '/listen/ {split($2, a, ":"); sub(";", "", a[2]); print a[2]; exit}' "$conf")"
    port_free "$port" || die "port $port is taken; is another benchmark running?"
    taskset -c "$cpu" "$(nginx_bin)" -p "$dir" -c "$conf" >"$dir/stdout.log" 2>&1 &
    TARGET_MAIN_PID=$!
    STARTED_PIDS+=("$TARGET_MAIN_PID")
    wait_port "$port" 10 || die "nginx $role did not listen on $port; see $dir/error.log"
    # The worker is forked after the listener is opened; give it a moment.
    local workers=""
    for _ in $(seq 50); do
        workers="$(child_pids "$TARGET_MAIN_PID")"
        [[ -n "$workers" ]] && break
        sleep 0.1
    done
    [[ -n "$workers" ]] || die "nginx $role has no worker process"
    # shellcheck disable=SC2206 # one pid per line, no globbing possible
    TARGET_PIDS=("$TARGET_MAIN_PID" $workers)
}

# start_origin: the origin on ORIGIN_PORT, serving WORK_DIR/docroot.
start_origin() {
    local dir="$WORK_DIR/origin"
    mkdir -p "$dir/tmp"
    make_docroot "$WORK_DIR/docroot"
    {
        nginx_main "$dir"
        echo "http {"
        nginx_common_http "$dir"
        cat <<EOF
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        root $WORK_DIR/docroot;
        location / { }
    }
}
EOF
    } >"$dir/nginx.conf"
    start_nginx origin "$LOAD_CPU" "$dir/nginx.conf"
    ORIGIN_PIDS=("${TARGET_PIDS[@]}")
}

# write_nginx_proxy_conf DIR SERVER_EXTRA LOCATION_EXTRA [LOG]: the peer
# proxy's config on NGINX_PORT, a keep-alive pool of 32 to the origin, with
# extra directives for the server and location blocks (gzip, sub_filter,
# ...). proxy_buffering stays at its default (on), but responses are never
# spooled to a temp file (proxy_max_temp_file_size 0): plugin-host streams
# with bounded memory, and so should the peer. The buffers are the ones an
# operator sets for large bodies: with the default 8 x 4 KiB, nginx spent
# about three times the CPU it needs per 1 MiB response. LOG=1 writes the
# access log to DIR/access.log in the combined format, buffered as an
# operator would run it; otherwise (the default) it is off, as in the
# http{} block.
write_nginx_proxy_conf() {
    local dir="$1" server_extra="$2" location_extra="$3" log="${4:-0}" access="access_log off;"
    [[ "$log" != 1 ]] || access="access_log $dir/access.log combined buffer=64k flush=1s;"
    mkdir -p "$dir/tmp"
    {
        nginx_main "$dir"
        echo "http {"
        nginx_common_http "$dir"
        cat <<EOF
    upstream origin {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        $access
$server_extra
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_max_temp_file_size 0;
            proxy_buffer_size 16k;
            proxy_buffers 16 16k;
$location_extra
        }
    }
}
EOF
    } >"$dir/nginx.conf"
}

# start_nginx_proxy [LOG]: the plain peer proxy, its access log off or
# (LOG=1) on; sets TARGET_LOG_FILE (empty when off) besides what
# start_nginx sets.
start_nginx_proxy() {
    local log="${1:-0}" dir="$WORK_DIR/nginx-proxy"
    write_nginx_proxy_conf "$dir" "" "" "$log"
    # Each round's file holds that round's lines only (nginx appends).
    rm -f "$dir/access.log"
    start_nginx proxy "$PROXY_CPU" "$dir/nginx.conf"
    TARGET_PORT="$NGINX_PORT"
    TARGET_LOG_FILE=""
    [[ "$log" != 1 ]] || TARGET_LOG_FILE="$dir/access.log"
}

# Patterns in the replace-mode comparison: nginx refuses more than 255
# sub_filter search patterns ("number of search patterns exceeds 255").
SUB_PATTERNS=255

# start_nginx_sub: the peer proxy with sub_filter rewriting the same
# SUB_PATTERNS patterns as plugin-host's ph-replace (on every type, every
# occurrence). The random bodies contain none of them: both proxies pay
# for the search, neither rewrites a byte.
start_nginx_sub() {
    local dir="$WORK_DIR/nginx-sub" i filters
    filters="            sub_filter_types *;
            sub_filter_once off;"
    for ((i = 0; i < SUB_PATTERNS; i++)); do
        filters+=$'\n'"$(printf "            sub_filter '<tok-%04d-x7q>' 'R%d';" "$i" "$i")"
    done
    write_nginx_proxy_conf "$dir" "" "$filters"
    start_nginx sub "$PROXY_CPU" "$dir/nginx.conf"
    TARGET_PORT="$NGINX_PORT"
    TARGET_LOG_FILE=""
}
