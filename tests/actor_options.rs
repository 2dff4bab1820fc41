//! Actor class options on the `impl` (`#[rustyray::actor(max_restarts = ..,
//! max_concurrency = .., num_cpus = ..)]`) as defaults that `options()`
//! overrides; per-method `#[method(max_retries = .., retry_exceptions =
//! ..)]`; the default `max_concurrency` (1000 with an async method, 1
//! without) and a sync actor's threads bounded by it.
//!
//! Overlap is measured inside the methods (calls inside now, the most ever)
//! and calls are held inside by rendezvous bounded by [`PATIENCE`].

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{died, get, get_all_within, lock, Keyed, Registry, TestState};
use rustyray::{Config, Error, Result};

const PATIENCE: Duration = Duration::from_secs(20);

/// What one test's actor reports: calls inside, the most at once, the
/// threads that ran them, calls that arrived.
#[derive(Default)]
struct Overlap {
    inside: AtomicUsize,
    max_inside: AtomicUsize,
    arrived: AtomicUsize,
    threads: Mutex<HashSet<std::thread::ThreadId>>,
    failures_left: AtomicUsize,
}

impl Overlap {
    fn enter(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_inside.fetch_max(now, Ordering::SeqCst);
        lock(&self.threads).insert(std::thread::current().id());
    }

    fn exit(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn max(&self) -> usize {
        self.max_inside.load(Ordering::SeqCst)
    }

    /// Spins until `target` calls have arrived; `false` after [`PATIENCE`].
    fn meet(&self, target: usize) -> bool {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if self.arrived.load(Ordering::SeqCst) >= target {
                return true;
            }
            std::thread::yield_now();
        }
        false
    }
}

static OVERLAPS: Registry<Overlap> = Registry::new();

impl Keyed for Overlap {
    fn registry() -> &'static Registry<Overlap> {
        &OVERLAPS
    }

    fn release(&self) {
        self.arrived.store(usize::MAX / 2, Ordering::SeqCst);
    }
}

/// A sync actor whose class allows 4 calls at once and one restart.
#[rustyray::actor]
struct Pool {
    overlap: Arc<Overlap>,
}

#[rustyray::actor(max_concurrency = 4, max_restarts = 1, num_cpus = 1)]
impl Pool {
    fn new(key: u64) -> Self {
        Pool {
            overlap: OVERLAPS.get(key),
        }
    }

    /// Inside until `target` calls have arrived, or `hold` calls are inside.
    fn meet(&self, target: usize) -> bool {
        self.overlap.enter();
        let met = self.overlap.meet(target);
        self.overlap.exit();
        met
    }

    fn crash(&self) {
        panic!("boom");
    }

    fn restarted(&self) -> bool {
        rustyray::context().was_restarted()
    }

    fn resources(&self) -> HashMap<String, f64> {
        rustyray::context().assigned_resources()
    }

    /// Fails with `Err` while failures are left; retried by its settings.
    #[method(max_retries = 2, retry_exceptions = true)]
    fn flaky(&self) -> std::result::Result<u32, String> {
        if self.overlap.failures_left.load(Ordering::SeqCst) > 0 {
            self.overlap.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err("not yet".to_string());
        }
        Ok(rustyray::context().attempt())
    }

    /// The same, without retries of `Err`.
    fn flaky_once(&self) -> std::result::Result<u32, String> {
        if self.overlap.failures_left.load(Ordering::SeqCst) > 0 {
            self.overlap.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err("not yet".to_string());
        }
        Ok(rustyray::context().attempt())
    }
}

/// A sync-only actor without class options.
#[rustyray::actor]
struct Plain {
    overlap: Arc<Overlap>,
}

#[rustyray::actor]
impl Plain {
    fn new(key: u64) -> Self {
        Plain {
            overlap: OVERLAPS.get(key),
        }
    }

    fn step(&self) -> usize {
        self.overlap.enter();
        for _ in 0..50 {
            std::thread::yield_now();
        }
        self.overlap.exit();
        self.overlap.max()
    }

    fn meet(&self, target: usize) -> bool {
        self.overlap.enter();
        let met = self.overlap.meet(target);
        self.overlap.exit();
        met
    }
}

/// An actor with one async method: 1000 calls at once by default.
#[rustyray::actor]
struct Gather {
    barrier: Arc<tokio::sync::Barrier>,
    overlap: Arc<Overlap>,
}

#[rustyray::actor]
impl Gather {
    fn new(parties: usize, key: u64) -> Self {
        Gather {
            barrier: Arc::new(tokio::sync::Barrier::new(parties)),
            overlap: OVERLAPS.get(key),
        }
    }

    async fn wait(&self) -> bool {
        tokio::time::timeout(PATIENCE, self.barrier.wait())
            .await
            .is_ok()
    }

