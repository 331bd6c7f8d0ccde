//! SerialSource against a scripted amplifier on a pseudo-terminal (frames from qrsd-protocol's Encoder):
//! resynchronisation after garbage, CRC errors from bit flips, dropped frames, a stall, an unplug/replug
//! through a symlink, both I/O paths (serialport and the termios file fallback).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::temp_dir;
use qrsd_acquire::{
    spawn, GapReason, SerialOptions, SerialSource, SourceEvent, SourceHandle, SourceState,
};
use qrsd_protocol::{Encoder, Hello, SamplesIn};

const FS: u64 = 1000;

/// The pty tests run one at a time: pseudo-terminal numbers are reused as soon as one is closed, and two
/// tests unplugging and replugging at once were seen to cross-read each other's streams.
static PTY_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn pty_lock() -> std::sync::MutexGuard<'static, ()> {
    PTY_TESTS.lock().unwrap_or_else(|e| e.into_inner())
}
const SPF: usize = 10;

fn code(k: u64, c: usize) -> i32 {
    ((k * 7 + c as u64 * 1000) % 20_000) as i32 - 10_000
}

fn uv(k: u64, c: usize) -> f32 {
    code(k, c) as f32 * 0.1
}

/// One pseudo-terminal "plugged in" at a symlink.
struct Pty {
    master: File,
    _slave: OwnedFd,
}

fn plug(link: &Path) -> Pty {
    let r = nix::pty::openpty(None, None).unwrap();
    let mut t = nix::sys::termios::tcgetattr(r.slave.as_fd()).unwrap();
    nix::sys::termios::cfmakeraw(&mut t);
    nix::sys::termios::tcsetattr(r.slave.as_fd(), nix::sys::termios::SetArg::TCSANOW, &t).unwrap();
    let path = nix::unistd::ttyname(r.slave.as_fd()).unwrap();
    let tmp = link.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&path, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
    Pty {
        master: File::from(r.master),
        _slave: r.slave,
    }
}

/// Wait (up to 2 s) until the host has read everything written to the pty, so that an unplug loses only
/// the frames of the pause and not, depending on machine load, the unread tail (a real unplug may lose that
/// tail too; the e2e test with firmware-sim allows for it).
fn drain(pty: &Pty) {
    use std::os::fd::AsRawFd;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        let mut n: nix::libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int through the valid pointer; the fd is open for the call.
        let r = unsafe { nix::libc::ioctl(pty._slave.as_raw_fd(), nix::libc::FIONREAD, &mut n) };
        if r != 0 || n == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// What the amplifier script does at a frame index.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    Garbage,
    BitFlip,
    Drop,
    /// Pause this long, losing the frames that would have been sent meanwhile.
    Stall(u64),
    /// Unplug for this long (frames meanwhile lost), replug at the same link.
    Unplug(u64),
}

struct Script {
    frames: u64,
    faults: Vec<(u64, Fault)>,
    speed: f64,
}

/// Runs the amplifier; returns (device samples sent intact, samples lost by fault kind).
type AmpResult = (Vec<u64>, Vec<(Fault, u64)>);

