//! Learned boundary correction: where, relative to the boundary the rules found, a cardiologist marks a
//! lead's QRS onset or offset, predicted from the shape of the signal around it.
//!
//! The rules (lib.rs) find where the deflection stands out of the lead's noise; cardiologists mark the
//! start of the slow foot before it, and how far before depends on the shape (a gradual foot, a slurred S,
//! a small q): a fixed shift corrects the mean only. A small gradient-boosted regression forest reads
//! amplitude-normalised levels at 4 ms steps around the boundary and returns the correction in ms; a
//! second pair of forests places the global onset and offset from the per-lead boundaries. Every
//! feature is in ms or relative to the lead's QRS amplitude, so it is the same at every rate.
//!
//! The forests are data: `models/boundary-models.json` (format [`MODEL_FORMAT`] v[`MODEL_VERSION`],
//! FNV-1a checksum), written by `qrsd eval ludb DIR --train-out FILE` (`qrsd_eval::train`: LUDB and
//! synthetic beats, LUDB rows weighted equally per reference-width band, deterministic) and scored out
//! of fold by `qrsd eval ludb DIR --oof` (docs/validation.md). Inference is ~2,000 comparisons per
//! boundary (400 trees of depth ≤ 5) and allocates nothing.

/// Number of features per boundary.
pub const N_FEATURES: usize = 20;
/// Levels sampled outside the boundary (4, 8, … 40 ms).
const N_OUT: usize = 10;
/// Levels sampled inside the boundary (4, 8, … 28 ms).
const N_IN: usize = 7;
/// Spacing of the sampled levels, ms.
const STEP_MS: f64 = 4.0;
/// Each level is the mean over ± this, ms (smooths the sample noise the way the eye does).
const LEVEL_HALF_MS: f64 = 2.0;
/// The correction is never larger than this, ms (a forest extrapolates flat anyway; this bounds a
/// feature vector unlike anything it was trained on).
pub const MAX_CORRECTION_MS: f64 = 30.0;

/// How far outside the boundary the features read, ms (for the window length the result depends on).
pub const OUTSIDE_REACH_MS: f64 = N_OUT as f64 * STEP_MS + LEVEL_HALF_MS;

/// One tree node: an inner node sends `x[feature] <= threshold` left, else right; a leaf has
/// `feature == LEAF` and returns its value, kept in `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    threshold: f64,
    left: u16,
    right: u16,
    feature: u8,
}

impl Node {
    /// An inner node: `x[feature] <= threshold` goes to `left`, else to `right` (indices into the tree).
    pub fn split(feature: u8, threshold: f64, left: u16, right: u16) -> Self {
        Node {
            threshold,
            left,
            right,
            feature,
        }
    }

    /// A leaf returning `value`.
    pub fn leaf(value: f64) -> Self {
        Node {
            threshold: value,
            left: 0,
            right: 0,
            feature: LEAF,
        }
    }
}

pub(crate) const LEAF: u8 = u8::MAX;

/// A gradient-boosted regression forest: `base` plus the sum of one leaf value per tree.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Forest {
    /// The constant the trees add to.
    pub base: f64,
    /// The trees, each a node list whose first node is the root.
    pub trees: Vec<Vec<Node>>,
}

impl Forest {
    /// The plain walk over the node lists (the reference [`FlatForest`] is tested against; training
    /// uses it while it grows a forest).
    pub fn predict(&self, f: &[f64]) -> f64 {
        let mut y = self.base;
        for t in &self.trees {
            let mut i = 0usize;
            loop {
                let n = &t[i];
                if n.feature == LEAF {
                    y += n.threshold;
                    break;
                }
                // NaN (cannot happen: features are finite) would go right, as in training's default.
                i = if f[n.feature as usize] <= n.threshold {
                    n.left as usize
                } else {
                    n.right as usize
                };
            }
        }
        y
    }
}

