#!/usr/bin/env python3
"""Run NeuroKit2's ECG delineator over LUDB and write one JSON per record in the
qrsd analyze schema, so shared/tools/score_delineation.py can score it.

Usage:
    nk2_ludb.py LUDB_DIR OUT_DIR [--method dwt|cwt|both] [--records N]

Writes OUT_DIR/<method>/<record>.json for every record listed in LUDB_DIR/RECORDS,
plus OUT_DIR/<method>_timing.json, and prints a timing summary.

Pipeline per record (one process, one record at a time):
  * All 12 leads are cleaned with nk.ecg_clean(lead, sampling_rate=fs) (default method).
  * R peaks are detected ONCE, with nk.ecg_peaks on the cleaned lead II.
    DESIGN CHOICE: these same lead-II R peaks are handed to nk.ecg_delineate for
    every lead (rather than running detection per lead and matching beats across
    leads by R peak within 75 ms).  With shared R peaks the per-lead results are
    index-aligned beat by beat, so the "global" QRS is simply, per beat, the
    earliest ECG_R_Onsets and latest ECG_R_Offsets over those of the 12 leads
    that returned a value for that beat.
  * nk.ecg_delineate(cleaned_lead, rpeaks, sampling_rate=fs, method=method)
    per lead; ECG_R_Onsets / ECG_R_Offsets are reported as QRS onset / offset.
  * NaN (NeuroKit2 could not place the point) -> JSON null.
  * Any exception inside one lead's delineation nulls that lead for that record;
    any other exception in a record writes a record JSON with null boundaries
    (or no beats, if not even R peaks were found).  Both are counted and printed.

Timing: "NeuroKit2 time" for a method is, summed over records, the wall time of
  ecg_clean (12 leads) + ecg_peaks (lead II) + ecg_delineate (12 leads, that method).
File reading (wfdb.rdrecord) and JSON writing are excluded.  When both methods
run, cleaning and R-peak detection are done once and their time is counted in
each method's total (so each figure stands for a standalone run of that method).
"""
import argparse
import json
import os
import sys
import time
import traceback
import warnings

import numpy as np
import wfdb
import neurokit2 as nk

LEADS_OUT = {"i": "I", "ii": "II", "iii": "III", "avr": "AVR", "avl": "AVL", "avf": "AVF",
             "v1": "V1", "v2": "V2", "v3": "V3", "v4": "V4", "v5": "V5", "v6": "V6"}
DETECT_LEAD = "ii"


def records(db_dir):
    with open(os.path.join(db_dir, "RECORDS")) as f:
        return [l.strip() for l in f if l.strip()]


def to_int_or_none(x):
    try:
        if x is None:
            return None
        xf = float(x)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(xf):
        return None
    return int(round(xf))


def aligned(values, n_beats):
    """NeuroKit2 returns ECG_R_Onsets/ECG_R_Offsets with one entry per R peak, NaN where it
    failed, except that ecg_delineate() drops entries <= 0 (non-NaN) before returning.  Such
    values can only belong to the first beat(s) of the record, so a short list is padded with
    None at the front to restore the per-R-peak alignment."""
    vals = [to_int_or_none(v) for v in values]
    if len(vals) < n_beats:
        vals = [None] * (n_beats - len(vals)) + vals
    elif len(vals) > n_beats:  # should not happen; keep the per-R-peak prefix
        vals = vals[:n_beats]
    return vals


def null_beats(rpeaks, fs):
    return [{"r_sample": int(r), "class": "intrinsic", "pace_sample": None,
             "global": {"onset_sample": None, "offset_sample": None},
             "leads": {LEADS_OUT[ld]: {"onset_sample": None, "offset_sample": None} for ld in LEADS_OUT}}
            for r in rpeaks]


def build_beats(rpeaks, per_lead):
    """per_lead: {lead_name_lower: (onsets, offsets)} aligned with rpeaks (None = not measured)."""
    beats = []
    for k, r in enumerate(rpeaks):
        leads = {}
        ons, offs = [], []
        for ld in LEADS_OUT:
            on, off = (per_lead[ld][0][k], per_lead[ld][1][k]) if ld in per_lead else (None, None)
            leads[LEADS_OUT[ld]] = {"onset_sample": on, "offset_sample": off}
            if on is not None:
                ons.append(on)
            if off is not None:
                offs.append(off)
        beats.append({"r_sample": int(r), "class": "intrinsic", "pace_sample": None,
                      "global": {"onset_sample": min(ons) if ons else None,
                                 "offset_sample": max(offs) if offs else None},
                      "leads": leads})
    return beats


