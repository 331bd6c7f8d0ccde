//! Round-trip, resynchronisation, split-invariance, sequence and fault tests of the decoder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use qrsd_protocol::*;

/// An owned copy of an event, for comparisons.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Hello(u16, Hello, bool),
    Status(u16, Status),
    Samples {
        seq: u16,
        first: u64,
        codes: Vec<i32>,
        uv: Vec<f32>,
        flags: Vec<u8>,
        lead_off: Vec<u16>,
        electrode: u16,
        saturated: u16,
    },
    NoHello(u16, u64, usize),
    Crc(u8, u16, usize),
    Discarded(usize),
    FrameGap(u16, u16, u16),
    SampleGap(u64, u64, u64),
    Reset(u64, u64),
    Malformed(Malformed),
    Unknown(u8, u16),
    Version(u8, u8),
}

fn own(ev: Event<'_>) -> Ev {
    match ev {
        Event::Hello {
            seq,
            hello,
            new_session,
        } => Ev::Hello(seq, hello, new_session),
        Event::Status { seq, status } => Ev::Status(seq, status),
        Event::Samples(b) => Ev::Samples {
            seq: b.seq,
            first: b.first_sample,
            codes: b.codes.to_vec(),
            uv: b.uv.to_vec(),
            flags: b.flags.to_vec(),
            lead_off: b.lead_off.to_vec(),
            electrode: b.electrode_lead_off,
            saturated: b.channel_saturated,
        },
        Event::SamplesWithoutHello {
            seq,
            first_sample,
            n_samples,
        } => Ev::NoHello(seq, first_sample, n_samples),
        Event::CrcError {
            frame_type,
            seq,
            frame_len_bytes,
        } => Ev::Crc(frame_type, seq, frame_len_bytes),
        Event::Discarded { bytes } => Ev::Discarded(bytes),
        Event::FrameGap {
            expected_seq,
            got_seq,
            lost_frames,
        } => Ev::FrameGap(expected_seq, got_seq, lost_frames),
        Event::SampleGap {
            expected_sample,
            got_sample,
            lost_samples,
        } => Ev::SampleGap(expected_sample, got_sample, lost_samples),
        Event::SampleCounterReset {
            expected_sample,
            got_sample,
        } => Ev::Reset(expected_sample, got_sample),
        Event::Malformed { reason, .. } => Ev::Malformed(reason),
        Event::UnknownFrame { frame_type, seq } => Ev::Unknown(frame_type, seq),
        Event::UnsupportedVersion {
            version,
            frame_type,
        } => Ev::Version(version, frame_type),
        _ => panic!("unexpected event variant"),
    }
}

fn decode_all(chunks: &[&[u8]]) -> Vec<Ev> {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.feed(c, |e| out.push(own(e)));
        assert!(d.buffered_bytes() <= DECODER_BUFFER_BYTES);
    }
    out
}

/// Merge consecutive `Discarded` events (their split depends on read boundaries).
fn merge_discards(evs: Vec<Ev>) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for e in evs {
        if let (Some(Ev::Discarded(a)), Ev::Discarded(b)) = (out.last_mut(), &e) {
            *a += b;
            continue;
        }
        out.push(e);
    }
    out
}

fn hello(session: u32) -> Hello {
    let mut h = Hello {
        session_id: session,
        firmware: FirmwareVersion {
            major: 1,
            minor: 2,
            patch: 3,
        },
        ..Hello::default()
    };
    h.set_serial("SIM-0001");
    h
}

/// `n` samples × 8 channels starting at device sample `first`, deterministic values.
fn samples_frame(enc: &mut Encoder, first: u32, n: usize, seed: i32, out: &mut Vec<u8>) -> u16 {
    let codes: Vec<i32> = (0..n * 8)
        .map(|k| ((k as i32 * 7919 + seed * 104_729) % 16_000_000) - 8_000_000)
        .collect();
    let flags: Vec<u8> = (0..n).map(|i| u8::from(i % 3 == 0)).collect();
    let lead_off: Vec<u16> = (0..n).map(|i| if i == 1 { 0x04 } else { 0 }).collect();
    enc.samples(
        &SamplesIn {
            first_sample: first,
            n_channels: 8,
            codes: &codes,
            flags: &flags,
            lead_off: &lead_off,
            electrode_lead_off: 0x10,
            channel_saturated: 0,
        },
        out,
    )
    .unwrap()
}