/// A forest laid out for speed. Every tree is padded to a complete binary tree of the forest's depth,
/// stored level by level (node `i` has children `2i + 1` and `2i + 2`) and walked with a fixed number
/// of steps, without a branch, several trees side by side. Each split compares bytes: a feature is
/// first replaced by its bin, the number of the forest's thresholds on that feature that lie below it,
/// and `x <= t_j` holds exactly when `bin(x) <= j` (as in the histogram boosting that trained it). A
/// tree's splits then fit in one cache line. The walk over the node lists of [`Forest`] mispredicted
/// about every other branch and read 5–6 cache lines per tree; it took most of the delineator's time.
/// Same result to the bit: the leaves are summed in the same order.
#[derive(Debug)]
pub(crate) struct FlatForest {
    base: f64,
    depth: u32,
    /// Per feature, the distinct thresholds the trees split it at, ascending (≤ 255 each).
    cuts: Vec<Vec<f64>>,
    splits: Vec<Splits>,
    leaves: Vec<[f64; SLOTS]>,
}

/// The deepest tree a [`FlatForest`] holds (the generated forests have depth ≤ 5).
const MAX_DEPTH: u32 = 5;
/// Slots per tree: `2^MAX_DEPTH` (inner nodes use the first `2^depth − 1`, leaves the first `2^depth`).
const SLOTS: usize = 1 << MAX_DEPTH;
/// The bin of NaN and the cut index of padding nodes: NaN goes right at every real split (as in
/// training), and every bin goes left at a padding node.
const TOP: u8 = u8::MAX;

/// The inner nodes of one padded tree: feature and threshold index (into that feature's cuts).
#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct Splits {
    feature: [u8; SLOTS],
    cut: [u8; SLOTS],
}

/// Trees walked side by side (independent load chains the CPU overlaps).
const LANES: usize = 8;

impl FlatForest {
    /// Built once per loaded model (not per sample or per beat). Errors name what does not fit the
    /// layout (a tree deeper than [`MAX_DEPTH`], too many thresholds or features, a bad child index).
    pub(crate) fn new(forest: &Forest) -> Result<Self, String> {
        for (k, t) in forest.trees.iter().enumerate() {
            // Children after their parent: the walk then always ends.
            for (i, n) in t.iter().enumerate() {
                if n.feature != LEAF
                    && !(n.left as usize > i
                        && n.right as usize > i
                        && (n.left as usize) < t.len()
                        && (n.right as usize) < t.len())
                {
                    return Err(format!("tree {k}: node {i} has a bad child index"));
                }
                if !n.threshold.is_finite() {
                    return Err(format!("tree {k}: node {i} is not finite"));
                }
            }
            if t.is_empty() {
                return Err(format!("tree {k} is empty"));
            }
        }
        fn depth(t: &[Node], i: usize) -> u32 {
            let n = &t[i];
            if n.feature == LEAF {
                0
            } else {
                1 + depth(t, n.left as usize).max(depth(t, n.right as usize))
            }
        }
        let d = forest.trees.iter().map(|t| depth(t, 0)).max().unwrap_or(0);
        if d > MAX_DEPTH {
            return Err(format!("forest deeper than {MAX_DEPTH}"));
        }
        let mut cuts: Vec<Vec<f64>> = Vec::new();
        for n in forest.trees.iter().flat_map(|t| t.iter()) {
            if n.feature != LEAF {
                let f = n.feature as usize;
                if cuts.len() <= f {
                    cuts.resize(f + 1, Vec::new());
                }
                cuts[f].push(n.threshold);
            }
        }
        for c in &mut cuts {
            c.sort_by(f64::total_cmp);
            c.dedup();
            if c.len() >= TOP as usize {
                return Err("more than 254 thresholds on one feature".into());
            }
        }
        if cuts.len() > SLOTS {
            return Err(format!("more than {SLOTS} features"));
        }
        let inner = (1usize << d) - 1;
        let mut splits = Vec::with_capacity(forest.trees.len());
        let mut leaves = Vec::with_capacity(forest.trees.len());
        // (source node, heap position, level) of each tree, walked iteratively.
        let mut stack = Vec::new();
        for t in &forest.trees {
            let mut s = Splits {
                feature: [0; SLOTS],
                cut: [TOP; SLOTS],
            };
            let mut l = [0.0; SLOTS];
            stack.push((0usize, 0usize, 0u32));
            while let Some((src, pos, level)) = stack.pop() {
                let n = &t[src];
                if n.feature == LEAF {
                    // A leaf above the last level: every leaf below its position gets its value.
                    let span = 1usize << (d - level);
                    let first = ((pos + 1) << (d - level)) - 1 - inner;
                    l[first..first + span].fill(n.threshold);
                } else {
                    let c = &cuts[n.feature as usize];
                    s.feature[pos] = n.feature;
                    s.cut[pos] = c.partition_point(|v| *v < n.threshold) as u8;
                    stack.push((n.left as usize, 2 * pos + 1, level + 1));
                    stack.push((n.right as usize, 2 * pos + 2, level + 1));
                }
            }
            splits.push(s);
            leaves.push(l);
        }
        Ok(FlatForest {
            base: forest.base,
            depth: d,
            cuts,
            splits,
            leaves,
        })
    }

