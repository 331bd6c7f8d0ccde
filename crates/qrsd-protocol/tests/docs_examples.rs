//! The example frames of docs/protocol.md, byte for byte (keeps the document honest).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use qrsd_protocol::*;

fn hex(b: &[u8]) -> String {
    b.chunks(16)
        .map(|l| {
            l.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The example hello and sample frame of the document.
fn example() -> (Vec<u8>, Vec<u8>) {
    let mut h = Hello {
        session_id: 0x1234_5678,
        firmware: FirmwareVersion {
            major: 1,
            minor: 0,
            patch: 0,
        },
        ..Hello::default()
    };
    h.set_serial("SIM-0001");
    let mut enc = Encoder::new();
    let mut hello = Vec::new();
    enc.hello(&h, &mut hello).unwrap();
    // Two samples: 1.0 mV in lead I, -0.5 mV in II, 0 elsewhere; the first sample carries the pace flag,
    // the second has V1 (channel 2) flagged off.
    let mut codes = vec![0i32; 16];
    codes[0] = uv_to_code(1000.0, 100).0;
    codes[1] = uv_to_code(-500.0, 100).0;
    codes[8] = uv_to_code(1000.0, 100).0;
    codes[9] = uv_to_code(-500.0, 100).0;
    let mut samples = Vec::new();
    enc.samples(
        &SamplesIn {
            first_sample: 1000,
            n_channels: 8,
            codes: &codes,
            flags: &[SAMPLE_FLAG_PACE, 0],
            lead_off: &[0, 1 << 2],
            electrode_lead_off: Electrode::V1.bit(),
            channel_saturated: 0,
        },
        &mut samples,
    )
    .unwrap();
    (hello, samples)
}

#[test]
fn example_frames_match_the_document() {
    let (hello, samples) = example();
    println!("hello ({} bytes):\n{}", hello.len(), hex(&hello));
    println!("samples ({} bytes):\n{}", samples.len(), hex(&samples));
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .expect("docs/protocol.md");
    assert!(
        doc.contains(&hex(&hello)),
        "hello hex dump differs from docs/protocol.md"
    );
    assert!(
        doc.contains(&hex(&samples)),
        "sample hex dump differs from docs/protocol.md"
    );
}
