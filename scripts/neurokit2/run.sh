#!/usr/bin/env bash
# Run NeuroKit2's ECG delineator (dwt and/or cwt) over LUDB and score it with the
# project's reference scorer (shared/tools/score_delineation.py).
#
# Usage: scripts/neurokit2/run.sh [LUDB_DIR] [OUT_DIR] [--method dwt|cwt|both] [--records N]
#   LUDB_DIR  default: <repo>/../shared/data/ludb
#   OUT_DIR   default: <repo>/out/neurokit2
#   --method  default: both
#   --records only the first N records (smoke test); default all
# Env: NK2_VENV (default <repo>/.venv-nk2), PYTHON (interpreter used to create the venv,
#      default python3), SCORER (default <repo>/../shared/tools/score_delineation.py).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

METHOD=both
RECORDS=0
POS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --method) METHOD="${2:?--method needs dwt|cwt|both}"; shift 2 ;;
    --method=*) METHOD="${1#*=}"; shift ;;
    --records) RECORDS="${2:?--records needs N}"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) POS+=("$1"); shift ;;
  esac
done
case "$METHOD" in dwt|cwt|both) ;; *) echo "--method must be dwt, cwt or both" >&2; exit 2 ;; esac

LUDB_DIR="${POS[0]:-$REPO/../shared/data/ludb}"
OUT_DIR="${POS[1]:-$REPO/out/neurokit2}"
VENV="${NK2_VENV:-$REPO/.venv-nk2}"
SCORER="${SCORER:-$REPO/../shared/tools/score_delineation.py}"
PY_BOOT="${PYTHON:-python3}"

[ -f "$LUDB_DIR/RECORDS" ] || { echo "no RECORDS file in $LUDB_DIR" >&2; exit 1; }
[ -f "$SCORER" ] || { echo "reference scorer not found: $SCORER" >&2; exit 1; }
LUDB_DIR="$(cd "$LUDB_DIR" && pwd)"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"

# --- venv with pinned packages (reinstalled only when requirements.txt changes) ---
REQ="$HERE/requirements.txt"
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating venv $VENV"
  "$PY_BOOT" -m venv "$VENV"
fi
STAMP="$VENV/.nk2-requirements.sha256"
WANT="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  echo "== installing pinned packages into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$REQ"
  echo "$WANT" > "$STAMP"
fi
PY="$VENV/bin/python"

# --- run NeuroKit2 (single process) ---
echo "== NeuroKit2 on $LUDB_DIR -> $OUT_DIR (method: $METHOD)"
"$PY" "$HERE/nk2_ludb.py" "$LUDB_DIR" "$OUT_DIR" --method "$METHOD" --records "$RECORDS"

# --- score each method with the reference scorer ---
if [ "$METHOD" = both ]; then METHODS="dwt cwt"; else METHODS="$METHOD"; fi
for m in $METHODS; do
  echo
  echo "== reference scorer: NeuroKit2 $m (leads II,V1,V6 + GLOBAL)"
  "$PY" "$SCORER" "$LUDB_DIR" "$OUT_DIR/$m" --leads II,V1,V6 | tee "$OUT_DIR/${m}_score.txt"
  "$PY" "$SCORER" "$LUDB_DIR" "$OUT_DIR/$m" --leads II,V1,V6 --json > "$OUT_DIR/${m}_score.json"
  "$PY" - "$OUT_DIR/${m}_timing.json" <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1]))
print(f"NeuroKit2 {t['method']} time: {t['nk2_seconds_total']:.2f} s for {t['records']} records "
      f"= {t['records_per_second']} records/s ({t['ms_per_record']} ms/record; detection+delineation only, "
      f"file reading excluded); failures: {len(t['record_failures'])} records, {len(t['lead_failures'])} lead runs")
PYEOF
  echo "saved: $OUT_DIR/${m}_score.txt, $OUT_DIR/${m}_score.json, $OUT_DIR/${m}_timing.json"
done
