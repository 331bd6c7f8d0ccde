#!/usr/bin/env python3
"""Train the learned global boundary of qrsd-delineate (crates/qrsd-delineate/src/learned.rs, `global_*`).

  (the two feature files of boundary_model.py, then)
  python3 scripts/train/global_model.py /tmp/features.csv /tmp/synth.csv [--write crates/qrsd-delineate/src/learned_global_model.rs]

Why: the global QRS is the earliest onset to the latest offset over the leads. On LUDB the reference is
the earliest / latest of 12 cardiologists' per-lead marks, and each of those marks scatters around where
the lead's deflection starts (7.7 ms SD at onsets, 10.2 ms at offsets, docs/validation.md): the extreme
of 12 scattered marks lies earlier / later than the extreme of 12 per-lead estimates that each hit the
*typical* mark (our per-lead boundaries, corrected by boundary_model.py, scatter less). Taking the plain
earliest / latest lead closed only half of that gap and let one noisy lead set the global QRS; a fixed
shift would move the simulator's sharp edges, where every lead starts at the same instant and nobody
scatters. So a small forest predicts, per edge, where the reference extreme lies relative to the
2nd-earliest onset (2nd-latest offset; the earliest / latest with fewer than 6 leads) from the spread of
the per-lead boundaries, how much the per-lead correction moved them (a slow foot: large; a sharp
simulated edge: none) and the lead count.

Rows: every LUDB beat (12 leads) and every qrsd-synth beat (truth: earliest / latest per-lead truth), plus
for each beat one random subset of 2, 3 and 6 of its leads (the same beat seen by fewer leads, the
reference taken over the same subset), so that the model knows what a 2-lead Holter excerpt is. The
per-lead corrections are the ones the delineator applies (boundary_model.py's models fitted on all
rows): trained on out-of-fold corrections (`--oof`), the global model learned to undo the out-of-fold
models' own errors on the simulator (onsets 2-3 ms early), which the deployed models do not make, and
moved simulated intrinsic beats 2-3 ms inwards.
Onset rows of paced beats are left out (the LUDB paced records and the simulator's BiV runs): a paced
onset follows its stimulus (the delineator moves it only by the per-lead correction beyond a 4 ms dead
band) and the delineator applies no global onset model to it either. Prints a 5-fold cross-validation grouped by record.
"""
import collections
import sys

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

import boundary_model as bm

PARAMS = dict(loss="squared_error", max_depth=3, max_iter=150, learning_rate=0.05,
              min_samples_leaf=40, random_state=0)
MAX_CORRECTION_MS = 30.0  # as learned.rs
MAX_BEYOND_MS = 10.0  # as learned.rs MAX_BEYOND_OUTERMOST_MS
PACED_LUDB = set()  # see the docstring
SUBSETS = (2, 3, 6)
# Synthetic rows weigh 2x: the features tell a sharp simulated edge from a real one only in part, and at
# weight 1 the LUDB majority moved the simulator's offsets ~2 ms late (its truth is exact; LUDB's marks
# scatter). With the synthetic set of 2026-12-06 (2-20 uV EMG, twice the rows) weights 1.5 / 2 / 3 gave
# LUDB global QRSd -4.4 / -4.7 / -5.3 ms and a worst robustness-sweep median of 8 / 6 / 6 ms.
SYNTH_WEIGHT = 2.0


def synth_is_biv(rec):
    # boundary_features.rs names its synthetic runs synth<k>-<rhythm>.
    return rec.startswith("synth") and rec.endswith("-biv")


def features(rules_ms, corrected_ms):
    """The global features, as learned.rs `global_features`: oriented ms (outwards negative)."""
    c = np.sort(corrected_ms)
    n = len(c)
    base = c[1] if n >= 6 else c[0]
    f = [c[0] - base, c[min(2, n - 1)] - base, float(np.median(c)) - base,
         float(np.mean(corrected_ms - rules_ms)), float(n), float(np.min(rules_ms)) - base]
    return f, base


def per_lead_in_sample(d):
    """The per-lead corrections the delineator applies: boundary_model.py's models fitted on all rows."""
    X, y, edge = d["X"], d["y"], d["edge"]
    pred = np.zeros_like(y)
    for kd in (0, 1):
        s = edge == kd
        pred[s] = bm.fit(X[s], y[s]).predict(X[s])
    return np.clip(pred, -bm.MAX_CORRECTION_MS, bm.MAX_CORRECTION_MS)