    pub(crate) fn predict(&self, f: &[f64]) -> f64 {
        let mut bin = [TOP; SLOTS];
        for ((b, c), x) in bin.iter_mut().zip(&self.cuts).zip(f) {
            if !x.is_nan() {
                *b = c.partition_point(|v| v < x) as u8;
            }
        }
        // A depth known at compile time lets the walk unroll fully.
        match self.depth {
            5 => self.sum::<5>(&bin),
            4 => self.sum::<4>(&bin),
            3 => self.sum::<3>(&bin),
            d => self.sum_any(&bin, d),
        }
    }

    fn sum<const D: u32>(&self, bin: &[u8; SLOTS]) -> f64 {
        let inner = (1usize << D) - 1;
        let mut y = self.base;
        let full = self.splits.len() / LANES * LANES;
        for (splits, leaves) in self.splits[..full]
            .chunks_exact(LANES)
            .zip(self.leaves[..full].chunks_exact(LANES))
        {
            let mut idx = [0usize; LANES];
            for _ in 0..D {
                for (i, s) in idx.iter_mut().zip(splits) {
                    let n = *i & (SLOTS - 1);
                    // Left when x <= threshold.
                    let right = bin[s.feature[n] as usize & (SLOTS - 1)] > s.cut[n];
                    *i = 2 * *i + 1 + right as usize;
                }
            }
            for (i, l) in idx.iter().zip(leaves) {
                y += l[(*i - inner) & (SLOTS - 1)];
            }
        }
        self.sum_from(bin, D, full, y)
    }

    fn sum_any(&self, bin: &[u8; SLOTS], depth: u32) -> f64 {
        self.sum_from(bin, depth, 0, self.base)
    }

    /// `y` plus the trees from `first` on, one at a time.
    fn sum_from(&self, bin: &[u8; SLOTS], depth: u32, first: usize, mut y: f64) -> f64 {
        let inner = (1usize << depth) - 1;
        for (s, l) in self.splits[first..].iter().zip(&self.leaves[first..]) {
            let mut i = 0usize;
            for _ in 0..depth {
                let n = i & (SLOTS - 1);
                let right = bin[s.feature[n] as usize & (SLOTS - 1)] > s.cut[n];
                i = 2 * i + 1 + right as usize;
            }
            y += l[(i - inner) & (SLOTS - 1)];
        }
        y
    }
}

/// The learned models the delineator applies: the per-lead boundary correction (onset, offset) and
/// the global boundary (onset, offset), laid out for inference. Loaded from a model file
/// ([`Models::from_json`]); the one shipped with qrsd is [`Models::embedded`].
#[derive(Debug)]
pub struct Models {
    /// What the file says about itself (training data, parameters, folds).
    pub about: String,
    /// The forests as stored (for saving and for checks against the file).
    pub forests: Forests,
    onset: FlatForest,
    offset: FlatForest,
    global_onset: FlatForest,
    global_offset: FlatForest,
}

