//! `cancel`, `wait` and `get_timeout` on task refs.
//!
//! Cancel: a pending task never runs, a running async task's future is
//! dropped, a running sync task sees `is_cancelled`, a finished task keeps
//! its value, and a cancelled task is not retried. Wait: `(ready, pending)`
//! in input order, at most `num_ready` ready, the timeout honoured.
//!
//! Tasks are held back by gates their test opens: each task reaches its
//! test's probe (`common::probe`) through a key argument (task arguments must be
//! objects). Every wait on a condition gives up after [`PATIENCE`], so a
//! bug fails the test instead of hanging it.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::probe::{probe, DropSignal, TestProbe};
use common::{lock, run_in_child_process};
use rustyray::{Config, Error, ObjectRef, Result};

/// How long a task or the test waits for a condition before giving up.
const PATIENCE: Duration = Duration::from_secs(10);

#[rustyray::remote]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

/// Returns `value` once the gate of `key` opens (a sync task, blocking its
/// worker thread meanwhile).
#[rustyray::remote]
fn gated(key: u64, value: u32) -> u32 {
    let p = probe(key);
    p.started.incr();
    assert!(p.gate.wait_for(1), "gate {key} never opened");
    p.finished.incr();
    value
}

/// Returns `value` once the gate of `key` opens (awaiting it).
#[rustyray::remote(num_cpus = 0)]
async fn gated_async(key: u64, value: u32) -> u32 {
    let p = probe(key);
    p.started.incr();
    p.gate.reached(1).await;
    p.finished.incr();
    value
}

/// Counts its runs in `key`'s probe.
#[rustyray::remote]
fn counted(key: u64, x: u32) -> u32 {
    probe(key).started.incr();
    x
}

/// Awaits a future that never completes.
#[rustyray::remote]
async fn hang_forever(key: u64) -> u32 {
    let p = probe(key);
    let _signal = DropSignal(Arc::clone(&p));
    p.started.incr();
    std::future::pending::<()>().await;
    unreachable!("pending() completed")
}

/// Spins until it sees `is_cancelled()` (bounded by [`PATIENCE`]).
#[rustyray::remote]
fn spin_until_cancelled(key: u64) -> u32 {
    let p = probe(key);
    p.started.incr();
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if rustyray::context().is_cancelled() {
            p.saw_cancel.incr();
            return 1;
        }
        std::thread::yield_now();
    }
    0
}

/// Records its attempt, waits to be cancelled, then fails (retryable).
#[rustyray::remote(max_retries = 3, retry_exceptions = true)]
fn fail_once_cancelled(key: u64) -> std::result::Result<u32, String> {
    let p = probe(key);
    lock(&p.attempts).push(rustyray::context().attempt());
    p.started.incr();
    let deadline = Instant::now() + PATIENCE;
    while !rustyray::context().is_cancelled() && Instant::now() < deadline {
        std::thread::yield_now();
    }
    Err("stopped".to_string())
}

/// Records its attempt and awaits forever (until dropped).
#[rustyray::remote(max_retries = 3, retry_exceptions = true)]
async fn hang_with_retries(key: u64) -> std::result::Result<u32, String> {
    let p = probe(key);
    lock(&p.attempts).push(rustyray::context().attempt());
    let _signal = DropSignal(Arc::clone(&p));
    p.started.incr();
    std::future::pending::<()>().await;
    Err("unreachable".to_string())
}

fn assert_cancelled<T: rustyray::Object + std::fmt::Debug>(r: &ObjectRef<T>, name: &str) {
    match rustyray::get(r) {
        Err(Error::Cancelled { task }) => assert_eq!(task, name),
        other => panic!("expected Error::Cancelled for `{name}`, got {other:?}"),
    }
}

// ---- cancel ----

