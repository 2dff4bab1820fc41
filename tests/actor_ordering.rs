//! Actors and order: one caller's calls run in the order it submitted them,
//! whatever order their arguments become ready in, across sync and async
//! methods, and a call that ends without running (its argument failed, it
//! was cancelled) does not hold up the calls behind it.
//!
//! The actor records the order it ran calls in; every wait is bounded by
//! [`PATIENCE`], so a bug fails a test instead of hanging it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{get_all_within, Keyed, Registry, TestState};
use rustyray::{Error, ObjectRef, Result};
use tokio::sync::watch;

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// A gate that async tasks await: it lets through every waiter whose
/// threshold the count has reached.
#[derive(Default)]
struct Gate(watch::Sender<usize>);

impl Gate {
    fn raise(&self, by: usize) {
        self.0.send_modify(|n| *n += by);
    }

    async fn reached(&self, n: usize) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|count| *count >= n).await;
    }
}

static GATES: Registry<Gate> = Registry::new();

impl Keyed for Gate {
    fn registry() -> &'static Registry<Gate> {
        &GATES
    }

    /// Opens the gate fully.
    fn release(&self) {
        self.raise(usize::MAX / 2);
    }
}

fn gate(key: u64) -> Arc<Gate> {
    GATES.get_or_default(key)
}

/// A test's own gate, under a fresh key; fully opened on drop so that a
/// failing test leaves no task waiting.
type TestGate = TestState<Gate>;

/// Returns `value` once the gate of `key` reaches `threshold`; holds no CPU
/// while it waits.
#[rustyray::remote(num_cpus = 0)]
async fn released(key: u64, threshold: usize, value: u32) -> u32 {
    gate(key).reached(threshold).await;
    value
}

#[rustyray::remote]
fn refuse(value: u32) -> std::result::Result<u32, String> {
    Err(format!("refused {value}"))
}

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

    async fn incr_async(&mut self, by: i64) -> i64 {
        tokio::task::yield_now().await;
        self.n += by;
        tokio::task::yield_now().await;
        self.n
    }

    async fn get_async(&self) -> i64 {
        tokio::task::yield_now().await;
        self.n
    }

    fn get(&self) -> i64 {
        self.n
    }
}

/// Records the labels of the calls it runs, in the order it runs them.
#[rustyray::actor]
struct Recorder {
    log: Vec<u32>,
}

#[rustyray::actor]
impl Recorder {
    fn new() -> Self {
        Recorder { log: Vec::new() }
    }

    /// Appends `label`; returns its position in the log.
    fn record(&mut self, label: u32) -> usize {
        self.log.push(label);
        self.log.len() - 1
    }

    fn log(&self) -> Vec<u32> {
        self.log.clone()
    }
}

#[rustyray::test]
fn ten_thousand_increments_return_the_running_count_in_order() -> Result<()> {
    let c = Counter::remote(0)?;
    let refs: Vec<ObjectRef<i64>> = (0..10_000).map(|_| c.incr(1)).collect::<Result<_>>()?;
    assert_eq!(get_all_within(&refs)?, (1..=10_000).collect::<Vec<i64>>());
    assert_eq!(c.get()?.get_timeout(PATIENCE)?, 10_000);
    Ok(())
}

#[rustyray::test]
fn a_call_waiting_for_its_argument_holds_back_later_ready_calls() -> Result<()> {
    let gate = TestGate::new();
    let r = Recorder::remote()?;
    // Call 1's argument comes from a task that waits for the gate; calls 2
    // and 3 have theirs at once (a value, a stored object).
    let late = released::remote(gate.key, 1, 1)?;
    let first = r.record(&late)?;
    let second = r.record(2)?;
    let third = r.record(rustyray::put(3u32)?)?;
    gate.raise(1);
    assert_eq!(late.get_timeout(PATIENCE)?, 1);
    assert_eq!(get_all_within(&[first, second, third])?, vec![0, 1, 2]);
    assert_eq!(r.log()?.get_timeout(PATIENCE)?, vec![1, 2, 3]);
    Ok(())
}