def write_json(path, fs, beats, extra=None):
    doc = {"sampling_rate_hz": float(fs), "beats": beats}
    if extra:
        doc["nk2"] = extra
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ludb_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--method", choices=["dwt", "cwt", "both"], default="both")
    ap.add_argument("--records", type=int, default=0, help="only the first N records (0 = all)")
    args = ap.parse_args()

    methods = ["dwt", "cwt"] if args.method == "both" else [args.method]
    recs = records(args.ludb_dir)
    if args.records:
        recs = recs[: args.records]
    for m in methods:
        os.makedirs(os.path.join(args.out_dir, m), exist_ok=True)

    print(f"neurokit2 {nk.__version__}, numpy {np.__version__}, wfdb {wfdb.__version__}; "
          f"{len(recs)} records; methods {','.join(methods)}", flush=True)

    t_prep_total = 0.0                      # ecg_clean x12 + ecg_peaks, shared by the methods
    t_delin = {m: 0.0 for m in methods}     # ecg_delineate x12 per method
    per_record_s = {m: {} for m in methods}
    rec_failures = {m: [] for m in methods}   # whole-record failures
    lead_failures = {m: [] for m in methods}  # (record, lead, error) of failed ecg_delineate calls
    n_warnings = 0
    n_beats_total = 0
    wall0 = time.perf_counter()

    for i, rec in enumerate(recs):
        name = os.path.basename(rec)
        base = os.path.join(args.ludb_dir, rec)
        fs = 500.0
        rpeaks = np.array([], dtype=int)
        cleaned = {}
        prep_err = None
        t_prep = 0.0
        try:
            r = wfdb.rdrecord(base)  # file reading: not timed
            fs = float(r.fs)
            names = [s.lower() for s in r.sig_name]
            raw = {ld: np.asarray(r.p_signal[:, names.index(ld)], dtype=float) for ld in LEADS_OUT}
            with warnings.catch_warnings(record=True) as wl:
                warnings.simplefilter("always")
                t0 = time.perf_counter()
                for ld in LEADS_OUT:
                    cleaned[ld] = nk.ecg_clean(raw[ld], sampling_rate=fs)
                _, info = nk.ecg_peaks(cleaned[DETECT_LEAD], sampling_rate=fs)
                rpeaks = np.asarray(info["ECG_R_Peaks"], dtype=int)
                t_prep = time.perf_counter() - t0
            n_warnings += len(wl)
        except Exception as e:  # noqa: BLE001
            prep_err = f"{type(e).__name__}: {e}"
        t_prep_total += t_prep
        n_beats_total += len(rpeaks)

        for m in methods:
            outp = os.path.join(args.out_dir, m, name + ".json")
            if prep_err is not None:
                rec_failures[m].append((name, "prep: " + prep_err))
                write_json(outp, fs, null_beats(rpeaks, fs), {"error": prep_err})
                per_record_s[m][name] = t_prep
                continue
            t_d = 0.0
            try:
                per_lead = {}
                failed_leads = {}
                for ld in LEADS_OUT:
                    if len(rpeaks) == 0:
                        break
                    with warnings.catch_warnings(record=True) as wl:
                        warnings.simplefilter("always")
                        t0 = time.perf_counter()
                        try:
                            _, waves = nk.ecg_delineate(cleaned[ld], rpeaks, sampling_rate=fs, method=m)
                            err = None
                        except Exception as e:  # noqa: BLE001
                            err = f"{type(e).__name__}: {e}"
                        t_d += time.perf_counter() - t0
                    n_warnings += len(wl)
                    if err is not None:
                        failed_leads[LEADS_OUT[ld]] = err
                        lead_failures[m].append((name, LEADS_OUT[ld], err))
                        per_lead[ld] = ([None] * len(rpeaks), [None] * len(rpeaks))
                    else:
                        per_lead[ld] = (aligned(waves["ECG_R_Onsets"], len(rpeaks)),
                                        aligned(waves["ECG_R_Offsets"], len(rpeaks)))
                beats = build_beats(rpeaks, per_lead)
                extra = {"failed_leads": failed_leads} if failed_leads else None
                write_json(outp, fs, beats, extra)
            except Exception as e:  # noqa: BLE001
                err = f"{type(e).__name__}: {e}"
                rec_failures[m].append((name, err))
                traceback.print_exc(file=sys.stderr)
                write_json(outp, fs, null_beats(rpeaks, fs), {"error": err})
            t_delin[m] += t_d
            per_record_s[m][name] = round(t_prep + t_d, 6)

        if (i + 1) % 20 == 0 or i + 1 == len(recs):
            el = time.perf_counter() - wall0
            print(f"  {i + 1}/{len(recs)} records, {el:.1f} s elapsed", flush=True)

    n = len(recs)
    print()
    print(f"R peaks detected on lead II: {n_beats_total} over {n} records; "
          f"python warnings raised inside NeuroKit2 calls: {n_warnings}")
    for m in methods:
        total = t_prep_total + t_delin[m]
        summary = {
            "method": m, "neurokit2_version": nk.__version__, "records": n,
            "r_peaks": n_beats_total,
            "nk2_seconds_total": round(total, 3),
            "nk2_seconds_clean_and_rpeaks": round(t_prep_total, 3),
            "nk2_seconds_delineate": round(t_delin[m], 3),
            "records_per_second": round(n / total, 3) if total > 0 else None,
            "ms_per_record": round(1000.0 * total / n, 2) if n else None,
            "record_failures": rec_failures[m],
            "lead_failures": lead_failures[m],
            "per_record_seconds": per_record_s[m],
        }
        with open(os.path.join(args.out_dir, f"{m}_timing.json"), "w") as f:
            json.dump(summary, f, indent=1)
        print(f"[{m}] NeuroKit2 wall time (ecg_clean x12 + ecg_peaks + ecg_delineate x12, file I/O excluded): "
              f"{total:.2f} s over {n} records = {summary['records_per_second']} records/s "
              f"({summary['ms_per_record']} ms/record; clean+R peaks {t_prep_total:.2f} s, "
              f"delineate {t_delin[m]:.2f} s)")
        print(f"[{m}] failures: {len(rec_failures[m])} records failed whole, "
              f"{len(lead_failures[m])} lead delineations failed "
              f"(in {len({r for r, _, _ in lead_failures[m]})} records)")
        for rname, err in rec_failures[m]:
            print(f"    record {rname}: {err}")
        shown = lead_failures[m][:20]
        for rname, ld, err in shown:
            print(f"    record {rname} lead {ld}: {err}")
        if len(lead_failures[m]) > len(shown):
            print(f"    ... {len(lead_failures[m]) - len(shown)} more in {m}_timing.json")
    print(f"total script wall time (incl. file I/O): {time.perf_counter() - wall0:.1f} s")


if __name__ == "__main__":
    main()
