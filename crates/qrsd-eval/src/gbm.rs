//! A small gradient-boosted regression-tree trainer for the delineator's learned models.
//!
//! Histogram boosting as in LightGBM / scikit-learn's `HistGradientBoostingRegressor` (Ke et al.,
//! NeurIPS 2017), reduced to what the models need: features binned once at quantiles, depth-limited
//! trees grown level by level, squared-error gain, and for the absolute-error loss a tree fitted to
//! the residuals' signs whose leaves take the weighted median residual (Friedman 2001, LAD-TreeBoost),
//! robust to the annotation outliers of LUDB. No sampling: the same rows give the same forest, so a
//! model file is reproducible from its data. Written here (not a crate) because the forests must
//! come out in [`qrsd_delineate::learned::Forest`]'s layout and trainable inside `qrsd eval`, so
//! that cross-validation folds are trained and scored in one run.

use qrsd_delineate::learned::{Forest, Node};

/// Loss minimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error.
    Squared,
    /// Mean absolute error.
    Absolute,
}

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GbmParams {
    /// Loss.
    pub loss: Loss,
    /// Trees.
    pub trees: usize,
    /// Depth of each tree (≤ 5, the inference layout's limit).
    pub max_depth: usize,
    /// Shrinkage.
    pub learning_rate: f64,
    /// Least total weight in a leaf.
    pub min_leaf_weight: f64,
    /// Bins per feature (≤ 254 thresholds per feature over the whole forest).
    pub bins: usize,
}

/// Rows of features, targets and weights.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Features per row.
    pub n_features: usize,
    /// Row-major features.
    pub x: Vec<f64>,
    /// Targets.
    pub y: Vec<f64>,
    /// Weights (> 0).
    pub w: Vec<f64>,
}

impl Dataset {
    /// An empty set of `n_features`-feature rows.
    pub fn new(n_features: usize) -> Self {
        Self {
            n_features,
            ..Self::default()
        }
    }
    /// Add one row.
    pub fn push(&mut self, x: &[f64], y: f64, w: f64) {
        debug_assert_eq!(x.len(), self.n_features);
        self.x.extend_from_slice(x);
        self.y.push(y);
        self.w.push(w);
    }
    /// Rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.n_features..(i + 1) * self.n_features]
    }
}

fn weighted_median(v: &mut [(f64, f64)]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let half = v.iter().map(|p| p.1).sum::<f64>() / 2.0;
    let mut acc = 0.0;
    for &(x, w) in v.iter() {
        acc += w;
        if acc >= half {
            return x;
        }
    }
    v[v.len() - 1].0
}

/// Per feature, the thresholds between bins (ascending): weighted quantiles of the feature's values,
/// midway between neighbouring distinct values.
fn cut_points(d: &Dataset, bins: usize) -> Vec<Vec<f64>> {
    let n = d.len();
    (0..d.n_features)
        .map(|f| {
            let mut v: Vec<f64> = (0..n)
                .map(|i| d.x[i * d.n_features + f])
                .filter(|x| x.is_finite())
                .collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            if v.len() <= 1 {
                return Vec::new();
            }
            let k = bins.min(v.len());
            let mut cuts: Vec<f64> = (1..k)
                .map(|j| {
                    let i = j * (v.len() - 1) / k;
                    0.5 * (v[i] + v[i + 1])
                })
                .collect();
            cuts.dedup();
            cuts
        })
        .collect()
}

