#!/usr/bin/env bash
# End-to-end latency at 1000 Hz through the serial path: firmware-sim --pty (BiV pacing, 130 ms QRS,
# 70 bpm, real time, 20 ms bursts) → qrsd serve --source serial:/dev/pts/N → one WebSocket client.
# Latency of a beat = client receive wall time − the beat's t_offset_wall_ms (the wall time at which the
# serial source received the beat's QRS offset sample; same machine, same clock). Prints p50, p99, max and
# the server-side part (latency_ms in the beat message: offset received → message published).
#
# Usage: cargo build --release -p qrsd -p qrsd-bench -p firmware-sim && scripts/bench/e2e_latency.sh [SECONDS=60]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60}
QRSD=${QRSD:-target/release/qrsd}
LOAD=${WS_LOAD:-target/release/ws-load}
FW=${FIRMWARE_SIM:-target/release/firmware-sim}
TMP=$(mktemp -d)
trap 'kill $SP $FP 2>/dev/null || true; rm -rf "$TMP"' EXIT
"$FW" --pty --fs 1000 --rhythm biv --qrsd-ms 130 --rate-bpm 70 --truth "$TMP/truth.jsonl" \
  > "$TMP/fw-out" 2> "$TMP/fw-err" < <(sleep $((SECS + 60))) &
FP=$!
for _ in $(seq 50); do [ -s "$TMP/fw-out" ] && break; sleep 0.1; done
PTY=$(head -1 "$TMP/fw-out")
echo "firmware-sim on $PTY; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$QRSD" serve --source "serial:$PTY" --port 0 --no-record --data "$TMP/data" > "$TMP/out" 2> "$TMP/err" &
SP=$!
for _ in $(seq 50); do [ -s "$TMP/out" ] && break; sleep 0.1; done
ADDR=$(head -1 "$TMP/out" | sed 's#listening on http://##')
sleep 4 # past the detector's learning period
"$LOAD" --addr "$ADDR" --clients 1 --seconds "$SECS"
echo "truth beats generated: $(wc -l < "$TMP/truth.jsonl"); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
