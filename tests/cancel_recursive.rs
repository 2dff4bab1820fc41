//! `cancel` is recursive, as in Ray: the tasks and actor calls a cancelled
//! task submitted (and theirs) are cancelled too, and so are those it
//! submits afterwards; actors it created live on. `cancel_with(..,
//! CancelOptions::default().recursive(false))` cancels the one task.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{get, lock, Count, Keyed, Registry, TestState};
use rustyray::{CancelOptions, Config, Error, ObjectRef};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// What one test's tasks report: the refs they made, and a gate.
#[derive(Default)]
struct Probe {
    gate: Count,
    started: Count,
    /// Refs the tasks submitted, in order.
    made: Count,
    refs: Mutex<Vec<ObjectRef<u32>>>,
    worker: Mutex<Option<WorkerHandle>>,
}

static PROBES: Registry<Probe> = Registry::new();

impl Keyed for Probe {
    fn registry() -> &'static Registry<Probe> {
        &PROBES
    }

    fn release(&self) {
        self.gate.incr();
    }
}

impl Probe {
    fn record(&self, r: ObjectRef<u32>) {
        lock(&self.refs).push(r);
        self.made.incr();
    }

    fn refs(&self) -> Vec<ObjectRef<u32>> {
        lock(&self.refs).clone()
    }
}

fn probe(key: u64) -> Arc<Probe> {
    PROBES.get(key)
}

/// Never ends by itself.
#[rustyray::remote(num_cpus = 0)]
async fn forever() -> u32 {
    std::future::pending::<u32>().await
}

/// Returns 5 once the gate opens (blocking on the probe, holding no CPU).
#[rustyray::remote(num_cpus = 0)]
fn gated(key: u64) -> u32 {
    assert!(probe(key).gate.wait_for(1), "the gate never opened");
    5
}

/// Blocks until its task is cancelled (or the gate opens).
fn until_cancelled(key: u64) {
    probe(key)
        .gate
        .wait_for_or(1, || rustyray::context().is_cancelled());
}

/// Submits `forever`, records it, waits to be cancelled.
#[rustyray::remote(num_cpus = 0)]
fn parent(key: u64) -> u32 {
    probe(key).record(forever::remote().unwrap());
    until_cancelled(key);
    1
}

/// Submits `parent` (which submits `forever`), records it, waits.
#[rustyray::remote(num_cpus = 0)]
fn grandparent(key: u64) -> u32 {
    probe(key).record(parent::remote(key).unwrap());
    until_cancelled(key);
    2
}

/// Submits `gated`, records it, waits to be cancelled.
#[rustyray::remote(num_cpus = 0)]
fn parent_of_gated(key: u64) -> u32 {
    probe(key).record(gated::remote(key).unwrap());
    until_cancelled(key);
    3
}

/// Waits to be cancelled, then submits `forever`.
#[rustyray::remote(num_cpus = 0)]
fn submits_after_cancel(key: u64) -> u32 {
    probe(key).started.incr();
    until_cancelled(key);
    probe(key).record(forever::remote().unwrap());
    4
}

#[rustyray::actor]
struct Worker {
    key: u64,
}

#[rustyray::actor]
impl Worker {
    fn new(key: u64) -> Self {
        Worker { key }
    }

    fn hold(&self) -> u32 {
        assert!(probe(self.key).gate.wait_for(1), "the gate never opened");
        6
    }

    fn ping(&self) -> u32 {
        7
    }
}

/// Calls the worker twice (the second call queues behind the first), then
/// waits to be cancelled.
#[rustyray::remote(num_cpus = 0)]
fn calls_actor(key: u64, worker: WorkerHandle) -> u32 {
    let p = probe(key);
    p.record(worker.hold().unwrap());
    p.record(worker.ping().unwrap());
    until_cancelled(key);
    8
}

/// Creates an actor and keeps its handle in the probe, then waits.
#[rustyray::remote(num_cpus = 0)]
fn creates_actor(key: u64) -> u32 {
    let worker = Worker::remote(key).unwrap();
    assert_eq!(worker.ping().unwrap().get().unwrap(), 7);
    *lock(&probe(key).worker) = Some(worker);
    probe(key).made.incr();
    until_cancelled(key);
    9
}

fn cancelled<T: std::fmt::Debug>(outcome: rustyray::Result<T>) -> bool {
    match outcome {
        Err(Error::Cancelled { .. }) => true,
        other => panic!("expected Cancelled, got {other:?}"),
    }
}

