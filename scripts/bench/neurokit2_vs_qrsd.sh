#!/usr/bin/env bash
# LUDB delineation side by side: qrsd vs NeuroKit2 on the same records, scored by the same reference
# scorer (shared/tools/score_delineation.py, leads II, V1, V6 + global), with the speed ratio.
#
#   qrsd:      `qrsd analyze RECORD.hea --json` per record (one process per record: process start-up and
#              file reading are included in its time, which favours NeuroKit2).
#   NeuroKit2: scripts/neurokit2/run.sh (pinned venv; dwt method by default; its time counts
#              ecg_clean + ecg_peaks + ecg_delineate only, file reading excluded).
#
# Usage: cargo build --release -p qrsd && scripts/bench/neurokit2_vs_qrsd.sh [--records N] [--method dwt|cwt]
#   --records N   only the first N LUDB records (default: all 200)
# Env: LUDB_DIR (default ../shared/data/ludb), QRSD (default target/release/qrsd), OUT (default out/nk2-vs-qrsd)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
RECORDS=0
METHOD=dwt
while [ $# -gt 0 ]; do
  case "$1" in
    --records) RECORDS=$2; shift 2 ;;
    --method) METHOD=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
LUDB_DIR=${LUDB_DIR:-$REPO/../shared/data/ludb}
QRSD=${QRSD:-$REPO/target/release/qrsd}
OUT=${OUT:-$REPO/out/nk2-vs-qrsd}
SCORER=${SCORER:-$REPO/../shared/tools/score_delineation.py}
mkdir -p "$OUT/qrsd"
# A subset of records: a database folder whose RECORDS lists only them (data/ linked), so that both runs
# and the scorer see the same records (the scorer counts unlisted records' beats as missed otherwise).
if [ "$RECORDS" -gt 0 ]; then
  LUDB_DIR=$(cd "$LUDB_DIR" && pwd)
  mkdir -p "$OUT/db"
  head -n "$RECORDS" "$LUDB_DIR/RECORDS" > "$OUT/db/RECORDS"
  ln -sfn "$LUDB_DIR/data" "$OUT/db/data"
  LUDB_DIR="$OUT/db"
  RECORDS=0
fi
rm -f "$OUT"/qrsd/*.json
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- qrsd ---
mapfile -t RECS < "$LUDB_DIR/RECORDS"
t0=$(date +%s.%N)
for r in "${RECS[@]}"; do
  "$QRSD" analyze "$LUDB_DIR/$r.hea" --json > "$OUT/qrsd/$(basename "$r").json"
done
t1=$(date +%s.%N)
QRSD_S=$(python3 -c "print($t1 - $t0)")
echo "== qrsd: ${#RECS[@]} records in ${QRSD_S} s (process start-up and file reading included)"

# --- NeuroKit2 (creates its venv on first use) ---
scripts/neurokit2/run.sh "$LUDB_DIR" "$OUT/nk2" --method "$METHOD" --records "$RECORDS" > "$OUT/nk2.log" 2>&1 \
  || { tail -20 "$OUT/nk2.log"; exit 1; }
PY=${NK2_VENV:-$REPO/.venv-nk2}/bin/python

# --- score both on the same records (only the records both wrote) ---
echo
echo "== reference scorer: qrsd"
"$PY" "$SCORER" "$LUDB_DIR" "$OUT/qrsd" --leads II,V1,V6 | tee "$OUT/qrsd_score.txt"
echo
echo "== reference scorer: NeuroKit2 $METHOD"
cat "$OUT/nk2/${METHOD}_score.txt"
"$PY" - "$OUT/nk2/${METHOD}_timing.json" "$QRSD_S" "${#RECS[@]}" <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1]))
q, n = float(sys.argv[2]), int(sys.argv[3])
nk = t["nk2_seconds_total"]
print(f"\nspeed: qrsd {q:.2f} s ({1000*q/n:.1f} ms/record, whole process), NeuroKit2 {t['method']} {nk:.2f} s "
      f"({1000*nk/max(t['records'],1):.1f} ms/record, computation only): qrsd is {nk/q:.1f}x faster")
PYEOF
