#!/usr/bin/env python3
"""How gradually real QRS complexes start and end, next to the cardiologists' marks.

For every annotated QRS in LUDB leads I, II, V1, V2, V4, V6 (amplitude >= 100 uV), the deflection from the
local baseline at tau ms inside the annotated onset/offset, as a fraction of the QRS peak-to-peak amplitude
(median and quartiles). With a synthetic CSV and its truth JSON lines (qrsd-synth's synth_csv example) it
prints the same profile measured from the true support, for comparison.

    python3 scripts/eval/edge_profile.py ../shared/data/ludb
    cargo run --release -p qrsd-synth --example synth_csv -- '{"fs_hz":500,"realistic_edges":true}' 20 \
        > /tmp/s.csv 2> /tmp/s.jsonl
    python3 scripts/eval/edge_profile.py --synth /tmp/s.csv /tmp/s.jsonl

Needs numpy, scipy and wfdb (pip install wfdb scipy).
"""
import json
import os
import sys

import numpy as np

TAUS_MS = [0, 4, 8, 12, 16, 20, 24, 30]
LEADS = ["i", "ii", "v1", "v2", "v4", "v6"]


def profile(x, on, off, fs, base_on, base_off):
    amp = x[on : off + 1].max() - x[on : off + 1].min()
    s = lambda ms: int(round(ms * fs / 1000.0))
    onset = [abs(x[on + s(t)] - base_on) / amp for t in TAUS_MS]
    offset = [abs(x[off - s(t)] - base_off) / amp for t in TAUS_MS]
    return amp, onset, offset


def report(name, on, off):
    on, off = np.array(on), np.array(off)
    print(f"{name}: {len(on)} QRS; deflection / QRS amplitude at tau ms inside the boundary")
    print("  tau ms          " + " ".join(f"{t:6d}" for t in TAUS_MS))
    for label, v in [("onset  median", on), ("offset median", off)]:
        print(f"  {label}   " + " ".join(f"{m * 100:5.1f}%" for m in np.median(v, 0)))
    for label, v in [("onset  p25-p75", on), ("offset p25-p75", off)]:
        lo, hi = np.percentile(v, 25, 0), np.percentile(v, 75, 0)
        print(f"  {label}  " + " ".join(f"{a * 100:2.0f}-{b * 100:<3.0f}" for a, b in zip(lo, hi)))


def ludb(root):
    import wfdb
    from scipy.signal import butter, filtfilt

    data = os.path.join(root, "data") if os.path.isdir(os.path.join(root, "data")) else root
    on_all, off_all = [], []
    for rec in range(1, 201):
        r = wfdb.rdrecord(os.path.join(data, str(rec)))
        fs = r.fs
        b, a = butter(2, [0.5 / (fs / 2), 100 / (fs / 2)], "band")
        names = [n.lower() for n in r.sig_name]
        for lead in LEADS:
            x = filtfilt(b, a, r.p_signal[:, names.index(lead)] * 1000.0)
            ann = wfdb.rdann(os.path.join(data, str(rec)), lead)
            s = list(zip(ann.sample, ann.symbol))
            for k, (_, sym) in enumerate(s):
                if sym != "N" or not 0 < k < len(s) - 1 or s[k - 1][1] != "(" or s[k + 1][1] != ")":
                    continue
                on, off = int(s[k - 1][0]), int(s[k + 1][0])
                if on < 20 or off + 20 >= len(x):
                    continue
                base_on = np.median(x[on - 8 : on - 2])  # 4-16 ms before the onset
                base_off = np.median(x[off + 2 : off + 8])
                amp, o, f = profile(x, on, off, fs, base_on, base_off)
                if amp >= 100.0:
                    on_all.append(o)
                    off_all.append(f)
    report("LUDB (cardiologists' onsets/offsets)", on_all, off_all)


def synth(csv, truth_path):
    d = np.genfromtxt(csv, delimiter=",", names=True)
    names = list(d.dtype.names)[1:-1]
    truth = [json.loads(line) for line in open(truth_path)]
    fs = float(os.environ.get("FS", "500"))  # the CSV has sample numbers, not times
    on_all, off_all = [], []
    for t in truth:
        for lead in names:
            if lead.lower() not in LEADS:
                continue
            x = d[lead]
            on, off = t["onset_sample"], t["offset_sample"]
            if on < 10 or off + 40 >= len(x):
                continue
            _, o, f = profile(x, on, off, fs, x[on - 1], x[off + 1])
            on_all.append(o)
            off_all.append(f)
    report(f"synthetic at {fs:g} Hz (true support; FS=rate for other rates)", on_all, off_all)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--synth":
        synth(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 2:
        ludb(sys.argv[1])
    else:
        print(__doc__)
        sys.exit(2)