fn amplifier(link: PathBuf, script: Script) -> std::thread::JoinHandle<AmpResult> {
    std::thread::spawn(move || {
        let mut pty = Some(plug(&link));
        let mut enc = Encoder::new();
        let mut hello = Hello {
            session_id: 0xC0FFEE,
            ..Hello::default()
        };
        hello.set_serial("TEST-1");
        let mut buf = Vec::new();
        enc.hello(&hello, &mut buf).unwrap();
        pty.as_mut().unwrap().master.write_all(&buf).unwrap();
        let mut intact = Vec::new();
        let mut lost = Vec::new();
        let frame_period = Duration::from_secs_f64(SPF as f64 / FS as f64 / script.speed);
        let t0 = Instant::now();
        let mut shift = Duration::ZERO;
        let mut f = 0u64;
        let mut garbage_seed = 12345u64;
        while f < script.frames {
            let due = t0 + shift + frame_period * f as u32;
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            let fault = script.faults.iter().find(|(at, _)| *at == f).map(|x| x.1);
            match fault {
                Some(Fault::Stall(ms)) | Some(Fault::Unplug(ms)) => {
                    let is_unplug = matches!(fault, Some(Fault::Unplug(_)));
                    if is_unplug {
                        // Unlink first: a stale link could point at a pty number reused by another test.
                        drain(pty.as_ref().unwrap());
                        let _ = std::fs::remove_file(&link);
                        pty = None;
                    }
                    std::thread::sleep(Duration::from_millis(ms));
                    shift += Duration::from_millis(ms);
                    // The device kept counting: frames of the pause are lost.
                    let n_lost =
                        (ms as f64 / 1000.0 * script.speed * FS as f64 / SPF as f64) as u64;
                    lost.push((fault.unwrap(), n_lost * SPF as u64));
                    f += n_lost;
                    if is_unplug {
                        pty = Some(plug(&link));
                    }
                    // Re-send the hello so a host that lost it can restart (devices send one every second).
                    buf.clear();
                    enc.hello(&hello, &mut buf).unwrap();
                    pty.as_mut().unwrap().master.write_all(&buf).unwrap();
                    continue;
                }
                _ => {}
            }
            let first = f * SPF as u64;
            let codes: Vec<i32> = (0..SPF as u64)
                .flat_map(|i| (0..8).map(move |c| code(first + i, c)))
                .collect();
            let flags: Vec<u8> = (0..SPF as u64)
                .map(|i| u8::from((first + i) % 800 == 100))
                .collect();
            let lead_off = vec![0u16; SPF];
            buf.clear();
            enc.samples(
                &SamplesIn {
                    first_sample: first as u32,
                    n_channels: 8,
                    codes: &codes,
                    flags: &flags,
                    lead_off: &lead_off,
                    electrode_lead_off: 0,
                    channel_saturated: 0,
                },
                &mut buf,
            )
            .unwrap();
            match fault {
                Some(Fault::Garbage) => {
                    let mut g = Vec::new();
                    for _ in 0..300 {
                        garbage_seed = garbage_seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1);
                        g.push((garbage_seed >> 33) as u8);
                    }
                    g.extend_from_slice(&[0xA5, 0x5A, 0x01]); // a false sync
                    pty.as_mut().unwrap().master.write_all(&g).unwrap();
                    pty.as_mut().unwrap().master.write_all(&buf).unwrap();
                    intact.extend(first..first + SPF as u64);
                }
                Some(Fault::BitFlip) => {
                    let i = buf.len() / 2;
                    buf[i] ^= 0x10;
                    pty.as_mut().unwrap().master.write_all(&buf).unwrap();
                    lost.push((Fault::BitFlip, SPF as u64));
                }
                Some(Fault::Drop) => lost.push((Fault::Drop, SPF as u64)),
                _ => {
                    pty.as_mut().unwrap().master.write_all(&buf).unwrap();
                    intact.extend(first..first + SPF as u64);
                }
            }
            if f % 100 == 99 {
                buf.clear();
                enc.hello(&hello, &mut buf).unwrap();
                pty.as_mut().unwrap().master.write_all(&buf).unwrap();
            }
            f += 1;
        }
        // Let the host drain before the pty goes away.
        std::thread::sleep(Duration::from_millis(300));
        (intact, lost)
    })
}

struct Outcome {
    events: Vec<SourceEvent>,
    states: Vec<SourceState>,
    handle: SourceHandle,
}

fn run_host(link: &Path, force_file_io: bool, until_frames: u64, timeout: Duration) -> Outcome {
    let mut opts = SerialOptions::new(link);
    opts.force_file_io = force_file_io;
    opts.watchdog = Duration::from_millis(150);
    let handle = spawn(Box::new(SerialSource::new(opts).unwrap()), 4096);
    let t = Instant::now();
    let mut events = Vec::new();
    let mut states = Vec::new();
    let mut covered = 0u64;
    while t.elapsed() < timeout && covered < until_frames {
        let Ok(ev) = handle.events.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        match &ev {
            SourceEvent::Chunk(c) => covered = c.first_sample + c.n_frames() as u64,
            SourceEvent::Gap {
                at_sample,
                missing_frames,
                ..
            } => covered = at_sample + missing_frames,
            SourceEvent::Status(s) if states.last() != Some(&s.state) => states.push(s.state),
            _ => {}
        }
        events.push(ev);
    }
    Outcome {
        events,
        states,
        handle,
    }
}

