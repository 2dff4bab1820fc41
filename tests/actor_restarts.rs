//! Actors and failure: a panic crashes the actor, which is rebuilt from its
//! constructor's arguments while `max_restarts` allow (the crashed instance
//! dropped, `was_restarted` set) and dies for good after that; the crashing
//! call fails with `ActorDied` unless `max_task_retries` runs it again; a
//! failing constructor kills the actor; an `Err` fails only its call.
//!
//! Each test owns a [`Lives`] record of its actor's constructions and drops.
//! Every wait is bounded by [`PATIENCE`], so a bug fails a test instead of
//! hanging it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use common::{died, get, lock, wait_until, Keyed, Registry, TestState};
use rustyray::{Error, ObjectRef, Result};
use tokio::sync::Barrier;

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// What one test's actor instances report.
struct Lives {
    /// Constructor runs (counted on entry, before it may fail).
    constructed: AtomicUsize,
    /// Instances dropped.
    dropped: AtomicUsize,
    /// Runs of `fail`.
    failed_runs: AtomicUsize,
    /// Calls waiting at the gate (counted on entry).
    at_gate: AtomicUsize,
    /// Holds `gated_get` and `gated_boom` until the test opens it.
    gate: Mutex<bool>,
    opened: Condvar,
    /// Where two calls meet before panicking together.
    barrier: Barrier,
    /// What `context().was_restarted()` said in each constructor run.
    restarted_seen: Mutex<Vec<bool>>,
}

impl Lives {
    fn open(&self) {
        *lock(&self.gate) = true;
        self.opened.notify_all();
    }

    /// Blocks until the gate opens; `false` after [`PATIENCE`].
    fn wait_open(&self) -> bool {
        self.at_gate.fetch_add(1, Ordering::SeqCst);
        let guard = lock(&self.gate);
        let (guard, _) = self
            .opened
            .wait_timeout_while(guard, PATIENCE, |open| !*open)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }

    fn constructed(&self) -> usize {
        self.constructed.load(Ordering::SeqCst)
    }

    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    fn at_gate(&self) -> usize {
        self.at_gate.load(Ordering::SeqCst)
    }
}

impl Default for Lives {
    fn default() -> Self {
        Lives {
            constructed: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            at_gate: AtomicUsize::new(0),
            failed_runs: AtomicUsize::new(0),
            gate: Mutex::new(false),
            opened: Condvar::new(),
            barrier: Barrier::new(2),
            restarted_seen: Mutex::new(Vec::new()),
        }
    }
}

static LIVES: Registry<Lives> = Registry::new();

impl Keyed for Lives {
    fn registry() -> &'static Registry<Lives> {
        &LIVES
    }

    fn release(&self) {
        self.open();
    }
}

fn lives(key: u64) -> Arc<Lives> {
    LIVES.get(key)
}

/// A test's own [`Lives`], under a fresh key; its gate opens on drop so
/// that a failing test leaves no call blocked.
type TestLives = TestState<Lives>;

/// Part of the state that reports its drop.
struct Life(Arc<Lives>);

impl Life {
    fn begin(key: u64) -> Life {
        let lives = lives(key);
        lives.constructed.fetch_add(1, Ordering::SeqCst);
        Life(lives)
    }
}

impl Drop for Life {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[rustyray::actor]
struct Flaky {
    n: i64,
    /// Calls of `incr` on this instance.
    calls: u32,
    life: Life,
}

#[rustyray::actor]
impl Flaky {
    fn new(key: u64, start: i64) -> Self {
        Flaky {
            n: start,
            calls: 0,
            life: Life::begin(key),
        }
    }

    /// Panics every time it runs.
    fn panicky(key: u64, _start: i64) -> Self {
        let _life = Life::begin(key);
        panic!("constructor exploded")
    }

    /// Always refuses.
    fn refusing(key: u64, _start: i64) -> std::result::Result<Self, String> {
        let _life = Life::begin(key);
        Err("not today".to_string())
    }

    /// Panics while the test's count of constructions is at most
    /// `panics`, then builds; records `was_restarted()` of each run.
    fn shaky(key: u64, panics: usize) -> Self {
        let life = Life::begin(key);
        lock(&life.0.restarted_seen).push(rustyray::context().was_restarted());
        if life.0.constructed() <= panics {
            panic!("shaky constructor, run {}", life.0.constructed());
        }
        Flaky {
            n: 7,
            calls: 0,
            life,
        }
    }

