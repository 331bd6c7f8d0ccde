#!/usr/bin/env bash
# WebSocket fan-out under load: 1, 10 and 50 reading clients on /api/v1/stream, each run with one
# deliberately stalled client (handshake, 4 KiB receive buffer, never reads), plus a 10-client run without
# it for comparison. For each run: per-client beat latency p50/p99 of the readers (client receive wall time
# − t_offset_wall_ms of the beat), sequence holes/gap messages seen by readers, acquisition frames vs
# fs × wall time with missing/overrun frames (no loss = 0), and whether the stalled client was dropped
# (qrsd_ws_dropped_clients_total). A last run at 20× simulator speed fills the stalled client's socket
# buffers quickly to show the drop.
#
# Usage: cargo build --release -p qrsd -p qrsd-bench && scripts/bench/ws_fanout.sh [SECONDS_PER_RUN=30]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-30}
QRSD=${QRSD:-target/release/qrsd}
LOAD=${WS_LOAD:-target/release/ws-load}
TMP=$(mktemp -d)
trap 'kill $SP 2>/dev/null || true; rm -rf "$TMP"' EXIT
printf '[server]\nmax_ws_clients = 64\n' > "$TMP/qrsd.toml"

start() { # $1 = simulator speed
  "$QRSD" serve --config "$TMP/qrsd.toml" --port 0 --no-record --sim-speed "$1" --data "$TMP/data-$1" \
    > "$TMP/out-$1" 2> "$TMP/err-$1" &
  SP=$!
  for _ in $(seq 50); do [ -s "$TMP/out-$1" ] && break; sleep 0.1; done
  ADDR=$(head -1 "$TMP/out-$1" | sed 's#listening on http://##')
  sleep 4 # past the detector's 2 s learning period
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
start 1
for N in 1 10 50; do
  echo "== $N readers + 1 stalled, 1x"
  "$LOAD" --addr "$ADDR" --clients "$N" --stalled 1 --seconds "$SECS"
done
echo "== 10 readers, no stalled client, 1x"
"$LOAD" --addr "$ADDR" --clients 10 --stalled 0 --seconds "$SECS"
kill $SP; wait $SP 2>/dev/null || true
start 20
echo "== 10 readers + 1 stalled, simulator at 20x (the stalled client's buffers fill)"
"$LOAD" --addr "$ADDR" --clients 10 --stalled 1 --seconds "$SECS"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
