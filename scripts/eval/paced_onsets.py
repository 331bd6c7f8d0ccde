#!/usr/bin/env python3
"""Paced onsets against LUDB: where the cardiologists and qrsd place the QRS onset after a known stimulus.

Usage:
  qrsd eval ludb ../shared/data/ludb --json-out /tmp/qrsd-json
  python3 scripts/eval/paced_onsets.py ../shared/data/ludb /tmp/qrsd-json

For every beat that qrsd classed paced (its stimulus detected), over all 12 leads with an annotated QRS:
the onset error (ms, detected - reference) and, both relative to the stimulus, the annotated and the
detected onset (mean ± SD, 10/50/90 % quantiles), and the records the beats come from
(docs/validation.md, paced records). Matching follows shared/tools/score_delineation.py (imported from there).
"""
import collections
import json
import os
import statistics as st
import sys


def main():
    db_dir, out_dir = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../shared/tools"))
    from score_delineation import LUDB_EXT, MATCH_MS, records, ref_qrs

    err, ref_after, ours_after, recs = [], [], [], collections.Counter()
    for rec in records(db_dir):
        res = json.load(open(os.path.join(out_dir, os.path.basename(rec) + ".json")))
        fs = res["sampling_rate_hz"]
        ms, tol = 1000.0 / fs, MATCH_MS * fs / 1000.0
        per_lead = {ld: ref_qrs(os.path.join(db_dir, rec), ext) for ld, ext in LUDB_EXT.items()}
        for b in res["beats"]:
            if b["class"] != "paced" or b["pace_sample"] is None:
                continue
            r, pace = b["r_sample"], b["pace_sample"]
            for ld, ref in per_lead.items():
                hit = next(((on, off) for on, pk, off in ref if abs(r - pk) <= tol or on <= r <= off), None)
                got = (b["leads"].get(ld) or {}).get("onset_sample")
                if hit is None or got is None:
                    continue
                err.append((got - hit[0]) * ms)
                ref_after.append((hit[0] - pace) * ms)
                ours_after.append((got - pace) * ms)
                recs[rec] += 1

    def line(name, v):
        q = st.quantiles(v, n=10) if len(v) > 1 else v * 9
        print(f"{name:32s} n {len(v):4d}  {st.fmean(v):+6.1f} ± {st.pstdev(v):5.1f} ms"
              f"  (10/50/90 %: {q[0]:.1f} / {st.median(v):.1f} / {q[8]:.1f})")

    if not err:
        print("no paced beat with a detected stimulus matched an annotated QRS")
        return
    line("onset error (detected - ref)", err)
    line("annotated onset - stimulus", ref_after)
    line("detected onset - stimulus", ours_after)
    print("lead onsets per record:", dict(sorted(recs.items())))


if __name__ == "__main__":
    main()