/// A hello, `n_frames` sample frames of 10 samples and a status every 4 frames; frame boundaries.
fn stream(n_frames: usize) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let mut enc = Encoder::new();
    let mut b = Vec::new();
    let mut bounds = Vec::new();
    let s = b.len();
    enc.hello(&hello(7), &mut b).unwrap();
    bounds.push(s..b.len());
    for f in 0..n_frames {
        let s = b.len();
        samples_frame(&mut enc, (f * 10) as u32, 10, f as i32, &mut b);
        bounds.push(s..b.len());
        if f % 4 == 3 {
            let s = b.len();
            enc.status(
                &Status {
                    electrode_lead_off: 1,
                    battery_percent: 80,
                    next_sample: ((f + 1) * 10) as u32,
                    ..Status::default()
                },
                &mut b,
            )
            .unwrap();
            bounds.push(s..b.len());
        }
    }
    (b, bounds)
}

fn count_samples(evs: &[Ev]) -> usize {
    evs.iter()
        .map(|e| match e {
            Ev::Samples { flags, .. } => flags.len(),
            _ => 0,
        })
        .sum()
}

#[test]
fn round_trip_values_and_metadata() {
    let (b, _) = stream(8);
    let evs = decode_all(&[&b]);
    assert!(matches!(&evs[0], Ev::Hello(0, h, true) if *h == hello(7)));
    assert_eq!(count_samples(&evs), 80);
    let mut next = 0u64;
    let mut f = 0;
    for e in &evs {
        if let Ev::Samples {
            first,
            codes,
            uv,
            flags,
            lead_off,
            electrode,
            ..
        } = e
        {
            assert_eq!(*first, next);
            next += 10;
            let want_codes: Vec<i32> = (0..80)
                .map(|k: i32| ((k * 7919 + f * 104_729) % 16_000_000) - 8_000_000)
                .collect();
            assert_eq!(codes, &want_codes);
            for (c, u) in codes.iter().zip(uv) {
                assert!((*c as f32 * 0.1 - u).abs() <= 0.01 + 1e-6 * u.abs());
            }
            assert_eq!(flags[0], SAMPLE_FLAG_PACE);
            assert_eq!(lead_off[1], 0x04);
            assert_eq!(*electrode, 0x10);
            f += 1;
        }
    }
    assert!(!evs.iter().any(|e| matches!(
        e,
        Ev::Crc(..) | Ev::Discarded(_) | Ev::FrameGap(..) | Ev::SampleGap(..)
    )));
}

#[test]
fn split_at_every_byte_boundary_and_byte_by_byte() {
    let (b, _) = stream(3);
    let whole = decode_all(&[&b]);
    for k in 0..=b.len() {
        assert_eq!(decode_all(&[&b[..k], &b[k..]]), whole, "split at {k}");
    }
    let singles: Vec<&[u8]> = b.chunks(1).collect();
    assert_eq!(decode_all(&singles), whole);
}

#[test]
fn invalid_code_is_nan_and_rails_are_kept() {
    let mut enc = Encoder::new();
    let mut b = Vec::new();
    enc.hello(&hello(1), &mut b).unwrap();
    let mut codes = vec![0; 8];
    codes[0] = CODE_INVALID;
    codes[1] = CODE_MAX;
    codes[2] = CODE_MIN;
    codes[3] = -1;
    enc.samples(
        &SamplesIn {
            first_sample: 0,
            n_channels: 8,
            codes: &codes,
            flags: &[SAMPLE_FLAG_SATURATED],
            lead_off: &[0],
            electrode_lead_off: 0,
            channel_saturated: 0b110,
        },
        &mut b,
    )
    .unwrap();
    let evs = decode_all(&[&b]);
    let Ev::Samples { uv, codes: c, .. } = &evs[1] else {
        panic!("{evs:?}")
    };
    assert!(uv[0].is_nan());
    assert_eq!(&c[..4], &[CODE_INVALID, CODE_MAX, CODE_MIN, -1]);
    assert!((uv[1] - 838_860.7).abs() < 0.1);
    assert!((uv[3] + 0.1).abs() < 1e-6);
}

#[test]
fn uv_to_code_rounds_and_clamps() {
    assert_eq!(uv_to_code(12.34, 100), (123, false));
    assert_eq!(uv_to_code(-0.05, 100).0, -1); // rounds half away from zero
    assert_eq!(uv_to_code(1.0e9, 100), (CODE_MAX, true));
    assert_eq!(uv_to_code(-1.0e9, 100), (CODE_MIN, true));
    assert_eq!(uv_to_code(f64::NAN, 100), (CODE_INVALID, false));
}