#[rustyray::test]
fn calls_run_in_submission_order_when_arguments_become_ready_in_reverse() -> Result<()> {
    const N: u32 = 16;
    let gate = TestGate::new();
    let r = Recorder::remote()?;
    // Producer of call `i` passes when the gate reaches `N - i + 1`: raising
    // it one step at a time readies call N's argument first, call 1's last.
    let args: Vec<ObjectRef<u32>> = (1..=N)
        .map(|i| released::remote(gate.key, (N - i + 1) as usize, i))
        .collect::<Result<_>>()?;
    let calls: Vec<ObjectRef<usize>> = args.iter().map(|a| r.record(a)).collect::<Result<_>>()?;
    for i in (1..=N).rev() {
        gate.raise(1);
        // Call i's argument is ready before call i-1's is released.
        assert_eq!(args[(i - 1) as usize].get_timeout(PATIENCE)?, i);
    }
    assert_eq!(get_all_within(&calls)?, (0..N as usize).collect::<Vec<_>>());
    assert_eq!(
        r.log()?.get_timeout(PATIENCE)?,
        (1..=N).collect::<Vec<u32>>()
    );
    Ok(())
}

#[rustyray::test]
fn sync_and_async_methods_run_in_submission_order() -> Result<()> {
    // One call at a time: an actor with async methods runs up to 1000 of
    // its async calls at once by default (Ray's), in no set order.
    let c = Counter::options().max_concurrency(1).remote(0)?;
    let mut refs = Vec::new();
    let mut expected = Vec::new();
    let mut n = 0;
    for i in 0..300 {
        match i % 3 {
            0 => {
                n += 1;
                refs.push(c.incr(1)?);
            }
            1 => {
                n += 2;
                refs.push(c.incr_async(2)?);
            }
            _ => refs.push(c.get_async()?),
        }
        expected.push(n);
    }
    assert_eq!(get_all_within(&refs)?, expected);
    Ok(())
}

#[rustyray::test]
fn a_call_whose_argument_failed_does_not_block_later_calls() -> Result<()> {
    let r = Recorder::remote()?;
    let failing = refuse::remote(7)?;
    let first = r.record(&failing)?;
    let second = r.record(2)?;
    assert_eq!(second.get_timeout(PATIENCE)?, 0);
    match first.get_timeout(PATIENCE) {
        Err(Error::TaskFailed { message, .. }) => assert_eq!(message, "refused 7"),
        other => panic!("expected the argument's TaskFailed, got {other:?}"),
    }
    assert_eq!(r.record(3)?.get_timeout(PATIENCE)?, 1);
    assert_eq!(r.log()?.get_timeout(PATIENCE)?, vec![2, 3]);
    Ok(())
}

#[rustyray::test]
fn a_cancelled_call_does_not_block_later_calls() -> Result<()> {
    let gate = TestGate::new();
    let r = Recorder::remote()?;
    // Call 1 waits for an argument that is not released until the end.
    let late = released::remote(gate.key, 1, 1)?;
    let first = r.record(&late)?;
    let second = r.record(2)?;
    rustyray::cancel(&first)?;
    assert!(
        matches!(first.get_timeout(PATIENCE), Err(Error::Cancelled { .. })),
        "the cancelled call's ref completes with Cancelled"
    );
    // Call 2 runs while call 1's argument is still pending.
    match second.get_timeout(PATIENCE) {
        Ok(0) => {}
        other => panic!(
            "call 2 should run while cancelled call 1 still waits for its argument, got {other:?}"
        ),
    }
    gate.raise(1);
    assert_eq!(late.get_timeout(PATIENCE)?, 1);
    assert_eq!(r.record(3)?.get_timeout(PATIENCE)?, 1);
    assert_eq!(r.log()?.get_timeout(PATIENCE)?, vec![2, 3]);
    Ok(())
}

#[rustyray::test]
fn a_result_of_one_call_feeds_the_next_in_order() -> Result<()> {
    let c = Counter::remote(1)?;
    // Each call adds the previous call's result: 1 -> 2 -> 4 -> ... -> 2^20.
    let mut last = c.get()?;
    for _ in 0..20 {
        last = c.incr(&last)?;
    }
    assert_eq!(last.get_timeout(PATIENCE)?, 1 << 20);
    Ok(())
}
