//! The live thread: one std thread between acquisition and everything else.
//!
//! ```text
//! source thread ──bounded──▶ live thread ─┬─▶ recorder (crash-safe recording)
//!   (qrsd-acquire)                        ├─▶ pipeline (12 leads: III, aVR, aVL, aVF derived from I, II)
//!                                         ├─▶ beat extras (noise, lead-off, snippet) ─▶ measurement
//!                                         ├─▶ hub: samples / beat / measurement / source messages
//!                                         └─▶ store thread (bounded queue, never waited on)
//! ```
//!
//! **Gaps.** A gap of at most [`MAX_FILL_S`] is fed to the pipeline as invalid (NaN) frames, which the
//! pipeline holds at each lead's last valid value: sample numbers stay aligned and the beats around the
//! gap are flagged `gap` (a measurement never uses them). A longer gap resets the pipeline (its
//! detector re-learns for 2 s) at the sample after the gap; sample numbers stay session sample numbers
//! in both cases.
//!
//! **Wall clock.** Every chunk carries the wall time its last frame was received; a sample's wall time
//! is interpolated between the receive times of the chunk holding it and the one before. A beat's
//! `t_offset_wall_ms` is the wall time of its QRS offset sample, `published_wall_ms` the time its
//! message was published, and `latency_ms` the difference.

use crate::metrics::Metrics;
use crate::Hub;
use qrsd_acquire::{Chunk, SourceEvent, SourceHandle, SourceStatus, StreamInfo};
use qrsd_measure::BeatWaveform;
use qrsd_pipeline::{Beat, BeatClass, Boundary, Pipeline, PipelineConfig, Quality};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest gap fed to the pipeline as invalid frames; longer gaps reset it, s.
pub const MAX_FILL_S: f64 = 1.0;
/// Raw samples kept for beat snippets and noise estimates, s.
const RING_S: f64 = 5.0;
/// Snippet window around R, ms (for median-beat pictures).
pub const SNIPPET_PRE_MS: f64 = 400.0;
/// Snippet window after R, ms.
pub const SNIPPET_POST_MS: f64 = 400.0;
/// Leads kept in snippets: the report's pictures (II, V1, V6), lead I for the LV-capture criteria,
/// and I, II, V1–V6 together for the median beat's VCG loop.
pub const SNIPPET_LEADS: [&str; 8] = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"];
/// Leads whose boundaries a [`LiveBeat`] carries.
pub const BEAT_LEADS: [&str; 3] = ["II", "V1", "V6"];
/// Blanking of a pacing stimulus in snippets and noise estimates, after the flag, ms.
const STIM_BLANK_MS: f64 = 8.0;
/// Minimum interval between `source` status messages, ms.
const STATUS_EVERY_MS: u64 = 500;

/// The 12 standard lead names in pipeline order.
pub const LEADS_12: [&str; 12] = [
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
];

/// Per-lead boundaries of a beat, session samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadTimes {
    /// QRS onset sample.
    pub onset_sample: Option<u64>,
    /// QRS offset sample.
    pub offset_sample: Option<u64>,
    /// QRS duration, ms.
    pub qrsd_ms: Option<f64>,
}

/// One beat as the service sees it: the pipeline's beat in session samples plus extras.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveBeat {
    /// R sample (session).
    pub r_sample: u64,
    /// Pipeline class.
    pub class: BeatClass,
    /// First pacing stimulus.
    pub stimulus_sample: Option<u64>,
    /// Global onset.
    pub onset_sample: Option<u64>,
    /// Global offset.
    pub offset_sample: Option<u64>,
    /// Global QRSd, ms.
    pub qrsd_ms: Option<f64>,
    /// First stimulus to global offset, ms.
    pub stim_to_end_ms: Option<f64>,
    /// II, V1 and V6 (when present).
    pub leads: std::collections::BTreeMap<String, LeadTimes>,
    /// Noise estimate before the QRS (median over leads of the detrended RMS in the 250..50 ms before
    /// onset), µV.
    pub noise_uv: Option<f64>,
    /// Lead-off bits (per acquired channel) seen from 100 ms before onset to 100 ms after offset.
    pub lead_off: u16,
    /// Pipeline leads left out of the beat's delineation (electrode off, or flat trace); its
    /// global QRS was taken over the other leads.
    pub leads_excluded: Vec<String>,
    /// What the signal at the beat is fit for (the pipeline's quality stage, best lead).
    pub quality: Quality,
    /// Each lead's label at the beat where it is not `clean` (the block `quality` was read from).
    pub lead_quality: std::collections::BTreeMap<String, Quality>,
    /// The beat overlaps a gap (its samples were partly held values).
    pub gap: bool,
    /// QRS area from the VCG (I, II, V1–V6 needed), µV·s.
    pub qrs_area_uvs: Option<f64>,
    /// Sampling rate, Hz.
    pub fs_hz: f64,
    /// Wall time of the QRS offset sample, ms since the Unix epoch.
    pub t_offset_wall_ms: Option<f64>,
    /// Raw snippet (µV, baseline-subtracted) of [`SNIPPET_LEADS`] from R − 400 ms to R + 400 ms.
    /// The VCG figures of the beat itself come with [`LiveBeat::beat`] (conditioned signal).
    #[serde(skip)]
    pub snippet: Option<BeatWaveform>,
    /// The pipeline's beat with every sample number in session samples.
    #[serde(skip)]
    pub beat: Beat,
}

