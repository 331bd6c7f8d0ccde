#!/usr/bin/env bash
# The whole test suite (README's test command; .ci/run calls it). On a fresh machine it sets itself up:
#  0. checks the system prerequisites first and stops with one line per missing one (naming the Debian
#     package) before anything is compiled or installed;
#  1. a project-local Python venv (.venv/, or $QRSD_VENV) with the pinned packages of
#     tests/requirements.txt (Python wfdb: the reference scorer and the recording checks), reinstalled
#     when that file changes; the Rust tests run it through QRSD_PYTHON;
#  2. the browser test's npm packages (tests/browser, `npm ci` from its package-lock.json), reinstalled
#     when the lock file changes;
#  3. every crate's unit, integration and end-to-end tests (LUDB from ../shared/data/ludb);
#  4. the operator-page browser test: a whole procedure through the page in headless Chromium against
#     `qrsd serve` on the simulator, plus a 1-minute "keeps up" soak.
# It never installs system packages itself (a test command should not change the OS behind the
# operator's back): it names them, and .ci/run, which runs as root on a fresh CI machine, installs them.
#
#   ./scripts/test.sh                 # everything
#   ./scripts/test.sh -p qrsd-server  # extra arguments go to `cargo test --workspace`
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

# --- 0. system prerequisites (before any compiling) ---
py_boot="${PYTHON:-python3}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
missing=0
need() { # need CONDITION-COMMAND... -- MESSAGE
  local msg="${*: -1}"
  if ! "${@:1:$#-1}" >/dev/null 2>&1; then
    echo "test.sh: $msg" >&2
    missing=1
  fi
}
need command -v cargo "cargo not found: install the Rust toolchain (rustup)"
if command -v "$py_boot" >/dev/null 2>&1; then
  # Debian's python3 lacks the venv/ensurepip modules unless python3-venv is installed.
  need "$py_boot" -c "import venv, ensurepip" "$py_boot cannot create a venv (no ensurepip): apt-get install python3-venv"
else
  need false "$py_boot not found: apt-get install python3 python3-venv"
fi
need command -v node "node not found: apt-get install nodejs"
need command -v npm "npm not found: apt-get install npm"
need test -x "$chromium" "chromium not found at $chromium: apt-get install chromium (or set CHROMIUM)"
need test -f ../shared/data/ludb/RECORDS "LUDB not found at ../shared/data/ludb (the tests score against it)"
need test -f ../shared/tools/score_delineation.py "reference scorer not found at ../shared/tools/score_delineation.py"
if [[ $missing -ne 0 ]]; then
  exit 1
fi

# --- 1. Python venv with the pinned packages ---
venv="${QRSD_VENV:-$root/.venv}"
req="$root/tests/requirements.txt"
# A venv whose interpreter no longer runs (its base Python moved or was removed) is rebuilt.
if ! "$venv/bin/python" -c "" >/dev/null 2>&1; then
  echo "test.sh: creating the Python venv $venv"
  rm -rf "$venv"
  "$py_boot" -m venv "$venv"
fi
stamp="$venv/.qrsd-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  echo "test.sh: installing tests/requirements.txt into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" ||
    { echo "test.sh: pip install -r tests/requirements.txt failed (see above)" >&2; exit 1; }
  echo "$want" >"$stamp"
fi
"$venv/bin/python" -c "import wfdb" ||
  { echo "test.sh: Python wfdb does not import in $venv (delete it and run again)" >&2; exit 1; }
# The Rust tests that run Python take this interpreter (they fall back to python3).
export QRSD_PYTHON="$venv/bin/python"

# --- 2. the browser test's npm packages ---
browser="$root/tests/browser"
stamp="$browser/node_modules/.qrsd-lock.sha256"
want="$(sha256sum "$browser/package-lock.json" | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  echo "test.sh: npm ci in tests/browser"
  (cd "$browser" && npm ci --no-audit --no-fund --silent) ||
    { echo "test.sh: npm ci in tests/browser failed (see above)" >&2; exit 1; }
  echo "$want" >"$stamp"
fi

# --- 3. the Rust tests ---
cargo test --workspace "$@"

# --- 4. the browser test, on the qrsd binary cargo test just built (no second, release build) ---
QRSD_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/qrsd" CHROMIUM="$chromium" tests/browser/run.sh
