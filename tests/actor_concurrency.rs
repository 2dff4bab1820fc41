//! Actors and concurrency: many callers share one actor without losing an
//! update, `max_concurrency` bounds (and reaches) how many calls overlap,
//! `&mut self` calls always run alone, and a call blocked at an `.await`
//! leaves the other slots serving.
//!
//! Overlap is measured inside the methods: an atomic count of calls inside,
//! its maximum, and a rendezvous (a barrier, or a bounded spin) that holds
//! calls inside until as many as allowed have arrived. Every wait is bounded
//! by [`PATIENCE`], so a bug fails a test instead of hanging it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{get_all_within, Keyed, Registry, TestState};
use rustyray::{ObjectRef, Result};
use tokio::sync::{watch, Barrier};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the methods of one test's actor report: who is inside, the most
/// that ever were, and the rendezvous that holds them there.
struct Overlap {
    inside: AtomicUsize,
    max_inside: AtomicUsize,
    writers: AtomicUsize,
    max_writers: AtomicUsize,
    /// Times a call found a writer with it (or a writer found anyone).
    violations: AtomicUsize,
    arrived: AtomicUsize,
    barrier: Barrier,
    gate: watch::Sender<bool>,
}

impl Overlap {
    fn new(barrier: usize) -> Self {
        Overlap {
            inside: AtomicUsize::new(0),
            max_inside: AtomicUsize::new(0),
            writers: AtomicUsize::new(0),
            max_writers: AtomicUsize::new(0),
            violations: AtomicUsize::new(0),
            arrived: AtomicUsize::new(0),
            barrier: Barrier::new(barrier),
            gate: watch::Sender::new(false),
        }
    }

