#!/usr/bin/env bash
# The whole test suite (README's test command; .ci/run calls it).
#  1. every crate's unit, integration and end-to-end tests (LUDB from ../shared/data/ludb, Python wfdb);
#  2. the operator-page browser test: a whole procedure through the page in headless Chromium against
#     `qrsd serve` on the simulator, plus a 1-minute "keeps up" soak (needs /usr/bin/chromium, node, npm).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace "$@"
# The qrsd binary cargo test just built for the integration tests (no second, release build).
QRSD_BIN="$PWD/target/debug/qrsd" tests/browser/run.sh