fn check(out: &Outcome, intact: &[u64], lost: &[(Fault, u64)], total: u64) {
    let mut delivered = Vec::new();
    let mut gaps = Vec::new();
    let mut next = 0u64;
    let mut started = 0;
    for e in &out.events {
        match e {
            SourceEvent::Started(i) => {
                started += 1;
                assert_eq!(i.fs_hz, 1000.0);
                assert_eq!(
                    i.lead_names,
                    ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
                );
                assert!(i.has_hw_pace);
                assert!(i.firmware.as_deref().unwrap().contains("TEST-1"));
            }
            SourceEvent::Chunk(c) => {
                assert_eq!(
                    c.first_sample, next,
                    "chunks follow without unreported holes"
                );
                for f in 0..c.n_frames() {
                    let k = c.first_sample + f as u64;
                    for ch in 0..8 {
                        assert_eq!(c.samples_uv[f * 8 + ch], uv(k, ch), "sample {k} ch {ch}");
                    }
                    assert_eq!(c.pace[f], k % 800 == 100);
                    delivered.push(k);
                }
                next += c.n_frames() as u64;
            }
            SourceEvent::Gap {
                at_sample,
                missing_frames,
                reason,
            } => {
                assert_eq!(*at_sample, next);
                next += missing_frames;
                gaps.push((*reason, *missing_frames));
            }
            _ => {}
        }
    }
    assert_eq!(started, 1);
    // Every intact frame delivered, exactly once, at its own sample number.
    assert_eq!(delivered, intact, "delivered samples = intact samples");
    assert_eq!(next, total);
    // Every fault's loss is one gap of the right reason and size (adjacent losses merge).
    let want: Vec<(GapReason, u64)> = lost
        .iter()
        .map(|(f, n)| {
            let r = match f {
                Fault::Stall(_) => GapReason::Stall,
                Fault::Unplug(_) => GapReason::Disconnect,
                _ => GapReason::SequenceGap,
            };
            (r, *n)
        })
        .collect();
    assert_eq!(gaps, want);
    let st = out.handle.status();
    assert_eq!(st.gaps, want.len() as u64);
    assert_eq!(st.missing_frames, want.iter().map(|g| g.1).sum::<u64>());
    assert_eq!(st.frames, intact.len() as u64);
}

#[test]
fn faults_are_survived_counted_and_gapped() {
    let _serial = pty_lock();
    let dir = temp_dir("serial");
    let link = dir.join("amp");
    let frames = 900; // 9 s of signal at 1000 Hz, played at 4× (frames skipped by a pause are lost)
    let script = Script {
        frames,
        faults: vec![
            (40, Fault::Garbage),
            (80, Fault::BitFlip),
            (120, Fault::Drop),
            (160, Fault::Garbage),
            (200, Fault::Stall(300)),
            (400, Fault::Unplug(400)),
            (700, Fault::BitFlip),
        ],
        speed: 4.0,
    };
    let amp = amplifier(link.clone(), script);
    std::thread::sleep(Duration::from_millis(50));
    let out = run_host(&link, false, frames * SPF as u64, Duration::from_secs(20));
    let st = out.handle.status();
    let (intact, lost) = amp.join().unwrap();
    assert_eq!(lost.len(), 5);
    check(&out, &intact, &lost, frames * SPF as u64);
    assert_eq!(st.crc_errors, 2, "two bit flips");
    assert!(
        st.bytes_discarded >= 600,
        "garbage discarded: {}",
        st.bytes_discarded
    );
    assert_eq!(st.reconnects, 1);
    for s in [SourceState::Stalled, SourceState::Disconnected] {
        assert!(out.states.contains(&s), "{:?}", out.states);
    }
    assert_eq!(
        out.states.last(),
        Some(&SourceState::Streaming),
        "{:?}",
        out.states
    );
    // The pty was opened through serialport.
    let desc = out
        .events
        .iter()
        .find_map(|e| match e {
            SourceEvent::Started(i) => Some(i.description.clone()),
            _ => None,
        })
        .unwrap();
    assert!(!desc.contains("file i/o"), "{desc}");
    out.handle.stop().unwrap();
}

#[test]
fn file_io_fallback_on_a_pty() {
    let _serial = pty_lock();
    let dir = temp_dir("serial-file");
    let link = dir.join("amp");
    let frames = 300;
    let script = Script {
        frames,
        faults: vec![
            (50, Fault::Drop),
            (100, Fault::Unplug(300)),
            (270, Fault::Garbage),
        ],
        speed: 5.0,
    };
    let amp = amplifier(link.clone(), script);
    std::thread::sleep(Duration::from_millis(50));
    let out = run_host(&link, true, frames * SPF as u64, Duration::from_secs(20));
    let st = out.handle.status();
    let (intact, lost) = amp.join().unwrap();
    assert_eq!(lost.len(), 2);
    check(&out, &intact, &lost, frames * SPF as u64);
    assert_eq!(st.reconnects, 1);
    assert!(st.bytes_discarded >= 300);
    let desc = out
        .events
        .iter()
        .find_map(|e| match e {
            SourceEvent::Started(i) => Some(i.description.clone()),
            _ => None,
        })
        .unwrap();
    assert!(desc.contains("file i/o"), "{desc}");
    out.handle.stop().unwrap();
}

