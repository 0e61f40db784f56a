# shellcheck shell=bash
# Shared helpers for the side-by-side benchmark: paths, installs, process
# bookkeeping, readiness checks and /proc readings. Sourced by run.sh and
# idle_rss.sh; defines functions and variables only, starts nothing.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The repo root is the parent of bench/ unless REPO says otherwise (for
# example REPO=/work/main to bench the lead's tree from a worktree).
REPO="${REPO:-$(cd "$BENCH_DIR/.." && pwd)}"
PLUGIN_HOST_BIN="${PLUGIN_HOST_BIN:-$REPO/target/release/plugin-host}"
PLUGIN_NULL_SO="${PLUGIN_NULL_SO:-$REPO/target/release/libplugin_null.so}"
PLUGIN_SCANNER_SO="${PLUGIN_SCANNER_SO:-$REPO/target/release/libplugin_scanner.so}"
# The test plugin that stamps responses (reload.sh watches generations with it).
PLUGIN_PROBE_SO="${PLUGIN_PROBE_SO:-$REPO/target/release/libplugin_probe.so}"

# Ports on 127.0.0.1; a script may pick its own range (reload.sh does, so
# it can run beside run.sh) by setting them before sourcing this file.
ORIGIN_PORT="${ORIGIN_PORT:-18080}"
PH_PORT="${PH_PORT:-18081}"
NGINX_PORT="${NGINX_PORT:-18082}"
ATS_PORT="${ATS_PORT:-18083}"
HAPROXY_PORT="${HAPROXY_PORT:-18084}"
# plugin-host's --admin-listen where a script needs /stats (reload.sh).
PH_ADMIN_PORT="${PH_ADMIN_PORT:-18091}"

# Cores: the proxy under test gets core 0 to itself; the origin and the
# load generator share core 1, so every proxy sees the same load shape.
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"

# Every server started registers its pid here; cleanup kills exactly these.
STARTED_PIDS=()
WORK_DIR=""

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# make_work_dir: one private temp dir per run for configs, docroot and logs.
# World-readable because nginx workers and traffic_server drop privileges.
make_work_dir() {
    WORK_DIR="$(mktemp -d /tmp/plugin-host-bench.XXXXXX)"
    chmod 755 "$WORK_DIR"
}

# cleanup: stop every server this run started (and only those), then remove
# the work dir unless BENCH_KEEP=1 asks to keep logs for a post-mortem.
cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        kill_tree "$pid"
    done
    STARTED_PIDS=()
    if [[ -n "$WORK_DIR" && -d "$WORK_DIR" ]]; then
        if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
            log "kept $WORK_DIR"
        else
            rm -rf "$WORK_DIR"
        fi
    fi
}

# kill_tree PID: TERM the process, wait up to 5 s, then KILL. nginx's
# master takes its workers down with it; traffic_server and haproxy (run
# in the foreground, without master-worker) are one process each.
kill_tree() {
    local pid="$1"
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# forget_pid PID: drop a pid from STARTED_PIDS after stopping it by hand.
forget_pid() {
    local pid="$1" keep=() p
    for p in "${STARTED_PIDS[@]}"; do
        [[ "$p" == "$pid" ]] || keep+=("$p")
    done
    STARTED_PIDS=("${keep[@]}")
}

# stop_server PID: stop one server started by this run.
stop_server() {
    kill_tree "$1"
    forget_pid "$1"
}

# ensure_packages [PKG...]: install the peers and tools from Debian once; a
# second run finds them installed and skips apt entirely. The default list
# is run.sh's; commands to check afterwards come from BENCH_COMMANDS.
ensure_packages() {
    local pkgs=(nginx haproxy trafficserver trafficserver-dev wrk curl python3) missing=() p
    (($#)) && pkgs=("$@")
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        [[ $EUID -eq 0 ]] || die "missing packages (${missing[*]}); run as root to install them"
        log "installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # The Debian postinst may start the packaged services where systemd
    # runs; they listen on other ports, so they are left alone.
    for p in ${BENCH_COMMANDS:-nginx haproxy traffic_server traffic_logcat tsxs wrk curl taskset python3}; do
        command -v "$p" >/dev/null || [[ -x "/usr/sbin/$p" ]] || die "$p not found after install"
    done
}

nginx_bin() { command -v nginx || echo /usr/sbin/nginx; }

# wait_port PORT [SECONDS]: wait until something accepts on 127.0.0.1:PORT.
wait_port() {
    local port="$1" secs="${2:-20}"
    for _ in $(seq $((secs * 10))); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# user_system_ticks PID: "UTIME STIME" of one process (all threads:
# fields 14 and 15 of /proc/PID/stat), in clock ticks, or "0 0" once it is
# gone. The comm field may hold spaces, so fields are counted after its
# closing parenthesis.
user_system_ticks() {
    local rest fields
    rest="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo "0 0"; return; }
    rest="${rest##*) }"
    read -r -a fields <<<"$rest"
    # fields[0] is field 3 (state), so field 14 is fields[11].
    echo "${fields[11]} ${fields[12]}"
}

# cpu_ticks PID...: utime+stime summed over the pids, in clock ticks.
cpu_ticks() {
    local pid total=0 user system
    for pid in "$@"; do
        read -r user system < <(user_system_ticks "$pid")
        total=$((total + user + system))
    done
    echo "$total"
}

# sys_ticks: "TASK STEAL" machine-wide from /proc/stat, in clock ticks.
# TASK is user+nice+system (time charged to processes; irq and softirq
# time is left out because it is not charged to any process either), so
# TASK minus our processes' ticks is what other processes took.
sys_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4, $9; exit }' /proc/stat
}

# rss_kib PID...: VmRSS summed over the pids, in KiB.
rss_kib() {
    local pid total=0 v
    for pid in "$@"; do
        v="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)"
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# started_target PID PORT: PID (just started in the background) is the
# target whose CPU is measured, stopped at exit, listening on PORT.
started_target() {
    TARGET_MAIN_PID="$1"
    STARTED_PIDS+=("$TARGET_MAIN_PID")
    TARGET_PIDS=("$TARGET_MAIN_PID")
    TARGET_PORT="$2"
}

# child_pids PID: direct children (nginx workers of a master).
child_pids() {
    ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '
}

# log_lines FILE: lines in an access log, or 0 when there is none. Traffic
# Server's binary logs (*.blog) are decoded with traffic_logcat first.
log_lines() {
    local file="$1"
    [[ -f "$file" ]] || { echo 0; return; }
    if [[ "$file" == *.blog ]]; then
        timeout 60 traffic_logcat "$file" 2>/dev/null | wc -l
    else
        wc -l <"$file"
    fi
}

# select_targets [TARGET...]: sets TARGETS to the ones named (default: all
# of ALL_TARGETS), refusing a name ALL_TARGETS does not know.
select_targets() {
    TARGETS=("$@")
    ((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")
    local t
    for t in "${TARGETS[@]}"; do
        [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || die "unknown target '$t' (known: ${ALL_TARGETS[*]})"
    done
}