def rows(d, pred):
    # (record, R) -> edge -> lead -> (rules, corrected, reference), ms, oriented outwards negative
    beats = collections.defaultdict(lambda: collections.defaultdict(dict))
    for i in range(len(pred)):
        fs = d["fs"][i]
        ms = 1000.0 / fs
        sign = 1.0 if d["edge"][i] == 0 else -1.0
        rules = d["ours"][i] * ms
        corr = np.round(pred[i] * fs / 1000.0) * ms
        beats[(d["rec"][i], d["r"][i])][d["edge"][i]][d["lead"][i]] = (
            sign * rules, sign * (rules + corr), sign * d["ref"][i] * ms)
    rng = np.random.default_rng(1)
    out = []  # (record, edge, n_leads, features, target, R)
    for (rec, r_sample), edges in beats.items():
        for e, leads in edges.items():
            if e == 0 and (rec in PACED_LUDB or synth_is_biv(rec)):
                continue
            names = sorted(leads)
            sets = [names] + [list(rng.choice(names, m, replace=False)) for m in SUBSETS if len(names) > m]
            for s in sets:
                v = np.array([leads[n] for n in s])
                f, base = features(v[:, 0], v[:, 1])
                out.append((rec, e, len(s), f, v[:, 2].min() - base, r_sample))
    return out


def main():
    args = sys.argv[1:]
    write = args[args.index("--write") + 1] if "--write" in args else None
    d = bm.load([a for a in args if a.endswith(".csv")])
    r = rows(d, bm.out_of_fold(d) if "--oof" in args else per_lead_in_sample(d))
    rec = np.array([x[0] for x in r])
    E = np.array([x[1] for x in r])
    NL = np.array([x[2] for x in r])
    F = np.array([x[3] for x in r])
    T = np.array([x[4] for x in r])
    fold = bm.folds(rec)
    synth = np.char.startswith(rec.astype(str), "synth")
    W = np.where(synth, SYNTH_WEIGHT, 1.0)
    P = np.zeros_like(T)
    for e in (0, 1):
        for k in range(5):
            tr, te = (E == e) & (fold != k), (E == e) & (fold == k)
            P[te] = HistGradientBoostingRegressor(**PARAMS).fit(F[tr], T[tr], sample_weight=W[tr]).predict(F[te])
    # As learned.rs: outwards only, and at most MAX_BEYOND_MS beyond the outermost lead (feature 0).
    P = np.maximum(np.clip(P, -MAX_CORRECTION_MS, 0.0), F[:, 0] - MAX_BEYOND_MS)
    print("global boundary, 5-fold CV grouped by record, ms (detected - reference), mean ± SD")
    print("  (ranked = 2nd-earliest / 2nd-latest with >= 6 leads, else the earliest / latest; "
          "learned = ranked + the forest, out of fold)")
    for part, sel in (("LUDB 12 leads", ~synth & (NL >= 10)), ("LUDB 6-lead subsets", ~synth & (NL == 6)),
                      ("LUDB 2-lead subsets", ~synth & (NL == 2)), ("synthetic 12 leads", synth & (NL >= 10)),
                      ("synthetic 2-lead subsets", synth & (NL == 2))):
        on, off = sel & (E == 0), sel & (E == 1)
        # Oriented errors: onset = detected - reference; offset flips the sign back.
        print(f"  {part:25s} onset ranked {bm.summary(-T[on])} learned {bm.summary(P[on] - T[on])}"
              f" | offset ranked {bm.summary(T[off])} learned {bm.summary(T[off] - P[off])}")
    # Global QRSd error of the beats seen through all their leads (both edges; paced onsets excluded).
    R = np.array([x[5] for x in r])
    for part, sel in (("LUDB 12 leads", ~synth & (NL >= 10)), ("synthetic 12 leads", synth & (NL >= 10))):
        on = {(rec[i], R[i]): i for i in np.flatnonzero(sel & (E == 0))}
        q_ranked, q_learned = [], []
        for i in np.flatnonzero(sel & (E == 1)):
            j = on.get((rec[i], R[i]))
            if j is not None:  # offset error - onset error, oriented back to samples
                q_ranked.append(T[i] + T[j])
                q_learned.append((T[i] - P[i]) + (T[j] - P[j]))
        print(f"  {part:25s} QRSd ranked {bm.summary(q_ranked)} learned {bm.summary(q_learned)}")
    if write:
        models = {}
        for e, kn in ((0, "GLOBAL_ONSET"), (1, "GLOBAL_OFFSET")):
            s = E == e
            m = HistGradientBoostingRegressor(**PARAMS).fit(F[s], T[s], sample_weight=W[s])
            mine = np.array([bm.predict_export(bm.export(m), x) for x in F[s][:500]])
            assert np.allclose(mine, m.predict(F[s][:500]), atol=1e-6), "exported forest disagrees"
            models[kn] = m
        bm.write_forests(write, ["Generated by scripts/train/global_model.py (LUDB, all 200 records, and "
                                 "qrsd-synth): do not edit.",
                                 f"{PARAMS}, lead subsets {SUBSETS}, synthetic weight {SYNTH_WEIGHT}"], models)
        print(f"wrote {write}")


if __name__ == "__main__":
    main()
