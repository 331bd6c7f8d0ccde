//! Replays hostile API request bodies through the router (the `api_json` fuzz harness on stable):
//! every one is answered 2xx/4xx (503 when busy), never another 5xx, 4xx always with a JSON body.
//! Crashes found by `cargo fuzz run api_json` go into `REGRESSIONS` and `fuzz/regressions/api_json/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use qrsd_bench::api_fuzz::run;

/// Bodies that have broken JSON APIs elsewhere: deep nesting, huge numbers, odd floats, wrong types,
/// duplicate keys, invalid UTF-8, NULs, overlong strings, trailing data.
const BODIES: &[&[u8]] = &[
    b"",
    b"null",
    b"{}",
    b"[]",
    b"\"x\"",
    b"{\"case_id\": \"\"}",
    b"{\"case_id\": \"   \"}",
    b"{\"case_id\": \"A\", \"case_id\": \"B\"}",
    b"{\"case_id\": \"A\", \"extra\": 1}",
    b"{\"case_id\": 1e999}",
    b"{\"case_id\": \"\\u0000\\ud800\"}",
    b"{\"case_id\": \"A\"} trailing",
    b"\xff\xfe{\"case_id\": \"A\"}",
    b"{\"vein\": \"lateral\", \"segment\": \"mid\", \"label\": \"\"}",
    b"{\"vein\": \"nowhere\", \"segment\": \"mid\", \"label\": \"x\"}",
    b"{\"beats\": 0}",
    b"{\"beats\": 18446744073709551616}",
    b"{\"beats\": -1, \"timeout_s\": 1e308}",
    b"{\"timeout_s\": \"NaN\"}",
    b"{\"reason\": \"phrenic_stimulation\"}",
    b"{\"reason\": \"\"}",
    b"{\"reason\": null}",
    b"{\"chosen_site_id\": 9223372036854775807}",
    b"{\"chosen_site_id\": -9223372036854775808}",
    b"{\"speed\": 0}",
    b"{\"speed\": 1e-320}",
    b"{\"speed\": 1}",
    b"{\"qrsd_ms\": 1e308, \"rate_bpm\": -1e308}",
    b"{\"qrsd_ms\": 130, \"rhythm\": \"biv\"}",
    b"{\"rhythm\": \"asystole\"}",
    b"{\"rate_bpm\": 0.0000001}",
    b"{\"fusion_probability\": 2, \"loss_of_capture_probability\": -0.5}",
    b"{\"noise\": {\"emg_uv_rms\": 1e300, \"mains_hz\": 55}}",
    b"{\"lead_off\": [\"I\", \"II\", \"V9\"]}",
    b"{\"lead_off\": [\"I\", \"I\", \"I\"]}",
    b"{\"vv_offset_ms\": -1e10}",
    b"{\"hrv_ms\": 1e6}",
];

#[test]
fn hostile_bodies_on_every_body_route() {
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for route in 0u8..10 {
        for ct in 0u8..4 {
            for b in BODIES {
                let mut v = vec![route, ct];
                v.extend_from_slice(b);
                inputs.push(v);
            }
        }
        // Deeply nested and oversize bodies.
        let mut deep = vec![route, 0];
        deep.extend(std::iter::repeat_n(b'[', 100_000));
        inputs.push(deep);
        let mut big = vec![route, 0];
        big.extend_from_slice(b"{\"case_id\": \"");
        big.extend(std::iter::repeat_n(b'a', 1 << 20));
        big.extend_from_slice(b"\"}");
        inputs.push(big);
    }
    let mut counts = std::collections::BTreeMap::<u16, usize>::new();
    for i in &inputs {
        *counts.entry(run(i)).or_default() += 1;
    }
    let n = |f: &dyn Fn(u16) -> bool| {
        counts
            .iter()
            .filter(|(s, _)| f(**s))
            .map(|(_, n)| n)
            .sum::<usize>()
    };
    assert!(n(&|s| (200..300).contains(&s)) > 0, "{counts:?}");
    assert!(n(&|s| s == 400 || s == 422) > 0, "{counts:?}");
    assert!(
        n(&|s| s == 413) >= 10,
        "oversize bodies refused: {counts:?}"
    );
    assert!(n(&|s| s == 415) > 0, "{counts:?}");
    eprintln!("statuses: {counts:?}");
    // Crash regressions from fuzzing (none found so far), as files.
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/api_json");
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            run(&std::fs::read(e.path()).unwrap());
        }
    }
}
