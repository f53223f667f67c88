//! A global allocator that counts allocations on the threads that ask it to, for the tests
//! that hold a hot path to "allocates nothing" or to a bound (`zero_alloc.rs` of the SIP parser
//! and the SMPP codec, `alloc_free.rs` of the engine, `alloc_count.rs` of the gateway). Included with `#[path]` and installed with
//! `#[global_allocator] static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;`.
//! Other threads (the record writer, the test harness) are never counted.

#![allow(unsafe_code)] // a #[global_allocator] must implement the unsafe GlobalAlloc trait

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Forwards to the system allocator; counts `alloc` and `realloc` on a counting thread.
pub struct Counting;

thread_local! {
    /// Allocations so far on this thread while counting; `None` when not counting.
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

fn count_one() {
    // `try_with`: an allocation during the thread's own teardown is simply not counted.
    let _ = COUNT.try_with(|c| {
        if let Some(n) = c.get() {
            c.set(Some(n + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns what it returned and the allocations it made on this thread.
pub fn allocations_in<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(Some(0)));
    let r = f();
    let n = COUNT.with(|c| c.replace(None)).unwrap_or(0);
    (r, n)
}
