//! Allocations per task and per actor call: a counting global allocator
//! around the system's, read before and after many operations.
//!
//! ```text
//! cargo run --release --example allocations
//! cargo test -p rustyray-extras --test allocations   # the same, against upper bounds
//! ```
//!
//! Every allocation in the process is counted, on every thread (the caller's,
//! RustyRay's workers and executor): a call to `alloc`, `alloc_zeroed` or
//! `realloc`, and the bytes it asks for. Each kind of operation runs for a
//! warm-up first (threads started, buffers grown), then many times between
//! two readings of the counters; the figure is the difference over the
//! number of operations. Nothing else runs meanwhile, so nothing else is
//! counted.
//!
//! A global allocator is one per binary, and a shared counter would slow
//! every row of the microbenchmark, so this is a program of its own.
//! `extras/tests/allocations.rs` includes this file to assert the same
//! figures against upper bounds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use rustyray::{Config, Result};

// ---------------------------------------------------------------- counting

/// Allocation calls (`alloc`, `alloc_zeroed`, `realloc`) since start.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
/// Bytes those calls asked for (a `realloc` counts its new size).
static BYTES: AtomicU64 = AtomicU64::new(0);

/// Counts every allocation and lets the system allocator do the work.
struct Counting;

#[global_allocator]
static COUNTING: Counting = Counting;

fn count(bytes: usize) {
    // A relaxed `fetch_add` neither allocates, blocks nor panics (it wraps
    // on overflow): safe inside the allocator. Relaxed is enough: readers
    // take their readings after the work they measure has synchronised
    // with them (a `get` returned), which makes the counts it added visible.
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
}

// SAFETY: an implementation of `GlobalAlloc` must return memory that fits
// the layout asked for (or null), must not unwind, and must accept in
// `dealloc` and `realloc` exactly the blocks it handed out. Each method
// below adds to two counters (`count`: no allocation, no panic, no lock)
// and forwards its arguments, unchanged, to `System`, which meets that
// contract. So every block this allocator hands out is a block `System`
// handed out for the same layout, and every block it is given back (which
// the caller guarantees it handed out, with that layout) goes back to
// `System` with that layout: each method's contract below follows from
// `System`'s.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: `alloc`'s one requirement, a layout of non-zero size, is
        // the caller's guarantee for `layout`, forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as in `alloc`: the caller's non-zero-size `layout`,
        // forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller guarantees `ptr` is a block this allocator
        // returned for `layout` and has not freed. Every block it returns
        // is `System`'s, allocated (or last reallocated) by `System` with
        // that same layout, so `ptr` and `layout` meet `System.dealloc`'s
        // requirements; both are forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller guarantees `ptr` is a live block of this
        // allocator for `layout`, hence a live block of `System` for
        // `layout` (see `dealloc`), and that `new_size` is non-zero and
        // does not overflow `isize` once rounded to `layout.align()`: all
        // of `System.realloc`'s requirements, forwarded unchanged. The
        // block it returns is `System`'s, for the new layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The counters now: (allocations, bytes).
pub fn reading() -> (u64, u64) {
    (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    )
}

// ---------------------------------------------------------------- workloads

#[rustyray::remote]
fn small_value() -> u8 {
    0
}

#[rustyray::actor]
struct Actor;

#[rustyray::actor]
impl Actor {
    fn new() -> Self {
        Actor
    }

    fn small_value(&self) -> u8 {
        0
    }

    fn small_value_arg(&self, x: u8) -> u8 {
        x
    }
}

#[rustyray::actor]
struct AsyncActor;

#[rustyray::actor]
impl AsyncActor {
    fn new() -> Self {
        AsyncActor
    }

    async fn small_value(&self) -> u8 {
        0
    }
}

// ---------------------------------------------------------------- measuring

/// Allocations per operation of one kind.
#[derive(Clone, Copy, Debug)]
pub struct PerOp {
    /// Allocation calls per operation.
    pub allocations: f64,
    /// Bytes asked for per operation.
    pub bytes: f64,
}

