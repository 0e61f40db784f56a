#!/usr/bin/env bash
# Offline scanner throughput (MiB/s on one core) with 1, 100 and 1,000 patterns over
# 1 MiB bodies in 16 KiB blocks, report and replace modes. No network, no servers.
# Usage: bench/scanner.sh [SECONDS_PER_CELL]   (CPU: the core to pin to, default 0)
set -euo pipefail
repo="${REPO:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$repo"
cargo build --release -q -p plugin-scanner --example throughput
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c "${CPU:-0}"); fi
"${pin[@]}" target/release/examples/throughput "${1:-3}"
