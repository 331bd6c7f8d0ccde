#!/usr/bin/env python3
"""Train the learned boundary correction of qrsd-delineate (crates/qrsd-delineate/src/learned.rs).

  cargo run --release -p qrsd-eval --example boundary_features -- ../shared/data/ludb > /tmp/features.csv
  cargo run --release -p qrsd-eval --example boundary_features -- --synth > /tmp/synth.csv
  python3 scripts/train/boundary_model.py /tmp/features.csv /tmp/synth.csv [--write crates/qrsd-delineate/src/learned_model.rs]

Needs numpy and scikit-learn (a development tool only: the service and CI use the generated Rust file).
Prints a 5-fold cross-validation grouped by record (no record is scored by a model that saw it), per
lead and globally (2nd-earliest onset / 2nd-latest offset over >= 6 leads, as the delineator does), for
the rules alone and with the correction; then fits one model on all records and, with --write, writes
it as Rust source. The target is the cardiologist's boundary minus the rules' boundary, ms; the loss is
absolute error (robust to the annotation outliers docs/validation.md describes).
"""
import collections
import csv
import sys

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

# 600 trees of depth <= 5 (2026-12-06; was 200 of depth <= 3): out-of-fold LUDB SDs 0.2-1.2 ms lower and
# the simulator's edges closer too; depth 4 with 400/800 trees lay in between. Squared-error loss gave
# 0.2-0.4 ms lower LUDB SDs but made the simulator's global QRSd 2-4 ms long.
PARAMS = dict(loss="absolute_error", max_depth=5, max_iter=600, learning_rate=0.05,
              min_samples_leaf=40, random_state=0)
MAX_CORRECTION_MS = 30.0  # as learned.rs
REPORT = ("II", "V1", "V6")


def load(paths):
    rows = [r for p in paths for r in csv.reader(open(p))]
    col = lambda k, f=str: np.array([f(r[k]) for r in rows])
    X = np.array([[float(v) for v in r[8:]] for r in rows])
    return dict(rec=col(0), lead=col(1), edge=col(2, int), fs=col(3, float), r=col(4, int),
                ours=col(5, int), ref=col(6, int), y=col(7, float), X=X)


def fit(X, y):
    return HistGradientBoostingRegressor(**PARAMS).fit(X, y)


def summary(e):
    e = np.asarray(e)
    return f"{e.mean():+6.2f} ± {e.std():5.2f}" if len(e) else "-"


def report(d, sel, corr_ms):
    """Per-lead (II, V1, V6) and global errors, ms, of rows `sel` with boundaries ours + corr."""
    new = d["ours"] + np.round(corr_ms * d["fs"] / 1000.0).astype(int)
    beats = collections.defaultdict(dict)  # (record, R) -> lead -> [on, off, ref on, ref off]
    for i in np.flatnonzero(sel):
        e = beats[(d["rec"][i], d["r"][i])].setdefault(d["lead"][i], [None] * 4)
        e[d["edge"][i]] = new[i]
        e[2 + d["edge"][i]] = d["ref"][i]
    ms = {k: 1000.0 / d["fs"][i] for i in np.flatnonzero(sel) for k in [(d["rec"][i], d["r"][i])]}
    for ld in REPORT:
        on, off, q = [], [], []
        for k, v in beats.items():
            if ld in v and None not in v[ld]:
                a, b, ra, rb = v[ld]
                on.append((a - ra) * ms[k]); off.append((b - rb) * ms[k]); q.append(((b - a) - (rb - ra)) * ms[k])
        if on:
            print(f"  {ld:3s} onset {summary(on)}  offset {summary(off)}  QRSd {summary(q)}  (n {len(on)})")
    go, gf, gq = [], [], []
    for k, v in beats.items():
        full = [e for e in v.values() if None not in e]
        if not full:
            continue
        rank = 1 if len(full) >= 6 else 0
        o, f = sorted(e[0] for e in full)[rank], sorted(e[1] for e in full)[-1 - rank]
        ro, rf = min(e[2] for e in full), max(e[3] for e in full)
        go.append((o - ro) * ms[k]); gf.append((f - rf) * ms[k]); gq.append(((f - o) - (rf - ro)) * ms[k])
    print(f"  global onset {summary(go)}  offset {summary(gf)}  QRSd {summary(gq)}  (n {len(go)}; "
          "leads with a reference only)")


def main():
    args = sys.argv[1:]
    write = args[args.index("--write") + 1] if "--write" in args else None
    paths = [a for a in args if a.endswith(".csv")]
    d = load(paths)
    X, y, edge = d["X"], d["y"], d["edge"]
    recs = np.unique(d["rec"])
    perm = np.random.default_rng(0).permutation(recs)
    fold_of = {r: i % 5 for i, r in enumerate(perm)}
    fold = np.array([fold_of[r] for r in d["rec"]])
    pred = np.zeros_like(y)
    for kd in (0, 1):
        for k in range(5):
            tr, te = (edge == kd) & (fold != k), (edge == kd) & (fold == k)
            pred[te] = fit(X[tr], y[tr]).predict(X[te])
    pred = np.clip(pred, -MAX_CORRECTION_MS, MAX_CORRECTION_MS)
    synth = np.char.startswith(d["rec"].astype(str), "synth")
    print(f"rows: {len(y)} ({synth.sum()} synthetic); 5-fold CV grouped by record, ms (detected - reference)")
    for part, sel in (("LUDB", ~synth), ("synthetic", synth)):
        if not sel.any():
            continue
        for name, c in (("rules", np.zeros_like(y)), ("rules + learned, out of fold", pred)):
            print(f"== {part}: {name}")
            report(d, sel, c)
    models = {}
    for kd, kn in ((0, "ONSET"), (1, "OFFSET")):
        s = edge == kd
        m = fit(X[s], y[s])
        models[kn] = m
        p = m.predict(X[s][:500])
        mine = np.array([predict_export(export(m), x) for x in X[s][:500]])
        assert np.allclose(mine, p, atol=1e-6), "exported forest disagrees with sklearn"
    if write:
        with open(write, "w") as f:
            f.write("//! Generated by scripts/train/boundary_model.py (LUDB, all 200 records, and qrsd-synth): do not edit.\n")
            f.write(f"//! {PARAMS}\n")
            f.write("use crate::learned::{node as n, Forest, LEAF};\n\n")
            for kn, m in models.items():
                base, trees = export(m)
                f.write(f"pub(crate) static {kn}: Forest = Forest {{\n    base: {base!r},\n    trees: &[\n")
                for t in trees:
                    f.write("        &[\n")
                    for (feat, thr, l, r, v) in t:
                        fe = "LEAF" if feat is None else str(feat)
                        f.write(f"            n({fe}, {thr!r}, {l}, {r}, {v!r}),\n")
                    f.write("        ],\n")
                f.write("    ],\n};\n\n")
        print(f"wrote {write}")


def export(m):
    base = float(np.ravel(m._baseline_prediction)[0])
    trees = []
    for (pr,) in m._predictors:
        t = []
        for nd in pr.nodes:
            if nd["is_leaf"]:
                t.append((None, 0.0, 0, 0, float(nd["value"])))
            else:
                t.append((int(nd["feature_idx"]), float(nd["num_threshold"]), int(nd["left"]), int(nd["right"]), 0.0))
        trees.append(t)
    return base, trees


def predict_export(exp, x):
    base, trees = exp
    y = base
    for t in trees:
        i = 0
        while True:
            feat, thr, l, r, v = t[i]
            if feat is None:
                y += v
                break
            i = l if x[feat] <= thr else r
    return y


if __name__ == "__main__":
    main()
