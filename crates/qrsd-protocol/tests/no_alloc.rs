//! The decoder does not allocate in the steady state (a counting global allocator checks it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use qrsd_protocol::*;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn decoding_allocates_nothing_after_new() {
    let mut enc = Encoder::new();
    let mut b = Vec::new();
    enc.hello(&Hello::default(), &mut b).unwrap();
    let codes = vec![1234; 80];
    for f in 0..200u32 {
        enc.samples(
            &SamplesIn {
                first_sample: f * 10,
                n_channels: 8,
                codes: &codes,
                flags: &[0; 10],
                lead_off: &[0; 10],
                electrode_lead_off: 0,
                channel_saturated: 0,
            },
            &mut b,
        )
        .unwrap();
        if f % 7 == 0 {
            b.extend_from_slice(&[0xA5, 0x5A, 1, 2, 3, 0xA5]); // garbage
        }
    }
    let mut d = Decoder::new();
    let mut n = 0usize;
    let before = ALLOCS.with(|c| c.get());
    for chunk in b.chunks(333) {
        d.feed(chunk, |e| {
            if let Event::Samples(s) = e {
                n += s.n_samples();
            }
        });
    }
    let after = ALLOCS.with(|c| c.get());
    assert_eq!(n, 2000);
    assert_eq!(after - before, 0, "decoder allocated");
}
