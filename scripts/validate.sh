#!/usr/bin/env bash
# Re-measure the headline figures of docs/validation.md on this machine, in one run (release build):
#  1. LUDB delineation, in sample and out of fold, per beat and at site level by width band;
#  2. MIT-BIH detection and beat class (AAMI EC57), the 6 dB noise-stress variant of 118/119, and
#     all 39 records resampled to 250 Hz;
#  3. simulated CRT procedures: ranking and site errors;
#  4. throughput, 1/3/12 leads at 500-2000 Hz.
# Prints the date and commit first; paste the sections into docs/validation.md with them.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "validate.sh: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
cargo build --release -q -p qrsd
cargo build --release -q -p qrsd-eval --example ranking_check
cargo build --release -q -p qrsd-pipeline --example throughput
echo "== LUDB (cargo run --release -- eval ludb ../shared/data/ludb --oof)"
./target/release/qrsd eval ludb ../shared/data/ludb --oof
echo "== MIT-BIH (cargo run --release -- eval mitdb ../shared/data/mitdb)"
./target/release/qrsd eval mitdb ../shared/data/mitdb
echo "== MIT-BIH noise stress 6 dB, 118 and 119"
./target/release/qrsd eval mitdb ../shared/data/mitdb --records 118,119 --noise-stress 6
echo "== MIT-BIH resampled to 250 Hz (a Holter recorder's rate)"
./target/release/qrsd eval mitdb ../shared/data/mitdb --resample-hz 250
echo "== simulated CRT procedures (cargo run --release -p qrsd-eval --example ranking_check)"
./target/release/examples/ranking_check
echo "== throughput (cargo run --release -p qrsd-pipeline --example throughput)"
./target/release/examples/throughput