/// What the live thread exposes to the HTTP side.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SourceSnapshot {
    /// Source description.
    pub description: String,
    /// Kind (`sim`, `serial`, `replay`).
    pub kind: String,
    /// Stream info once started.
    pub fs_hz: Option<f64>,
    /// Acquired channel names.
    pub channels: Vec<String>,
    /// Leads given to the pipeline.
    pub pipeline_leads: Vec<String>,
    /// Firmware version.
    pub firmware: Option<String>,
    /// Hardware pace flag available.
    pub has_hw_pace: bool,
    /// Session sample number of the next frame expected.
    pub next_sample: u64,
    /// Pipeline resets after long gaps.
    pub pipeline_resets: u64,
    /// Gaps seen by the live thread.
    pub gaps: u64,
    /// Last few gaps.
    pub recent_gaps: VecDeque<GapRecord>,
    /// Latest counters.
    #[serde(skip)]
    pub status: SourceStatus,
    /// Ended.
    pub ended: bool,
    /// Each pipeline lead's current signal-quality label and since when.
    pub lead_quality: Vec<LeadQualityState>,
}

/// One lead's current signal-quality label (the pipeline's quality stage, latest block).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadQualityState {
    /// Pipeline lead name.
    pub lead: String,
    /// Latest label.
    pub quality: Quality,
    /// Session sample at which the live thread first saw this label (the end of the block that
    /// changed it; 0 = since the stream or the pipeline started).
    pub since_sample: u64,
    /// Wall time of that, ms since the Unix epoch.
    pub since_wall_ms: f64,
}

/// The per-lead labels as the API and WebSocket carry them: each state plus `for_s`, how long the
/// label has held at `next_sample` (signal time).
pub fn lead_quality_json(states: &[LeadQualityState], next_sample: u64, fs_hz: f64) -> Value {
    Value::Array(
        states
            .iter()
            .map(|q| {
                let for_s = if fs_hz > 0.0 {
                    next_sample.saturating_sub(q.since_sample) as f64 / fs_hz
                } else {
                    0.0
                };
                json!({
                    "lead": q.lead,
                    "quality": q.quality,
                    "since_sample": q.since_sample,
                    "since_wall_ms": q.since_wall_ms,
                    "for_s": (for_s * 10.0).round() / 10.0,
                })
            })
            .collect(),
    )
}

/// A gap, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct GapRecord {
    /// First missing sample.
    pub at_sample: u64,
    /// Frames missing.
    pub missing_frames: u64,
    /// Why.
    pub reason: &'static str,
    /// When it was handled, ms since the Unix epoch.
    pub wall_ms: f64,
}

/// Consumers of the live thread's beats and chunks beyond the hub (the measurement workflow, the
/// recorder). Called on the live thread: must not block.
pub trait LiveSink: Send {
    /// Every source event as it arrives, before the live thread handles it (the recorder).
    fn source_event(&mut self, _ev: &SourceEvent) {}
    /// A stream started (or restarted with other parameters).
    fn started(&mut self, _info: &StreamInfo) {}
    /// Raw chunk as received (recording).
    fn chunk(&mut self, _chunk: &Chunk) {}
    /// Frames missing.
    fn gap(&mut self, _at_sample: u64, _missing: u64, _reason: &'static str) {}
    /// A beat was delineated (after its `beat` message was published).
    fn beat(&mut self, _beat: &LiveBeat) {}
    /// Signal time advanced to `sample` (timeouts); called once per chunk.
    fn tick(&mut self, _sample: u64, _fs_hz: f64) {}
    /// Commands or periodic work; called at least every 50 ms.
    fn poll(&mut self) {}
    /// The source ended.
    fn ended(&mut self) {}
}

/// Live-thread settings.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Pipeline settings template (`fs_hz` and leads are set from the stream).
    pub pipeline: PipelineConfig,
    /// Display rate, Hz.
    pub display_rate_hz: f64,
    /// Display batch, ms.
    pub display_batch_ms: f64,
    /// Set to stop the live thread (and with it the source).
    pub shutdown: Arc<AtomicBool>,
}

/// Wall time as ms since the epoch.
pub fn wall_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Start the live thread. It ends when the source ends (after `Ended`) or its channel closes.
pub fn spawn_live(
    source: SourceHandle,
    cfg: LiveConfig,
    hub: Hub,
    metrics: Arc<Metrics>,
    snapshot: Arc<Mutex<SourceSnapshot>>,
    sinks: Vec<Box<dyn LiveSink>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("qrsd-live".into())
        .spawn(move || {
            let mut live = Live::new(cfg, hub, metrics, snapshot, sinks);
            live.run(&source);
            // Keep the source alive until here: dropping it stops it.
            drop(source);
        })
}

struct Frames {
    n_leads: usize,
    cap: usize,
    samples: Vec<f32>,
    lead_off: Vec<u16>,
    pace: Vec<bool>,
    /// Session sample held by each slot (u64::MAX = empty).
    tags: Vec<u64>,
}

impl Frames {
    fn new(n_leads: usize, cap: usize) -> Self {
        Self {
            n_leads,
            cap,
            samples: vec![f32::NAN; n_leads * cap],
            lead_off: vec![0; cap],
            pace: vec![false; cap],
            tags: vec![u64::MAX; cap],
        }
    }
    fn push(&mut self, sample: u64, frame: &[f32], lead_off: u16, pace: bool) {
        let slot = (sample % self.cap as u64) as usize;
        self.samples[slot * self.n_leads..(slot + 1) * self.n_leads].copy_from_slice(frame);
        self.lead_off[slot] = lead_off;
        self.pace[slot] = pace;
        self.tags[slot] = sample;
    }
    fn get(&self, sample: u64) -> Option<(&[f32], u16)> {
        let slot = (sample % self.cap as u64) as usize;
        (self.tags[slot] == sample).then(|| {
            (
                &self.samples[slot * self.n_leads..(slot + 1) * self.n_leads],
                self.lead_off[slot],
            )
        })
    }

