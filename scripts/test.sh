#!/usr/bin/env bash
# The whole test suite (README's test command; .ci/run calls it).
#  1. every crate's unit, integration and end-to-end tests (LUDB from ../shared/data/ludb, Python wfdb);
#  2. the operator-page browser test: a whole procedure through the page in headless Chromium against
#     `qrsd serve` on the simulator, plus a 1-minute "keeps up" soak (needs /usr/bin/chromium, node, npm).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace "$@"
QRSD_BROWSER_PROFILE=release tests/browser/run.sh
