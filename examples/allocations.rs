//! Allocations per task and per actor call: a counting global allocator
//! around the system's, read before and after many operations.
//!
//! ```text
//! cargo run -p rustyray-extras --release --example allocations
//! cargo run -p rustyray-extras --release --example allocations --features locks  # and locks
//! cargo test -p rustyray-extras --test allocations   # the same, against upper bounds
//! ```
//!
//! With the `locks` feature, RustyRay's lock acquisitions are counted too
//! (its `lock-stats` feature: every mutex lock it takes, and every wake of
//! a condvar wait, which takes the lock again; tokio's own locks are not
//! counted).
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

use std::alloc::System;
use std::hint::black_box;

use rustyray::{Config, Result};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

// ---------------------------------------------------------------- counting

/// Every allocation of the process goes through `stats_alloc`'s counting
/// wrapper of the system allocator (atomic counters, no lock, no
/// allocation of its own), so this program needs no `unsafe` of its own.
#[global_allocator]
static COUNTING: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The counters now: (allocation calls, bytes they asked for), where a
/// `realloc` counts as a call and its new size as bytes.
pub fn reading() -> (u64, u64) {
    let stats = COUNTING.stats();
    let calls = stats.allocations + stats.reallocations;
    let grown = stats.bytes_reallocated.max(0) as usize;
    ((calls) as u64, (stats.bytes_allocated + grown) as u64)
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
    /// RustyRay's lock acquisitions per operation, when counted (the
    /// `locks` feature of `rustyray-extras`).
    pub locks: Option<f64>,
}

/// RustyRay's lock acquisitions so far, when they are counted.
fn locks() -> Option<u64> {
    #[cfg(feature = "locks")]
    return Some(rustyray::__private::lock_acquisitions());
    #[cfg(not(feature = "locks"))]
    None
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
    let locks_before = locks();
    let (allocations, bytes) = reading();
    for _ in 0..iterations {
        work();
    }
    let (allocations_after, bytes_after) = reading();
    let locks_after = locks();
    let n = (ops * iterations) as f64;
    PerOp {
        allocations: (allocations_after - allocations) as f64 / n,
        bytes: (bytes_after - bytes) as f64 / n,
        locks: locks_before
            .zip(locks_after)
            .map(|(before, after)| (after - before) as f64 / n),
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
        let locks = count
            .locks
            .map(|l| format!(", lock acquisitions {l:.2}"))
            .unwrap_or_default();
        println!(
            "{kind}: allocations {:.2}, bytes {:.0}{locks}",
            count.allocations, count.bytes
        );
    }
    Ok(())
}