    fn pace_at(&self, sample: u64) -> bool {
        let slot = (sample % self.cap as u64) as usize;
        self.tags[slot] == sample && self.pace[slot]
    }

    /// Per sample of `first..=last`: true where a pacing stimulus (hardware flag) or its recharge tail
    /// is (1 ms before the flag to [`STIM_BLANK_MS`] after), so that waveforms and noise estimates are
    /// about the heart, not the pacemaker's artefact.
    fn stim_mask(&self, first: u64, last: u64, fs: f64) -> Vec<bool> {
        let before = ((fs / 1000.0).ceil() as u64).max(1);
        let after = (STIM_BLANK_MS * fs / 1000.0).ceil() as u64;
        let n = (last - first + 1) as usize;
        let mut m = vec![false; n];
        for s in first.saturating_sub(after)..=last + before {
            if self.pace_at(s) {
                let a = s.saturating_sub(before).max(first);
                let z = (s + after).min(last);
                for k in a..=z {
                    m[(k - first) as usize] = true;
                }
            }
        }
        m
    }
}

struct Display {
    factor: usize,
    batch: usize,
    n_leads: usize,
    acc: Vec<f64>,
    acc_n: Vec<u32>,
    in_acc: usize,
    first_sample: Option<u64>,
    data: Vec<Vec<Option<f32>>>,
}

impl Display {
    fn new(fs: f64, rate: f64, batch_ms: f64, n_leads: usize) -> Self {
        let factor = (fs / rate).round().max(1.0) as usize;
        let out_rate = fs / factor as f64;
        let batch = ((batch_ms / 1000.0) * out_rate).round().max(1.0) as usize;
        Self {
            factor,
            batch,
            n_leads,
            acc: vec![0.0; n_leads],
            acc_n: vec![0; n_leads],
            in_acc: 0,
            first_sample: None,
            data: vec![Vec::with_capacity(batch); n_leads],
        }
    }

    /// Add one frame; returns true when a batch is full.
    fn push(&mut self, sample: u64, frame: &[f32]) -> bool {
        if self.first_sample.is_none() {
            self.first_sample = Some(sample);
        }
        for (l, v) in frame.iter().enumerate().take(self.n_leads) {
            if v.is_finite() {
                self.acc[l] += f64::from(*v);
                self.acc_n[l] += 1;
            }
        }
        self.in_acc += 1;
        if self.in_acc < self.factor {
            return false;
        }
        for l in 0..self.n_leads {
            let v = (self.acc_n[l] > 0).then(|| (self.acc[l] / f64::from(self.acc_n[l])) as f32);
            self.data[l].push(v.map(f32::round));
            self.acc[l] = 0.0;
            self.acc_n[l] = 0;
        }
        self.in_acc = 0;
        self.data[0].len() >= self.batch
    }

    fn take(&mut self, fs: f64, leads: &[String]) -> Value {
        let first = self.first_sample.take().unwrap_or(0);
        let data: Vec<Vec<Option<f32>>> = self
            .data
            .iter_mut()
            .map(|d| std::mem::replace(d, Vec::with_capacity(self.batch)))
            .collect();
        json!({
            "type": "samples",
            "first_sample": first,
            "decimation": self.factor,
            "fs_hz": fs / self.factor as f64,
            "source_fs_hz": fs,
            "leads": leads,
            "data": data,
        })
    }

    /// A gap: flush what there is (a partial batch) so the next batch starts after the gap.
    fn flush(&mut self, fs: f64, leads: &[String]) -> Option<Value> {
        self.in_acc = 0;
        self.acc.iter_mut().for_each(|a| *a = 0.0);
        self.acc_n.iter_mut().for_each(|a| *a = 0);
        if self.data[0].is_empty() {
            self.first_sample = None;
            return None;
        }
        Some(self.take(fs, leads))
    }
}

/// How to map acquired channels to the 12 pipeline leads.
#[derive(Debug, Clone)]
enum LeadMap {
    /// I, II, V1..V6 acquired (channel indices): derive III, aVR, aVL, aVF.
    Derive { i: usize, ii: usize, v: [usize; 6] },
    /// Channels go to the pipeline as they are.
    Direct,
}

fn lead_map(names: &[String]) -> (LeadMap, Vec<String>) {
    let find = |n: &str| names.iter().position(|x| x.eq_ignore_ascii_case(n));
    let all12 = LEADS_12.iter().all(|n| find(n).is_some());
    if !all12 {
        if let (Some(i), Some(ii)) = (find("I"), find("II")) {
            let v: Option<Vec<usize>> = (1..=6).map(|k| find(&format!("V{k}"))).collect();
            if let Some(v) = v {
                let v = [v[0], v[1], v[2], v[3], v[4], v[5]];
                return (
                    LeadMap::Derive { i, ii, v },
                    LEADS_12.iter().map(|s| s.to_string()).collect(),
                );
            }
        }
    }
    (LeadMap::Direct, names.to_vec())
}

impl LeadMap {
    /// The pipeline leads spoiled by the acquired channels flagged off in `lead_off` (bit per
    /// channel): each channel's lead, and with I or II the four limb leads derived from them.
    fn leads_off(&self, lead_off: u16) -> u64 {
        let bit = |c: usize| c < 16 && lead_off & (1 << c) != 0;
        match self {
            LeadMap::Direct => u64::from(lead_off),
            LeadMap::Derive { i, ii, v } => {
                let mut m = 0u64;
                if bit(*i) {
                    m |= 1;
                }
                if bit(*ii) {
                    m |= 1 << 1;
                }
                if m != 0 {
                    m |= 0b11_1100; // III, aVR, aVL, aVF
                }
                for (k, c) in v.iter().enumerate() {
                    if bit(*c) {
                        m |= 1 << (6 + k);
                    }
                }
                m
            }
        }
    }

