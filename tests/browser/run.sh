#!/usr/bin/env bash
# Browser test of the operator page: builds qrsd, then procedure.mjs starts `qrsd serve` (simulator, free
# loopback port, temporary data dir), drives the page in Debian's headless chromium with playwright-core,
# and stops the server. Needs /usr/bin/chromium (apt-get install -y chromium) and node + npm.
#
#   tests/browser/run.sh                 # procedure + 1-minute "keeps up" soak (CI)
#   tests/browser/run.sh --minutes 10    # the full 10-minute soak
#   tests/browser/run.sh --no-soak       # procedure only
#   QRSD_BIN=target/debug/qrsd tests/browser/run.sh   # use an already built binary
# Screenshots and soak figures: tests/browser/out/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
profile="${QRSD_BROWSER_PROFILE:-release}"

if [[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
  echo "run.sh: ${CHROMIUM:-/usr/bin/chromium} not found (apt-get install -y chromium)" >&2
  exit 1
fi
if [[ ! -d "$here/node_modules/playwright-core" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

cd "$root"
if [[ -n "${QRSD_BIN:-}" ]]; then
  bin="$QRSD_BIN"                       # a qrsd binary built elsewhere (no build here)
elif [[ "$profile" == release ]]; then
  cargo build --release -p qrsd
  bin="$root/target/release/qrsd"
else
  cargo build -p qrsd
  bin="$root/target/debug/qrsd"
fi

exec node "$here/procedure.mjs" --bin "$bin" --out "$here/out" "$@"