    /// Inside until `target` calls have arrived (yielding to the others).
    async fn meet(&self, target: usize) -> bool {
        self.overlap.enter();
        self.overlap.arrived.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + PATIENCE;
        let mut met = false;
        while Instant::now() < deadline {
            if self.overlap.arrived.load(Ordering::SeqCst) >= target {
                met = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        self.overlap.exit();
        met
    }

    fn sync_noop(&self) -> u8 {
        7
    }
}

#[test]
fn class_max_concurrency_runs_that_many_calls_at_once() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let overlap = TestState::<Overlap>::new();
    let pool = Pool::remote(overlap.key)?;
    let calls = (0..8).map(|_| pool.meet(4)).collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&calls)?, vec![true; 8]);
    assert_eq!(overlap.max(), 4);
    Ok(())
}

#[test]
fn options_override_the_class_max_concurrency() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let overlap = TestState::<Overlap>::new();
    let pool = Pool::options().max_concurrency(2).remote(overlap.key)?;
    let calls = (0..6).map(|_| pool.meet(2)).collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&calls)?, vec![true; 6]);
    assert_eq!(overlap.max(), 2);
    Ok(())
}

#[test]
fn a_sync_actor_with_max_concurrency_n_uses_at_most_n_threads_at_once() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let overlap = TestState::<Overlap>::new();
    let plain = Plain::options().max_concurrency(3).remote(overlap.key)?;
    let calls = (0..9).map(|_| plain.meet(3)).collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&calls)?, vec![true; 9]);
    assert_eq!(overlap.max(), 3);
    assert!(lock(&overlap.threads).len() >= 3);
    Ok(())
}

#[test]
fn a_sync_only_actor_runs_one_call_at_a_time_by_default() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(4))?;
    let overlap = TestState::<Overlap>::new();
    let plain = Plain::remote(overlap.key)?;
    let calls = (0..20).map(|_| plain.step()).collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&calls)?, vec![1; 20]);
    Ok(())
}

#[test]
fn an_actor_with_an_async_method_runs_many_calls_at_once_by_default() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let overlap = TestState::<Overlap>::new();
    let gather = Gather::remote(200, overlap.key)?;
    let calls = (0..200)
        .map(|_| gather.wait())
        .collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&calls)?, vec![true; 200]);
    assert_eq!(get(&gather.sync_noop()?)?, 7);
    Ok(())
}

#[test]
fn options_override_the_async_default() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let overlap = TestState::<Overlap>::new();
    let gather = Gather::options()
        .max_concurrency(3)
        .remote(0, overlap.key)?;
    let calls = (0..12)
        .map(|_| gather.meet(3))
        .collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&calls)?, vec![true; 12]);
    assert_eq!(overlap.max(), 3);
    Ok(())
}

#[test]
fn class_max_restarts_restarts_and_options_override_it() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let overlap = TestState::<Overlap>::new();
    let pool = Pool::remote(overlap.key)?;
    assert!(get(&pool.crash()?).is_err());
    assert!(get(&pool.restarted()?)?);

    let fragile = Pool::options().max_restarts(0).remote(overlap.key)?;
    assert!(get(&fragile.crash()?).is_err());
    let cause = died(get(&fragile.restarted()?));
    assert!(cause.contains("no restarts left"), "{cause}");
    Ok(())
}

#[test]
fn class_num_cpus_is_held_and_assigned() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let overlap = TestState::<Overlap>::new();
    let pool = Pool::remote(overlap.key)?;
    let expected = HashMap::from([("CPU".to_string(), 1.0)]);
    assert_eq!(get(&pool.resources()?)?, expected);
    let light = Pool::options().num_cpus(0.5).remote(overlap.key)?;
    let expected = HashMap::from([("CPU".to_string(), 0.5)]);
    assert_eq!(get(&light.resources()?)?, expected);
    Ok(())
}

#[test]
fn method_retry_exceptions_retries_errors_up_to_max_retries() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let overlap = TestState::<Overlap>::new();
    let pool = Pool::remote(overlap.key)?;
    overlap.failures_left.store(2, Ordering::SeqCst);
    assert_eq!(get(&pool.flaky()?)?, 2);

    overlap.failures_left.store(3, Ordering::SeqCst);
    match get(&pool.flaky()?) {
        Err(Error::TaskFailed { message, .. }) => assert_eq!(message, "not yet"),
        other => panic!("expected TaskFailed, got {other:?}"),
    }

    overlap.failures_left.store(1, Ordering::SeqCst);
    assert!(matches!(
        get(&pool.flaky_once()?),
        Err(Error::TaskFailed { .. })
    ));
    assert_eq!(get(&pool.flaky_once()?)?, 0);
    Ok(())
}