#[test]
fn sequence_wraps_without_gaps_and_sample_counter_unwraps() {
    let mut enc = Encoder::new();
    enc.set_next_seq(65_530);
    let mut b = Vec::new();
    enc.hello(&hello(3), &mut b).unwrap();
    let start = u32::MAX - 25;
    for f in 0..12u32 {
        samples_frame(&mut enc, start.wrapping_add(f * 10), 10, 0, &mut b);
    }
    let evs = decode_all(&[&b]);
    assert!(!evs
        .iter()
        .any(|e| matches!(e, Ev::FrameGap(..) | Ev::SampleGap(..) | Ev::Reset(..))));
    let firsts: Vec<u64> = evs
        .iter()
        .filter_map(|e| match e {
            Ev::Samples { first, .. } => Some(*first),
            _ => None,
        })
        .collect();
    let want: Vec<u64> = (0..12).map(|f| u64::from(start) + f * 10).collect();
    assert_eq!(firsts, want);
    assert!(firsts[11] > u64::from(u32::MAX));
}

#[test]
fn dropped_frames_are_reported_as_frame_and_sample_gaps() {
    let (b, bounds) = stream(10);
    // Drop sample frames 2 and 3 (bounds index 3 and 4: hello, s0, s1, s2, s3, status...).
    let mut cut = Vec::new();
    for (i, r) in bounds.iter().enumerate() {
        if i != 3 && i != 4 {
            cut.extend_from_slice(&b[r.clone()]);
        }
    }
    let evs = decode_all(&[&cut]);
    let gaps: Vec<&Ev> = evs
        .iter()
        .filter(|e| matches!(e, Ev::FrameGap(..) | Ev::SampleGap(..)))
        .collect();
    assert_eq!(
        gaps,
        vec![&Ev::FrameGap(3, 5, 2), &Ev::SampleGap(20, 40, 20)]
    );
    assert_eq!(count_samples(&evs), 80);
}

#[test]
fn status_only_gap_costs_no_samples() {
    let (b, bounds) = stream(8);
    // bounds: hello, s0..s3, status, s4..: drop the status (index 5).
    let mut cut = Vec::new();
    for (i, r) in bounds.iter().enumerate() {
        if i != 5 {
            cut.extend_from_slice(&b[r.clone()]);
        }
    }
    let evs = decode_all(&[&cut]);
    assert!(evs.contains(&Ev::FrameGap(5, 6, 1)));
    assert!(!evs.iter().any(|e| matches!(e, Ev::SampleGap(..))));
}

#[test]
fn new_session_resets_tracking_without_gap() {
    let mut enc = Encoder::new();
    let mut b = Vec::new();
    enc.hello(&hello(1), &mut b).unwrap();
    samples_frame(&mut enc, 5000, 10, 0, &mut b);
    let mut enc2 = Encoder::new(); // device restarted: seq and counter restart
    enc2.hello(&hello(2), &mut b).unwrap();
    samples_frame(&mut enc2, 0, 10, 0, &mut b);
    let evs = decode_all(&[&b]);
    assert!(matches!(evs[2], Ev::Hello(0, _, true)));
    assert!(!evs
        .iter()
        .any(|e| matches!(e, Ev::FrameGap(..) | Ev::SampleGap(..) | Ev::Reset(..))));
}

#[test]
fn same_session_hello_keeps_tracking_and_reset_link_reports_loss() {
    let mut enc = Encoder::new();
    let mut a = Vec::new();
    enc.hello(&hello(9), &mut a).unwrap();
    samples_frame(&mut enc, 0, 10, 0, &mut a);
    let mut partial = Vec::new();
    samples_frame(&mut enc, 10, 10, 0, &mut partial); // cut off by the unplug
                                                      // Reconnect: 5 frames lost while unplugged, then a hello of the same session.
    for f in 0..5 {
        samples_frame(&mut enc, 20 + f * 10, 10, 0, &mut Vec::new());
    }
    let mut c = Vec::new();
    enc.hello(&hello(9), &mut c).unwrap();
    samples_frame(&mut enc, 70, 10, 0, &mut c);

    let mut d = Decoder::new();
    let mut evs = Vec::new();
    d.feed(&a, |e| evs.push(own(e)));
    d.feed(&partial[..50], |e| evs.push(own(e)));
    d.reset_link();
    d.feed(&c, |e| evs.push(own(e)));
    assert!(evs.contains(&Ev::Hello(8, hello(9), false)));
    assert!(evs.contains(&Ev::FrameGap(2, 8, 6)));
    assert!(evs.contains(&Ev::SampleGap(10, 70, 60)));
    assert!(evs.contains(&Ev::Discarded(50)));
}

