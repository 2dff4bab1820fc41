//! Concurrency groups: each group is a lane with its own limit; a call
//! waiting in one group never holds up another group or the default one.
//! `#[method(concurrency_group = "..")]` puts a method in a group, the
//! class declares the groups (`concurrency_groups(io = 2, ..)`), and
//! `options().concurrency_group(name, n)` changes or adds one.
//!
//! Calls are held inside by gates the test opens; every wait is bounded
//! by [`PATIENCE`].

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{get, get_all_within, lock, Count, Keyed, Registry, TestState};
use rustyray::{Config, Error, Result};

const PATIENCE: Duration = Duration::from_secs(20);

/// One test's lanes: per group, calls inside now and the most at once; a
/// gate that holds `compute` calls; who ran in which order.
#[derive(Default)]
struct Lanes {
    inside: Mutex<HashMap<&'static str, (usize, usize)>>,
    arrived: AtomicUsize,
    gate: Count,
    entered: Count,
    log: Mutex<Vec<String>>,
}

impl Lanes {
    fn enter(&self, group: &'static str) {
        let mut inside = lock(&self.inside);
        let (now, max) = inside.entry(group).or_default();
        *now += 1;
        *max = (*max).max(*now);
    }

    fn exit(&self, group: &'static str) {
        lock(&self.inside).entry(group).or_default().0 -= 1;
    }

    fn max(&self, group: &'static str) -> usize {
        lock(&self.inside).get(group).map_or(0, |&(_, max)| max)
    }
}

static LANES: Registry<Lanes> = Registry::new();

impl Keyed for Lanes {
    fn registry() -> &'static Registry<Lanes> {
        &LANES
    }

    fn release(&self) {
        self.gate.incr();
        self.arrived.store(usize::MAX / 2, Ordering::SeqCst);
    }
}

#[rustyray::actor]
struct Worker {
    lanes: Arc<Lanes>,
}

#[rustyray::actor(concurrency_groups(io = 2, compute = 1))]
impl Worker {
    fn new(key: u64) -> Self {
        Worker {
            lanes: LANES.get(key),
        }
    }

    /// Held until `target` io calls have arrived.
    #[method(concurrency_group = "io")]
    fn fetch(&self, i: u32, target: usize) -> bool {
        self.lanes.enter("io");
        self.lanes.arrived.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + PATIENCE;
        let mut met = false;
        while Instant::now() < deadline {
            if self.lanes.arrived.load(Ordering::SeqCst) >= target {
                met = true;
                break;
            }
            std::thread::yield_now();
        }
        lock(&self.lanes.log).push(format!("io {i}"));
        self.lanes.exit("io");
        met
    }

    /// Held until the test opens the gate.
    #[method(concurrency_group = "compute")]
    fn crunch(&self, i: u32) -> bool {
        self.lanes.enter("compute");
        self.lanes.entered.incr();
        let opened = self.lanes.gate.wait_for(1);
        lock(&self.lanes.log).push(format!("compute {i}"));
        self.lanes.exit("compute");
        opened
    }

    fn ping(&self, i: u32) -> u32 {
        lock(&self.lanes.log).push(format!("default {i}"));
        i
    }
}

#[test]
fn a_call_waiting_in_one_group_never_blocks_another() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let lanes = TestState::<Lanes>::new();
    let worker = Worker::remote(lanes.key)?;
    // compute holds one call at the gate; two more wait in its lane.
    let crunches = (0..3)
        .map(|i| worker.crunch(i))
        .collect::<Result<Vec<_>>>()?;
    assert!(lanes.entered.wait_for(1));
    // io and the default lane run meanwhile.
    let fetches = (0..4)
        .map(|i| worker.fetch(i, 2))
        .collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&fetches)?, vec![true; 4]);
    let pings = (0..3).map(|i| worker.ping(i)).collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&pings)?, vec![0, 1, 2]);
    assert_eq!(lanes.entered.get(), 1);
    let log = lock(&lanes.log).clone();
    assert!(!log.iter().any(|l| l.starts_with("compute")), "{log:?}");

    lanes.gate.incr();
    assert_eq!(get_all_within(&crunches)?, vec![true; 3]);
    assert_eq!(lanes.max("io"), 2);
    assert_eq!(lanes.max("compute"), 1);
    // Each lane starts its calls in submission order.
    let log = lock(&lanes.log).clone();
    let compute: Vec<&String> = log.iter().filter(|l| l.starts_with("compute")).collect();
    assert_eq!(compute, ["compute 0", "compute 1", "compute 2"]);
    let default: Vec<&String> = log.iter().filter(|l| l.starts_with("default")).collect();
    assert_eq!(default, ["default 0", "default 1", "default 2"]);
    Ok(())
}