    fn apply(&self, raw: &[f32], out: &mut [f32]) {
        match self {
            LeadMap::Direct => out.copy_from_slice(&raw[..out.len()]),
            LeadMap::Derive { i, ii, v } => {
                let (a, b) = (raw[*i], raw[*ii]);
                out[0] = a;
                out[1] = b;
                out[2] = b - a;
                out[3] = -(a + b) / 2.0;
                out[4] = a - b / 2.0;
                out[5] = b - a / 2.0;
                for (k, c) in v.iter().enumerate() {
                    out[6 + k] = raw[*c];
                }
            }
        }
    }
}

struct Session {
    info: StreamInfo,
    fs: f64,
    map: LeadMap,
    leads: Vec<String>,
    pipeline: Option<Pipeline>,
    /// Session sample of the pipeline's sample 0.
    base: u64,
    next_sample: u64,
    frame: Vec<f32>,
    frames: Frames,
    display: Display,
    /// (last session sample of chunk, received wall time).
    clock: VecDeque<(u64, SystemTime)>,
    /// Samples that were held values (gaps), as ranges.
    held: VecDeque<(u64, u64)>,
    beats: Vec<Beat>,
    /// Latest per-lead quality labels as published, since when (session sample), and a scratch
    /// buffer the pipeline writes into (sized at start: nothing allocated per chunk unless a
    /// label changed).
    lead_q: Vec<Quality>,
    lead_q_since: Vec<(u64, f64)>,
    lead_q_scratch: Vec<Quality>,
}

struct Live {
    cfg: LiveConfig,
    hub: Hub,
    metrics: Arc<Metrics>,
    snapshot: Arc<Mutex<SourceSnapshot>>,
    sinks: Vec<Box<dyn LiveSink>>,
    session: Option<Session>,
    last_status: std::time::Instant,
}

impl Live {
    fn new(
        cfg: LiveConfig,
        hub: Hub,
        metrics: Arc<Metrics>,
        snapshot: Arc<Mutex<SourceSnapshot>>,
        sinks: Vec<Box<dyn LiveSink>>,
    ) -> Self {
        Self {
            cfg,
            hub,
            metrics,
            snapshot,
            sinks,
            session: None,
            last_status: std::time::Instant::now(),
        }
    }

    fn snap(&self, f: impl FnOnce(&mut SourceSnapshot)) {
        if let Ok(mut s) = self.snapshot.lock() {
            f(&mut s);
        }
    }

    fn run(&mut self, source: &SourceHandle) {
        let mut ended = false;
        while !self.cfg.shutdown.load(Ordering::Relaxed) {
            if ended {
                // Nothing more will come; keep serving the sinks' commands (a measurement started now
                // must still end).
                std::thread::sleep(Duration::from_millis(50));
            } else {
                match source.events.recv_timeout(Duration::from_millis(50)) {
                    Ok(ev) => {
                        ended = matches!(ev, SourceEvent::Ended);
                        self.handle(ev, source);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        self.handle(SourceEvent::Ended, source);
                        ended = true;
                    }
                }
                if ended {
                    for s in &mut self.sinks {
                        s.ended();
                    }
                }
            }
            for s in &mut self.sinks {
                s.poll();
            }
            if !ended && self.last_status.elapsed() >= Duration::from_millis(STATUS_EVERY_MS) {
                self.publish_status(source.status());
            }
        }
    }

    fn publish_status(&mut self, st: SourceStatus) {
        self.last_status = std::time::Instant::now();
        let (fs, next, ended, lq) = self
            .snapshot
            .lock()
            .map(|s| {
                let lq = lead_quality_json(&s.lead_quality, s.next_sample, s.fs_hz.unwrap_or(0.0));
                (s.fs_hz, s.next_sample, s.ended, lq)
            })
            .unwrap_or((None, 0, false, Value::Null));
        self.snap(|s| s.status = st.clone());
        self.hub.publish(json!({
            "type": "source",
            "event": "status",
            "state": if ended { "ended" } else { st.state.as_str() },
            "fs_hz": fs,
            "frames": st.frames,
            "crc_errors": st.crc_errors,
            "gaps": st.gaps,
            "missing_frames": st.missing_frames,
            "reconnects": st.reconnects,
            "lead_off": st.lead_off,
            "next_sample": next,
            "lead_quality": lq,
        }));
    }

    fn handle(&mut self, ev: SourceEvent, source: &SourceHandle) {
        for s in &mut self.sinks {
            s.source_event(&ev);
        }
        match ev {
            SourceEvent::Started(info) => self.start(info),
            SourceEvent::Chunk(c) => self.chunk(&c),
            SourceEvent::Gap {
                at_sample,
                missing_frames,
                reason,
            } => self.gap(at_sample, missing_frames, reason.as_str()),
            SourceEvent::Status(st) => {
                self.snap(|s| s.status = st.clone());
                if self.last_status.elapsed() >= Duration::from_millis(STATUS_EVERY_MS) {
                    self.publish_status(st);
                }
            }
            SourceEvent::Ended => {
                self.snap(|s| s.ended = true);
                self.publish_status(source.status());
                self.hub
                    .publish(json!({"type": "source", "event": "ended"}));
            }
        }
    }

