#!/usr/bin/env python3
"""Where the delineation error against LUDB comes from (docs/validation.md, "Where the remaining SD comes from").

Usage:
  qrsd eval ludb ../shared/data/ludb --json-out /tmp/qrsd-json
  python3 scripts/eval/error_sources.py ../shared/data/ludb /tmp/qrsd-json

Prints, for II, V1, V6 and global onset / offset / QRSd (ms, detected - reference):
  - SD, split into the SD of the per-record means (between records) and of the beats around their
    record's mean (within records), and the SD of the central 90 % of errors (5-95 % quantiles);
  - the annotators' own consistency: SD of a lead's annotated onset/offset around the median over the 12
    leads of the same beat, and the within-record SD of the annotated QRSd (all records, and only those
    whose beats qrsd measures alike, SD < 3 ms: there the heart does not change, the marking does);
  - two what-ifs computed from the same output: every beat replaced by its record's median boundaries
    (relative to R), and each lead's boundaries averaged half-and-half with the median over the 12 leads;
  - two oracles that read the answers: each lead's boundaries taken from the cardiologists' own marks of
    the same beat in the other 11 leads (their median), and from the mean of all 12 marks; the global
    from the mean of the 12 marks. They show how well the reference predicts itself across leads.
Matching and the global reference follow shared/tools/score_delineation.py (imported from there).
"""
import json
import os
import statistics as st
import sys

LEADS = ["II", "V1", "V6"]


def load(db_dir, out_dir, tools_dir):
    sys.path.insert(0, tools_dir)
    from score_delineation import LUDB_EXT, MATCH_MS, records, ref_qrs

    beats = []  # (record, ref {lead: (on, off)}, det {lead: (on, off)}, det global, r, ms per sample)
    for rec in records(db_dir):
        base = os.path.join(db_dir, rec)
        per = {ld: ref_qrs(base, ext) for ld, ext in LUDB_EXT.items()}
        anchor = per["II"] or next((v for v in per.values() if v), [])
        if not anchor:
            continue
        with open(os.path.join(out_dir, os.path.basename(rec) + ".json")) as f:
            doc = json.load(f)
        fs = doc["sampling_rate_hz"]
        tol = MATCH_MS * fs / 1000.0
        span = (anchor[0][0] - tol, anchor[-1][2] + tol)
        cand = [b for b in doc["beats"] if span[0] <= b["r_sample"] <= span[1]]
        used = set()
        for on, pk, off in anchor:
            best, bd = None, None
            for j, b in enumerate(cand):
                d = abs(b["r_sample"] - pk)
                if j not in used and (d <= tol or on <= b["r_sample"] <= off) and (bd is None or d < bd):
                    best, bd = j, d
            if best is None:
                continue
            used.add(best)
            b = cand[best]
            ref = {}
            for ld in LUDB_EXT:
                m = next(((o, f) for o, p, f in per[ld] if abs(p - pk) <= tol), None)
                if m:
                    ref[ld] = m
            det = {ld: (v["onset_sample"], v["offset_sample"]) for ld, v in b["leads"].items()
                   if v and v.get("onset_sample") is not None and v.get("offset_sample") is not None}
            g = b["global"]
            if g.get("onset_sample") is None:
                continue
            beats.append((rec, ref, det, (g["onset_sample"], g["offset_sample"]), b["r_sample"], 1000.0 / fs))
    return beats


def errors(beats, pick):
    """{(lead, measure): [(record, error ms)]} for the boundaries `pick(lead, beat)` returns."""
    out = {}
    for bt in beats:
        rec, ref, _, _, _, ms = bt
        for ld in LEADS + ["GLOBAL"]:
            r = (min(v[0] for v in ref.values()), max(v[1] for v in ref.values())) if ld == "GLOBAL" else ref.get(ld)
            p = pick(ld, bt)
            if r is None or p is None:
                continue
            eo, ef = (p[0] - r[0]) * ms, (p[1] - r[1]) * ms
            for m, e in (("onset", eo), ("offset", ef), ("qrsd", ef - eo)):
                out.setdefault((ld, m), []).append((rec, e))
    return out


def median(v):
    return st.median(v) if v else None


