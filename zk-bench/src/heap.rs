//! Live heap bytes, for the memory measurements. An RSS delta blurs them: the allocator hands
//! freed pages out again (so the second measurement in a process reads low) and rounds to pages.
//! This wraps the system allocator and, while [`Counting`] is on, adds up every allocation and
//! subtracts every free, so the difference between two readings is exactly what became live in
//! between. Off (every other run), it costs one relaxed load per allocation, the same for every
//! Rust client measured.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

pub struct CountingAlloc;

static ON: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);

fn add(delta: i64) {
    if ON.load(Ordering::Relaxed) {
        LIVE.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the wrapper only counts sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        add(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Counting on for as long as this lives. Only differences between [`Counting::live`] readings
/// mean anything: what was allocated before counting began is not in the total.
pub struct Counting(());

impl Counting {
    pub fn start() -> Counting {
        ON.store(true, Ordering::SeqCst);
        Counting(())
    }

    /// Net bytes allocated since counting began.
    pub fn live(&self) -> i64 {
        LIVE.load(Ordering::SeqCst)
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        ON.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_becomes_live_between_readings() {
        let counting = Counting::start();
        let before = counting.live();
        let v: Vec<u64> = Vec::with_capacity(1 << 16);
        let grown = counting.live() - before;
        drop(v);
        let freed = counting.live() - before;
        // Other test threads may allocate or free meanwhile: allow them 64 KiB against 512 KiB.
        let slack = 64 << 10;
        assert!((grown - (8 << 16)).abs() < slack, "{grown}");
        assert!(freed.abs() < slack, "{freed}");
    }
}
