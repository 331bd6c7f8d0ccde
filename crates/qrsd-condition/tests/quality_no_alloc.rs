//! The quality stage does not allocate per sample (a counting global allocator checks it): it runs on
//! the live path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use qrsd_condition::{Quality, QualityConfig, QualityMeter};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

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
fn the_quality_meter_allocates_nothing_after_new() {
    let n = 12;
    let mut m = QualityMeter::new(QualityConfig::default(), 1000.0, n).unwrap();
    let mut frame = vec![0.0; n];
    let mut labels = vec![Quality::Clean; n];
    let before = ALLOCS.with(Cell::get);
    for i in 0..20_000u32 {
        for (l, v) in frame.iter_mut().enumerate() {
            *v = f64::from((i * 7 + l as u32) % 97) * 10.0;
        }
        m.process(&frame, &frame);
        m.current(&mut labels);
        let _ = m.label(3, m.blocks_done().saturating_sub(1));
    }
    assert_eq!(ALLOCS.with(Cell::get) - before, 0);
    assert!(m.blocks_done() >= 79);
}