    /// Succeeds only the first time it runs.
    fn fragile(key: u64, start: i64) -> std::result::Result<Self, String> {
        let life = Life::begin(key);
        if life.0.constructed() > 1 {
            return Err("no second life".to_string());
        }
        Ok(Flaky {
            n: start,
            calls: 0,
            life,
        })
    }

    #[rustyray(local)]
    fn count_call(&mut self, by: i64) -> i64 {
        self.calls += 1;
        if self.calls == 3 {
            panic!("third call");
        }
        self.n += by;
        self.n
    }

    /// Adds `by`; panics on this instance's third call.
    fn incr(&mut self, by: i64) -> i64 {
        self.count_call(by)
    }

    /// `incr`, and which attempt of the call this is.
    fn incr_noting(&mut self, by: i64) -> (i64, u32) {
        let n = self.count_call(by);
        (n, rustyray::context().attempt())
    }

    /// Adds `by`, never panics.
    fn add(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }

    fn get(&self) -> i64 {
        self.n
    }

    fn restarted(&self) -> bool {
        rustyray::context().was_restarted()
    }

    fn boom(&self) -> i64 {
        panic!("boom at {}", self.n)
    }

    async fn boom_async(&self) -> i64 {
        tokio::task::yield_now().await;
        panic!("async boom")
    }

    /// Waits for the test's gate, then returns the state.
    fn gated_get(&self) -> i64 {
        self.life.0.wait_open();
        self.n
    }

    /// Waits for the test's gate, then panics.
    fn gated_boom(&self) -> i64 {
        self.life.0.wait_open();
        panic!("gate boom")
    }

    /// Meets another call of itself, then both panic.
    async fn meet_and_panic(&self) -> i64 {
        self.life.0.barrier.wait().await;
        panic!("together")
    }

    fn fail(&mut self) -> std::result::Result<i64, String> {
        self.life.0.failed_runs.fetch_add(1, Ordering::SeqCst);
        self.n += 1000;
        Err(format!("refused at {}", self.n - 1000))
    }
}

#[rustyray::test]
fn a_panic_restarts_the_actor_from_its_constructor_once_then_it_dies() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::options().max_restarts(1).remote(lives.key, 100)?;
    let before = f.restarted()?;
    let first = f.incr(1)?;
    let second = f.incr(1)?;
    let crash = f.incr(1)?;
    let after = f.restarted()?;
    let fresh = f.incr(1)?;
    let fresh2 = f.incr(1)?;
    let fatal = f.incr(1)?;
    let queued = f.incr(1)?;

    assert!(!get(&before)?, "not restarted before the crash");
    assert_eq!((get(&first)?, get(&second)?), (101, 102));
    let cause = died(get(&crash));
    assert!(cause.contains("third call"), "{cause}");
    assert!(get(&after)?, "restarted after the crash");
    // The restarted instance starts as the constructor made it.
    assert_eq!((get(&fresh)?, get(&fresh2)?), (101, 102));
    let cause = died(get(&fatal));
    assert!(cause.contains("third call"), "{cause}");
    // The second crash is fatal: the call queued behind it and every later
    // call fail, naming the cause.
    for outcome in [get(&queued), f.incr(1).and_then(|r| get(&r))] {
        let cause = died(outcome);
        assert!(
            cause.contains("third call") && cause.contains("no restarts left"),
            "{cause}"
        );
    }
    assert!(died(f.get().and_then(|r| get(&r))).contains("no restarts left"));
    assert_eq!((lives.constructed(), lives.dropped()), (2, 2));
    Ok(())
}

#[rustyray::test]
fn max_task_retries_reruns_the_interrupted_call_on_the_restarted_instance() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::options()
        .max_restarts(1)
        .max_task_retries(1)
        .remote(lives.key, 100)?;
    assert_eq!(get(&f.incr(1)?)?, 101);
    assert_eq!(get(&f.incr(1)?)?, 102);
    // The third call crashes the first instance and runs again, as attempt
    // 1, as the first call of the second.
    assert_eq!(get(&f.incr_noting(1)?)?, (101, 1));
    assert!(get(&f.restarted()?)?);
    assert_eq!(get(&f.incr(1)?)?, 102);
    // No restart left: the retry finds the actor dead.
    let cause = died(get(&f.incr(1)?));
    assert!(cause.contains("third call"), "{cause}");
    assert_eq!((lives.constructed(), lives.dropped()), (2, 2));
    Ok(())
}

