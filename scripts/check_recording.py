#!/usr/bin/env python3
"""Check a qrsd recording (WFDB) with PhysioNet's `wfdb` package, independently of qrsd.

Usage:
    scripts/check_recording.py RECORD.hea [--channels 8] [--fs 1000] [--gain 10000]
                               [--min-seconds S] [--max-seconds S] [--json]

Opens the record with wfdb.rdrecord and its annotations (.atr, if present) with wfdb.rdann, prints a
summary (length, channels, names, gains, units, invalid samples, annotation counts, gaps) and exits
non-zero if an expectation given on the command line is not met or the files cannot be read.
"""
import argparse
import json
import os
import sys

import numpy as np
import wfdb


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hea", help="path to the record's .hea file")
    ap.add_argument("--channels", type=int, help="expected number of signals")
    ap.add_argument("--fs", type=float, help="expected sampling rate, Hz")
    ap.add_argument("--gain", type=float, help="expected ADC gain of every signal (adu per unit)")
    ap.add_argument("--units", help="expected units of every signal (e.g. mV)")
    ap.add_argument("--min-seconds", type=float, help="the record must be at least this long")
    ap.add_argument("--max-seconds", type=float, help="the record must be at most this long")
    ap.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    a = ap.parse_args()

    base = a.hea[:-4] if a.hea.endswith(".hea") else a.hea
    rec = wfdb.rdrecord(base, physical=False)
    d = rec.d_signal if rec.d_signal is not None else np.zeros((0, rec.n_sig), dtype=np.int64)
    n_sig = int(rec.n_sig)
    sig_len = int(rec.sig_len)
    invalid = {}
    for i, name in enumerate(rec.sig_name):
        # format 24's invalid value
        invalid[name] = int(np.count_nonzero(d[:, i] == -(1 << 23))) if d.size else 0
    summary = {
        "record": rec.record_name,
        "fs": float(rec.fs),
        "n_sig": n_sig,
        "sig_len": sig_len,
        "seconds": sig_len / float(rec.fs) if rec.fs else 0.0,
        "sig_name": list(rec.sig_name),
        "fmt": list(rec.fmt),
        "adc_gain": [float(g) for g in rec.adc_gain],
        "units": list(rec.units),
        "invalid_samples": invalid,
        "base_time": str(rec.base_time) if rec.base_time is not None else None,
        "base_date": str(rec.base_date) if rec.base_date is not None else None,
        "comments": list(rec.comments),
    }
    if os.path.exists(base + ".atr"):
        ann = wfdb.rdann(base, "atr")
        symbols = {}
        for s in ann.symbol:
            symbols[s] = symbols.get(s, 0) + 1
        gaps = []
        for s, sub, aux, samp in zip(ann.symbol, ann.subtype, ann.aux_note, ann.sample):
            if s == "~" and int(sub) == -1:
                gaps.append({"sample": int(samp), "aux": aux})
        summary["annotations"] = {"count": len(ann.sample), "by_symbol": symbols, "gaps": gaps,
                                  "last_sample": int(ann.sample[-1]) if len(ann.sample) else None}
    else:
        summary["annotations"] = None

    problems = []
    if a.channels is not None and n_sig != a.channels:
        problems.append(f"{n_sig} channels, expected {a.channels}")
    if a.fs is not None and abs(float(rec.fs) - a.fs) > 1e-9:
        problems.append(f"fs {rec.fs}, expected {a.fs}")
    if a.gain is not None and any(abs(float(g) - a.gain) > 1e-6 for g in rec.adc_gain):
        problems.append(f"gains {list(rec.adc_gain)}, expected {a.gain}")
    if a.units is not None and any(u != a.units for u in rec.units):
        problems.append(f"units {list(rec.units)}, expected {a.units}")
    secs = summary["seconds"]
    if a.min_seconds is not None and secs < a.min_seconds:
        problems.append(f"{secs:.3f} s long, expected at least {a.min_seconds}")
    if a.max_seconds is not None and secs > a.max_seconds:
        problems.append(f"{secs:.3f} s long, expected at most {a.max_seconds}")
    summary["problems"] = problems

    if a.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['record']}: {n_sig} signals x {sig_len} samples at {rec.fs} Hz "
              f"({secs:.3f} s), format {sorted(set(rec.fmt))}, gains {sorted(set(summary['adc_gain']))} "
              f"adu/{sorted(set(rec.units))}")
        print("  signals: " + ", ".join(rec.sig_name))
        inv = {k: v for k, v in invalid.items() if v}
        if inv:
            print(f"  invalid samples: {inv}")
        if summary["annotations"] is not None:
            an = summary["annotations"]
            print(f"  annotations: {an['count']} {an['by_symbol']}")
            for g in an["gaps"]:
                print(f"    gap at {g['sample']}: {g['aux']}")
        for p in problems:
            print(f"  PROBLEM: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # unreadable record: say so and fail
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