    fn new_pipeline(&self, fs: f64, leads: &[String], has_hw_pace: bool) -> Option<Pipeline> {
        let mut pc = self.cfg.pipeline.clone();
        pc.fs_hz = fs;
        pc.lead_names = leads.to_vec();
        // Where the source has a pace flag channel, the flag decides whether a beat is paced.
        pc.pace_flag_channel = has_hw_pace;
        match Pipeline::new(pc) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(error = %e, "cannot build the pipeline for this stream");
                None
            }
        }
    }

    fn start(&mut self, info: StreamInfo) {
        let (map, leads) = lead_map(&info.lead_names);
        let fs = info.fs_hz;
        tracing::info!(source = %info.description, fs_hz = fs, channels = ?info.lead_names, pipeline_leads = ?leads, "stream started");
        let pipeline = self.new_pipeline(fs, &leads, info.has_hw_pace);
        let n = leads.len();
        let cap = (RING_S * fs).ceil().max(16.0) as usize;
        for s in &mut self.sinks {
            s.started(&info);
        }
        let now = wall_ms(SystemTime::now());
        let states: Vec<LeadQualityState> = leads
            .iter()
            .map(|l| LeadQualityState {
                lead: l.clone(),
                quality: Quality::Clean,
                since_sample: 0,
                since_wall_ms: now,
            })
            .collect();
        self.snap(|s| {
            s.lead_quality = states;
            s.description = info.description.clone();
            s.fs_hz = Some(fs);
            s.channels = info.lead_names.clone();
            s.pipeline_leads = leads.clone();
            s.firmware = info.firmware.clone();
            s.has_hw_pace = info.has_hw_pace;
            s.ended = false;
        });
        self.hub.publish(json!({
            "type": "source",
            "event": "started",
            "description": info.description,
            "fs_hz": fs,
            "channels": info.lead_names,
            "leads": leads,
            "has_hw_pace": info.has_hw_pace,
        }));
        self.session = Some(Session {
            fs,
            map,
            frame: vec![0.0; n],
            frames: Frames::new(n, cap),
            display: Display::new(fs, self.cfg.display_rate_hz, self.cfg.display_batch_ms, n),
            leads,
            pipeline,
            base: 0,
            next_sample: 0,
            clock: VecDeque::with_capacity(64),
            held: VecDeque::new(),
            beats: Vec::new(),
            lead_q: vec![Quality::Clean; n],
            lead_q_since: vec![(0, now); n],
            lead_q_scratch: vec![Quality::Clean; n],
            info,
        });
    }

    fn chunk(&mut self, c: &Chunk) {
        for s in &mut self.sinks {
            s.chunk(c);
        }
        let Some(sess) = self.session.as_mut() else {
            return;
        };
        let n_raw = sess.info.lead_names.len();
        let n_frames = c.n_frames();
        if n_frames == 0 || c.samples_uv.len() < n_frames * n_raw {
            return;
        }
        // A chunk that starts later than expected without a Gap event: treat the hole as a gap.
        if c.first_sample > sess.next_sample && sess.next_sample > 0 {
            let (at, miss) = (sess.next_sample, c.first_sample - sess.next_sample);
            self.gap(at, miss, "sequence_gap");
        }
        let Some(sess) = self.session.as_mut() else {
            return;
        };
        let last = c.first_sample + n_frames as u64 - 1;
        if let Some(t) = c.received_at {
            if sess.clock.len() == 256 {
                sess.clock.pop_front();
            }
            sess.clock.push_back((last, t));
        }
        let mut publish = Vec::new();
        for k in 0..n_frames {
            let sample = c.first_sample + k as u64;
            if sample < sess.next_sample {
                continue; // duplicate
            }
            let raw = &c.samples_uv[k * n_raw..(k + 1) * n_raw];
            sess.map.apply(raw, &mut sess.frame);
            let lo = c.lead_off.get(k).copied().unwrap_or(0);
            let pace = c.pace.get(k).copied().unwrap_or(false);
            sess.frames.push(sample, &sess.frame, lo, pace);
            if sess.display.push(sample, &sess.frame) {
                publish.push(sess.display.take(sess.fs, &sess.leads));
            }
            if let Some(p) = sess.pipeline.as_mut() {
                // The channels' samples are NaN (held) while off: the beats they touch are
                // delineated without them.
                p.set_leads_off(sess.map.leads_off(lo));
                p.process_frame(&sess.frame, pace, &mut sess.beats);
            }
            sess.next_sample = sample + 1;
        }
        self.metrics
            .frames
            .fetch_add(n_frames as u64, Ordering::Relaxed);
        let (next, fs) = (sess.next_sample, sess.fs);
        let beats: Vec<Beat> = sess.beats.drain(..).collect();
        self.snap(|s| s.next_sample = next);
        for m in publish {
            self.hub.publish(m);
        }
        for b in beats {
            self.beat(b);
        }
        self.lead_quality_changes();
        for s in &mut self.sinks {
            s.tick(next, fs);
        }
    }

    /// Publishes the per-lead quality labels when one changed (at most once per quality block,
    /// 250 ms): a `source` `quality` message and the snapshot behind `GET /api/v1/source`.
    fn lead_quality_changes(&mut self) {
        let Some(sess) = self.session.as_mut() else {
            return;
        };
        let Some(p) = sess.pipeline.as_ref() else {
            return;
        };
        p.lead_quality(&mut sess.lead_q_scratch);
        if sess.lead_q_scratch == sess.lead_q {
            return;
        }
        let now = wall_ms(SystemTime::now());
        let mut changed = Vec::new();
        for (l, (q, new)) in sess.lead_q.iter_mut().zip(&sess.lead_q_scratch).enumerate() {
            if q != new {
                *q = *new;
                sess.lead_q_since[l] = (sess.next_sample, now);
                changed.push(sess.leads[l].clone());
            }
        }
        let states: Vec<LeadQualityState> = sess
            .leads
            .iter()
            .zip(&sess.lead_q)
            .zip(&sess.lead_q_since)
            .map(|((lead, q), (since, wall))| LeadQualityState {
                lead: lead.clone(),
                quality: *q,
                since_sample: *since,
                since_wall_ms: *wall,
            })
            .collect();
        let (next, fs) = (sess.next_sample, sess.fs);
        let leads = lead_quality_json(&states, next, fs);
        self.snap(|s| s.lead_quality = states);
        self.hub.publish(json!({
            "type": "source",
            "event": "quality",
            "changed": changed,
            "leads": leads,
            "next_sample": next,
        }));
    }

    fn gap(&mut self, at: u64, missing: u64, reason: &'static str) {
        self.metrics.gaps.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .missing_frames
            .fetch_add(missing, Ordering::Relaxed);
        for s in &mut self.sinks {
            s.gap(at, missing, reason);
        }
        let rec = GapRecord {
            at_sample: at,
            missing_frames: missing,
            reason,
            wall_ms: wall_ms(SystemTime::now()),
        };
        self.snap(|s| {
            s.gaps += 1;
            if s.recent_gaps.len() == 16 {
                s.recent_gaps.pop_front();
            }
            s.recent_gaps.push_back(rec.clone());
        });
        self.hub.publish(json!({
            "type": "source",
            "event": "gap",
            "at_sample": at,
            "missing_frames": missing,
            "reason": reason,
        }));
        let Some(sess) = self.session.as_mut() else {
            return;
        };
        if let Some(m) = sess.display.flush(sess.fs, &sess.leads) {
            self.hub.publish(m);
        }
        let Some(sess) = self.session.as_mut() else {
            return;
        };
        let end = at.saturating_add(missing);
        if end <= sess.next_sample {
            return;
        }
        let start = at.max(sess.next_sample);
        if sess.held.len() == 32 {
            sess.held.pop_front();
        }
        sess.held.push_back((start, end - 1));
        if ((end - start) as f64) <= MAX_FILL_S * sess.fs {
            let nan = vec![f32::NAN; sess.leads.len()];
            if let Some(p) = sess.pipeline.as_mut() {
                for _ in start..end {
                    p.process_frame(&nan, false, &mut sess.beats);
                }
            }
            sess.next_sample = end;
            let beats: Vec<Beat> = sess.beats.drain(..).collect();
            for b in beats {
                self.beat(b);
            }
        } else {
            let (fs, leads, hw) = (sess.fs, sess.leads.clone(), sess.info.has_hw_pace);
            let p = self.new_pipeline(fs, &leads, hw);
            if let Some(sess) = self.session.as_mut() {
                sess.pipeline = p;
                sess.base = end;
                sess.next_sample = end;
            }
            self.snap(|s| s.pipeline_resets += 1);
        }
    }

    fn beat(&mut self, b: Beat) {
        let Some(sess) = self.session.as_ref() else {
            return;
        };
        let mut lb = extras(sess, &b);
        if let Some(p) = sess.pipeline.as_ref() {
            let mut labels = vec![Quality::Clean; sess.leads.len()];
            p.lead_quality_at(b.r_sample, &mut labels);
            lb.lead_quality = sess
                .leads
                .iter()
                .zip(labels)
                .filter(|(_, q)| *q != Quality::Clean)
                .map(|(n, q)| (n.clone(), q))
                .collect();
        }
        self.metrics.beats.fetch_add(1, Ordering::Relaxed);
        let now = wall_ms(SystemTime::now());
        let latency = lb.t_offset_wall_ms.map(|t| now - t);
        if let Some(l) = latency {
            self.metrics.beat_latency.observe(l);
        }
        let mut msg = json!({
            "type": "beat",
            "published_wall_ms": now,
            "latency_ms": latency,
        });
        if let (Some(m), Ok(Value::Object(b))) = (msg.as_object_mut(), serde_json::to_value(&lb)) {
            m.extend(b);
        }
        self.hub.publish(msg);
        for s in &mut self.sinks {
            s.beat(&lb);
        }
    }
}