fn init() -> rustyray::RuntimeGuard {
    rustyray::init(Config::default().num_cpus(2)).unwrap()
}

#[test]
fn cancelling_a_task_cancels_the_task_it_submitted() {
    let _rt = init();
    let p = TestState::<Probe>::new();
    let r = parent::remote(p.key).unwrap();
    assert!(p.made.wait_for(1));
    rustyray::cancel(&r).unwrap();
    assert!(cancelled(get(&r)));
    assert!(cancelled(get(&p.refs()[0])));
}

#[test]
fn cancelling_reaches_grandchildren() {
    let _rt = init();
    let p = TestState::<Probe>::new();
    let r = grandparent::remote(p.key).unwrap();
    assert!(p.made.wait_for(2));
    rustyray::cancel(&r).unwrap();
    assert!(cancelled(get(&r)));
    let refs = p.refs();
    assert_eq!(refs.len(), 2);
    assert!(cancelled(get(&refs[0]))); // parent
    assert!(cancelled(get(&refs[1]))); // forever
}

#[test]
fn a_non_recursive_cancel_leaves_the_children_running() {
    let _rt = init();
    let p = TestState::<Probe>::new();
    let r = parent_of_gated::remote(p.key).unwrap();
    assert!(p.made.wait_for(1));
    rustyray::cancel_with(&r, CancelOptions::default().recursive(false)).unwrap();
    assert!(cancelled(get(&r)));
    let child = &p.refs()[0];
    assert!(matches!(
        child.get_timeout(Duration::from_millis(50)),
        Err(Error::Timeout { .. })
    ));
    p.gate.incr();
    assert_eq!(get(child).unwrap(), 5);
}

#[test]
fn tasks_submitted_after_a_recursive_cancel_are_cancelled_at_once() {
    let _rt = init();
    let p = TestState::<Probe>::new();
    let r = submits_after_cancel::remote(p.key).unwrap();
    assert!(p.started.wait_for(1));
    rustyray::cancel(&r).unwrap();
    assert!(cancelled(get(&r)));
    assert!(p.made.wait_for(1));
    assert!(cancelled(get(&p.refs()[0])));
}

#[test]
fn cancelling_a_task_cancels_its_actor_calls_and_the_actor_lives_on() {
    let _rt = init();
    let p = TestState::<Probe>::new();
    let worker = Worker::remote(p.key).unwrap();
    let r = calls_actor::remote(p.key, worker.clone()).unwrap();
    assert!(p.made.wait_for(2));
    rustyray::cancel(&r).unwrap();
    assert!(cancelled(get(&r)));
    let refs = p.refs();
    assert!(cancelled(get(&refs[0]))); // running `hold`
    assert!(cancelled(get(&refs[1]))); // queued `ping`
    p.gate.incr();
    assert_eq!(get(&worker.ping().unwrap()).unwrap(), 7);
}

#[test]
fn actors_a_cancelled_task_created_live_on() {
    let _rt = init();
    let p = TestState::<Probe>::new();
    let r = creates_actor::remote(p.key).unwrap();
    assert!(p.made.wait_for(1));
    rustyray::cancel(&r).unwrap();
    assert!(cancelled(get(&r)));
    let worker = lock(&p.worker).take().expect("the task kept the handle");
    assert_eq!(get(&worker.ping().unwrap()).unwrap(), 7);
}

/// Waits to be cancelled, then calls the worker.
#[rustyray::remote(num_cpus = 0)]
fn calls_after_cancel(key: u64, worker: WorkerHandle) -> u32 {
    probe(key).started.incr();
    until_cancelled(key);
    probe(key).record(worker.ping().unwrap());
    10
}

#[test]
fn actor_calls_made_after_a_recursive_cancel_are_cancelled_and_later_calls_run() {
    let _rt = init();
    let p = TestState::<Probe>::new();
    let worker = Worker::remote(p.key).unwrap();
    let r = calls_after_cancel::remote(p.key, worker.clone()).unwrap();
    assert!(p.started.wait_for(1));
    rustyray::cancel(&r).unwrap();
    assert!(cancelled(get(&r)));
    assert!(p.made.wait_for(1));
    assert!(cancelled(get(&p.refs()[0])));
    assert_eq!(get(&worker.ping().unwrap()).unwrap(), 7);
}