/// Fit a forest to `d`.
pub fn fit(d: &Dataset, p: &GbmParams) -> Forest {
    let n = d.len();
    let nf = d.n_features;
    if n == 0 {
        return Forest::default();
    }
    let cuts = cut_points(d, p.bins.clamp(2, 254));
    // bin[i * nf + f] = number of cuts of f below x (x <= cut[b] ⇔ bin <= b).
    let bin: Vec<u8> = (0..n)
        .flat_map(|i| {
            let cuts = &cuts;
            d.row(i)
                .iter()
                .enumerate()
                .map(move |(f, x)| cuts[f].partition_point(|c| c < x) as u8)
        })
        .collect();
    let wsum: f64 = d.w.iter().sum();
    let base = match p.loss {
        Loss::Squared => d.y.iter().zip(&d.w).map(|(y, w)| y * w).sum::<f64>() / wsum,
        Loss::Absolute => {
            let mut v: Vec<(f64, f64)> = d.y.iter().copied().zip(d.w.iter().copied()).collect();
            weighted_median(&mut v)
        }
    };
    let mut pred = vec![base; n];
    let mut trees = Vec::with_capacity(p.trees);
    let depth = p.max_depth.clamp(1, 5);
    let mut node_of = vec![0usize; n];
    let nb = 256;
    let mut hist_g = vec![0.0f64; nf * nb];
    let mut hist_w = vec![0.0f64; nf * nb];
    let mut grad = vec![0.0f64; n];
    for _ in 0..p.trees {
        for i in 0..n {
            let r = d.y[i] - pred[i];
            grad[i] = match p.loss {
                Loss::Squared => r,
                Loss::Absolute => r.signum(),
            };
        }
        // Nodes of this tree: (split or leaf); rows carry their current node index.
        let mut nodes: Vec<Node> = vec![Node::leaf(0.0)];
        let mut open: Vec<usize> = vec![0];
        node_of.iter_mut().for_each(|v| *v = 0);
        for _level in 0..depth {
            let mut next = Vec::new();
            for &nid in &open {
                hist_g.iter_mut().for_each(|v| *v = 0.0);
                hist_w.iter_mut().for_each(|v| *v = 0.0);
                let (mut g_tot, mut w_tot) = (0.0, 0.0);
                for i in (0..n).filter(|&i| node_of[i] == nid) {
                    let (g, w) = (grad[i] * d.w[i], d.w[i]);
                    g_tot += g;
                    w_tot += w;
                    for f in 0..nf {
                        let b = bin[i * nf + f] as usize;
                        hist_g[f * nb + b] += g;
                        hist_w[f * nb + b] += w;
                    }
                }
                if w_tot < 2.0 * p.min_leaf_weight {
                    continue;
                }
                let parent = g_tot * g_tot / w_tot;
                let mut best: Option<(f64, usize, usize)> = None;
                for f in 0..nf {
                    let (mut gl, mut wl) = (0.0, 0.0);
                    for b in 0..cuts[f].len() {
                        gl += hist_g[f * nb + b];
                        wl += hist_w[f * nb + b];
                        let wr = w_tot - wl;
                        if wl < p.min_leaf_weight || wr < p.min_leaf_weight {
                            continue;
                        }
                        let gr = g_tot - gl;
                        let gain = gl * gl / wl + gr * gr / wr - parent;
                        if gain > 1e-12 && best.is_none_or(|(bg, _, _)| gain > bg) {
                            best = Some((gain, f, b));
                        }
                    }
                }
                let Some((_, f, b)) = best else { continue };
                let (l, r) = (nodes.len(), nodes.len() + 1);
                nodes.push(Node::leaf(0.0));
                nodes.push(Node::leaf(0.0));
                nodes[nid] = Node::split(f as u8, cuts[f][b], l as u16, r as u16);
                for i in 0..n {
                    if node_of[i] == nid {
                        node_of[i] = if (bin[i * nf + f] as usize) <= b {
                            l
                        } else {
                            r
                        };
                    }
                }
                next.push(l);
                next.push(r);
            }
            if next.is_empty() {
                break;
            }
            open = next;
        }
        // Leaf values: the mean gradient (squared) or the weighted median residual (absolute).
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (i, &nid) in node_of.iter().enumerate() {
            members[nid].push(i);
        }
        for (nid, rows) in members.iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let v = match p.loss {
                Loss::Squared => {
                    let (g, w) = rows
                        .iter()
                        .fold((0.0, 0.0), |(g, w), &i| (g + grad[i] * d.w[i], w + d.w[i]));
                    g / w
                }
                Loss::Absolute => {
                    let mut v: Vec<(f64, f64)> =
                        rows.iter().map(|&i| (d.y[i] - pred[i], d.w[i])).collect();
                    weighted_median(&mut v)
                }
            };
            let v = v * p.learning_rate;
            nodes[nid] = Node::leaf(v);
            for &i in rows {
                pred[i] += v;
            }
        }
        trees.push(nodes);
    }
    Forest { base, trees }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_step_and_a_slope_and_predicts_like_its_training() {
        // y = 10·[x0 > 0.5] + 4·x1 (x2 is noise-free clutter).
        let mut d = Dataset::new(3);
        let mut s = 12345u64;
        let mut u = || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut rows = Vec::new();
        for _ in 0..4000 {
            let x = [u(), u(), u()];
            let y = if x[0] > 0.5 { 10.0 } else { 0.0 } + 4.0 * x[1];
            d.push(&x, y, 1.0);
            rows.push((x, y));
        }
        for loss in [Loss::Squared, Loss::Absolute] {
            let p = GbmParams {
                loss,
                trees: 200,
                max_depth: 3,
                learning_rate: 0.1,
                min_leaf_weight: 20.0,
                bins: 64,
            };
            let f = fit(&d, &p);
            let mae = rows
                .iter()
                .map(|(x, y)| (f.predict(x) - y).abs())
                .sum::<f64>()
                / rows.len() as f64;
            assert!(mae < 0.3, "{loss:?}: MAE {mae}");
            // Deterministic: the same rows give the same forest.
            assert_eq!(f, fit(&d, &p));
        }
    }

    #[test]
    fn weights_move_the_fit() {
        // Two clusters at the same x with targets 0 and 10: the fit follows the heavier one.
        let mut d = Dataset::new(1);
        for i in 0..200 {
            d.push(
                &[0.5],
                if i % 2 == 0 { 0.0 } else { 10.0 },
                if i % 2 == 0 { 1.0 } else { 3.0 },
            );
        }
        let p = GbmParams {
            loss: Loss::Squared,
            trees: 10,
            max_depth: 2,
            learning_rate: 0.5,
            min_leaf_weight: 1.0,
            bins: 8,
        };
        let f = fit(&d, &p);
        assert!(
            (f.predict(&[0.5]) - 7.5).abs() < 1e-6,
            "{}",
            f.predict(&[0.5])
        );
    }
}