fn extras(sess: &Session, b: &Beat) -> LiveBeat {
    let fs = sess.fs;
    let to = |s: Option<u64>| s.map(|v| v + sess.base);
    let ms = |a: Option<u64>, z: Option<u64>| match (a, z) {
        (Some(a), Some(z)) if z >= a => Some((z - a) as f64 * 1000.0 / fs),
        _ => None,
    };
    let onset = to(b.global.onset_sample);
    let offset = to(b.global.offset_sample);
    let stim = to(b.pace_sample);
    let r = b.r_sample + sess.base;
    let mut leads = std::collections::BTreeMap::new();
    for name in BEAT_LEADS {
        if let Some(bd) = b.lead(name) {
            let (on, off) = (to(bd.onset_sample), to(bd.offset_sample));
            leads.insert(
                name.to_string(),
                LeadTimes {
                    onset_sample: on,
                    offset_sample: off,
                    qrsd_ms: ms(on, off),
                },
            );
        }
    }
    let span_lo = onset.unwrap_or(r).saturating_sub((0.1 * fs) as u64);
    let span_hi = offset.unwrap_or(r) + (0.1 * fs) as u64;
    let gap = sess.held.iter().any(|&(a, z)| a <= span_hi && z >= span_lo);
    let mut lead_off = 0u16;
    for s in span_lo..=span_hi {
        if let Some((_, lo)) = sess.frames.get(s) {
            lead_off |= lo;
        }
    }
    LiveBeat {
        r_sample: r,
        class: b.class,
        stimulus_sample: stim,
        onset_sample: onset,
        offset_sample: offset,
        qrsd_ms: ms(onset, offset),
        stim_to_end_ms: ms(stim, offset),
        leads,
        noise_uv: noise(sess, onset.unwrap_or(r)),
        lead_off,
        leads_excluded: b.leads_excluded.clone(),
        quality: b.quality,
        lead_quality: std::collections::BTreeMap::new(),
        gap,
        qrs_area_uvs: b.vcg.qrs_area_uvs,
        fs_hz: fs,
        t_offset_wall_ms: offset.and_then(|s| wall_of(sess, s)),
        snippet: snippet(sess, r),
        beat: shifted(b, sess.base),
    }
}