/// Round trips measured per sync kind, after as many again / 10 of warm-up.
const ROUND_TRIPS: u64 = 10_000;
/// Batches of 1000 measured per batch kind, after 2 of warm-up.
const BATCHES: u64 = 10;

/// Runs `work` `warmup` times, then `iterations` times between two
/// readings; each call of `work` is `ops` operations.
fn per_op(ops: u64, warmup: u64, iterations: u64, mut work: impl FnMut()) -> PerOp {
    for _ in 0..warmup {
        work();
    }
    let (allocations, bytes) = reading();
    for _ in 0..iterations {
        work();
    }
    let (allocations_after, bytes_after) = reading();
    let n = (ops * iterations) as f64;
    PerOp {
        allocations: (allocations_after - allocations) as f64 / n,
        bytes: (bytes_after - bytes) as f64 / n,
    }
}

/// Measures every kind on a fresh runtime of 2 CPUs; returns each kind's
/// name and figures, in order. Prints nothing (printing allocates).
pub fn measure() -> Result<Vec<(&'static str, PerOp)>> {
    let rt = rustyray::init(Config::default().num_cpus(2))?;
    // Waits for the futures of the async-code kind from this thread.
    let waiter = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| rustyray::Error::Serialization(e.to_string()))?;
    let actor = Actor::remote()?;
    let async_actor = AsyncActor::remote()?;
    let warm = ROUND_TRIPS / 10;
    let mut out = Vec::new();

    out.push((
        "task, sync round trip (get(f::remote()))",
        per_op(1, warm, ROUND_TRIPS, || {
            if let Ok(r) = small_value::remote() {
                drop(black_box(rustyray::get(&r)));
            }
        }),
    ));
    out.push((
        "task, async (1000 submitted, then get_all)",
        per_op(1000, 2, BATCHES, || {
            let refs: Vec<_> = (0..1000)
                .filter_map(|_| small_value::remote().ok())
                .collect();
            drop(black_box(rustyray::get_all(&refs)));
        }),
    ));
    out.push((
        "actor call, sync round trip (get(h.method()))",
        per_op(1, warm, ROUND_TRIPS, || {
            if let Ok(r) = actor.small_value() {
                drop(black_box(rustyray::get(&r)));
            }
        }),
    ));
    out.push((
        "actor call, async (1000 submitted, then get_all)",
        per_op(1000, 2, BATCHES, || {
            let refs: Vec<_> = (0..1000).filter_map(|_| actor.small_value().ok()).collect();
            drop(black_box(rustyray::get_all(&refs)));
        }),
    ));
    out.push((
        "async-actor call, sync round trip (get(h.method()))",
        per_op(1, warm, ROUND_TRIPS, || {
            if let Ok(r) = async_actor.small_value() {
                drop(black_box(rustyray::get(&r)));
            }
        }),
    ));
    out.push((
        "async-actor call, async (1000 submitted, then get_all)",
        per_op(1000, 2, BATCHES, || {
            let refs: Vec<_> = (0..1000)
                .filter_map(|_| async_actor.small_value().ok())
                .collect();
            drop(black_box(rustyray::get_all(&refs)));
        }),
    ));
    out.push((
        "actor call awaited in async code (h.method(x)?.await, 1000 per Runtime::spawn)",
        per_op(1000, 2, BATCHES, || {
            let actor = actor.clone();
            let client = rt.spawn(async move {
                for _ in 0..1000 {
                    black_box(actor.small_value_arg(0)?.await?);
                }
                Ok::<_, rustyray::Error>(())
            });
            let _ = waiter.block_on(client);
        }),
    ));
    Ok(out)
}

fn main() -> Result<()> {
    let counts = measure()?;
    println!(
        "RustyRay allocations per operation: a counting global allocator, every thread; \
         a runtime of 2 CPUs; sync kinds: mean of {ROUND_TRIPS} after {} of warm-up, \
         batch kinds: mean of {BATCHES} batches of 1000 after 2",
        ROUND_TRIPS / 10
    );
    for (kind, count) in counts {
        println!(
            "{kind}: allocations {:.2}, bytes {:.0}",
            count.allocations, count.bytes
        );
    }
    Ok(())
}