#[test]
fn samples_before_hello_are_skipped_but_counted() {
    let mut enc = Encoder::new();
    let mut b = Vec::new();
    samples_frame(&mut enc, 100, 10, 0, &mut b);
    enc.hello(&hello(4), &mut b).unwrap();
    samples_frame(&mut enc, 110, 10, 0, &mut b);
    let evs = decode_all(&[&b]);
    assert_eq!(evs[0], Ev::NoHello(0, 100, 10));
    assert!(matches!(evs[2], Ev::Samples { first: 110, .. }));
}

#[test]
fn unknown_types_and_versions_are_skipped() {
    let mut enc = Encoder::new();
    let mut b = Vec::new();
    enc.hello(&hello(1), &mut b).unwrap();
    enc.raw_frame(0x7E, &[1, 2, 3], &mut b).unwrap();
    Encoder::frame_with_version(2, 0x03, 99, &[0; 20], &mut b).unwrap();
    samples_frame(&mut enc, 0, 10, 0, &mut b);
    let evs = decode_all(&[&b]);
    assert_eq!(evs[1], Ev::Unknown(0x7E, 1));
    assert_eq!(evs[2], Ev::Version(2, 0x03));
    assert!(matches!(evs[3], Ev::Samples { seq: 2, .. }));
    assert_eq!(evs.len(), 4);
}

#[test]
fn malformed_payloads_with_valid_crc_are_rejected() {
    let mut enc = Encoder::new();
    let mut b = Vec::new();
    enc.raw_frame(FrameType::Hello as u8, &[0; 5], &mut b)
        .unwrap();
    enc.raw_frame(FrameType::Samples as u8, &[0; 12], &mut b)
        .unwrap();
    enc.raw_frame(FrameType::Status as u8, &[0; 3], &mut b)
        .unwrap();
    let mut p = vec![0u8; 12 + 26];
    p[4] = 1;
    p[5] = 8;
    enc.raw_frame(FrameType::Samples as u8, &p, &mut b).unwrap(); // 8 ch: wrong length
    let evs = decode_all(&[&b]);
    assert!(matches!(
        evs[0],
        Ev::Malformed(Malformed::ChannelCount { .. })
    ));
    assert!(matches!(
        evs[1],
        Ev::Malformed(Malformed::SampleCount { .. })
    ));
    assert!(matches!(evs[2], Ev::Malformed(Malformed::TooShort { .. })));
    assert!(matches!(
        evs[3],
        Ev::Malformed(Malformed::SampleLength { .. })
    ));
}

#[test]
fn channel_mapping_of_electrodes() {
    let h = Hello::default();
    // RA off spoils every channel (I, II and, through WCT, V1..V6).
    assert_eq!(channels_spoiled(Electrode::Ra.bit(), h.channels()), 0xFF);
    // LL off: II and V1..V6, not I.
    assert_eq!(channels_spoiled(Electrode::Ll.bit(), h.channels()), 0xFE);
    // V3 off: V3 only (channel 4).
    assert_eq!(channels_spoiled(Electrode::V3.bit(), h.channels()), 1 << 4);
}

#[test]
fn every_single_bit_flip_costs_at_most_that_frame() {
    let (b, bounds) = stream(3);
    let clean = decode_all(&[&b]);
    let target = bounds[2].clone(); // second sample frame
    for bit in target.start * 8..target.end * 8 {
        let mut c = b.clone();
        c[bit / 8] ^= 1 << (bit % 8);
        let evs = decode_all(&[&c]);
        let lost: Vec<&Ev> = clean.iter().filter(|e| !evs.contains(e)).collect();
        assert_eq!(lost.len(), 1, "bit {bit}: lost {lost:?}");
        assert!(matches!(lost[0], Ev::Samples { first: 10, .. }));
        assert!(evs.contains(&Ev::SampleGap(10, 20, 10)), "bit {bit}");
        // Flips past the header (after its check byte) are reported as CRC errors.
        if bit / 8 >= target.start + 9 {
            assert!(
                evs.iter().any(|e| matches!(e, Ev::Crc(3, 2, _))),
                "bit {bit}"
            );
        }
    }
}