#[rustyray::test(num_cpus = 1)]
fn cancelled_pending_task_never_runs() -> Result<()> {
    let gate = TestProbe::new();
    let runs = TestProbe::new();
    let dep = gated_async::remote(gate.key, 5)?;
    let doomed = counted::remote(runs.key, &dep)?;
    // Registered on `dep` after `doomed`: by the time it has run, `doomed`
    // has had its chance (same queue, one CPU).
    let sentinel = add::remote(&dep, 1)?;

    rustyray::cancel(&doomed)?;
    assert_cancelled(&doomed, "task_cancel_wait::counted");

    gate.open();
    assert_eq!(rustyray::get(&dep)?, 5);
    assert_eq!(rustyray::get(&sentinel)?, 6);
    assert_eq!(runs.started.get(), 0);
    assert_cancelled(&doomed, "task_cancel_wait::counted");
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn cancelled_queued_task_never_runs() -> Result<()> {
    // Queued for the only CPU, held by `holder`.
    let gate = TestProbe::new();
    let runs = TestProbe::new();
    let holder = gated::remote(gate.key, 1)?;
    assert!(gate.started.wait_for(1), "the holder never started");
    let doomed = counted::remote(runs.key, 2)?;
    let sentinel = add::remote(3, 4)?;

    rustyray::cancel(&doomed)?;
    assert_cancelled(&doomed, "task_cancel_wait::counted");
    gate.open();
    assert_eq!(rustyray::get(&holder)?, 1);
    assert_eq!(rustyray::get(&sentinel)?, 7);
    assert_eq!(runs.started.get(), 0);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn cancelled_running_async_task_drops_its_future() -> Result<()> {
    let p = TestProbe::new();
    let r = hang_forever::remote(p.key)?;
    assert!(p.started.wait_for(1), "the task never started");
    assert_eq!(p.dropped.get(), 0);

    rustyray::cancel(&r)?;
    assert_cancelled(&r, "task_cancel_wait::hang_forever");
    assert!(p.dropped.wait_for(1), "the future was never dropped");
    assert_eq!(p.started.get(), 1);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn cancelled_running_sync_task_sees_is_cancelled() -> Result<()> {
    let p = TestProbe::new();
    let r = spin_until_cancelled::remote(p.key)?;
    assert!(p.started.wait_for(1), "the task never started");

    rustyray::cancel(&r)?;
    assert_cancelled(&r, "task_cancel_wait::spin_until_cancelled");
    assert!(
        p.saw_cancel.wait_for(1),
        "the task never saw is_cancelled()"
    );
    // Its return value, after the cancel, does not replace the error.
    assert_cancelled(&r, "task_cancel_wait::spin_until_cancelled");
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn cancelling_a_finished_task_changes_nothing() -> Result<()> {
    let r = add::remote(20, 22)?;
    assert_eq!(rustyray::get(&r)?, 42);
    rustyray::cancel(&r)?;
    assert_eq!(rustyray::get(&r)?, 42);

    let put = rustyray::put(7u32)?;
    rustyray::cancel(&put)?;
    assert_eq!(rustyray::get(&put)?, 7);
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn cancelled_sync_task_is_not_retried() -> Result<()> {
    let p = TestProbe::new();
    let r = fail_once_cancelled::remote(p.key)?;
    assert!(p.started.wait_for(1), "the task never started");
    // Queued for the one CPU: runs once `r` has finished, retries included.
    let after = add::remote(1, 1)?;

    rustyray::cancel(&r)?;
    assert_cancelled(&r, "task_cancel_wait::fail_once_cancelled");
    assert_eq!(rustyray::get(&after)?, 2);
    assert_eq!(*lock(&p.attempts), vec![0]);
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn cancelled_async_task_is_not_retried() -> Result<()> {
    let p = TestProbe::new();
    let r = hang_with_retries::remote(p.key)?;
    assert!(p.started.wait_for(1), "the task never started");
    let after = add::remote(1, 1)?;

    rustyray::cancel(&r)?;
    assert_cancelled(&r, "task_cancel_wait::hang_with_retries");
    assert!(p.dropped.wait_for(1), "the future was never dropped");
    assert_eq!(rustyray::get(&after)?, 2);
    assert_eq!(*lock(&p.attempts), vec![0]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn cancelling_a_dependency_fails_its_dependents() -> Result<()> {
    let gate = TestProbe::new();
    let runs = TestProbe::new();
    let dep = gated_async::remote(gate.key, 1)?;
    let dependent = counted::remote(runs.key, &dep)?;
    rustyray::cancel(&dep)?;
    assert_cancelled(&dep, "task_cancel_wait::gated_async");
    assert_cancelled(&dependent, "task_cancel_wait::gated_async");
    assert_eq!(runs.started.get(), 0);
    Ok(())
}

#[test]
fn cancelling_the_head_of_a_five_thousand_task_chain_cancels_the_end() -> Result<()> {
    if run_in_child_process("cancelling_the_head_of_a_five_thousand_task_chain_cancels_the_end") {
        return Ok(());
    }
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let gate = TestProbe::new();
    let head = gated_async::remote(gate.key, 0)?;
    let mut r = head.clone();
    for _ in 0..5_000 {
        r = add::remote(r, 1)?;
    }
    rustyray::cancel(&head)?;
    assert_cancelled(&r, "task_cancel_wait::gated_async");
    Ok(())
}

// ---- wait ----

/// Refs `[p0, r1, p2, r3, r4, p5]`: `r*` complete (1, 3, 4), `p*` held by
/// the gates of `probes` (0, 2, 5).
fn mixed_refs(probes: &[TestProbe; 3]) -> Result<Vec<ObjectRef<u32>>> {
    let refs = vec![
        gated_async::remote(probes[0].key, 0)?,
        add::remote(1, 0)?,
        gated_async::remote(probes[1].key, 2)?,
        add::remote(3, 0)?,
        add::remote(4, 0)?,
        gated_async::remote(probes[2].key, 5)?,
    ];
    for i in [1, 3, 4] {
        assert_eq!(rustyray::get(&refs[i])?, i as u32);
    }
    Ok(refs)
}

fn pick(refs: &[ObjectRef<u32>], indexes: &[usize]) -> Vec<ObjectRef<u32>> {
    indexes.iter().map(|&i| refs[i].clone()).collect()
}

#[rustyray::test(num_cpus = 2)]
fn wait_returns_the_first_ready_refs_in_input_order() -> Result<()> {
    let probes = [TestProbe::new(), TestProbe::new(), TestProbe::new()];
    let refs = mixed_refs(&probes)?;

    let (ready, pending) = rustyray::wait(&refs, 2, None)?;
    assert_eq!(ready, pick(&refs, &[1, 3]));
    assert_eq!(pending, pick(&refs, &[0, 2, 4, 5]));

    let (ready, pending) = rustyray::wait(&refs, 3, None)?;
    assert_eq!(ready, pick(&refs, &[1, 3, 4]));
    assert_eq!(pending, pick(&refs, &[0, 2, 5]));

    let (ready, pending) = rustyray::wait(&refs, 0, None)?;
    assert_eq!(ready, vec![]);
    assert_eq!(pending, refs);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn wait_blocks_until_enough_refs_are_ready() -> Result<()> {
    let probes = [TestProbe::new(), TestProbe::new(), TestProbe::new()];
    let refs = mixed_refs(&probes)?;
    let rt = rustyray::global()?;
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiting = refs.clone();
    let waiter = std::thread::spawn(move || {
        let _ = done_tx.send(rt.wait(&waiting, 4, None));
    });
    probes[1].open();
    let (ready, pending) = done_rx
        .recv_timeout(PATIENCE)
        .expect("wait did not return once four refs were ready")?;
    waiter.join().unwrap();
    assert_eq!(ready, pick(&refs, &[1, 2, 3, 4]));
    assert_eq!(pending, pick(&refs, &[0, 5]));
    assert_eq!(rustyray::get(&refs[2])?, 2);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn wait_with_a_timeout_returns_those_ready_by_then() -> Result<()> {
    let probes = [TestProbe::new(), TestProbe::new(), TestProbe::new()];
    let refs = mixed_refs(&probes)?;

    let (ready, pending) = rustyray::wait(&refs, 5, Some(Duration::from_millis(50)))?;
    assert_eq!(ready, pick(&refs, &[1, 3, 4]));
    assert_eq!(pending, pick(&refs, &[0, 2, 5]));

    let (ready, pending) = rustyray::wait(&refs, 6, Some(Duration::ZERO))?;
    assert_eq!(ready, pick(&refs, &[1, 3, 4]));
    assert_eq!(pending, pick(&refs, &[0, 2, 5]));

    // The gated tasks go on, and finish once released.
    for p in &probes {
        p.open();
    }
    assert_eq!(rustyray::get_all(&refs)?, vec![0, 1, 2, 3, 4, 5]);
    let (ready, pending) = rustyray::wait(&refs, 6, Some(Duration::from_millis(50)))?;
    assert_eq!(ready, refs);
    assert_eq!(pending, vec![]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn wait_clamps_num_ready_to_the_number_of_refs() -> Result<()> {
    let refs: Vec<ObjectRef<u32>> = (0..3).map(|i| add::remote(i, 10)).collect::<Result<_>>()?;
    let rt = rustyray::global()?;
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiting = refs.clone();
    let waiter = std::thread::spawn(move || {
        let _ = done_tx.send(rt.wait(&waiting, 10, None));
    });
    let (ready, pending) = done_rx
        .recv_timeout(PATIENCE)
        .expect("wait(num_ready > len) never returned")?;
    waiter.join().unwrap();
    assert_eq!(ready, refs);
    assert_eq!(pending, vec![]);

    let (ready, pending) = rustyray::wait::<u32>(&[], 3, None)?;
    assert_eq!((ready, pending), (vec![], vec![]));
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn wait_counts_failed_and_cancelled_refs_as_ready() -> Result<()> {
    let gate = TestProbe::new();
    let cancelled = gated_async::remote(gate.key, 1)?;
    rustyray::cancel(&cancelled)?;
    let failed = counted::remote(TestProbe::new().key, &cancelled)?;
    let still = gated_async::remote(gate.key, 2)?;
    let refs = vec![still.clone(), failed.clone(), cancelled.clone()];
    let (ready, pending) = rustyray::wait(&refs, 2, Some(PATIENCE))?;
    assert_eq!(ready, vec![failed, cancelled]);
    assert_eq!(pending, vec![still]);
    Ok(())
}

// ---- get_timeout ----

#[rustyray::test(num_cpus = 2)]
fn get_timeout_on_a_pending_task_times_out_and_the_task_goes_on() -> Result<()> {
    let p = TestProbe::new();
    let r = gated::remote(p.key, 99)?;
    assert!(p.started.wait_for(1), "the task never started");

    match rustyray::get_timeout(&r, Duration::from_millis(50)) {
        Err(Error::Timeout { timeout, .. }) => {
            assert_eq!(timeout, Duration::from_millis(50));
        }
        other => panic!("expected Error::Timeout, got {other:?}"),
    }
    assert!(matches!(
        r.get_timeout(Duration::ZERO),
        Err(Error::Timeout { .. })
    ));
    assert_eq!(p.finished.get(), 0);

    p.open();
    assert_eq!(rustyray::get(&r)?, 99);
    assert_eq!(p.finished.get(), 1);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn get_timeout_on_a_ready_ref_returns_its_value() -> Result<()> {
    let r = add::remote(2, 3)?;
    assert_eq!(rustyray::get(&r)?, 5);
    assert_eq!(rustyray::get_timeout(&r, Duration::ZERO)?, 5);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
async fn blocking_wait_inside_async_code_is_refused() -> Result<()> {
    let p = TestProbe::new();
    let r = gated_async::remote(p.key, 1)?;
    assert!(matches!(
        rustyray::wait(std::slice::from_ref(&r), 1, None),
        Err(Error::BlockingInAsync { call: "wait" })
    ));
    assert!(matches!(
        rustyray::get(&r),
        Err(Error::BlockingInAsync { call: "get" })
    ));
    p.open();
    assert_eq!(r.await?, 1);
    Ok(())
}

// ---- faults and races ----

/// Fails at once.
#[rustyray::remote(num_cpus = 0)]
fn refuse(reason: String) -> std::result::Result<u32, String> {
    Err(reason)
}

/// Ray's `get` of a list: the first failure ends the wait, wherever it is
/// in the list (the refs before it may be pending for ever).
#[rustyray::test(num_cpus = 2)]
fn get_all_fails_as_soon_as_any_ref_has_failed_whatever_its_position() -> Result<()> {
    let p = TestProbe::new();
    let pending = gated_async::remote(p.key, 1)?;
    let failed = refuse::remote("no way".to_string())?;
    for refs in [
        vec![pending.clone(), failed.clone()],
        vec![failed.clone(), pending.clone()],
    ] {
        match rustyray::get_all(&refs) {
            Err(Error::TaskFailed { task, message, .. }) => {
                assert_eq!(task, "task_cancel_wait::refuse");
                assert_eq!(message, "no way");
            }
            other => panic!("expected the failure of `refuse`, got {other:?}"),
        }
    }
    assert_eq!(p.finished.get(), 0, "the gated task is still pending");
    p.open();
    assert_eq!(rustyray::get(&pending)?, 1);
    Ok(())
}

#[rustyray::test]
fn wait_on_a_list_naming_a_ref_twice_is_an_invalid_argument() -> Result<()> {
    let a = rustyray::put(1u32)?;
    let b = rustyray::put(2u32)?;
    match rustyray::wait(&[a.clone(), b, a.clone()], 1, None) {
        Err(Error::InvalidArgument { call, reason }) => {
            assert_eq!(call, "wait");
            assert_eq!(
                reason,
                format!(
                    "{} appears more than once in the list; pass each ref once",
                    a.id()
                )
            );
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn timeouts_of_duration_max_mean_no_timeout() -> Result<()> {
    let p = TestProbe::new();
    let r = gated::remote(p.key, 5)?;
    let waiter = {
        let rt = rustyray::global()?;
        let r = r.clone();
        std::thread::spawn(move || {
            let _entered = rt.enter();
            let got = rustyray::get_timeout(&r, Duration::MAX);
            let waited = rustyray::wait(std::slice::from_ref(&r), 1, Some(Duration::MAX));
            (got, waited.map(|(ready, _)| ready.len()))
        })
    };
    assert!(p.started.wait_for(1));
    p.open();
    let (got, ready) = waiter.join().expect("the waiting thread does not panic");
    assert_eq!(got?, 5);
    assert_eq!(ready?, 1);
    Ok(())
}

/// Nothing here needs a CPU, so dependencies complete on one thread while
/// `cancel` runs on another: the race between resolving a call's argument
/// and cancelling it must leave the actor's books straight.
#[rustyray::actor]
struct Tally {
    n: u64,
    _dropped: DropSignal,
}

#[rustyray::actor]
impl Tally {
    fn new(key: u64) -> Self {
        Tally {
            n: 0,
            _dropped: DropSignal(probe(key)),
        }
    }

    fn add(&mut self, x: u32) -> u64 {
        self.n += u64::from(x);
        self.n
    }

    fn total(&self) -> u64 {
        self.n
    }
}

#[rustyray::remote(num_cpus = 0)]
fn one(x: u32) -> u32 {
    x
}

#[rustyray::test(num_cpus = 2)]
fn cancel_racing_with_dependency_resolution_keeps_the_actors_books_straight() -> Result<()> {
    const CALLS: u64 = 2_000;
    let p = TestProbe::new();
    let tally = Tally::remote(p.key)?;
    let mut returned = 0;
    for _ in 0..CALLS {
        let arg = one::remote(1)?;
        let call = tally.add(&arg)?;
        rustyray::cancel(&call)?;
        match rustyray::get_timeout(&call, PATIENCE) {
            Ok(_) => returned += 1,
            // Cancelled before it ran, or while it ran (then it added).
            Err(Error::Cancelled { task }) => assert_eq!(task, "Tally.add"),
            Err(other) => panic!("expected a sum or Cancelled, got {other:?}"),
        }
    }
    let total = rustyray::get_timeout(&tally.total()?, PATIENCE)?;
    assert!(
        (returned..=CALLS).contains(&total),
        "{total} additions for {returned} returned calls of {CALLS}"
    );
    assert_eq!(rustyray::get_timeout(&tally.add(0)?, PATIENCE)?, total);
    // Every call left the actor's books exactly once: with its last handle
    // gone and no call unfinished, the actor stops.
    drop(tally);
    assert!(p.dropped.wait_for(1), "the actor never stopped");
    Ok(())
}

/// Waits for the test's gate, then needs its one CPU.
#[rustyray::remote(num_cpus = 1)]
async fn parked(key: u64) -> u32 {
    let p = probe(key);
    p.started.incr();
    p.gate.reached(1).await;
    1
}

/// On an embedded executor an async task's first poll is the executor's:
/// `cancel` racing with it must still reach the task.
#[test]
fn a_cancelled_async_task_always_gives_its_cpu_back() -> Result<()> {
    let app = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _rt = rustyray::init(
        Config::default()
            .num_cpus(1)
            .tokio_handle(app.handle().clone()),
    )?;
    for i in 0..1_000u32 {
        let p = TestProbe::new();
        let held = parked::remote(p.key)?;
        if i % 4 == 0 {
            // Sometimes once it awaits; mostly while it is being started.
            assert!(p.started.wait_for(1));
        }
        rustyray::cancel(&held)?;
        assert_cancelled(&held, "task_cancel_wait::parked");
        // The one CPU is free again: a task that needs it runs.
        assert_eq!(rustyray::get_timeout(&add::remote(i, 1)?, PATIENCE)?, i + 1);
    }
    Ok(())
}