/// `b` with every sample number moved by `base` (pipeline samples → session samples).
fn shifted(b: &Beat, base: u64) -> Beat {
    let sh = |s: Option<u64>| s.map(|v| v + base);
    let bd = |x: &Boundary| Boundary {
        onset_sample: sh(x.onset_sample),
        offset_sample: sh(x.offset_sample),
    };
    let mut out = b.clone();
    out.r_sample += base;
    out.pace_sample = sh(b.pace_sample);
    out.global = bd(&b.global);
    for l in &mut out.leads {
        l.bounds = bd(&l.bounds);
    }
    out
}

/// Median over leads of the high-frequency noise in the 250..50 ms before onset: the RMS of the
/// second difference divided by √6 (= the RMS of white noise; P and T waves and baseline wander are
/// smooth and hardly contribute), with pacing stimuli blanked.
fn noise(sess: &Session, onset: u64) -> Option<f64> {
    let fs = sess.fs;
    let a = onset.checked_sub((0.25 * fs) as u64)?;
    let z = onset.checked_sub((0.05 * fs) as u64)?;
    if z < a + 8 {
        return None;
    }
    let mask = sess.frames.stim_mask(a, z, fs);
    let mut per_lead = Vec::with_capacity(sess.leads.len());
    for l in 0..sess.leads.len() {
        let (mut ss, mut n) = (0.0f64, 0usize);
        for s in a + 2..=z {
            let i = (s - a) as usize;
            if mask[i] || mask[i - 1] || mask[i - 2] {
                continue;
            }
            let v = |k: u64| sess.frames.get(k).map(|(f, _)| f64::from(f[l]));
            if let (Some(x0), Some(x1), Some(x2)) = (v(s), v(s - 1), v(s - 2)) {
                let d = x0 - 2.0 * x1 + x2;
                if d.is_finite() {
                    ss += d * d;
                    n += 1;
                }
            }
        }
        if n >= 8 {
            per_lead.push((ss / n as f64 / 6.0).sqrt());
        }
    }
    if per_lead.is_empty() {
        return None;
    }
    per_lead.sort_by(f64::total_cmp);
    Some(per_lead[per_lead.len() / 2])
}

fn snippet(sess: &Session, r: u64) -> Option<BeatWaveform> {
    let fs = sess.fs;
    let first = r.checked_sub((SNIPPET_PRE_MS * fs / 1000.0) as u64)?;
    let last = r + (SNIPPET_POST_MS * fs / 1000.0) as u64;
    let idx: Vec<(String, usize)> = SNIPPET_LEADS
        .iter()
        .filter_map(|n| {
            sess.leads
                .iter()
                .position(|x| x.eq_ignore_ascii_case(n))
                .map(|i| (n.to_string(), i))
        })
        .collect();
    let mask = sess.frames.stim_mask(first, last, fs);
    let mut data = vec![Vec::with_capacity((last - first + 1) as usize); idx.len()];
    for (k, s) in (first..=last).enumerate() {
        let f = sess.frames.get(s);
        for (d, (_, l)) in data.iter_mut().zip(&idx) {
            let v = if mask[k] {
                // Hold the last value before the stimulus (the pipeline blanks the same way).
                d.last().copied().unwrap_or(f32::NAN)
            } else {
                f.map(|(f, _)| f[*l]).unwrap_or(f32::NAN)
            };
            d.push(v);
        }
    }
    // Baseline: median of the first 100 ms (PR segment / before the QRS).
    let nb = ((0.1 * fs) as usize).max(1);
    for d in &mut data {
        let mut b: Vec<f32> = d
            .iter()
            .take(nb)
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if b.is_empty() {
            continue;
        }
        b.sort_by(f32::total_cmp);
        let base = b[b.len() / 2];
        d.iter_mut().for_each(|v| *v -= base);
    }
    Some(BeatWaveform {
        first_sample: first,
        leads: idx.into_iter().map(|(n, _)| n).zip(data).collect(),
    })
}