#[test]
fn missing_device_keeps_retrying_without_panic() {
    let dir = temp_dir("serial-missing");
    let mut opts = SerialOptions::new(dir.join("nothing-here"));
    opts.backoff_min = Duration::from_millis(10);
    opts.backoff_max = Duration::from_millis(40);
    let h = spawn(Box::new(SerialSource::new(opts).unwrap()), 64);
    std::thread::sleep(Duration::from_millis(300));
    let st = h.status();
    assert_eq!(st.state, SourceState::Connecting);
    assert!(st.last_error.is_some());
    h.stop().unwrap();
}

/// A device that restarts (new session id, counters from 0) while unplugged: one session continues, the
/// hole is a Disconnect gap estimated from arrival times, values after it are the new device's.
#[test]
fn device_restart_continues_the_session_with_an_estimated_gap() {
    let _serial = pty_lock();
    let dir = temp_dir("serial-restart");
    let link = dir.join("amp");
    let amp_link = link.clone();
    let amp = std::thread::spawn(move || {
        let send_phase = |pty: &mut Pty, session: u32, offset: u64| {
            let mut enc = Encoder::new();
            let hello = Hello {
                session_id: session,
                ..Hello::default()
            };
            let mut buf = Vec::new();
            enc.hello(&hello, &mut buf).unwrap();
            pty.master.write_all(&buf).unwrap();
            let t0 = Instant::now();
            for f in 0..100u64 {
                if let Some(d) =
                    (t0 + Duration::from_millis(10 * f)).checked_duration_since(Instant::now())
                {
                    std::thread::sleep(d);
                }
                let first = f * SPF as u64;
                let codes: Vec<i32> = (0..SPF as u64)
                    .flat_map(|i| (0..8).map(move |c| code(first + i + offset, c)))
                    .collect();
                buf.clear();
                enc.samples(
                    &SamplesIn {
                        first_sample: first as u32,
                        n_channels: 8,
                        codes: &codes,
                        flags: &[0; SPF],
                        lead_off: &[0; SPF],
                        electrode_lead_off: 0,
                        channel_saturated: 0,
                    },
                    &mut buf,
                )
                .unwrap();
                pty.master.write_all(&buf).unwrap();
            }
        };
        let mut pty = plug(&amp_link);
        send_phase(&mut pty, 1, 0);
        std::thread::sleep(Duration::from_millis(50));
        drain(&pty);
        let _ = std::fs::remove_file(&amp_link);
        drop(pty);
        std::thread::sleep(Duration::from_millis(300));
        let mut pty = plug(&amp_link);
        send_phase(&mut pty, 2, 5000);
        std::thread::sleep(Duration::from_millis(300));
    });
    std::thread::sleep(Duration::from_millis(30));
    // The amplifier is done after ~2.7 s; collect until then.
    let out = run_host(&link, false, u64::MAX, Duration::from_millis(3500));
    amp.join().unwrap();
    let mut started = 0;
    let mut gaps = Vec::new();
    let mut next = 0u64;
    let mut after: Vec<(u64, f32)> = Vec::new();
    for e in &out.events {
        match e {
            SourceEvent::Started(_) => started += 1,
            SourceEvent::Gap {
                at_sample,
                missing_frames,
                reason,
            } => {
                assert_eq!(*at_sample, next);
                gaps.push((*reason, *missing_frames));
                next += missing_frames;
            }
            SourceEvent::Chunk(c) => {
                assert_eq!(c.first_sample, next);
                for f in 0..c.n_frames() {
                    let k = c.first_sample + f as u64;
                    if k < 1000 {
                        assert_eq!(c.samples_uv[f * 8], uv(k, 0));
                    } else {
                        after.push((k, c.samples_uv[f * 8]));
                    }
                }
                next += c.n_frames() as u64;
            }
            _ => {}
        }
    }
    assert_eq!(started, 1, "same stream: one session");
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let (reason, n) = gaps[0];
    assert_eq!(reason, GapReason::Disconnect);
    // 50 ms + 300 ms unplugged + reopen back-off: the estimate is within a few hundred ms of it.
    assert!((250..=900).contains(&n), "estimated gap {n}");
    assert_eq!(after.len(), 1000, "the new device's 1000 samples delivered");
    let base = after[0].0;
    assert_eq!(base, 1000 + n);
    for (i, (_, v)) in after.iter().enumerate() {
        assert_eq!(*v, uv(i as u64 + 5000, 0));
    }
    out.handle.stop().unwrap();
}