def main():
    db_dir, out_dir = sys.argv[1], sys.argv[2]
    tools = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "../../../shared/tools")
    beats = load(db_dir, out_dir, tools)

    own = errors(beats, lambda ld, b: b[3] if ld == "GLOBAL" else b[2].get(ld))
    print(f"{len(beats)} matched beats")
    print("measure          SD  between  within  central-90%-SD")
    for (ld, m), v in own.items():
        e = [x for _, x in v]
        by = {}
        for rec, x in v:
            by.setdefault(rec, []).append(x)
        means = {k: st.fmean(x) for k, x in by.items()}
        within = [x - means[rec] for rec, x in v]
        q = sorted(e)
        lo, hi = q[int(0.05 * (len(q) - 1))], q[int(0.95 * (len(q) - 1))]
        central = [x for x in e if lo <= x <= hi]
        print(f"{ld + '.' + m:14} {st.pstdev(e):5.1f} {st.pstdev([means[r] for r, _ in v]):8.1f} "
              f"{st.pstdev(within):7.1f} {st.pstdev(central):10.1f}")

    dev_on, dev_off, wq = [], [], {}
    for rec, ref, _, _, _, ms in beats:
        mo, mf = median([v[0] for v in ref.values()]), median([v[1] for v in ref.values()])
        for ld in LEADS:
            if ld in ref:
                dev_on.append((ref[ld][0] - mo) * ms)
                dev_off.append((ref[ld][1] - mf) * ms)
                wq.setdefault((ld, rec), []).append((ref[ld][1] - ref[ld][0]) * ms)
    within_q = []
    for v in wq.values():
        if len(v) > 1:
            m = st.fmean(v)
            within_q.extend(x - m for x in v)
    print(f"annotators: II/V1/V6 boundary around the 12-lead median of the same beat: onset SD "
          f"{st.pstdev(dev_on):.1f}, offset SD {st.pstdev(dev_off):.1f} ms; within-record SD of the annotated "
          f"QRSd {st.pstdev(within_q):.1f} ms")

    # The same, only in records whose beats we measure alike (our QRSd SD < 3 ms over >= 4 beats): one
    # morphology throughout, so what varies there is the annotators' marking, not the heart.
    ours_q = {}
    for rec, _, det, _, _, ms in beats:
        for ld in LEADS:
            if ld in det:
                ours_q.setdefault((ld, rec), []).append((det[ld][1] - det[ld][0]) * ms)
    for ld in LEADS:
        jit, n_rec = [], 0
        for (l, rec), v in wq.items():
            o = ours_q.get((l, rec), [])
            if l != ld or len(v) < 4 or len(o) < 4 or st.pstdev(o) >= 3.0:
                continue
            n_rec += 1
            m = st.fmean(v)
            jit.extend(x - m for x in v)
        if jit:
            print(f"annotators, {ld}, {n_rec} records of one stable morphology: within-record SD of the "
                  f"annotated QRSd {st.pstdev(jit):.1f} ms ({len(jit)} beats)")

    by_rec = {}
    for b in beats:
        by_rec.setdefault(b[0], []).append(b)

    def record_median(ld, b):
        rows = by_rec[b[0]]
        if ld == "GLOBAL":
            rel = [(x[3][0] - x[4], x[3][1] - x[4]) for x in rows]
        else:
            rel = [(x[2][ld][0] - x[4], x[2][ld][1] - x[4]) for x in rows if ld in x[2]]
            if ld not in b[2]:
                return None
        return (b[4] + median([r[0] for r in rel]), b[4] + median([r[1] for r in rel]))

    def half_fused(ld, b):
        if ld == "GLOBAL":
            return b[3]
        if ld not in b[2]:
            return None
        mo, mf = median([v[0] for v in b[2].values()]), median([v[1] for v in b[2].values()])
        return (0.5 * (b[2][ld][0] + mo), 0.5 * (b[2][ld][1] + mf))

    for name, pick in (("record median", record_median), ("half fused with 12-lead median", half_fused)):
        alt = errors(beats, pick)
        cells = [f"{ld}.{m} {st.fmean([x for _, x in alt[(ld, m)]]):+.1f}±{st.pstdev([x for _, x in alt[(ld, m)]]):.1f}"
                 for (ld, m) in alt]
        print(f"what-if, {name}: " + ", ".join(cells))

    # Oracles: boundaries read from the reference itself. If the marks of the other leads of the same beat
    # predict a lead's QRSd no better than our estimate does, the rest of its error is lead-specific
    # marking, which only the lead's own signal can tell.
    def other_marks(ld, b):
        ref = b[1]
        rows = list(ref.values()) if ld == "GLOBAL" else [v for k, v in ref.items() if k != ld]
        if not rows or (ld != "GLOBAL" and ld not in ref):
            return None
        return (median([v[0] for v in rows]), median([v[1] for v in rows]))

    def mean_marks(ld, b):
        rows = list(b[1].values())
        if not rows or (ld != "GLOBAL" and ld not in b[1]):
            return None
        return (st.fmean([v[0] for v in rows]), st.fmean([v[1] for v in rows]))

    for name, pick in (("median of the other leads' marks", other_marks), ("mean of the 12 marks", mean_marks)):
        alt = errors(beats, pick)
        cells = [f"{ld}.{m} {st.fmean([x for _, x in alt[(ld, m)]]):+.1f}±{st.pstdev([x for _, x in alt[(ld, m)]]):.1f}"
                 for (ld, m) in alt]
        print(f"oracle, {name}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