impl PartialEq for Models {
    fn eq(&self, other: &Self) -> bool {
        self.forests == other.forests
    }
}

/// The four forests of a model file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Forests {
    /// Per-lead onset correction (features [`boundary_features`]).
    pub onset: Forest,
    /// Per-lead offset correction.
    pub offset: Forest,
    /// Global onset (features [`global_features`]).
    pub global_onset: Forest,
    /// Global offset.
    pub global_offset: Forest,
}

/// Model-file name in the shipped build.
pub const MODEL_FILE: &str = "boundary-models.json";
/// Format tag and version a model file must carry.
pub const MODEL_FORMAT: &str = "qrsd-boundary-models";
/// See [`MODEL_FORMAT`]; raised whenever the features or their meaning change.
pub const MODEL_VERSION: u32 = 2;

/// A model file that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Not JSON of the expected shape.
    #[error("model file: {0}")]
    Parse(String),
    /// Another format or version than this build reads.
    #[error("model file is {format} v{version}; this build reads {MODEL_FORMAT} v{MODEL_VERSION}")]
    Version {
        /// Format tag found.
        format: String,
        /// Version found.
        version: u32,
    },
    /// The stored checksum does not match the forests (a truncated or edited file).
    #[error("model file checksum mismatch: stored {stored}, computed {computed}")]
    Checksum {
        /// In the file.
        stored: String,
        /// Over the forests read.
        computed: String,
    },
    /// A forest does not fit the inference layout or reads a feature that does not exist.
    #[error("model file, forest {forest}: {why}")]
    Forest {
        /// Which forest.
        forest: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// A node on disk: `[feature, threshold, left, right]` (feature −1 = leaf, threshold = its value).
type NodeRecord = (i32, f64, u32, u32);

#[derive(serde::Serialize, serde::Deserialize)]
struct ForestRecord {
    base: f64,
    trees: Vec<Vec<NodeRecord>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ForestsRecord {
    onset: ForestRecord,
    offset: ForestRecord,
    global_onset: ForestRecord,
    global_offset: ForestRecord,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ModelRecord {
    format: String,
    version: u32,
    about: String,
    /// FNV-1a 64 of the compact JSON of `forests`, hex.
    checksum: String,
    forests: ForestsRecord,
}

fn to_record(f: &Forest) -> ForestRecord {
    ForestRecord {
        base: f.base,
        trees: f
            .trees
            .iter()
            .map(|t| {
                t.iter()
                    .map(|n| {
                        if n.feature == LEAF {
                            (-1, n.threshold, 0, 0)
                        } else {
                            (
                                i32::from(n.feature),
                                n.threshold,
                                u32::from(n.left),
                                u32::from(n.right),
                            )
                        }
                    })
                    .collect()
            })
            .collect(),
    }
}

fn from_record(r: &ForestRecord, name: &'static str) -> Result<Forest, ModelError> {
    let bad = |why: String| ModelError::Forest { forest: name, why };
    let mut trees = Vec::with_capacity(r.trees.len());
    for t in &r.trees {
        let mut nodes = Vec::with_capacity(t.len());
        for &(f, th, l, rr) in t {
            nodes.push(if f < 0 {
                Node::leaf(th)
            } else {
                let f = u8::try_from(f)
                    .ok()
                    .filter(|f| *f != LEAF)
                    .ok_or_else(|| bad(format!("feature {f}")))?;
                let l = u16::try_from(l).map_err(|_| bad(format!("child {l}")))?;
                let rr = u16::try_from(rr).map_err(|_| bad(format!("child {rr}")))?;
                Node::split(f, th, l, rr)
            });
        }
        trees.push(nodes);
    }
    Ok(Forest {
        base: r.base,
        trees,
    })
}

/// FNV-1a, 64 bit: a checksum against truncation and hand edits, not against tampering.
fn fnv1a64(bytes: &[u8]) -> String {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl Models {
    /// Models from forests (e.g. just trained), checked as a loaded file would be.
    pub fn new(forests: Forests, about: String) -> Result<Self, ModelError> {
        let lay = |f: &Forest, name: &'static str, n_features: usize| {
            let used = f.trees.iter().flatten().filter(|n| n.feature != LEAF);
            if let Some(n) = used.clone().find(|n| n.feature as usize >= n_features) {
                return Err(ModelError::Forest {
                    forest: name,
                    why: format!("feature {} of {n_features}", n.feature),
                });
            }
            FlatForest::new(f).map_err(|why| ModelError::Forest { forest: name, why })
        };
        Ok(Models {
            onset: lay(&forests.onset, "onset", N_FEATURES)?,
            offset: lay(&forests.offset, "offset", N_FEATURES)?,
            global_onset: lay(&forests.global_onset, "global_onset", N_GLOBAL_FEATURES)?,
            global_offset: lay(&forests.global_offset, "global_offset", N_GLOBAL_FEATURES)?,
            forests,
            about,
        })
    }

    /// The model file's bytes (JSON with a checksum), as [`Models::from_json`] reads them.
    pub fn to_json(&self) -> String {
        let forests = ForestsRecord {
            onset: to_record(&self.forests.onset),
            offset: to_record(&self.forests.offset),
            global_onset: to_record(&self.forests.global_onset),
            global_offset: to_record(&self.forests.global_offset),
        };
        let checksum = fnv1a64(
            serde_json::to_string(&forests)
                .unwrap_or_default()
                .as_bytes(),
        );
        let rec = ModelRecord {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            about: self.about.clone(),
            checksum,
            forests,
        };
        serde_json::to_string(&rec).unwrap_or_default() + "\n"
    }

    /// Read a model file: format, version and checksum are checked, and every forest must fit the
    /// inference layout.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        let rec: ModelRecord =
            serde_json::from_slice(bytes).map_err(|e| ModelError::Parse(e.to_string()))?;
        if rec.format != MODEL_FORMAT || rec.version != MODEL_VERSION {
            return Err(ModelError::Version {
                format: rec.format,
                version: rec.version,
            });
        }
        let computed = fnv1a64(
            serde_json::to_string(&rec.forests)
                .map_err(|e| ModelError::Parse(e.to_string()))?
                .as_bytes(),
        );
        if computed != rec.checksum {
            return Err(ModelError::Checksum {
                stored: rec.checksum,
                computed,
            });
        }
        let f = &rec.forests;
        let forests = Forests {
            onset: from_record(&f.onset, "onset")?,
            offset: from_record(&f.offset, "offset")?,
            global_onset: from_record(&f.global_onset, "global_onset")?,
            global_offset: from_record(&f.global_offset, "global_offset")?,
        };
        Models::new(forests, rec.about)
    }

    /// The models shipped with this build (`models/boundary-models.json`, written by
    /// `qrsd eval ludb --train-out`), laid out once on first use.
    pub fn embedded() -> std::sync::Arc<Models> {
        static EMBEDDED: std::sync::LazyLock<std::sync::Arc<Models>> =
            std::sync::LazyLock::new(|| {
                let bytes = include_bytes!("../models/boundary-models.json");
                // A test loads this file; a build whose file does not load cannot pass it.
                #[allow(clippy::expect_used)]
                std::sync::Arc::new(
                    Models::from_json(bytes).expect("the embedded model file loads"),
                )
            });
        EMBEDDED.clone()
    }

    /// The learned correction of a boundary, ms (positive = later), bounded by [`MAX_CORRECTION_MS`].
    pub fn correction_ms(&self, edge: Edge, f: &[f64; N_FEATURES]) -> f64 {
        let forest = match edge {
            Edge::Onset => &self.onset,
            Edge::Offset => &self.offset,
        };
        forest
            .predict(f)
            .clamp(-MAX_CORRECTION_MS, MAX_CORRECTION_MS)
    }

    /// Where the global boundary lies relative to the ranked one, ms, in oriented terms (negative =
    /// outwards: an earlier onset, a later offset), within [−[`MAX_CORRECTION_MS`], 0]: the earliest
    /// of the leads' marks never lies after the 2nd-earliest lead, so the model only ever moves the
    /// global boundary outwards (allowing 10 ms inwards changed no figure by more than 0.3 ms).
    pub fn global_correction_ms(&self, edge: Edge, f: &[f64; N_GLOBAL_FEATURES]) -> f64 {
        let forest = match edge {
            Edge::Onset => &self.global_onset,
            Edge::Offset => &self.global_offset,
        };
        forest.predict(f).clamp(-MAX_CORRECTION_MS, 0.0)
    }
}

/// Which boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// QRS onset: outside lies before it.
    Onset,
    /// QRS offset: outside lies after it.
    Offset,
}

/// The features of boundary `b` of a lead whose QRS spans `[onset, offset]` (window indices into `x`,
/// conditioned µV), with the lead's slope noise floor `noise_uv_per_ms`. Positions outside `x` are held
/// at its ends.
pub fn boundary_features(
    x: &[f64],
    edge: Edge,
    onset: usize,
    offset: usize,
    noise_uv_per_ms: f64,
    fs_hz: f64,
) -> [f64; N_FEATURES] {
    let mut f = [0.0; N_FEATURES];
    let n = x.len();
    if n == 0 || onset > offset || offset >= n {
        return f;
    }
    let (lo, hi) = x[onset..=offset]
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    // Below 20 µV a lead's QRS is barely there; the floor keeps the ratios bounded.
    let amp = (hi - lo).max(20.0);
    let half = (LEVEL_HALF_MS * fs_hz / 1000.0).round().max(1.0) as i64;
    let level = |t_ms: f64, b: usize| -> f64 {
        let c = b as i64 + (t_ms * fs_hz / 1000.0).round() as i64;
        let (a, z) = ((c - half).max(0), (c + half).min(n as i64 - 1));
        if a > z {
            return x[c.clamp(0, n as i64 - 1) as usize];
        }
        let s: f64 = x[a as usize..=z as usize].iter().sum();
        s / (z - a + 1) as f64
    };
    let (b, dir) = match edge {
        Edge::Onset => (onset, 1.0),
        Edge::Offset => (offset, -1.0),
    };
    let x0 = level(0.0, b);
    // Orientation: the deflection into the QRS counts positive.
    let sign = if level(dir * 2.0 * STEP_MS, b) >= x0 {
        1.0
    } else {
        -1.0
    };
    for (k, v) in f[..N_OUT].iter_mut().enumerate() {
        *v = sign * (x0 - level(-dir * STEP_MS * (k + 1) as f64, b)) / amp;
    }
    for (k, v) in f[N_OUT..N_OUT + N_IN].iter_mut().enumerate() {
        *v = sign * (level(dir * STEP_MS * (k + 1) as f64, b) - x0) / amp;
    }
    f[N_OUT + N_IN] = noise_uv_per_ms / amp;
    f[N_OUT + N_IN + 1] = amp.ln();
    f[N_OUT + N_IN + 2] = (offset - onset) as f64 * 1000.0 / fs_hz / 100.0;
    f
}

/// The learned global boundary never lies further than this beyond the outermost lead's boundary, ms
/// (on LUDB the model goes 2 ms beyond it in the median, 8.7 ms at the 99th percentile): a safety
/// bound for feature vectors unlike the training's.
pub const MAX_BEYOND_OUTERMOST_MS: f64 = 10.0;

/// Number of features of the global model.
pub const N_GLOBAL_FEATURES: usize = 6;

/// The features of one global edge from the per-lead boundaries of a beat, in oriented ms (an onset as
/// is, an offset negated: outwards is negative): `corrected_sorted` ascending (the leads' boundaries as
/// reported), `rules` the same leads' boundaries before the learned correction, in any order. With ≥ 6
/// leads the reference point is the 2nd-earliest, else the earliest (the ranked global boundary):
/// the distances of the earliest, the 3rd-earliest and the median lead from it; how far the per-lead
/// correction moved the leads on average (a slow foot moves them, a sharp edge does not); the lead
/// count; the earliest boundary before correction. As `qrsd_eval::train` computes them for training.
/// (The QRSd the ranked boundaries span, as a 7th feature, lowered LUDB's out-of-fold site SD by
/// 0.5 ms but split simulated LBBB baselines at 184 ms into −8 and +5…+14 ms: too few LUDB records
/// that wide to learn from; 2026-12-07.)
pub fn global_features(corrected_sorted: &[f64], rules: &[f64]) -> [f64; N_GLOBAL_FEATURES] {
    let n = corrected_sorted.len().min(rules.len());
    if n == 0 {
        return [0.0; N_GLOBAL_FEATURES];
    }
    let c = &corrected_sorted[..n];
    let base = if n >= 6 { c[1] } else { c[0] };
    let median = if n % 2 == 1 {
        c[n / 2]
    } else {
        0.5 * (c[n / 2 - 1] + c[n / 2])
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let rules_min = rules[..n].iter().copied().fold(f64::INFINITY, f64::min);
    [
        c[0] - base,
        c[2.min(n - 1)] - base,
        median - base,
        mean(c) - mean(&rules[..n]),
        n as f64,
        rules_min - base,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_rate_independent_on_a_smooth_edge() {
        // A 1 mV raised-cosine QRS of 100 ms starting at 200 ms, sampled at two rates.
        let make = |fs: f64| -> (Vec<f64>, usize, usize) {
            let n = (0.6 * fs) as usize;
            let x = (0..n)
                .map(|i| {
                    let t = i as f64 / fs * 1000.0 - 200.0;
                    if (0.0..=100.0).contains(&t) {
                        500.0 * (1.0 - (2.0 * std::f64::consts::PI * t / 100.0).cos())
                    } else {
                        0.0
                    }
                })
                .collect();
            (x, (0.2 * fs) as usize, (0.3 * fs) as usize)
        };
        let (a, on_a, off_a) = make(500.0);
        let (b, on_b, off_b) = make(1000.0);
        let fa = boundary_features(&a, Edge::Onset, on_a, off_a, 1.0, 500.0);
        let fb = boundary_features(&b, Edge::Onset, on_b, off_b, 1.0, 1000.0);
        for (k, (u, v)) in fa.iter().zip(&fb).enumerate() {
            assert!((u - v).abs() < 0.02, "feature {k}: {u} vs {v}");
        }
        // Flat outside, rising inside.
        assert!(fa[..N_OUT].iter().all(|v| v.abs() < 0.01), "{fa:?}");
        assert!(fa[N_OUT + 3] > 0.05);
    }

    #[test]
    fn an_inverted_lead_gives_the_same_features() {
        let x: Vec<f64> = (0..300)
            .map(|i| {
                if (100..150).contains(&i) {
                    ((i - 100) * 10) as f64
                } else {
                    0.0
                }
            })
            .collect();
        let y: Vec<f64> = x.iter().map(|v| -v).collect();
        let fx = boundary_features(&x, Edge::Onset, 100, 149, 1.0, 500.0);
        let fy = boundary_features(&y, Edge::Onset, 100, 149, 1.0, 500.0);
        assert_eq!(fx, fy);
    }

    #[test]
    fn global_features_follow_their_definition() {
        // 7 leads (≥ 6: the reference point is the 2nd-earliest), each corrected 5 ms earlier.
        let c = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0];
        let r: Vec<f64> = c.iter().rev().map(|v| v + 5.0).collect();
        assert_eq!(global_features(&c, &r), [-2.0, 2.0, 4.0, -5.0, 7.0, 3.0]);
        // 2 leads: the earliest is the reference point; the median is their mean.
        assert_eq!(
            global_features(&[10.0, 14.0], &[10.0, 14.0]),
            [0.0, 4.0, 2.0, 0.0, 2.0, 0.0]
        );
        assert_eq!(global_features(&[], &[]), [0.0; N_GLOBAL_FEATURES]);
    }

    #[test]
    fn global_correction_is_bounded_and_finite() {
        let m = Models::embedded();
        for v in [-1e9, -30.0, 0.0, 30.0, 1e9] {
            for n in [1.0, 2.0, 12.0] {
                let mut f = [v; N_GLOBAL_FEATURES];
                f[4] = n;
                for e in [Edge::Onset, Edge::Offset] {
                    let c = m.global_correction_ms(e, &f);
                    assert!(c.is_finite() && (-MAX_CORRECTION_MS..=0.0).contains(&c));
                }
            }
        }
    }

    #[test]
    fn the_flat_forests_agree_with_the_node_walk_to_the_bit() {
        // Features spread over and beyond the ranges the forests split on, from a fixed LCG.
        let mut s = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let m = Models::embedded();
        let f = &m.forests;
        let forests = [
            (&f.onset, &m.onset, false),
            (&f.offset, &m.offset, false),
            (&f.global_onset, &m.global_onset, true),
            (&f.global_offset, &m.global_offset, true),
        ];
        for (nodes, flat, global) in forests {
            assert!(flat.depth >= 3 && flat.splits.len() >= 100);
            let mut distinct = std::collections::BTreeSet::new();
            for _ in 0..2000 {
                let f: [f64; N_FEATURES] = std::array::from_fn(|k| {
                    let u = next();
                    match (global, k) {
                        // Per lead: ln(amplitude), the lead's QRSd / 100 ms, levels.
                        (false, 18) => 2.0 + 6.0 * u,
                        (false, 19) => u * 2.0,
                        (false, _) => (u - 0.5) * 1.2,
                        // Global: lead count, distances (ms).
                        (true, 4) => (2.0 + 10.0 * u).round(),
                        (true, _) => (u - 0.5) * 40.0,
                    }
                });
                let (a, b) = (nodes.predict(&f), flat.predict(&f));
                assert_eq!(a.to_bits(), b.to_bits(), "{a} vs {b} for {f:?}");
                distinct.insert(a.to_bits());
            }
            // The inputs reach many leaves, not one path.
            assert!(
                distinct.len() > 100,
                "{} distinct predictions",
                distinct.len()
            );
        }
    }

    #[test]
    fn the_model_file_round_trips_and_refuses_damage() {
        let m = Models::embedded();
        let text = m.to_json();
        // What the trainer writes is what the loader reads, to the bit.
        let back = Models::from_json(text.as_bytes()).unwrap();
        assert_eq!(back.forests, m.forests);
        assert_eq!(back.to_json(), text);
        // The shipped file is exactly such a file.
        let shipped = include_str!("../models/boundary-models.json");
        assert_eq!(shipped, text);
        // Truncated: a parse error, not a panic.
        let cut = &text.as_bytes()[..text.len() / 2];
        assert!(matches!(Models::from_json(cut), Err(ModelError::Parse(_))));
        // One threshold edited: the checksum catches it.
        let i = text.find("\"trees\":[[[").unwrap() + 12;
        let digit = text[i..].find(|c: char| c.is_ascii_digit()).unwrap() + i;
        let mut edited = text.clone().into_bytes();
        edited[digit] = if edited[digit] == b'9' {
            b'8'
        } else {
            edited[digit] + 1
        };
        assert!(matches!(
            Models::from_json(&edited),
            Err(ModelError::Checksum { .. })
        ));
        // Another version.
        let v = text.replace("\"version\":2", "\"version\":1");
        assert!(matches!(
            Models::from_json(v.as_bytes()),
            Err(ModelError::Version { .. })
        ));
        // A child index pointing back (a loop): refused by the layout check.
        let mut f = m.forests.clone();
        f.onset.trees[0][0] = Node::split(0, 0.0, 0, 1);
        assert!(matches!(
            Models::new(f, String::new()),
            Err(ModelError::Forest { .. })
        ));
    }

    #[test]
    fn correction_is_bounded_and_finite() {
        for v in [-1e9, -1.0, 0.0, 1.0, 1e9] {
            let f = [v; N_FEATURES];
            for e in [Edge::Onset, Edge::Offset] {
                let c = Models::embedded().correction_ms(e, &f);
                assert!(c.is_finite() && c.abs() <= MAX_CORRECTION_MS);
            }
        }
    }
}
