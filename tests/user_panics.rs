//! User code can panic anywhere (a task, a `Drop`, a `Serialize`, a
//! waker): the failure reaches only its own ref, never an unrelated caller,
//! and the runtime keeps serving.
//!
//! Every wait is bounded by [`PATIENCE`], so a bug fails a test instead of
//! hanging it.

mod common;

use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use common::probe::{probe, TestProbe};
use common::{get, wait_until};
use rustyray::{Config, Error, Result};
use serde::{Deserialize, Serialize};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// A value whose `Drop` panics while it is armed. Copies read back from
/// the store are never armed (the flag is not serialized), so only the
/// instance the store or a task holds goes off.
#[derive(Serialize, Deserialize)]
struct Grenade {
    n: u32,
    #[serde(skip)]
    armed: bool,
}

impl Grenade {
    fn armed(n: u32) -> Grenade {
        Grenade { n, armed: true }
    }
}

impl Drop for Grenade {
    fn drop(&mut self) {
        if self.armed && !std::thread::panicking() {
            panic!("grenade {} went off", self.n);
        }
    }
}

/// A value whose `Serialize` panics.
#[derive(Deserialize)]
struct Unserializable(u32);

impl Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> std::result::Result<S::Ok, S::Error> {
        panic!("no serializing {}", self.0)
    }
}

#[rustyray::remote]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

/// Holds the grenade until the gate of `key` opens (never, in these tests).
#[rustyray::remote(num_cpus = 1)]
fn hold(key: u64, grenade: Grenade) -> u32 {
    let p = probe(key);
    p.started.incr();
    p.gate.wait_for(1);
    grenade.n
}

/// Needs the one CPU, and a grenade it never gets to run with.
#[rustyray::remote(num_cpus = 1)]
fn queued_with(grenade: Grenade) -> u32 {
    grenade.n
}

/// Awaits for ever with an armed grenade inside its future.
#[rustyray::remote(num_cpus = 1)]
async fn await_with(key: u64, n: u32) -> u32 {
    let grenade = Grenade::armed(n);
    probe(key).started.incr();
    std::future::pending::<()>().await;
    grenade.n
}

#[rustyray::test(num_cpus = 1)]
fn cancelling_a_task_whose_argument_panics_on_drop_fails_only_that_task() -> Result<()> {
    let p = TestProbe::new();
    let busy = hold::remote(p.key, Grenade { n: 0, armed: false })?;
    assert!(p.started.wait_for(1));
    let queued = queued_with::remote(Grenade::armed(1))?;
    // Cancelling drops the queued task's argument: its panic stays there.
    rustyray::cancel(&queued)?;
    assert!(matches!(get(&queued), Err(Error::Cancelled { .. })));
    p.open();
    assert_eq!(get(&busy)?, 0);
    assert_eq!(get(&add::remote(2, 3)?)?, 5);
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn a_cancelled_async_task_whose_future_panics_on_drop_gives_its_cpu_back() -> Result<()> {
    let p = TestProbe::new();
    let waiting = await_with::remote(p.key, 7)?;
    assert!(p.started.wait_for(1));
    rustyray::cancel(&waiting)?;
    assert!(matches!(get(&waiting), Err(Error::Cancelled { .. })));
    assert_eq!(get(&add::remote(1, 1)?)?, 2);
    Ok(())
}

#[rustyray::test]
fn dropping_the_last_ref_to_a_value_that_panics_on_drop_does_not_panic() -> Result<()> {
    let rt = rustyray::global()?;
    let r = rustyray::put(Grenade::armed(3))?;
    assert_eq!(get(&r)?.n, 3);
    drop(r);
    assert_eq!(rt.memory().objects_in_memory, 0);
    assert_eq!(get(&add::remote(4, 4)?)?, 8);
    Ok(())
}

/// A waker that panics when woken, counting its wakes.
struct PanickingWaker(AtomicUsize);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("a foreign waker panicked");
    }
}

/// Returns `x` once the gate of `key` opens.
#[rustyray::remote(num_cpus = 0)]
fn gated(key: u64, x: u32) -> u32 {
    let p = probe(key);
    p.started.incr();
    p.gate.wait_for(1);
    x
}

#[rustyray::test(num_cpus = 2)]
fn a_panicking_waker_does_not_keep_the_object_from_its_other_waiters() -> Result<()> {
    let p = TestProbe::new();
    let r = gated::remote(p.key, 9)?;
    let dependent = add::remote(&r, 1)?;
    let counter = Arc::new(PanickingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counter));
    let mut future = pin!(r.clone().into_future());
    assert!(future
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    p.open();
    // The worker completing `r` wakes the panicking waker, then the rest.
    assert_eq!(get(&r)?, 9);
    assert_eq!(get(&dependent)?, 10);
    // (The completing thread may still be waking the wakers in turn.)
    wait_until("the panicking waker is woken", || {
        counter.0.load(Ordering::SeqCst) == 1
    });
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => assert_eq!(value?, 9),
        Poll::Pending => panic!("the object is complete"),
    }
    Ok(())
}

#[rustyray::actor]
struct Counter {
    n: u32,
}

#[rustyray::actor]
impl Counter {
    fn new() -> Self {
        Counter { n: 0 }
    }

    fn add(&mut self, x: u32) -> u32 {
        self.n += x;
        self.n
    }

    fn take(&mut self, value: Unserializable) -> u32 {
        self.n += value.0;
        self.n
    }
}

#[rustyray::test]
fn an_actor_call_whose_argument_cannot_serialize_leaves_the_actor_serving() -> Result<()> {
    // With retries, arguments are kept in the store (serialized to be
    // measured: the panic there counts the value as 0 bytes) and read back
    // for each attempt through their serialized form: the call fails.
    let counter = Counter::options().max_task_retries(1).remote()?;
    assert_eq!(get(&counter.add(1)?)?, 1);
    match counter.take(Unserializable(5)).and_then(|r| get(&r)) {
        Err(Error::Serialization(message)) => assert_eq!(
            message,
            "a `user_panics::Unserializable` could not be serialized: its `Serialize` panicked: \
             no serializing 5"
        ),
        other => panic!("expected Serialization, got {other:?}"),
    }
    assert_eq!(get(&counter.add(2)?)?, 3);
    Ok(())
}

#[test]
fn shutdown_completes_even_when_values_panic_on_drop() -> Result<()> {
    let p = TestProbe::new();
    // The gated task keeps its worker busy: shutdown does not wait for it.
    let rt = rustyray::init(
        Config::default()
            .num_cpus(1)
            .shutdown_timeout(Duration::ZERO),
    )?;
    let values = (0..10)
        .map(|n| rustyray::put(Grenade::armed(n)))
        .collect::<Result<Vec<_>>>()?;
    let pending = gated::remote(p.key, 1)?;
    assert!(p.started.wait_for(1));
    let waiter = {
        let handle = (*rt).clone();
        let pending = pending.clone();
        std::thread::spawn(move || handle.get(&pending))
    };
    let handle = (*rt).clone();
    // Dropping the stored grenades panics ten times during shutdown.
    drop(rt);
    assert!(handle.is_shut_down());
    match waiter.join().expect("the waiting thread returns") {
        Err(Error::ShutDown { runtime }) => assert_eq!(runtime, handle.name()),
        other => panic!("expected ShutDown, got {other:?}"),
    }
    assert_eq!(handle.memory().objects_in_memory, 0);
    p.open();
    drop(values);
    Ok(())
}