/// Wall time of session sample `s`, ms since the epoch.
fn wall_of(sess: &Session, s: u64) -> Option<f64> {
    let k = sess.clock.iter().position(|&(last, _)| last >= s)?;
    let (last, t) = sess.clock[k];
    let t = wall_ms(t);
    if k > 0 {
        let (plast, pt) = sess.clock[k - 1];
        let pt = wall_ms(pt);
        if last > plast {
            return Some(pt + (s - plast) as f64 / (last - plast) as f64 * (t - pt));
        }
    }
    Some(t - (last - s) as f64 * 1000.0 / sess.fs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn derives_limb_leads() {
        let names: Vec<String> = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (map, leads) = lead_map(&names);
        assert_eq!(leads.len(), 12);
        let raw = [100.0, 300.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut out = [0.0f32; 12];
        map.apply(&raw, &mut out);
        assert_eq!(out[2], 200.0); // III = II − I
        assert_eq!(out[3], -200.0); // aVR = −(I + II)/2
        assert_eq!(out[4], -50.0); // aVL = I − II/2
        assert_eq!(out[5], 250.0); // aVF = II − I/2
        assert_eq!(out[11], 6.0);
    }

    #[test]
    fn other_lead_sets_pass_through() {
        let names: Vec<String> = ["MLII", "V5"].iter().map(|s| s.to_string()).collect();
        let (map, leads) = lead_map(&names);
        assert!(matches!(map, LeadMap::Direct));
        assert_eq!(leads, names);
    }

    /// A source that plays a synthetic recording with a short and a long hole in it.
    struct Script {
        rec: qrsd_synth::SynthRecording,
        holes: Vec<(u64, u64)>,
    }

    impl qrsd_acquire::Source for Script {
        fn run(
            self: Box<Self>,
            out: &mut qrsd_acquire::EventSender,
            stop: &qrsd_acquire::StopFlag,
        ) -> Result<(), qrsd_acquire::SourceError> {
            let names: Vec<String> = qrsd_synth::LEAD_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect();
            let idx: Vec<usize> = names
                .iter()
                .map(|n| self.rec.leads.iter().position(|(m, _)| m == n).unwrap())
                .collect();
            out.send_blocking(
                SourceEvent::Started(StreamInfo {
                    fs_hz: self.rec.fs_hz,
                    lead_names: names,
                    description: "script".into(),
                    firmware: None,
                    has_hw_pace: true,
                }),
                stop,
            );
            let n = self.rec.len_samples() as u64;
            let mut s = 0u64;
            while s < n {
                if let Some(&(at, len)) = self.holes.iter().find(|h| h.0 == s) {
                    out.send_blocking(
                        SourceEvent::Gap {
                            at_sample: at,
                            missing_frames: len,
                            reason: qrsd_acquire::GapReason::SequenceGap,
                        },
                        stop,
                    );
                    s += len;
                    continue;
                }
                let next_hole = self.holes.iter().map(|h| h.0).filter(|&h| h > s).min();
                let end = (s + 20).min(n).min(next_hole.unwrap_or(u64::MAX));
                let mut c = Chunk {
                    first_sample: s,
                    received_at: Some(SystemTime::now()),
                    ..Chunk::default()
                };
                for k in s..end {
                    for &l in &idx {
                        c.samples_uv.push(self.rec.leads[l].1[k as usize] as f32);
                    }
                    c.pace.push(self.rec.pace_flags[k as usize]);
                    c.lead_off.push(0);
                }
                out.send_blocking(SourceEvent::Chunk(c), stop);
                s = end;
            }
            Ok(())
        }
    }

    #[test]
    fn short_gaps_are_held_long_gaps_reset_and_sample_numbers_stay_session_time() {
        let cfg = qrsd_synth::SynthConfig {
            fs_hz: 500.0,
            hrv_ms: 0.0,
            ..qrsd_synth::SynthConfig::default()
        };
        let rec = qrsd_synth::generate(&cfg, 40.0).unwrap();
        let truth: Vec<u64> = rec.truth.iter().map(|t| t.r_sample).collect();
        // A 0.2 s hole (held) and a 4 s hole (pipeline reset).
        let holes = vec![(5_000u64, 100u64), (10_000, 2_000)];
        let metrics = Arc::new(Metrics::default());
        let hub = Hub::new(65_536, Arc::clone(&metrics));
        let mut rx = hub.subscribe();
        let snapshot = Arc::new(Mutex::new(SourceSnapshot::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let handle = qrsd_acquire::spawn(
            Box::new(Script {
                rec,
                holes: holes.clone(),
            }),
            64,
        );
        let t = spawn_live(
            handle,
            LiveConfig {
                pipeline: PipelineConfig::new(500.0, Vec::new()),
                display_rate_hz: 250.0,
                display_batch_ms: 40.0,
                shutdown: Arc::clone(&stop),
            },
            hub,
            Arc::clone(&metrics),
            Arc::clone(&snapshot),
            Vec::new(),
        )
        .unwrap();
        let mut beats = Vec::new();
        let mut gap_msgs = 0;
        let t0 = std::time::Instant::now();
        loop {
            match rx.try_recv() {
                Ok((_, m)) => {
                    let v: Value = serde_json::from_str(&m).unwrap();
                    if v["type"] == "beat" {
                        beats.push(v);
                    } else if v["event"] == "gap" {
                        gap_msgs += 1;
                    } else if v["event"] == "ended" {
                        break;
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
            assert!(t0.elapsed() < Duration::from_secs(60));
        }
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
        assert_eq!(gap_msgs, 2);
        let snap = snapshot.lock().unwrap().clone();
        assert_eq!(snap.pipeline_resets, 1, "the long gap reset the pipeline");
        assert_eq!(snap.gaps, 2);
        // Every beat's R is a generated beat's R, in session samples, before and after the reset.
        let mut after_reset = 0;
        for b in &beats {
            let r = b["r_sample"].as_u64().unwrap();
            let d = truth.iter().map(|&t| t.abs_diff(r)).min().unwrap();
            assert!(
                d <= 15,
                "beat at {r} is {d} samples from any generated beat"
            );
            let near_short_gap = r + 250 >= 5_000 && r <= 5_100 + 250;
            if near_short_gap {
                assert_eq!(b["gap"], true, "beat at {r} overlaps the held gap");
            }
            if r > 12_000 {
                after_reset += 1;
            }
        }
        // 16 s of signal after the hole at 70 bpm: ~18 beats (those of the detector's 2 s learning
        // period are reported when it ends).
        assert!(after_reset >= 16, "beats after the reset: {after_reset}");
        assert_eq!(metrics.gaps.load(Ordering::Relaxed), 2);
    }
}
