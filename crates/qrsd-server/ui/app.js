// qrsd operator page. Plain JS, no build step, no external assets.
//
// Live view: WebSocket /api/v1/stream → bounded per-lead ring buffers → canvas strip drawn with
// requestAnimationFrame (one frame at most per display refresh, never a backlog). Procedure panel:
// REST calls under /api/v1. A read-only debug hook `window.qrsdStats` is exposed for the browser test.
'use strict';

(() => {
  const API = '/api/v1';
  const $ = (id) => document.getElementById(id);
  const LIVE3 = ['II', 'V1', 'V6'];
  const ALL12 = ['I', 'II', 'III', 'aVR', 'aVL', 'aVF', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'];
  const BUFFER_S = 20; // seconds of signal kept per lead (bounded memory)
  const MAX_BEATS = 64; // beat markers kept
  const PX_PER_MM = 96 / 25.4; // CSS px per mm at the nominal 96 dpi
  const VEIN_NAMES = {
    anterior: 'anterior', anterolateral: 'anterolateral', lateral: 'lateral',
    posterolateral: 'posterolateral', posterior: 'posterior', middle_cardiac: 'middle cardiac',
  };
  const REASONS = {
    phrenic_stimulation: 'phrenic stimulation', high_threshold: 'high capture threshold',
    unstable: 'unstable lead', other: 'other',
  };

  // ---------------------------------------------------------------- debug hook (read-only view)
  const stats = {
    lastSampleSeq: -1, // seq of the last `samples` message ingested
    lastMsgSeq: -1, // seq of the last message of any type
    msgs: 0, samplesMsgs: 0, beatsSeen: 0, measurementsSeen: 0, seqGaps: 0, gapMsgs: 0,
    renderLagMs: null, // arrival of the newest drawn sample → its paint (ms)
    streamLagMs: null, // wall clock now − server wall time of the newest drawn sample, when the server sends one
    driftMs: null, // (wall time elapsed) − (stream time elapsed) since the first sample; grows if the page falls behind
    displayedT: null, // stream time (s) at the right edge of the strip at the last paint
    latestT: null, // newest stream time received (s)
    frames: 0, wsConnects: 0, firstBeatAt: null, pageStart: performance.now(),
    latestQrsdMs: null, leadsShown: LIVE3.slice(),
    measuringId: null, // id of the measurement this page is following
    lastMeasurement: null, // { id, status } of the last one that ended
    apiErrors: 0, lastError: null,
    leadMarks: {}, // lead → label of each lead marked on the page (signal quality)
  };
  Object.defineProperty(window, 'qrsdStats', { get: () => Object.freeze({ ...stats }) });

  // ---------------------------------------------------------------- helpers
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const fmt0 = (v) => (num(v) === null ? '—' : String(Math.round(v)));
  const fmt1 = (v) => (num(v) === null ? '—' : v.toFixed(1));
  const fmtSigned = (v) => (num(v) === null ? '—' : (Math.round(v) > 0 ? '+' : Math.round(v) < 0 ? '−' : '±') + Math.abs(Math.round(v)));
  function el(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  }
  function pick(obj, ...keys) {
    if (!obj) return undefined;
    for (const k of keys) if (obj[k] !== undefined && obj[k] !== null) return obj[k];
    return undefined;
  }

  // ---------------------------------------------------------------- errors shown in plain words
  let errorTimer = null;
  function showError(text) {
    const box = $('error');
    box.textContent = text;
    box.hidden = false;
    stats.apiErrors += 1;
    stats.lastError = text;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => { box.hidden = true; }, 15000);
  }
  function clearError() { $('error').hidden = true; }

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }
  // A token is needed only when the service listens beyond loopback; the page asks for it once per tab.
  let token = sessionStorage.getItem('qrsd-token') || '';
  async function api(method, path, body, what, retried = false) {
    let resp;
    try {
      const headers = body === undefined ? {} : { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      resp = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(`Could not ${what}: the qrsd service is not answering. Check that it is running; the page keeps retrying.`, 0);
    }
    if (resp.status === 401 && !retried) {
      const t = window.prompt('This qrsd service needs its access token (ask the lab administrator):', '');
      if (t) { token = t.trim(); sessionStorage.setItem('qrsd-token', token); if (ws) ws.close(); return api(method, path, body, what, true); }
    }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!resp.ok) {
      const detail = data && (typeof data.error === 'string' ? data.error
        : (data.error && data.error.message) || data.message || data.detail);
      const plain = {
        400: 'the request was not accepted', 404: 'it was not found (it may have been closed or removed)',
        409: 'this is not possible right now', 413: 'the request is too large', 422: 'a value is not valid',
        429: 'too many requests, wait a moment', 500: 'the service had an internal error', 503: 'the service is not ready',
      }[resp.status] || `the service answered ${resp.status}`;
      throw new ApiError(`Could not ${what}: ${detail || plain}.`, resp.status);
    }
    return data;
  }
  async function run(what, fn) {
    try { clearError(); return await fn(); } catch (e) {
      showError(e instanceof ApiError ? e.message : `Could not ${what}: ${e.message || e}`);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- live signal buffers
  const live = {
    fs: null, // display sample rate (Hz)
    acqFs: null, // acquisition sample rate, for beat times given in samples
    cap: 0,
    leads: new Map(), // name → { buf: Float32Array }
    lastIdx: null, // display-rate sample index of the newest sample
    firstArrivalWall: null, firstStreamT: null, minDrift: Infinity,
    lastArrival: 0, lastServerWallMs: null,
    beats: [], // { onset, offset, stim, qrsd, cls } in stream seconds
    shown: LIVE3.slice(),
    dirty: true,
  };

  function resetBuffers(fs) {
    live.fs = fs;
    live.cap = Math.max(16, Math.ceil(fs * BUFFER_S));
    live.leads.clear();
    live.lastIdx = null;
    live.firstArrivalWall = null;
    live.firstStreamT = null;
    live.minDrift = Infinity;
  }
  function leadBuf(name) {
    let l = live.leads.get(name);
    if (!l) {
      l = { buf: new Float32Array(live.cap).fill(NaN) };
      live.leads.set(name, l);
    }
    return l;
  }
  const canonLead = (n) => {
    const s = String(n);
    const up = s.toUpperCase();
    if (up === 'AVR') return 'aVR';
    if (up === 'AVL') return 'aVL';
    if (up === 'AVF') return 'aVF';
    return up;
  };

  // Accepts the shapes a `samples` message can reasonably take:
  //  {fs_hz, first_sample | t0_s, leads: {II: [...], ...}}            (lead → array)
  //  {fs_hz, first_sample, leads: ["I","II",...], data: [[lead0...], [lead1...]]}  (lead-major)
  //  {..., leads: [...], frames: [[l0,l1,...], ...]}                   (frame-major)
  // Values are µV unless the message says `unit: "mV"`.
  function ingestSamples(msg, arrival) {
    const fs = num(pick(msg, 'fs_hz', 'display_fs_hz', 'fs', 'rate_hz'));
    if (!fs || fs <= 0) return;
    if (live.fs !== fs) resetBuffers(fs);
    const acqFs = num(pick(msg, 'source_fs_hz', 'acq_fs_hz', 'input_fs_hz'));
    if (acqFs) live.acqFs = acqFs;
    const scale = /^mv$/i.test(msg.unit || '') ? 1000 : 1;

    let series = []; // [name, array]
    const leads = pick(msg, 'leads', 'lead_names', 'channels');
    const data = pick(msg, 'data', 'samples_uv', 'samples', 'values');
    if (leads && !Array.isArray(leads) && typeof leads === 'object') {
      series = Object.entries(leads).map(([k, v]) => [k, Array.isArray(v) ? v : (v && (v.samples_uv || v.uv || v.data)) || []]);
    } else if (Array.isArray(leads) && Array.isArray(data)) {
      if (data.length === leads.length && Array.isArray(data[0])) {
        series = leads.map((n, i) => [n, data[i]]);
      } else if (Array.isArray(data[0])) { // frame-major
        series = leads.map((n, i) => [n, data.map((f) => f[i])]);
      } else { // flat frame-major
        const nl = leads.length;
        series = leads.map((n, i) => { const a = []; for (let j = i; j < data.length; j += nl) a.push(data[j]); return [n, a]; });
      }
    } else if (Array.isArray(leads) && Array.isArray(msg.frames)) {
      series = leads.map((n, i) => [n, msg.frames.map((f) => f[i])]);
    }
    if (!series.length) return;
    const n = Math.max(...series.map(([, a]) => a.length));
    if (!n) return;

    let startIdx;
    const t0 = num(pick(msg, 't0_s', 'start_s', 't_s', 'time_s'));
    const first = num(pick(msg, 'first_sample', 'start_sample', 'sample'));
    const firstIsDisplay = num(pick(msg, 'first_display_sample', 'display_first_sample'));
    if (firstIsDisplay !== null) startIdx = firstIsDisplay;
    else if (t0 !== null) startIdx = Math.round(t0 * fs);
    else if (first !== null && live.acqFs) startIdx = Math.round((first / live.acqFs) * fs);
    else if (first !== null) startIdx = first;
    else startIdx = live.lastIdx === null ? 0 : live.lastIdx + 1;

    // Far behind what we have: the source started a new session (sample numbers restart). Start afresh.
    if (live.lastIdx !== null && startIdx + n - 1 < live.lastIdx - fs) { resetBuffers(fs); live.beats = []; }
    const cap = live.cap;
    const bufs = series.map(([name, arr]) => [leadBuf(canonLead(name)).buf, arr]);
    // Missing frames between the last sample and this message are drawn as breaks (never interpolated).
    if (live.lastIdx !== null && startIdx > live.lastIdx + 1) {
      const from = Math.max(live.lastIdx + 1, startIdx - cap);
      for (const l of live.leads.values()) for (let i = from; i < startIdx; i++) l.buf[((i % cap) + cap) % cap] = NaN;
    }
    for (const [buf, arr] of bufs) {
      for (let i = 0; i < arr.length; i++) {
        const v = arr[i];
        buf[(((startIdx + i) % cap) + cap) % cap] = typeof v === 'number' ? v * scale : NaN;
      }
    }
    const endIdx = startIdx + n - 1;
    if (live.lastIdx === null || endIdx > live.lastIdx) {
      if (live.lastIdx !== null) {
        // Leads absent from this message get breaks rather than stale data.
        for (const [name, l] of live.leads) {
          if (series.some(([s]) => canonLead(s) === name)) continue;
          for (let i = Math.max(live.lastIdx + 1, endIdx - cap + 1); i <= endIdx; i++) l.buf[((i % cap) + cap) % cap] = NaN;
        }
      }
      live.lastIdx = endIdx;
      live.lastArrival = arrival;
      const tEnd = (endIdx + 1) / fs;
      stats.latestT = tEnd;
      const serverWall = num(pick(msg, 'wall_ms', 'wall_time_ms', 'sent_at_ms', 'ts_ms', 'received_at_ms'));
      live.lastServerWallMs = serverWall;
      const wall = Date.now();
      if (live.firstArrivalWall === null) { live.firstArrivalWall = wall; live.firstStreamT = tEnd; }
    }
    live.dirty = true;
  }

  // Beat times: seconds, milliseconds or sample numbers (acquisition rate), globally or under `global`.
  function beatTime(msg, base) {
    const src = msg.global && typeof msg.global === 'object' ? [msg, msg.global] : [msg];
    for (const o of src) {
      let v = num(o[`${base}_s`]);
      if (v !== null) return v;
      v = num(o[`${base}_ms`]);
      if (v !== null) return v / 1000;
      v = num(pick(o, `${base}_sample`, `${base}_idx`));
      const fs = num(pick(msg, 'fs_hz', 'source_fs_hz')) || live.acqFs;
      if (v !== null && fs) return v / fs;
      v = num(o[base]);
      if (v !== null && fs) return v / fs;
    }
    return null;
  }
  function ingestBeat(msg) {
    stats.beatsSeen += 1;
    if (stats.firstBeatAt === null) stats.firstBeatAt = performance.now();
    const qrsd = num(pick(msg, 'qrsd_ms', 'global_qrsd_ms'));
    const cls = pick(msg, 'class', 'beat_class', 'kind') || '';
    const parts0 = [];
    const beat = {
      onset: beatTime(msg, 'onset'), offset: beatTime(msg, 'offset'),
      stim: beatTime(msg, 'stimulus') ?? beatTime(msg, 'stim') ?? beatTime(msg, 'pace'),
      qrsd, cls,
    };
    live.beats.push(beat);
    if (live.beats.length > MAX_BEATS) live.beats.splice(0, live.beats.length - MAX_BEATS);
    stats.latestQrsdMs = qrsd;
    const noise = num(msg.noise_uv);
    if (noise !== null) source.noiseUv = noise;
    if (typeof msg.lead_off === 'number') { source.leadOffBits = msg.lead_off; source.leadOff = leadOffNames(msg.lead_off); }
    if (msg.gap === true) parts0.push('overlaps a gap');
    if (typeof msg.quality === 'string' && msg.quality !== 'clean') parts0.push(`signal ${msg.quality.replace(/_/g, ' ')}`);
    renderSource();
    $('latest-qrsd').textContent = fmt0(qrsd);
    const parts = [String(cls).replace(/_/g, ' '), ...parts0];
    const hr = num(pick(msg, 'hr_bpm', 'heart_rate_bpm'));
    if (hr) parts.push(`${Math.round(hr)} bpm`);
    const ste = num(pick(msg, 'stim_to_end_ms', 'stimulus_to_end_ms'));
    if (ste !== null) parts.push(`stimulus → end ${Math.round(ste)} ms`);
    $('latest-beat-info').textContent = parts.filter(Boolean).join(' · ') || 'beat';
    live.dirty = true;
  }

  // ---------------------------------------------------------------- source state
  const source = { state: 'unknown', leadOff: [], leadOffBits: 0, channels: [], noiseUv: null, gaps: 0, isSim: null };
  function setBadge(id, text, level) {
    const b = $(id);
    b.textContent = text;
    b.className = `badge badge-${level}`;
  }
  function leadOffNames(bits) {
    const off = [];
    for (let i = 0; i < 16; i++) if (bits & (1 << i)) off.push(source.channels[i] || `channel ${i + 1}`);
    return off;
  }
  // `source` messages (event started/status/gap/ended) and GET /api/v1/source share most fields.
  function ingestSource(msg) {
    const s = msg.status && typeof msg.status === 'object' ? { ...msg, ...msg.status } : msg;
    if (msg.event === 'ended') source.state = 'ended';
    if (msg.event === 'started' && live.fs) { resetBuffers(live.fs); live.beats = []; }
    const state = pick(s, 'state');
    if (typeof state === 'string') source.state = state;
    else if (msg.event === 'started') source.state = 'streaming';
    const kind = pick(s, 'kind');
    const desc = pick(s, 'description');
    if (typeof kind === 'string' && kind) source.isSim = kind === 'sim';
    else if (typeof desc === 'string' && desc) source.isSim = /^sim/.test(desc);
    const ch = pick(s, 'channels');
    if (Array.isArray(ch) && ch.length) source.channels = ch.map(String);
    const fsAcq = num(pick(s, 'fs_hz', 'sample_rate_hz'));
    if (fsAcq) live.acqFs = fsAcq;
    if (num(s.next_sample) !== null) source.nextSample = s.next_sample;
    const lo = pick(s, 'lead_off');
    if (typeof lo === 'number') { source.leadOffBits = lo; source.leadOff = leadOffNames(lo); } else if (Array.isArray(lo)) source.leadOff = lo;
    if (msg.event === 'gap') source.gaps += 1;
    const gaps = num(pick(s, 'gaps', 'gap_count'));
    if (gaps !== null) source.gaps = gaps;
    const lq = msg.event === 'quality' ? msg.leads : pick(s, 'lead_quality');
    if (Array.isArray(lq)) ingestLeadQuality(lq);
    renderSource();
  }

  // ---------------------------------------------------------------- per-lead signal quality
  // Labels of the service's quality stage (`source` messages, GET /source): lead → { quality, streak },
  // streak = the sample since which the lead has not been clean (a change between two non-clean labels
  // keeps it). A lead is marked once it has not been clean for QUALITY_HOLD_S of signal (a single
  // 250 ms block's label is not worth a flashing mark); an electrode the amplifier flags off is marked
  // at once.
  const QUALITY_HOLD_S = 1;
  const leadQuality = new Map();
  const QUALITY_WORDS = {
    noisy: { short: 'noisy', level: 'warn', why: 'noise raises the floor — beats are still detected, the QRS edges in this lead are less sure' },
    unreadable: { short: 'unreadable', level: 'bad', why: 'noise as large as the QRS — this lead cannot be read; beats are measured only while another lead can' },
    saturated: { short: 'saturated', level: 'bad', why: "the signal sits at the amplifier's limit (clipping) — this lead cannot be read" },
    lead_off: { short: 'lead off', level: 'bad', why: 'no signal (flat trace) — check the electrode' },
  };
  function ingestLeadQuality(list) {
    for (const q of list) {
      if (!q || typeof q.lead !== 'string' || typeof q.quality !== 'string') continue;
      const lead = canonLead(q.lead);
      const prev = leadQuality.get(lead);
      const since = num(q.since_sample) ?? 0;
      const streak = q.quality === 'clean' ? null
        : prev && prev.streak !== null && prev.quality !== 'clean' ? Math.min(prev.streak, since) : since;
      leadQuality.set(lead, { quality: q.quality, streak });
    }
    renderLeadQuality();
  }
  // Marked leads now: lead → { quality, heldS, amp } (amp = flagged off by the amplifier).
  function leadMarks() {
    const out = new Map();
    const nowS = stats.latestT;
    for (const [lead, q] of leadQuality) {
      if (q.quality === 'clean' || !QUALITY_WORDS[q.quality]) continue;
      const heldS = nowS !== null && live.acqFs ? Math.max(0, nowS - q.streak / live.acqFs) : null;
      if (heldS === null || heldS >= QUALITY_HOLD_S) out.set(lead, { quality: q.quality, heldS, amp: false });
    }
    for (const name of source.leadOff) {
      const lead = canonLead(name);
      const prev = out.get(lead);
      out.set(lead, { quality: 'lead_off', heldS: prev && prev.quality === 'lead_off' ? prev.heldS : null, amp: true });
    }
    return out;
  }
  const heldText = (s) => (s === null ? '' : ` (not clean for ${s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`})`);
  function markTitle(lead, mk) {
    const w = QUALITY_WORDS[mk.quality];
    const why = mk.amp ? 'electrode off (the amplifier says so) — beats are not measured until it is back on' : w.why;
    return `${lead} ${w.short}${heldText(mk.heldS)}: ${why}`;
  }
  let lastMarksKey = '';
  function renderLeadQuality() {
    const marks = leadMarks();
    stats.leadMarks = Object.fromEntries([...marks].map(([l, m]) => [l, m.quality]));
    // Top bar: every marked lead, shown or not.
    const order = (l) => { const i = ALL12.indexOf(l); return i < 0 ? 99 : i; };
    const names = [...marks.keys()].sort((a, b) => order(a) - order(b));
    if (!names.length) setBadge('quality-state', 'Signal: all leads clean', 'ok');
    else {
      const bad = names.some((l) => QUALITY_WORDS[marks.get(l).quality].level === 'bad');
      setBadge('quality-state', `Signal: ${names.map((l) => `${l} ${QUALITY_WORDS[marks.get(l).quality].short}`).join(', ')}`, bad ? 'bad' : 'warn');
    }
    $('quality-state').title = names.length ? names.map((l) => markTitle(l, marks.get(l))).join('\n') : 'Every lead clean (the quality stage\'s label, latest 250 ms)';
    $('quality-legend').hidden = !names.length;
    // One mark per shown lead, at the top of its row of the strip.
    const box = $('lead-badges');
    const key = JSON.stringify([live.shown, names.map((l) => [l, marks.get(l).quality, marks.get(l).amp]), box.clientHeight]);
    if (key !== lastMarksKey) {
      lastMarksKey = key;
      box.replaceChildren();
      const rowH = box.clientHeight / live.shown.length;
      live.shown.forEach((lead, row) => {
        const mk = marks.get(lead);
        if (!mk) return;
        box.append(el('span', {
          class: `lead-q lead-q-${mk.quality}`, 'data-testid': `lead-quality-${lead}`, 'data-quality': mk.quality,
          style: `top:${Math.round(rowH * row + 2)}px`, text: `${lead} ${QUALITY_WORDS[mk.quality].short}`,
        }));
      });
    }
    for (const b of box.children) {
      const lead = b.dataset.testid.replace('lead-quality-', '');
      if (marks.has(lead)) b.title = markTitle(lead, marks.get(lead));
    }
    live.dirty = true;
  }
  // Hold times grow and marks appear after QUALITY_HOLD_S without a new message.
  setInterval(renderLeadQuality, 500);
  window.addEventListener('resize', renderLeadQuality);
  function renderSource() {
    const st = source.state;
    const lvl = st === 'streaming' ? 'ok' : (st === 'connecting' || st === 'stalled' || st === 'unknown') ? 'warn' : 'bad';
    const word = { streaming: 'streaming', connecting: 'connecting', stalled: 'STALLED (no data)', disconnected: 'DISCONNECTED', ended: 'ended', unknown: 'unknown' }[st] || st;
    setBadge('source-state', `Source: ${word}`, lvl);
    if (source.leadOff.length) setBadge('leadoff-state', `LEAD OFF: ${source.leadOff.join(', ')}`, 'bad');
    else setBadge('leadoff-state', 'Leads on', 'ok');
    // Noise: the pre-QRS RMS of the latest beat (µV). Under 25 µV is clean ECG; over 60 µV upsets delineation.
    const n = source.noiseUv;
    if (n === null) setBadge('noise-state', 'Noise: —', 'ok');
    else setBadge('noise-state', `${n > 60 ? 'NOISE: high' : n > 25 ? 'Noise: raised' : 'Noise: low'} (${Math.round(n)} µV)`, n > 60 ? 'bad' : n > 25 ? 'warn' : 'ok');
    setBadge('gap-state', `Gaps: ${source.gaps}`, source.gaps > 0 ? 'warn' : 'ok');
    $('sim-panel').hidden = source.isSim !== true;
    renderLeadQuality();
  }

  // ---------------------------------------------------------------- WebSocket with automatic reconnect
  let ws = null;
  let wsBackoff = 250;
  let lastMsgAt = 0;
  function connect() {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${API}/stream${token ? `?token=${encodeURIComponent(token)}` : ''}`;
    setBadge('conn-state', 'Connecting…', 'warn');
    try { ws = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    let expectSeq = null;
    ws.onopen = () => {
      stats.wsConnects += 1;
      wsBackoff = 250;
      lastMsgAt = performance.now();
      setBadge('conn-state', 'Connected', 'ok');
      refreshSource();
    };
    ws.onmessage = (ev) => {
      const arrival = performance.now();
      lastMsgAt = arrival;
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      const msgs = Array.isArray(msg) ? msg : [msg];
      for (const m of msgs) handleMessage(m, arrival, (seq) => {
        if (expectSeq !== null && seq > expectSeq) stats.seqGaps += 1;
        expectSeq = seq + 1;
      });
    };
    ws.onclose = () => { setBadge('conn-state', 'Disconnected — reconnecting', 'bad'); scheduleReconnect(); };
    ws.onerror = () => { try { ws.close(); } catch (e) { /* closing anyway */ } };
  }
  function scheduleReconnect() {
    ws = null;
    setTimeout(connect, wsBackoff);
    wsBackoff = Math.min(5000, wsBackoff * 2);
  }
  // A connection that is open but silent for 5 s is treated as dead (the server streams continuously).
  setInterval(() => {
    if (ws && ws.readyState === WebSocket.OPEN && performance.now() - lastMsgAt > 5000) {
      setBadge('conn-state', 'No data — reconnecting', 'bad');
      try { ws.close(); } catch (e) { /* ignore */ }
    }
  }, 1000);

  function handleMessage(m, arrival, onSeq) {
    if (!m || typeof m !== 'object') return;
    stats.msgs += 1;
    const seq = num(m.seq);
    if (seq !== null) { onSeq(seq); stats.lastMsgSeq = seq; }
    switch (m.type) {
      case 'samples':
        stats.samplesMsgs += 1;
        if (seq !== null) stats.lastSampleSeq = seq;
        ingestSamples(m, arrival);
        break;
      case 'beat': ingestBeat(m); break;
      case 'measurement': stats.measurementsSeen += 1; onMeasurementEvent(m); break;
      case 'source': ingestSource(m); break;
      case 'hello':
        if (m.source && typeof m.source === 'object') ingestSource(m.source);
        break;
      case 'gap': {
        stats.gapMsgs += 1;
        // The server dropped messages for this (slow) client; the strip shows a break and carries on.
        break;
      }
      default: break;
    }
  }
  async function refreshSource() {
    try {
      const s = await api('GET', '/source', undefined, 'read the source status');
      if (s) ingestSource(s);
    } catch (e) { /* shown by the badge */ }
  }
  setInterval(refreshSource, 5000);

  // ---------------------------------------------------------------- the strip (canvas, rAF)
  const canvas = $('strip');
  const ctx = canvas.getContext('2d', { alpha: false });
  function resizeCanvas() {
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(100, Math.round(r.width * dpr));
    const h = Math.max(100, Math.round(r.height * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; live.dirty = true; }
  }
  function draw() {
    resizeCanvas();
    const dpr = window.devicePixelRatio || 1;
    const W = canvas.width;
    const H = canvas.height;
    const pxPerMm = PX_PER_MM * dpr;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, W, H);
    const leads = live.shown;
    const rowH = H / leads.length;
    // Grid: 5 mm major lines at the nominal scale.
    ctx.strokeStyle = '#2a0f0f';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let x = W; x > 0; x -= 5 * pxPerMm) { ctx.moveTo(Math.round(x) + 0.5, 0); ctx.lineTo(Math.round(x) + 0.5, H); }
    for (let y = 0; y < H; y += 5 * pxPerMm) { ctx.moveTo(0, Math.round(y) + 0.5); ctx.lineTo(W, Math.round(y) + 0.5); }
    ctx.stroke();
    if (live.lastIdx === null || !live.fs) {
      ctx.fillStyle = '#9aa7b4';
      ctx.font = `${16 * dpr}px system-ui, sans-serif`;
      ctx.fillText('Waiting for signal…', 20 * dpr, 30 * dpr);
      return;
    }
    const pxPerS = 25 * pxPerMm;
    const fs = live.fs;
    const cap = live.cap;
    const tRight = (live.lastIdx + 1) / fs;
    const nVisible = Math.min(cap, Math.ceil((W / pxPerS) * fs));
    const i0 = live.lastIdx - nVisible + 1;
    // 10 mm/mV when it fits (3 mV per row); smaller for 12 leads on a short screen.
    const pxPerUv = Math.min(10 * pxPerMm, rowH / 3) / 1000;
    const step = Math.max(1, Math.floor(nVisible / W)); // never more points than pixels
    ctx.lineWidth = 1.5 * dpr;
    ctx.font = `${14 * dpr}px system-ui, sans-serif`;
    leads.forEach((name, row) => {
      const yMid = rowH * row + rowH / 2;
      const mark = stats.leadMarks[name];
      ctx.fillStyle = !mark ? '#9aa7b4' : mark === 'noisy' ? '#d29922' : '#f85149';
      ctx.fillText(name, 6 * dpr, rowH * row + 16 * dpr);
      ctx.fillStyle = '#9aa7b4';
      const l = live.leads.get(name);
      if (!l) { ctx.fillText('no signal', 40 * dpr, yMid); return; }
      // Baseline: median-free mean of the visible window keeps the trace centred without a filter.
      let sum = 0; let cnt = 0;
      for (let i = i0; i <= live.lastIdx; i += step * 4) { const v = l.buf[((i % cap) + cap) % cap]; if (v === v) { sum += v; cnt++; } }
      const off = cnt ? sum / cnt : 0;
      ctx.strokeStyle = '#e6edf3';
      ctx.beginPath();
      let pen = false;
      for (let i = i0; i <= live.lastIdx; i += step) {
        const v = l.buf[((i % cap) + cap) % cap];
        const x = W - (tRight - i / fs) * pxPerS;
        if (v !== v) { pen = false; continue; }
        const y = Math.max(rowH * row, Math.min(rowH * (row + 1), yMid - (v - off) * pxPerUv));
        if (pen) ctx.lineTo(x, y); else { ctx.moveTo(x, y); pen = true; }
      }
      ctx.stroke();
    });
    // Beat markers over all rows.
    const tLeft = tRight - W / pxPerS;
    for (const b of live.beats) {
      const mark = (t, color, dash) => {
        if (t === null || t < tLeft || t > tRight) return null;
        const x = W - (tRight - t) * pxPerS;
        ctx.strokeStyle = color;
        ctx.setLineDash(dash);
        ctx.lineWidth = 2 * dpr;
        ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H); ctx.stroke();
        ctx.setLineDash([]);
        return x;
      };
      mark(b.stim, '#79c0ff', [4 * dpr, 4 * dpr]);
      const xo = mark(b.onset, '#3fb950', []);
      const xf = mark(b.offset, '#ff7b72', []);
      if (b.qrsd !== null && (xf !== null || xo !== null)) {
        ctx.fillStyle = '#ffd33d';
        ctx.font = `bold ${18 * dpr}px system-ui, sans-serif`;
        ctx.fillText(`${Math.round(b.qrsd)}`, (xf ?? xo) + 4 * dpr, 20 * dpr);
      }
    }
    // Figures for the test hook.
    const now = performance.now();
    stats.renderLagMs = Math.round(now - live.lastArrival);
    stats.displayedT = tRight;
    if (live.firstArrivalWall !== null) {
      const drift = (Date.now() - live.firstArrivalWall) - (tRight - live.firstStreamT) * 1000;
      live.minDrift = Math.min(live.minDrift, drift);
      stats.driftMs = Math.round(drift - live.minDrift);
    }
    stats.streamLagMs = live.lastServerWallMs !== null ? Math.round(Date.now() - live.lastServerWallMs) : null;
  }
  function frame() {
    stats.frames += 1;
    if (live.dirty) { live.dirty = false; try { draw(); } catch (e) { console.error(e); } }
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);
  window.addEventListener('resize', () => { live.dirty = true; });

  function toggleLeads() {
    const all = live.shown.length === 3;
    live.shown = all ? ALL12.slice() : LIVE3.slice();
    stats.leadsShown = live.shown.slice();
    const b = $('toggle-leads');
    b.textContent = all ? 'Show II, V1, V6' : 'Show all 12 leads';
    b.setAttribute('aria-pressed', String(all));
    live.dirty = true;
    renderLeadQuality();
  }
  $('toggle-leads').addEventListener('click', toggleLeads);

  // ---------------------------------------------------------------- procedure state
  const proc = {
    id: null, data: null, rows: [], selected: null, measuring: null, pollTimer: null,
    measurements: new Map(), recommendation: null,
  };

  function siteName(site) {
    if (!site) return '';
    const label = pick(site, 'label', 'name');
    const vein = VEIN_NAMES[site.vein] || site.vein || '';
    const seg = site.segment || '';
    const vs = [vein, seg].filter(Boolean).join(' ');
    return label ? (vs ? `${label} (${vs})` : label) : vs || `site ${site.id}`;
  }

  // Normalise GET /procedures/{id}: baseline measurements and sites with their measurements.
  function normalise(p) {
    const measOf = (o) => {
      let ms = pick(o, 'measurements') || [];
      if (!Array.isArray(ms)) ms = [];
      const single = pick(o, 'measurement', 'latest_measurement', 'baseline_measurement');
      if (!ms.length && single && typeof single === 'object') ms = [single];
      const ids = pick(o, 'measurement_ids');
      if (Array.isArray(ids)) ms = ms.concat(ids.map((id) => ({ id })));
      return ms;
    };
    let baseline = pick(p, 'baseline');
    let baseMs = [];
    if (Array.isArray(p.baselines) && p.baselines.length) baseMs = p.baselines;
    else if (Array.isArray(baseline)) baseMs = baseline;
    else if (baseline && typeof baseline === 'object') baseMs = baseline.measurements ? measOf(baseline) : [baseline];
    const bid = pick(p, 'baseline_measurement_id', 'baseline_id');
    if (!baseMs.length && bid !== undefined) baseMs = [{ id: bid }];
    if (!baseMs.length && Array.isArray(p.measurements)) baseMs = p.measurements.filter((m) => m.kind === 'baseline' || m.site_id === null);
    const sites = (p.sites || []).map((s) => ({ ...s, _ms: measOf(s) }));
    return { baseMs, sites };
  }
  const latestOf = (ms) => (ms.length ? ms[ms.length - 1] : null);
  // The run a row shows: the latest complete one (what the recommendation uses), else the latest.
  const shownOf = (ms) => {
    for (let i = ms.length - 1; i >= 0; i--) if (ms[i].status === 'complete') return ms[i];
    return latestOf(ms);
  };

  async function loadMeasurement(m) {
    if (!m || m.id === undefined) return m;
    const cached = proc.measurements.get(String(m.id));
    const st = (cached && cached.status) || m.status;
    if (cached && st && st !== 'collecting') return cached;
    // A full record already present (has leads or qrsd) and finished needs no fetch.
    if (m.status && m.status !== 'collecting' && (m.leads || m.qrsd_ms !== undefined)) {
      proc.measurements.set(String(m.id), m);
      return m;
    }
    const full = await api('GET', `/measurements/${encodeURIComponent(m.id)}`, undefined, 'read a measurement');
    if (full) proc.measurements.set(String(m.id), { id: m.id, ...full });
    return proc.measurements.get(String(m.id)) || m;
  }

  async function refresh() {
    if (!proc.id) return;
    const p = await api('GET', `/procedures/${encodeURIComponent(proc.id)}`, undefined, 'load the procedure');
    proc.data = p;
    const { baseMs, sites } = normalise(p);
    const rows = [];
    const bm = shownOf(baseMs);
    const bl = latestOf(baseMs);
    rows.push({ key: 'baseline', site: null, m: bm ? await loadMeasurement(bm) : null, last: bl, count: baseMs.length });
    for (const s of sites) {
      const sm = shownOf(s._ms);
      rows.push({ key: String(s.id), site: s, m: sm ? await loadMeasurement(sm) : null, last: latestOf(s._ms), count: s._ms.length });
    }
    proc.rows = rows;
    // A measurement running for this procedure (page reloaded, or started elsewhere): follow it.
    const active = pick(p, 'active_measurement_id');
    if (active !== undefined && !proc.measuring) {
      const all = [...baseMs.map((m) => ['baseline', m]), ...sites.flatMap((s) => s._ms.map((m) => [String(s.id), m]))];
      const hit = all.find(([, m]) => String(m.id) === String(active));
      if (hit) { proc.measuring = { id: String(active), key: hit[0], started: performance.now() }; stats.measuringId = String(active); startPolling(); }
    }
    try {
      proc.recommendation = await api('GET', `/procedures/${encodeURIComponent(proc.id)}/recommendation`, undefined, 'read the recommendation');
    } catch (e) {
      proc.recommendation = null; // 404/409 while there is nothing to recommend
    }
    if (proc.selected === null || !rows.some((r) => r.key === proc.selected)) {
      const firstSite = rows.find((r) => r.site);
      proc.selected = firstSite ? firstSite.key : 'baseline';
    }
    renderProcedure();
  }

  const mStatus = (m) => (m ? m.status || '' : '');
  const decisionOf = (s) => {
    const d = s && (s.decision ?? s.site_decision);
    if (typeof d === 'string') return { decision: d };
    return d && typeof d === 'object' ? d : null;
  };
  const siteStatus = (s) => {
    if (!s) return '';
    const d = decisionOf(s);
    if (d && /^reject/.test(d.decision || '')) return 'rejected';
    if (d && /^accept/.test(d.decision || '')) return 'accepted';
    if (pick(s, 'rejected') === true || pick(s, 'status') === 'rejected' || pick(s, 'reject_reason', 'rejection_reason')) return 'rejected';
    if (pick(s, 'accepted') === true || pick(s, 'status') === 'accepted') return 'accepted';
    return pick(s, 'status') || '';
  };
  const rejectReason = (s) => {
    const d = decisionOf(s);
    const r = (d && d.reason) || pick(s, 'reject_reason', 'rejection_reason') || (s.rejection && s.rejection.reason);
    return r ? (REASONS[r] || r) : '';
  };
  const leadQ = (m, lead) => num(m && m.leads && m.leads[lead] && pick(m.leads[lead], 'qrsd_ms', 'median_ms'));
  const spreadOf = (m) => {
    if (!m) return [null, null];
    const iqr = num(pick(m, 'iqr_ms', 'qrsd_iqr_ms')) ?? num(m.spread && m.spread.iqr_ms);
    const sd = num(pick(m, 'sd_ms', 'qrsd_sd_ms')) ?? num(m.spread && m.spread.sd_ms);
    return [iqr, sd];
  };
  const flagsOf = (m) => {
    if (!m) return [];
    let f = m.flags || [];
    if (!Array.isArray(f)) f = Object.entries(f).filter(([, v]) => v).map(([k]) => k);
    const out = f.map((x) => String(typeof x === 'object' ? (x.flag || x.name || JSON.stringify(x)) : x).replace(/_/g, ' '));
    if (m.status === 'incomplete' || m.status === 'failed') out.unshift(`${m.status.toUpperCase()}${m.reason ? `: ${String(m.reason).replace(/_/g, ' ')}` : m.reason_code ? `: ${m.reason_code}` : ''}`);
    // Leads left out of the global QRS (an electrode off): the number is over fewer leads.
    if (typeof m.global_leads_text === 'string' && m.global_leads_text) out.push(m.global_leads_text);
    // Why beats were rejected for signal quality, naming the leads (not repeated when the
    // incomplete reason already says it).
    for (const q of Array.isArray(m.quality_reasons) ? m.quality_reasons : []) {
      if (q && typeof q.text === 'string' && !out.some((f) => f.includes(q.text))) out.push(q.text);
    }
    return out;
  };
  function rejectedSummary(m) {
    const r = m && m.beats_rejected;
    if (!r) return '';
    if (typeof r === 'number') return r ? `${r} rejected` : '';
    const src = r.by_reason && typeof r.by_reason === 'object' ? r.by_reason : r;
    const parts = Object.entries(src).filter(([k, v]) => k !== 'total' && num(v)).map(([k, v]) => `${v} ${k.replace(/_/g, ' ')}`);
    return parts.join(', ');
  }
  const baselineQrsd = () => {
    const b = proc.rows.find((r) => r.key === 'baseline');
    return b && b.m && b.m.status === 'complete' ? num(b.m.qrsd_ms) : null;
  };
  const recommendedKey = () => {
    const r = proc.recommendation;
    const id = r && pick(r, 'site_id', 'recommended_site_id');
    if (id !== undefined && id !== null) return String(id);
    const site = r && (r.site || r.recommended);
    return site && site.id !== undefined ? String(site.id) : null;
  };

  function renderProcedure() {
    const p = proc.data || {};
    const caseId = pick(p, 'case_id', 'case', 'name') || proc.id;
    const closed = pick(p, 'status', 'state') === 'closed' || !!pick(p, 'closed_at');
    $('case-banner').textContent = `Case ${caseId}${closed ? ' — CLOSED' : ''}`;
    $('new-procedure-form').hidden = true;
    $('procedure').hidden = false;
    $('results-section').hidden = false;
    document.querySelector('main.layout').classList.add('has-results');
    for (const id of ['measure-baseline', 'measure-selected', 'add-site', 'close-procedure']) $(id).disabled = closed || (id.startsWith('measure') && !!proc.measuring);
    $('report-link').href = `${API}/procedures/${encodeURIComponent(proc.id)}/report.html`;
    $('json-link').href = `${API}/procedures/${encodeURIComponent(proc.id)}/report`;

    const base = baselineQrsd();
    const recKey = recommendedKey();
    const tbody = $('results-body');
    tbody.replaceChildren();
    for (const r of proc.rows) {
      const m = r.m;
      const sst = siteStatus(r.site);
      const isBase = r.key === 'baseline';
      const cls = [isBase ? 'baseline' : '', r.key === proc.selected ? 'selected' : '', r.key === recKey ? 'recommended' : '', sst === 'rejected' ? 'rejected' : ''].join(' ').trim();
      const q = m && m.status !== 'collecting' ? num(m.qrsd_ms) : null;
      const delta = !isBase && q !== null && base !== null ? q - base : null;
      const [iqr, sd] = spreadOf(m);
      const used = num(m && pick(m, 'beats_used'));
      const req = num(m && pick(m, 'beats_required', 'beats_target'));
      const rej = rejectedSummary(m);
      const done = !!m && m.status === 'complete';
      const cell = (field, text, extra = {}) => el('td', { 'data-testid': `cell-${r.key}-${field}`, 'data-field': field, ...extra, text });
      let status = isBase ? (m ? `baseline: ${mStatus(m)}` : 'baseline: not measured') : (sst || (m ? mStatus(m) : 'not measured'));
      if (sst === 'rejected') status = `rejected: ${rejectReason(r.site)}`;
      else if (!isBase && m && mStatus(m) && mStatus(m) !== 'complete') status += ` (${mStatus(m)})`;
      if (r.last && m && r.last !== m && r.last.id !== m.id) status += ` · last run ${mStatus(r.last)}`;
      if (r.count > 1) status += ` · ${r.count} runs`;
      const actionsTd = el('td', { class: 'actions' });
      const actions = el('div', { class: 'btns' });
      actionsTd.append(actions);
      if (!isBase) {
        actions.append(
          el('button', { type: 'button', 'data-testid': `measure-${r.key}`, 'aria-label': `Measure ${siteName(r.site)}`, onclick: () => measure(r.key), disabled: closed || !!proc.measuring || sst === 'rejected' }, m ? 'Re-measure' : 'Measure'),
          el('button', { type: 'button', 'data-testid': `accept-${r.key}`, 'aria-label': `Accept ${siteName(r.site)}`, onclick: () => acceptSite(r.key), disabled: closed || sst === 'rejected' || sst === 'accepted' }, 'Accept'),
          el('button', { type: 'button', class: 'danger', 'data-testid': `reject-${r.key}`, 'aria-label': `Reject ${siteName(r.site)}`, onclick: () => openReject(r.key), disabled: closed || sst === 'rejected' }, 'Reject'),
        );
      } else {
        actions.append(el('button', { type: 'button', 'data-testid': 'measure-baseline-row', onclick: () => measure('baseline'), disabled: closed || !!proc.measuring }, m ? 'Re-measure' : 'Measure'));
      }
      const tr = el('tr', { class: cls, 'data-testid': `row-${r.key}`, 'data-key': r.key, tabindex: '-1', 'aria-selected': String(r.key === proc.selected) },
        el('td', { 'data-testid': `cell-${r.key}-name` },
          el('label', {},
            el('input', { type: 'radio', name: 'selected-site', value: r.key, 'data-testid': `select-${r.key}`, checked: r.key === proc.selected, onchange: () => select(r.key) }),
            ' ', isBase ? 'Baseline (intrinsic)' : siteName(r.site)),
          r.site && r.site.note ? el('div', { class: 'note', text: r.site.note }) : null),
        cell('status', status),
        cell('qrsd', fmt0(q), { style: 'font-weight:700', title: (q !== null && m.global_leads_text) || undefined }),
        cell('II', fmt0(m && m.status !== 'collecting' ? leadQ(m, 'II') : null)),
        cell('V1', fmt0(m && m.status !== 'collecting' ? leadQ(m, 'V1') : null)),
        cell('V6', fmt0(m && m.status !== 'collecting' ? leadQ(m, 'V6') : null)),
        cell('stim', fmt0(m && m.status !== 'collecting' ? num(pick(m, 'stim_to_end_ms', 'stimulus_to_end_ms')) : null)),
        cell('delta', isBase ? '' : fmtSigned(delta)),
        cell('area', fmt0(done ? num(m.qrs_area_uvs) : null)),
        cell('darea', isBase ? '' : areaDelta(done ? m : null)),
        cell('lvcap', isBase ? '' : (done && m.lv_capture) || '—', { class: done && m.lv_capture === 'unlikely' ? 'capture-unlikely' : '', title: done && m.lv_capture_criteria ? String(m.lv_capture_criteria.rule || '') : '' }),
        cell('spread', iqr === null && sd === null ? '—' : `${fmt1(iqr)} / ${fmt1(sd)}`),
        cell('beats', used === null ? '—' : `${used}${req !== null ? `/${req}` : ''}`, { title: rej ? `rejected: ${rej}` : '' }),
        cell('flags', [...flagsOf(m), rej ? `rejected beats: ${rej}` : ''].filter(Boolean).join('; '), { class: 'flags' }),
        actionsTd);
      tr.addEventListener('click', (ev) => { if (!(ev.target instanceof HTMLButtonElement)) select(r.key); });
      tbody.append(tr);
    }
    renderRecommendation(base, recKey);
    renderCompare();
  }

  const areaDelta = (m) => {
    const d = num(m && m.delta_qrs_area_uvs);
    const p = num(m && m.delta_qrs_area_pct);
    return d === null ? '—' : `${fmtSigned(d)}${p !== null ? ` (${fmtSigned(p)}%)` : ''}`;
  };

  // ---------------------------------------------------------------- sites against baseline
  // Median beats of II, V1, V6 (site over baseline) and the frontal QRS loop, drawn as SVG in
  // millimetres at 25 mm/s and 10 mm/mV, enlarged by CMP_ZOOM for the screen (the printable report
  // draws the same at real size).
  const CMP_ZOOM = 2.2;
  const CMP_BEFORE_MS = 40;
  const CMP_AFTER_MS = 360;
  const LOOP_UV_PER_MM = 50; // 20 mm/mV
  const SVGNS = 'http://www.w3.org/2000/svg';
  const svgEl = (tag, attrs = {}) => {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  };
  // [ms from the alignment point, µV from the level just before it] of one lead of a median beat.
  function alignedLead(m, lead) {
    const mb = m && m.median_beat;
    const l = mb && mb.leads && mb.leads[lead];
    const at = mb ? (num(mb.stim_index) ?? num(mb.onset_index)) : null;
    if (!l || !Array.isArray(l.uv) || at === null || !num(mb.fs_hz)) return null;
    const ms = (i) => ((i - at) * 1000) / mb.fs_hz;
    const level = l.uv.filter((v, i) => num(v) !== null && ms(i) >= -20 && ms(i) < 0).sort((a, b) => a - b);
    const base = level.length ? level[level.length >> 1] : 0;
    const pts = [];
    l.uv.forEach((v, i) => { if (num(v) !== null && ms(i) >= -CMP_BEFORE_MS && ms(i) <= CMP_AFTER_MS) pts.push([ms(i), v - base]); });
    return pts.length > 1 ? pts : null;
  }
  function paperSvg(wMm, hMm, label) {
    const svg = svgEl('svg', { width: wMm * CMP_ZOOM * PX_PER_MM, height: hMm * CMP_ZOOM * PX_PER_MM, viewBox: `0 0 ${wMm} ${hMm}`, role: 'img', 'aria-label': label });
    let minor = '';
    let major = '';
    for (let x = 0; x <= wMm; x++) (x % 5 ? (minor += `M${x} 0V${hMm}`) : (major += `M${x} 0V${hMm}`));
    for (let y = 0; y <= hMm; y++) (y % 5 ? (minor += `M0 ${y}H${wMm}`) : (major += `M0 ${y}H${wMm}`));
    svg.append(svgEl('path', { d: minor, stroke: '#f4c2c2', 'stroke-width': 0.1, fill: 'none' }), svgEl('path', { d: major, stroke: '#e08080', 'stroke-width': 0.25, fill: 'none' }));
    return svg;
  }
  function overlaySvg(lead, base, site) {
    const vals = [...site, ...(base || [])].map((p) => p[1]);
    const r5 = (x) => Math.max(1, Math.ceil(x / 5)) * 5;
    const top = Math.min(45, r5(Math.max(1000, ...vals) / 100 + 2));
    const h = Math.min(60, top + r5(Math.max(0, -Math.min(0, ...vals)) / 100 + 2));
    const w = r5(7 + ((CMP_BEFORE_MS + CMP_AFTER_MS) / 1000) * 25 + 2);
    const x = (ms) => 7 + ((ms + CMP_BEFORE_MS) / 1000) * 25;
    const y = (uv) => Math.max(0, Math.min(h, top - uv / 100));
    const svg = paperSvg(w, h, `lead ${lead}: site over baseline`);
    svg.setAttribute('data-testid', `overlay-${lead}`);
    svg.setAttribute('data-lead', lead);
    svg.append(svgEl('path', { d: `M0.5 ${top}H1.5V${top - 10}H6.5V${top}H7`, stroke: '#000', 'stroke-width': 0.3, fill: 'none' }));
    svg.append(svgEl('line', { x1: x(0), x2: x(0), y1: 0, y2: h, stroke: '#1f5fbf', 'stroke-width': 0.3, 'stroke-dasharray': '1 0.7' }));
    const path = (pts) => pts.map(([t, v], k) => `${k ? 'L' : 'M'}${x(t).toFixed(2)} ${y(v).toFixed(2)}`).join('');
    if (base) svg.append(svgEl('path', { class: 'trace-baseline', d: path(base), stroke: '#8a8a8a', 'stroke-width': 0.35, fill: 'none' }));
    svg.append(svgEl('path', { class: 'trace-site', d: path(site), stroke: '#000', 'stroke-width': 0.3, fill: 'none' }));
    const t = svgEl('text', { x: 1, y: 4, 'font-size': 3.2, 'font-family': 'sans-serif' });
    t.textContent = lead;
    svg.append(t);
    return svg;
  }
  function loopSvg(base, site) {
    const S = 40;
    const c = S / 2;
    const svg = svgEl('svg', { width: S * CMP_ZOOM * PX_PER_MM, height: S * CMP_ZOOM * PX_PER_MM, viewBox: `0 0 ${S} ${S}`, role: 'img', 'aria-label': 'frontal-plane QRS loop, site over baseline', 'data-testid': 'vcg-loop' });
    let g = '';
    for (let k = 0; k <= S; k += 5) g += `M${k} 0V${S}M0 ${k}H${S}`;
    svg.append(svgEl('path', { d: g, stroke: '#eee', 'stroke-width': 0.15, fill: 'none' }), svgEl('path', { d: `M0 ${c}H${S}M${c} 0V${S}`, stroke: '#999', 'stroke-width': 0.2, fill: 'none' }));
    const cl = (v) => Math.max(0, Math.min(S, v));
    const path = (l) => l.x_uv.map((xv, k) => `${k ? 'L' : 'M'}${cl(c + xv / LOOP_UV_PER_MM).toFixed(2)} ${cl(c + l.y_uv[k] / LOOP_UV_PER_MM).toFixed(2)}`).join('');
    if (base) svg.append(svgEl('path', { class: 'loop-baseline', d: path(base), stroke: '#8a8a8a', 'stroke-width': 0.35, fill: 'none' }));
    svg.append(svgEl('path', { class: 'loop-site', d: path(site), stroke: '#000', 'stroke-width': 0.3, fill: 'none' }));
    for (const [tx, ty, text] of [[S - 9, c - 1, 'I (X)'], [c + 1, S - 1, '+90° (Y)'], [1, 3.5, 'frontal']]) {
      const t = svgEl('text', { x: tx, y: ty, 'font-size': 2.6, 'font-family': 'sans-serif' });
      t.textContent = text;
      svg.append(t);
    }
    return svg;
  }
  const loopOf = (m) => (m && m.vcg_loop && Array.isArray(m.vcg_loop.x_uv) && m.vcg_loop.x_uv.length > 1 ? m.vcg_loop : null);
  function renderCompare() {
    const box = $('compare');
    const body = $('compare-body');
    const baseRow = proc.rows.find((r) => r.key === 'baseline');
    const bm = baseRow && baseRow.m && baseRow.m.status === 'complete' ? baseRow.m : null;
    const blocks = [];
    for (const r of proc.rows) {
      if (!r.site || !r.m || r.m.status !== 'complete') continue;
      const figs = [];
      for (const lead of LIVE3) {
        const site = alignedLead(r.m, lead);
        if (site) figs.push(overlaySvg(lead, alignedLead(bm, lead), site));
      }
      const sl = loopOf(r.m);
      if (sl) figs.push(loopSvg(loopOf(bm), sl));
      if (!figs.length) continue;
      const cap = r.m.lv_capture || '—';
      const crit = r.m.lv_capture_criteria || {};
      blocks.push(el('div', { class: 'compare-site', 'data-testid': `compare-${r.key}` },
        el('h4', { text: siteName(r.site) }),
        ...figs,
        el('div', { class: 'figs' },
          `QRSd ${fmt0(r.m.qrsd_ms)} ms · QRS area ${fmt0(r.m.qrs_area_uvs)} µV·s (baseline ${fmt0(bm && bm.qrs_area_uvs)}) · ΔArea ${areaDelta(r.m)} µV·s · LV capture `,
          el('span', { class: cap === 'unlikely' ? 'capture-unlikely' : '', 'data-testid': `lvcap-${r.key}`, text: cap }),
          crit.rule ? ` (${crit.rule})` : '',
          crit.warning ? el('div', { class: 'warning', text: crit.warning }) : null)));
    }
    body.replaceChildren(...blocks);
    box.hidden = blocks.length === 0;
  }

  function renderRecommendation(base, recKey) {
    const box = $('recommendation');
    const warnBox = $('recommendation-warning');
    const rec = proc.recommendation;
    const row = proc.rows.find((r) => r.key === recKey);
    if (!rec || !row) {
      box.textContent = 'No recommendation yet: measure at least one site.';
      warnBox.hidden = true;
      return;
    }
    const best = rec.best && typeof rec.best === 'object' ? rec.best : rec;
    const q = num(pick(best, 'qrsd_ms', 'site_qrsd_ms')) ?? num(row.m && row.m.qrsd_ms);
    const d = num(pick(best, 'delta_qrs_ms', 'delta_ms', 'delta_qrsd_ms')) ?? (q !== null && base !== null ? q - base : null);
    box.replaceChildren(
      el('div', { text: 'Recommended site' }),
      el('strong', { 'data-testid': 'recommended-site', text: siteName(row.site) }),
      el('div', { 'data-testid': 'recommended-figures', text: `QRSd ${fmt0(q)} ms${d !== null ? ` · ΔQRS ${fmtSigned(d)} ms against baseline` : ' · no baseline yet'} · QRS area ${fmt0(num(best.qrs_area_uvs))} µV·s${num(best.delta_qrs_area_uvs) !== null ? ` (${fmtSigned(best.delta_qrs_area_uvs)})` : ''}` }),
      el('div', { class: 'legend', 'data-testid': 'recommendation-rule', text: rec.rule === 'smallest_qrs_area' ? 'Rule: smallest QRS area (largest reduction against baseline)' : 'Rule: shortest paced QRS duration' }),
    );
    // Warning when the best two are within measurement spread: the server's text when it gives one.
    let warn = pick(rec, 'warning', 'warning_text');
    if (Array.isArray(rec.warnings) && rec.warnings.length) warn = rec.warnings.join(' ');
    if (warn && typeof warn === 'object') warn = warn.message || warn.text || JSON.stringify(warn);
    if (!warn && pick(rec, 'within_spread', 'ambiguous', 'close_call') === true) {
      warn = 'The best two sites differ by less than the measurement spread.';
    }
    if (warn) {
      const runner = pick(rec, 'runner_up_site_id', 'second_site_id') ?? (rec.runner_up && rec.runner_up.site_id);
      const rr = runner !== undefined ? proc.rows.find((r) => r.key === String(runner)) : null;
      const close = rec.close_call === true || pick(rec, 'within_spread', 'ambiguous') === true;
      // The service's warning names both sites; without names, say which two are meant.
      const named = rr && String(warn).includes(rr.site ? (rr.site.label || '') : '');
      const sentence = String(warn).trim().replace(/\.?$/, '.');
      warnBox.textContent = `Caution: ${sentence}${close && rr && !named ? ` (${siteName(row.site)} and ${siteName(rr.site)})` : ''}${close ? ' Choose between them on capture threshold, stability and phrenic stimulation, or re-measure.' : ''}`;
      warnBox.hidden = false;
    } else warnBox.hidden = true;
  }

  function select(key) {
    proc.selected = key;
    renderProcedure();
    const tr = document.querySelector(`tr[data-key="${CSS.escape(key)}"]`);
    if (tr && !tr.contains(document.activeElement)) tr.focus({ preventScroll: false });
  }
  function moveSelection(delta) {
    const keys = proc.rows.map((r) => r.key);
    if (!keys.length) return;
    const i = Math.max(0, keys.indexOf(proc.selected));
    select(keys[Math.max(0, Math.min(keys.length - 1, i + delta))]);
  }

  // ---------------------------------------------------------------- actions
  async function openProcedure(id) {
    proc.id = String(id);
    proc.measurements.clear();
    proc.selected = null;
    history.replaceState(null, '', `#procedure=${encodeURIComponent(proc.id)}`);
    const ok = await run('open the procedure', refresh);
    if (ok === undefined && !proc.data) leaveProcedure();
  }
  function leaveProcedure() {
    proc.id = null; proc.data = null; proc.rows = [];
    stopPolling();
    history.replaceState(null, '', location.pathname);
    $('procedure').hidden = true;
    $('results-section').hidden = true;
    document.querySelector('main.layout').classList.remove('has-results');
    $('new-procedure-form').hidden = false;
    $('case-banner').textContent = 'No procedure open';
  }
  $('new-procedure-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const caseId = $('case-id').value.trim();
    if (!caseId) { showError('Enter a case id first (a pseudonymous code, not a name).'); return; }
    run('start a procedure', async () => {
      const r = await api('POST', '/procedures', { case_id: caseId }, 'start a procedure');
      await openProcedure(r.id);
    });
  });
  $('open-procedure').addEventListener('click', () => {
    const id = $('open-id').value.trim();
    if (id) openProcedure(id);
  });
  $('leave-procedure').addEventListener('click', leaveProcedure);

  $('site-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { vein: $('site-vein').value, segment: $('site-segment').value };
    const label = $('site-label').value.trim();
    const note = $('site-note').value.trim();
    if (label) body.label = label;
    if (note) body.note = note;
    run('add the site', async () => {
      const r = await api('POST', `/procedures/${encodeURIComponent(proc.id)}/sites`, body, 'add the site');
      $('site-label').value = '';
      $('site-note').value = '';
      proc.selected = String(r.id);
      await refresh();
    });
  });

  async function measure(key) {
    if (!proc.id || proc.measuring) return;
    const isBase = key === 'baseline';
    const row = proc.rows.find((r) => r.key === key);
    if (!row) return;
    if (!isBase && siteStatus(row.site) === 'rejected') { showError('This site was rejected; it cannot be measured again.'); return; }
    await run(isBase ? 'start the baseline measurement' : 'start the measurement', async () => {
      const path = isBase ? `/procedures/${encodeURIComponent(proc.id)}/baseline`
        : `/procedures/${encodeURIComponent(proc.id)}/sites/${encodeURIComponent(key)}/measurements`;
      const r = await api('POST', path, {}, isBase ? 'start the baseline measurement' : 'start the measurement');
      proc.measuring = { id: String(r.id), key, started: performance.now() };
      stats.measuringId = String(r.id);
      showProgress({ status: 'collecting', beats_used: 0, beats_required: num(r.beats_required) ?? 10 });
      renderProcedure();
      startPolling();
    });
  }
  function showProgress(m) {
    const got = num(pick(m, 'beats_collected', 'beats_used', 'beats')) ?? 0;
    const need = num(pick(m, 'beats_required', 'beats_target', 'n')) ?? 10;
    const row = proc.measuring && proc.rows.find((r) => r.key === proc.measuring.key);
    const name = row ? (row.site ? siteName(row.site) : 'baseline') : '';
    $('progress').hidden = false;
    $('cancel-measure').hidden = m.status !== 'collecting';
    const bar = $('progress-bar');
    bar.max = need;
    bar.value = Math.min(got, need);
    const lb = m.last_beat && typeof m.last_beat === 'object' ? m.last_beat : null;
    const CAUSES = { electrode_off: 'electrode off', flat: 'no signal', saturated: 'clipped', unreadable: 'unreadable', noise_beat: 'not a QRS', noise_level: 'noise above the limit' };
    const cause = lb && CAUSES[lb.cause] ? ` (${[...(Array.isArray(lb.cause_leads) ? lb.cause_leads : []), CAUSES[lb.cause]].join(' ')})` : '';
    const rejTxt = lb && lb.accepted === false && lb.reason ? ` — last beat not used: ${String(lb.reason).replace(/_/g, ' ')}${cause}` : '';
    const txt = m.status === 'collecting' ? `Measuring ${name}: ${got} of ${need} beats collected${rejTxt}`
      : m.status === 'complete' ? `Done: ${name} — QRSd ${fmt0(num(m.qrsd_ms))} ms from ${got} beats`
        : `${name}: measurement ${m.status}${m.reason ? ` — ${String(m.reason).replace(/_/g, ' ')}` : ''} (${got} of ${need} beats)`;
    $('progress-text').textContent = txt;
  }
  function startPolling() {
    stopPolling();
    proc.pollTimer = setInterval(pollMeasurement, 400);
  }
  function stopPolling() { if (proc.pollTimer) clearInterval(proc.pollTimer); proc.pollTimer = null; }
  async function pollMeasurement() {
    const cur = proc.measuring;
    if (!cur) { stopPolling(); return; }
    let m;
    try { m = await api('GET', `/measurements/${encodeURIComponent(cur.id)}`, undefined, 'read the measurement'); } catch (e) {
      if (e.status === 404 || e.status === 0) showError(e.message);
      return;
    }
    if (!m || proc.measuring !== cur) return;
    showProgress(m);
    if (m.status && m.status !== 'collecting') {
      proc.measurements.set(cur.id, { id: cur.id, ...m });
      proc.measuring = null;
      stats.measuringId = null;
      stats.lastMeasurement = { id: cur.id, status: m.status };
      stopPolling();
      $('cancel-measure').hidden = true;
      if (m.status !== 'complete') showError(`The measurement did not complete (${m.status}${m.reason ? `: ${String(m.reason).replace(/_/g, ' ')}` : ''}). Check pacing capture and signal quality, then re-measure.`);
      await run('reload the procedure', refresh);
    }
  }
  function onMeasurementEvent(m) {
    const id = pick(m, 'measurement_id', 'id');
    if (proc.measuring && id !== undefined && String(id) === proc.measuring.id) {
      const inner = m.measurement && typeof m.measurement === 'object' ? { ...m, ...m.measurement } : m;
      if (inner.status === 'collecting') showProgress(inner); else pollMeasurement();
    }
  }
  $('cancel-measure').addEventListener('click', () => {
    const cur = proc.measuring;
    if (!cur) return;
    run('stop the measurement', async () => {
      await api('POST', `/measurements/${encodeURIComponent(cur.id)}/stop`, {}, 'stop the measurement');
      await pollMeasurement();
    });
  });
  $('measure-baseline').addEventListener('click', () => measure('baseline'));
  $('measure-selected').addEventListener('click', () => measure(proc.selected || 'baseline'));

  async function acceptSite(key) {
    await run('accept the site', async () => {
      await api('POST', `/procedures/${encodeURIComponent(proc.id)}/sites/${encodeURIComponent(key)}/accept`, {}, 'accept the site');
      await refresh();
    });
  }
  let rejectKey = null;
  function openReject(key) {
    const row = proc.rows.find((r) => r.key === key);
    if (!row || !row.site) return;
    rejectKey = key;
    $('reject-site-name').textContent = siteName(row.site);
    $('reject-note').value = '';
    $('reject-dialog').showModal();
    const checked = document.querySelector('#reject-form input[name=reason]:checked');
    if (checked) checked.focus();
  }
  $('reject-dialog').addEventListener('close', () => {
    if ($('reject-dialog').returnValue !== 'ok' || rejectKey === null) { rejectKey = null; return; }
    const key = rejectKey;
    rejectKey = null;
    const reason = document.querySelector('#reject-form input[name=reason]:checked').value;
    const note = $('reject-note').value.trim();
    const body = { reason };
    if (note) body.note = note;
    run('reject the site', async () => {
      await api('POST', `/procedures/${encodeURIComponent(proc.id)}/sites/${encodeURIComponent(key)}/reject`, body, 'reject the site');
      await refresh();
    });
  });

  $('close-procedure').addEventListener('click', () => {
    const sel = $('close-site');
    sel.replaceChildren(el('option', { value: '', text: '(no site chosen)' }));
    const recKey = recommendedKey();
    for (const r of proc.rows) {
      if (!r.site || siteStatus(r.site) === 'rejected') continue;
      sel.append(el('option', { value: r.key, text: `${siteName(r.site)}${r.key === recKey ? ' — recommended' : ''}`, selected: r.key === recKey }));
    }
    $('close-dialog').showModal();
    sel.focus();
  });
  $('close-dialog').addEventListener('close', () => {
    if ($('close-dialog').returnValue !== 'ok') return;
    const chosen = $('close-site').value;
    const note = $('close-note').value.trim();
    const body = {};
    if (chosen) body.chosen_site_id = /^\d+$/.test(chosen) ? Number(chosen) : chosen;
    if (note) body.note = note;
    run('close the procedure', async () => {
      await api('POST', `/procedures/${encodeURIComponent(proc.id)}/close`, body, 'close the procedure');
      await refresh();
    });
  });

  $('sim-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { rhythm: $('sim-rhythm').value, qrsd_ms: Number($('sim-qrsd').value) };
    run('change the simulator', async () => {
      await api('PUT', '/source/sim', body, 'change the simulator');
      $('sim-panel').querySelector('summary').textContent = `Simulator: ${body.rhythm}, ${body.qrsd_ms} ms`;
    });
  });

  // ---------------------------------------------------------------- keyboard
  document.addEventListener('keydown', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    // Shortcuts stay out of the way of typing; radios, checkboxes and buttons do not take letters.
    const typing = (t instanceof HTMLInputElement && !['radio', 'checkbox', 'button', 'submit'].includes(t.type))
      || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement || (t && t.isContentEditable);
    if (typing) return;
    if (document.querySelector('dialog[open]')) return;
    const k = ev.key.toLowerCase();
    const inProc = !!proc.id && !$('procedure').hidden;
    if (k === 'l') toggleLeads();
    else if (k === 'm' && inProc) measure(proc.selected || 'baseline');
    else if (k === 'b' && inProc) measure('baseline');
    else if (k === 'n' && inProc) $('site-vein').focus();
    else if (k === 'a' && inProc && proc.selected && proc.selected !== 'baseline') acceptSite(proc.selected);
    else if (k === 'x' && inProc && proc.selected && proc.selected !== 'baseline') openReject(proc.selected);
    else if (k === 'r' && inProc) window.open($('report-link').href, '_blank', 'noopener');
    else if ((ev.key === 'ArrowDown' || ev.key === 'ArrowUp') && inProc) moveSelection(ev.key === 'ArrowDown' ? 1 : -1);
    else return;
    ev.preventDefault();
  });

  // ---------------------------------------------------------------- start
  connect();
  renderSource();
  const m = /procedure=([^&]+)/.exec(location.hash);
  if (m) openProcedure(decodeURIComponent(m[1]));
  // Keep the table fresh when someone else (another page, an integration) changes the procedure.
  setInterval(() => { if (proc.id && !proc.measuring && document.visibilityState === 'visible') refresh().catch(() => {}); }, 10000);
})();