#[rustyray::test]
fn unlimited_restarts_survive_many_panics_with_the_original_arguments() -> Result<()> {
    let lives = TestLives::new();
    // The start value is an object the test stops holding at once: the
    // actor keeps its constructor's arguments for its restarts.
    let start = rustyray::put(100i64)?;
    let f = Flaky::options().max_restarts(-1).remote(lives.key, start)?;
    for round in 0..5 {
        assert_eq!(get(&f.add(5)?)?, 105, "round {round}");
        let cause = died(get(&f.boom()?));
        assert!(cause.contains("boom at 105"), "{cause}");
    }
    assert_eq!(get(&f.add(5)?)?, 105);
    assert!(get(&f.restarted()?)?);
    assert_eq!((lives.constructed(), lives.dropped()), (6, 5));
    Ok(())
}

#[rustyray::test]
fn an_async_method_panic_restarts_the_actor_like_a_sync_one() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::options().max_restarts(1).remote(lives.key, 100)?;
    assert_eq!(get(&f.add(5)?)?, 105);
    let cause = died(get(&f.boom_async()?));
    assert!(cause.contains("async boom"), "{cause}");
    assert_eq!(get(&f.add(5)?)?, 105);
    assert!(get(&f.restarted()?)?);
    assert_eq!((lives.constructed(), lives.dropped()), (2, 1));
    Ok(())
}

#[rustyray::test]
fn concurrent_panics_of_one_instance_restart_it_once() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::options()
        .max_concurrency(2)
        .max_restarts(5)
        .remote(lives.key, 100)?;
    let a = f.meet_and_panic()?;
    let b = f.meet_and_panic()?;
    assert!(died(get(&a)).contains("together"));
    assert!(died(get(&b)).contains("together"));
    assert_eq!(get(&f.add(1)?)?, 101);
    // The crashed instance goes once the second call has let go of it too
    // (its ref failed at once, before that).
    wait_until("the crashed instance is dropped", || lives.dropped() == 1);
    assert_eq!((lives.constructed(), lives.dropped()), (2, 1));
    Ok(())
}

#[rustyray::test]
fn calls_queued_behind_a_fatal_panic_fail_with_its_cause() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::remote(lives.key, 0)?;
    let crash = f.gated_boom()?;
    let queued: Vec<ObjectRef<i64>> = (0..4).map(|_| f.add(1)).collect::<Result<_>>()?;
    lives.open();
    assert!(died(get(&crash)).contains("gate boom"));
    for r in &queued {
        let cause = died(get(r));
        assert!(
            cause.contains("gate boom") && cause.contains("no restarts left"),
            "{cause}"
        );
    }
    assert!(died(f.add(1).and_then(|r| get(&r))).contains("gate boom"));
    assert_eq!((lives.constructed(), lives.dropped()), (1, 1));
    Ok(())
}

/// A panic in the constructor is a crash like any other (Ray: the actor's
/// process died): restarted while `max_restarts` allow, then dead; an `Err`
/// from the constructor kills the actor at once.
#[rustyray::test]
fn a_panicking_constructor_uses_up_its_restarts_and_a_refusing_one_kills_the_actor_at_once(
) -> Result<()> {
    let lives = TestLives::new();
    let panicked = Flaky::options()
        .max_restarts(3)
        .remote_panicky(lives.key, 0)?;
    let refused = Flaky::options()
        .max_restarts(3)
        .remote_refusing(lives.key, 0)?;
    for (f, why) in [(&panicked, "constructor exploded"), (&refused, "not today")] {
        for outcome in [get(&f.get()?), get(&f.add(1)?)] {
            let cause = died(outcome);
            assert!(
                cause.contains("constructor") && cause.contains(why),
                "{cause}"
            );
        }
    }
    let cause = died(get(&panicked.get()?));
    assert!(cause.ends_with("with no restarts left"), "{cause}");
    // 1 + 3 restarts of the panicking one, 1 of the refusing one.
    assert_eq!((lives.constructed(), lives.dropped()), (5, 5));
    Ok(())
}

#[rustyray::test]
fn a_constructor_failing_on_restart_kills_the_actor() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::options()
        .max_restarts(2)
        .remote_fragile(lives.key, 100)?;
    assert_eq!(get(&f.add(1)?)?, 101);
    assert!(died(get(&f.boom()?)).contains("boom at 101"));
    let cause = died(get(&f.add(1)?));
    assert!(
        cause.contains("restarting it failed") && cause.contains("no second life"),
        "{cause}"
    );
    assert_eq!(lives.constructed(), 2);
    Ok(())
}