#[test]
fn options_change_a_group_limit() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let lanes = TestState::<Lanes>::new();
    let worker = Worker::options()
        .concurrency_group("io", 4)
        .remote(lanes.key)?;
    let fetches = (0..8)
        .map(|i| worker.fetch(i, 4))
        .collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&fetches)?, vec![true; 8]);
    assert_eq!(lanes.max("io"), 4);
    Ok(())
}

/// An actor without groups whose method names one.
#[rustyray::actor]
struct Lost;

#[rustyray::actor]
impl Lost {
    fn new() -> Self {
        Lost
    }

    #[method(concurrency_group = "io")]
    fn fetch(&self) -> u8 {
        1
    }
}

#[test]
fn a_call_in_an_undeclared_group_is_refused_unless_options_declare_it() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let lost = Lost::remote()?;
    match lost.fetch() {
        Err(Error::InvalidConfig { field, reason }) => {
            assert_eq!(field, "concurrency_group");
            assert!(
                reason.contains("`Lost.fetch` runs in the concurrency group `io`"),
                "{reason}"
            );
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    let found = Lost::options().concurrency_group("io", 1).remote()?;
    assert_eq!(get(&found.fetch()?)?, 1);
    Ok(())
}

/// An async actor with groups: an `.await` held in one group leaves the
/// other serving.
#[rustyray::actor]
struct Service {
    lanes: Arc<Lanes>,
}

#[rustyray::actor(concurrency_groups(slow = 1, fast = 1))]
impl Service {
    fn new(key: u64) -> Self {
        Service {
            lanes: LANES.get(key),
        }
    }

    #[method(concurrency_group = "slow")]
    async fn slow(&self) -> bool {
        self.lanes.entered.incr();
        tokio::time::timeout(PATIENCE, self.lanes.gate.reached(1))
            .await
            .is_ok()
    }

    /// Computes without an `.await` until the test opens the gate.
    #[method(concurrency_group = "slow")]
    async fn spin(&self) -> bool {
        self.lanes.entered.incr();
        let deadline = Instant::now() + PATIENCE;
        while self.lanes.gate.get() == 0 {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }

    #[method(concurrency_group = "fast")]
    async fn fast(&self, i: u32) -> u32 {
        i * 10
    }

    async fn default_lane(&self, i: u32) -> u32 {
        i + 1
    }
}

/// Calls of the `fast` group and of the default one, each answered.
fn the_fast_and_default_groups_serve(service: &ServiceHandle) -> Result<()> {
    let fast = (0..5)
        .map(|i| service.fast(i))
        .collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&fast)?, vec![0, 10, 20, 30, 40]);
    let default = (0..3)
        .map(|i| service.default_lane(i))
        .collect::<Result<Vec<_>>>()?;
    assert_eq!(get_all_within(&default)?, vec![1, 2, 3]);
    Ok(())
}

#[test]
fn an_async_call_awaiting_in_one_group_leaves_the_others_serving() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let lanes = TestState::<Lanes>::new();
    let service = Service::remote(lanes.key)?;
    let slow = (0..2).map(|_| service.slow()).collect::<Result<Vec<_>>>()?;
    assert!(lanes.entered.wait_for(1));
    the_fast_and_default_groups_serve(&service)?;
    // The slow lane holds one call at a time: the second has not entered.
    assert_eq!(lanes.entered.get(), 1);
    lanes.gate.incr();
    assert_eq!(get_all_within(&slow)?, vec![true, true]);
    assert_eq!(lanes.entered.get(), 2);
    Ok(())
}

/// A group's async calls are polled one after another (as Ray runs each
/// group on an event loop of its own): a call that computes without
/// awaiting holds up its own group only. (On an executor of two threads
/// whatever the machine's cores: the computing call holds one.)
#[test]
fn an_async_call_computing_in_one_group_leaves_the_others_serving() -> Result<()> {
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime of two threads");
    let _rt = rustyray::init(
        Config::default()
            .num_cpus(2)
            .tokio_handle(executor.handle().clone()),
    )?;
    let lanes = TestState::<Lanes>::new();
    let service = Service::remote(lanes.key)?;
    let spinning = service.spin()?;
    assert!(lanes.entered.wait_for(1));
    the_fast_and_default_groups_serve(&service)?;
    // The spinning call saw the gate open: it was still computing while
    // the other groups served.
    lanes.gate.incr();
    assert!(spinning.get_timeout(PATIENCE)?);
    Ok(())
}