    fn enter(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_inside.fetch_max(now, Ordering::SeqCst);
        if self.writers.load(Ordering::SeqCst) != 0 {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn exit(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn enter_writer(&self) {
        let writers = self.writers.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_writers.fetch_max(writers, Ordering::SeqCst);
        if writers != 1 || self.inside.load(Ordering::SeqCst) != 0 {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn exit_writer(&self) {
        self.writers.fetch_sub(1, Ordering::SeqCst);
    }

    fn max(&self) -> usize {
        self.max_inside.load(Ordering::SeqCst)
    }

    fn open(&self) {
        self.gate.send_replace(true);
    }
}

static OVERLAPS: Registry<Overlap> = Registry::new();

impl Keyed for Overlap {
    fn registry() -> &'static Registry<Overlap> {
        &OVERLAPS
    }

    fn release(&self) {
        self.open();
    }
}

/// A test's own [`Overlap`], under a fresh key; its gate opens on drop so
/// that a failing test leaves no call waiting.
type TestOverlap = TestState<Overlap>;

#[rustyray::actor]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    fn new(start: i64) -> Self {
        Counter { n: start }
    }

    fn incr(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }

    fn get(&self) -> i64 {
        self.n
    }
}

/// An actor whose methods report their overlap to the test's [`Overlap`].
#[rustyray::actor]
struct Probe {
    overlap: Arc<Overlap>,
    writes: u64,
}

#[rustyray::actor]
impl Probe {
    fn new(key: u64) -> Self {
        let overlap = OVERLAPS.get(key);
        Probe { overlap, writes: 0 }
    }

    /// Waits inside until the barrier's party is complete.
    async fn rendezvous(&self) {
        self.overlap.enter();
        self.overlap.barrier.wait().await;
        self.overlap.exit();
    }

    /// Stays inside across a few `.await`s.
    async fn linger(&self) {
        self.overlap.enter();
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        self.overlap.exit();
    }

    /// Spins inside until `target` calls in all have arrived; `false` if
    /// they did not within [`PATIENCE`].
    fn meet(&self, target: usize) -> bool {
        self.overlap.enter();
        self.overlap.arrived.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + PATIENCE;
        let mut met = false;
        while Instant::now() < deadline {
            if self.overlap.arrived.load(Ordering::SeqCst) >= target {
                met = true;
                break;
            }
            std::thread::yield_now();
        }
        self.overlap.exit();
        met
    }

    fn read_sync(&self) -> u64 {
        self.overlap.enter();
        for _ in 0..20 {
            std::thread::yield_now();
        }
        self.overlap.exit();
        self.writes
    }

    async fn read_async(&self) -> u64 {
        self.overlap.enter();
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        self.overlap.exit();
        self.writes
    }

    fn write_sync(&mut self) -> u64 {
        self.overlap.enter_writer();
        for _ in 0..20 {
            std::thread::yield_now();
        }
        self.writes += 1;
        self.overlap.exit_writer();
        self.writes
    }

    async fn write_async(&mut self) -> u64 {
        self.overlap.enter_writer();
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        self.writes += 1;
        self.overlap.exit_writer();
        self.writes
    }

    /// Waits (at an `.await`) for the test's gate.
    async fn blocked(&self) -> u64 {
        let mut rx = self.overlap.gate.subscribe();
        let _ = rx.wait_for(|open| *open).await;
        self.writes
    }
}

/// Submits `n` increments of 1 on a handle it was passed, then gets them.
#[rustyray::remote(num_cpus = 0)]
fn hammer(counter: CounterHandle, n: usize) -> Result<Vec<i64>> {
    let refs: Vec<ObjectRef<i64>> = (0..n).map(|_| counter.incr(1)).collect::<Result<_>>()?;
    rustyray::get_all(&refs)
}

#[rustyray::test(num_cpus = 2)]
fn eight_tasks_calling_one_actor_reach_exactly_eight_thousand() -> Result<()> {
    let c = Counter::remote(0)?;
    let tasks: Vec<ObjectRef<Vec<i64>>> = (0..8)
        .map(|_| hammer::remote(c.clone(), 1_000))
        .collect::<Result<_>>()?;
    let seen = get_all_within(&tasks)?;
    for values in &seen {
        assert_eq!(values.len(), 1_000);
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "one caller's results are strictly increasing"
        );
    }
    // Every count from 1 to 8,000 was returned to exactly one call.
    let mut all: Vec<i64> = seen.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(all, (1..=8_000).collect::<Vec<i64>>());
    assert_eq!(c.get()?.get_timeout(PATIENCE)?, 8_000);
    Ok(())
}

#[rustyray::test]
fn async_calls_overlap_exactly_up_to_max_concurrency() -> Result<()> {
    let overlap = TestOverlap::with(Overlap::new(4));
    let p = Probe::options().max_concurrency(4).remote(overlap.key)?;
    // Three rounds: each call waits inside until four are in.
    let calls: Vec<ObjectRef<()>> = (0..12).map(|_| p.rendezvous()).collect::<Result<_>>()?;
    get_all_within(&calls)?;
    assert_eq!(overlap.max(), 4);
    assert_eq!(overlap.inside.load(Ordering::SeqCst), 0);
    Ok(())
}

#[rustyray::test]
fn async_calls_never_overlap_with_max_concurrency_one() -> Result<()> {
    // (An actor with an async method runs up to 1000 calls at once by
    // default, as in Ray: see `tests/actor_options.rs`.)
    let overlap = TestOverlap::with(Overlap::new(1));
    let p = Probe::options().max_concurrency(1).remote(overlap.key)?;
    let calls: Vec<ObjectRef<()>> = (0..50).map(|_| p.linger()).collect::<Result<_>>()?;
    get_all_within(&calls)?;
    assert_eq!(overlap.max(), 1);
    Ok(())
}

#[rustyray::test]
fn max_concurrency_zero_means_one() -> Result<()> {
    let overlap = TestOverlap::with(Overlap::new(1));
    let p = Probe::options().max_concurrency(0).remote(overlap.key)?;
    let calls: Vec<ObjectRef<()>> = (0..50).map(|_| p.linger()).collect::<Result<_>>()?;
    get_all_within(&calls)?;
    assert_eq!(overlap.max(), 1);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn sync_ref_calls_overlap_exactly_up_to_max_concurrency() -> Result<()> {
    let overlap = TestOverlap::with(Overlap::new(1));
    let p = Probe::options().max_concurrency(2).remote(overlap.key)?;
    // Calls 1 and 2 wait for each other, then calls 3 and 4.
    let calls: Vec<ObjectRef<bool>> = [2, 2, 4, 4]
        .into_iter()
        .map(|target| p.meet(target))
        .collect::<Result<_>>()?;
    assert_eq!(get_all_within(&calls)?, vec![true; 4]);
    assert_eq!(overlap.max(), 2);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn mut_calls_run_alone_even_with_max_concurrency() -> Result<()> {
    let overlap = TestOverlap::with(Overlap::new(1));
    let p = Probe::options().max_concurrency(4).remote(overlap.key)?;
    let mut writes = Vec::new();
    let mut reads = Vec::new();
    for i in 0..40 {
        match i % 4 {
            0 => writes.push(p.write_async()?),
            1 => reads.push(p.read_async()?),
            2 => writes.push(p.write_sync()?),
            _ => reads.push(p.read_sync()?),
        }
    }
    // Each write ran alone and saw every earlier one (with more than one
    // slot, the order calls take the state in is not their submission's).
    let mut counts = get_all_within(&writes)?;
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<u64>>());
    get_all_within(&reads)?;
    assert_eq!(overlap.max_writers.load(Ordering::SeqCst), 1);
    assert_eq!(overlap.violations.load(Ordering::SeqCst), 0);
    assert_eq!(p.read_sync()?.get_timeout(PATIENCE)?, 20);
    Ok(())
}

#[rustyray::test]
fn a_call_blocked_at_an_await_leaves_the_other_slots_serving() -> Result<()> {
    let overlap = TestOverlap::with(Overlap::new(1));
    let p = Probe::options().max_concurrency(2).remote(overlap.key)?;
    let blocked = p.blocked()?;
    // The second slot serves the rest while call 1 waits.
    let rest: Vec<ObjectRef<u64>> = (0..20).map(|_| p.read_async()).collect::<Result<_>>()?;
    assert_eq!(get_all_within(&rest)?, vec![0; 20]);
    assert_eq!(overlap.max(), 1, "call 1 is blocked outside `enter`");
    overlap.open();
    assert_eq!(blocked.get_timeout(PATIENCE)?, 0);
    Ok(())
}