#[rustyray::test]
fn an_err_fails_only_its_call_and_keeps_the_state() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::options()
        .max_restarts(1)
        .max_task_retries(3)
        .remote(lives.key, 100)?;
    assert_eq!(get(&f.add(5)?)?, 105);
    match get(&f.fail()?) {
        Err(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(
                (task.as_str(), message.as_str()),
                ("Flaky.fail", "refused at 105")
            );
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    // Not retried, not a crash: the state (with what `fail` changed) stays.
    assert_eq!(lives.failed_runs.load(Ordering::SeqCst), 1);
    assert_eq!(get(&f.get()?)?, 1105);
    assert!(!get(&f.restarted()?)?);
    assert_eq!((lives.constructed(), lives.dropped()), (1, 0));
    Ok(())
}

#[rustyray::test]
fn a_restarted_named_actor_keeps_its_name_and_id() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::options()
        .name("phoenix")
        .max_restarts(1)
        .remote(lives.key, 7)?;
    assert!(died(get(&f.boom()?)).contains("boom at 7"));
    let found = rustyray::get_actor::<Flaky>("phoenix")?;
    assert_eq!(found.id(), f.id());
    assert!(get(&found.restarted()?)?);
    assert_eq!(get(&found.add(1)?)?, 8);
    Ok(())
}

/// Ray: when one call crashes the actor's process, the call fails at once,
/// whatever the other calls of the actor are doing; the calls in flight on
/// the crashed instance fail too (no retries) and the actor restarts.
#[rustyray::test]
fn a_crash_fails_its_call_at_once_while_another_call_is_still_running() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::options()
        .max_concurrency(2)
        .max_restarts(1)
        .remote(lives.key, 100)?;
    let waiting = f.gated_get()?;
    // The crash must find that call running on the instance.
    wait_until("the first call waits at the gate", || lives.at_gate() == 1);
    let crash = f.boom()?;
    // Neither ref waits for the gate: the crash ends the instance now.
    let cause = died(get(&crash));
    assert_eq!(cause, "panicked: boom at 100");
    assert_eq!(died(get(&waiting)), "panicked: boom at 100");
    // The restarted instance serves while the old one's call still waits.
    assert_eq!(get(&f.add(1)?)?, 101);
    assert!(get(&f.restarted()?)?);
    assert_eq!((lives.constructed(), lives.dropped()), (2, 0));
    // The crashed instance is dropped when its last call lets go of it.
    lives.open();
    wait_until("the crashed instance is dropped", || lives.dropped() == 1);
    assert_eq!((lives.constructed(), lives.dropped()), (2, 1));
    Ok(())
}

/// With `max_task_retries`, a call in flight on a crashed instance runs
/// again on the restarted one once it returns.
#[rustyray::test]
fn a_call_in_flight_on_a_crashed_instance_is_retried_on_the_new_one() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::options()
        .max_concurrency(2)
        .max_restarts(1)
        .max_task_retries(1)
        .remote(lives.key, 100)?;
    let waiting = f.gated_get()?;
    // The crash must find that call running on the instance.
    wait_until("the first call waits at the gate", || lives.at_gate() == 1);
    let crash = f.boom()?;
    // The crashing call is retried too: on the new instance it panics
    // again, which uses up the last restart.
    let cause = died(get(&crash));
    assert!(cause.contains("boom at 100"), "{cause}");
    lives.open();
    // The waiting call's first run does not count; its retry found the
    // actor dead.
    let cause = died(get(&waiting));
    assert!(cause.contains("no restarts left"), "{cause}");
    wait_until("both instances are dropped", || lives.dropped() == 2);
    assert_eq!((lives.constructed(), lives.dropped()), (2, 2));
    Ok(())
}

/// Ray: a crash in the constructor restarts the actor like any crash, and
/// the restarted constructor knows it is one.
#[rustyray::test]
fn a_panicking_constructor_is_restarted_and_knows_it_was() -> Result<()> {
    let lives = TestLives::new();
    let f = Flaky::options()
        .max_restarts(3)
        .remote_shaky(lives.key, 2)?;
    assert_eq!(get(&f.add(1)?)?, 8);
    assert!(get(&f.restarted()?)?);
    assert_eq!(*lock(&lives.restarted_seen), vec![false, true, true]);
    assert_eq!((lives.constructed(), lives.dropped()), (3, 2));
    Ok(())
}
