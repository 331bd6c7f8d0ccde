//! The beat record, in the `qrsd analyze --json` schema (docs/analyze-json.md).

use crate::vcg::QrsVcg;
use qrsd_condition::Quality;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

/// Beat class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeatClass {
    /// Conducted (not paced) beat of the usual width and timing.
    Intrinsic,
    /// A pacing stimulus precedes the QRS onset by at most 80 ms.
    Paced,
    /// Premature and wider than the running typical beat.
    Ectopic,
    /// Could not be delineated, or not classed: premature, shaped very unlike the usual beat, yet
    /// narrower or much smaller than it (neither the usual conduction nor a ventricular focus's).
    /// Never measured.
    Unknown,
    /// Not a beat to trust: detected where the signal is unreadable in every lead (`quality`), or too small
    /// and unlike the usual beat to be a QRS (a P or T wave, an artefact). Never measured.
    Noise,
}

/// QRS onset and offset in samples from the first sample of the record (`None` = not measurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Boundary {
    /// First QRS sample.
    pub onset_sample: Option<u64>,
    /// Last QRS sample.
    pub offset_sample: Option<u64>,
}

impl Boundary {
    /// QRS duration in ms at `fs_hz`, if both ends are known.
    pub fn duration_ms(&self, fs_hz: f64) -> Option<f64> {
        match (self.onset_sample, self.offset_sample) {
            (Some(a), Some(b)) if b >= a => Some((b - a) as f64 * 1000.0 / fs_hz),
            _ => None,
        }
    }
}

/// One lead's boundaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadBoundary {
    /// Lead name as in the input.
    pub name: String,
    /// Its boundaries.
    pub bounds: Boundary,
}

/// One delineated beat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Beat {
    /// R wave (largest deflection), in samples.
    pub r_sample: u64,
    /// Beat class.
    pub class: BeatClass,
    /// What the signal at the beat is fit for: the best lead's label (a beat where no lead is
    /// readable is classed `noise`).
    pub quality: Quality,
    /// First pacing stimulus of a paced beat.
    pub pace_sample: Option<u64>,
    /// Earliest onset to latest offset over the leads (2nd-earliest/latest with ≥ 6 leads).
    pub global: Boundary,
    /// Per-lead boundaries, serialised as an object keyed by lead name.
    #[serde(serialize_with = "leads_as_map")]
    pub leads: Vec<LeadBoundary>,
    /// Leads left out of this beat's delineation, in input order: flagged off by the source
    /// ([`crate::Pipeline::set_leads_off`]) or flat (quality `lead_off`). They have no boundaries, and
    /// `global` is taken over the other leads. Omitted from JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leads_excluded: Vec<String>,
    /// QRS area and the other vectorcardiographic figures over the global QRS, on the conditioned
    /// signal (`null` each unless the leads include I, II and V1–V6; [`crate::vcg`]).
    #[serde(flatten)]
    pub vcg: QrsVcg,
}

impl Beat {
    /// How many leads the global QRS was taken over: the leads not excluded.
    pub fn leads_considered(&self) -> usize {
        self.leads.len().saturating_sub(self.leads_excluded.len())
    }

    /// Whether lead `name` (case-insensitive) was left out of the beat.
    pub fn is_excluded(&self, name: &str) -> bool {
        self.leads_excluded
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The boundaries of lead `name` (case-insensitive).
    pub fn lead(&self, name: &str) -> Option<&Boundary> {
        self.leads
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
            .map(|l| &l.bounds)
    }
}

fn leads_as_map<S: Serializer>(leads: &[LeadBoundary], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(leads.len()))?;
    for l in leads {
        m.serialize_entry(&l.name, &l.bounds)?;
    }
    m.end()
}