fn arb_frame() -> impl Strategy<Value = (u8, u32, Vec<i32>, Vec<u8>, Vec<u16>, u16)> {
    (0u8..3, any::<u32>(), 1usize..=MAX_SAMPLES_PER_FRAME).prop_flat_map(|(kind, first, n)| {
        (
            Just(kind),
            Just(first),
            prop::collection::vec(CODE_INVALID..=CODE_MAX, n * 8),
            prop::collection::vec(any::<u8>(), n),
            prop::collection::vec(any::<u16>(), n),
            any::<u16>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sequence of valid frames decodes to exactly those frames, however the bytes are split.
    #[test]
    fn every_valid_frame_sequence_is_accepted(
        frames in prop::collection::vec(arb_frame(), 1..12),
        seq0 in any::<u16>(),
        splits in prop::collection::vec(1usize..400, 0..8),
    ) {
        let mut enc = Encoder::new();
        enc.set_next_seq(seq0);
        let mut b = Vec::new();
        let h = hello(5);
        enc.hello(&h, &mut b).unwrap();
        let mut expected = vec![Ev::Hello(seq0, h, true)];
        let mut next_sample: Option<u64> = None;
        for (kind, first, codes, flags, lead_off, mask) in &frames {
            match kind {
                0 | 1 => {
                    // Contiguous sample counter so no gaps are expected.
                    let f = next_sample.map_or(*first, |s| s as u32);
                    let seq = enc.samples(&SamplesIn { first_sample: f, n_channels: 8, codes, flags,
                        lead_off, electrode_lead_off: *mask, channel_saturated: mask >> 1 }, &mut b).unwrap();
                    let first_abs = next_sample.unwrap_or(u64::from(f));
                    next_sample = Some(first_abs + flags.len() as u64);
                    let uv = codes.iter().map(|&c| if c == CODE_INVALID { f32::NAN } else { c as f32 * 0.1 }).collect();
                    expected.push(Ev::Samples { seq, first: first_abs, codes: codes.clone(), uv,
                        flags: flags.clone(), lead_off: lead_off.clone(), electrode: *mask, saturated: mask >> 1 });
                }
                _ => {
                    let s = Status { electrode_lead_off: *mask, uptime_ms: *first, ..Status::default() };
                    let seq = enc.status(&s, &mut b).unwrap();
                    expected.push(Ev::Status(seq, s));
                }
            }
        }
        let mut chunks = Vec::new();
        let mut rest: &[u8] = &b;
        for s in splits {
            let k = s.min(rest.len());
            let (a, r) = rest.split_at(k);
            chunks.push(a);
            rest = r;
        }
        chunks.push(rest);
        let got = decode_all(&chunks);
        // NaN != NaN: compare codes-based debug strings.
        prop_assert_eq!(format!("{got:?}"), format!("{expected:?}"));
    }

    /// Garbage between frames is discarded and counted; every frame is still delivered.
    #[test]
    fn garbage_between_frames(garbage in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 7)) {
        let (b, bounds) = stream(5);
        let mut s = Vec::new();
        let mut total = 0;
        for (r, g) in bounds.iter().zip(&garbage) {
            s.extend_from_slice(g);
            total += g.len();
            s.extend_from_slice(&b[r.clone()]);
        }
        let evs = merge_discards(decode_all(&[&s]));
        prop_assert_eq!(count_samples(&evs), 50);
        let discarded: usize = evs.iter().map(|e| if let Ev::Discarded(n) = e { *n } else { 0 }).sum();
        prop_assert_eq!(discarded, total);
        prop_assert!(!evs.iter().any(|e| matches!(e, Ev::FrameGap(..) | Ev::SampleGap(..))));
    }

    /// Random corruption never panics, never over-buffers, and frames not touched survive.
    #[test]
    fn corrupted_streams_never_panic(flips in prop::collection::vec((any::<usize>(), 0u8..8), 0..20),
                                     chunk in 1usize..700) {
        let (mut b, _) = stream(12);
        for (pos, bit) in flips {
            let n = b.len();
            b[pos % n] ^= 1 << bit;
        }
        let chunks: Vec<&[u8]> = b.chunks(chunk).collect();
        let evs = decode_all(&chunks);
        prop_assert!(count_samples(&evs) <= 120);
    }

    /// Arbitrary bytes: no panic, bounded buffer, every byte accounted for.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..6000), chunk in 1usize..5000) {
        let mut d = Decoder::new();
        for c in bytes.chunks(chunk) {
            d.feed(c, |_| {});
            prop_assert!(d.buffered_bytes() <= DECODER_BUFFER_BYTES);
        }
        let st = d.stats();
        prop_assert!(st.bytes_discarded as usize + d.buffered_bytes() <= bytes.len());
    }
}
