//! Actors from creation to death: names (per runtime, unique, found by type),
//! `kill`, the last handle's drop, handles passed to tasks and through the
//! object store, what `context()` says inside a method, the resources an
//! actor holds for its lifetime, and runtime shutdown with actors busy.
//!
//! Each test owns a [`Probe`] (under a fresh key) that its actor's state
//! reports to: constructions, drops, calls started, and a gate the test
//! opens. Every wait is bounded by [`PATIENCE`], so a bug fails a test
//! instead of hanging it.

mod common;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use common::{died, get, get_all_within, Count, Keyed, Registry, TestState};
use rustyray::{ActorId, Config, Error, ObjectRef, Result};
use serde::{Deserialize, Serialize};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// How long a test lets work that must not run have to (wrongly) run.
const BRIEFLY: Duration = Duration::from_millis(200);

/// What one test's actors report, and the gate that holds their calls.
#[derive(Default)]
struct Probe {
    /// Opened (count 1) by the test.
    gate: Count,
    constructed: Count,
    dropped: Count,
    started: Count,
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

/// The probe with this key (created on first use).
fn probe(key: u64) -> Arc<Probe> {
    PROBES.get_or_default(key)
}

/// A test's own probe; its gate opens on drop so that a failing test leaves
/// no call blocked.
type TestProbe = TestState<Probe>;

/// Part of an actor's state: counts its construction and its drop.
struct Life(Arc<Probe>);

impl Life {
    fn begin(key: u64) -> Life {
        let probe = probe(key);
        probe.constructed.incr();
        Life(probe)
    }
}

impl Drop for Life {
    fn drop(&mut self) {
        self.0.dropped.incr();
    }
}

/// What `context()` said: actor id, actor name, task name.
type Seen = (Option<ActorId>, Option<String>, Option<String>);

fn seen() -> Seen {
    let ctx = rustyray::context();
    (ctx.actor_id(), ctx.actor_name(), ctx.task_name())
}

#[rustyray::actor]
struct Counter {
    n: i64,
    life: Life,
    /// What `context()` said in the constructor.
    born: Seen,
}

#[rustyray::actor]
impl Counter {
    fn new(key: u64, start: i64) -> Self {
        Counter {
            n: start,
            life: Life::begin(key),
            born: seen(),
        }
    }

    /// Blocks until the test's gate opens, then builds.
    fn gated(key: u64, start: i64) -> Self {
        let probe = probe(key);
        probe.started.incr();
        probe.gate.wait_for(1);
        Counter::new(key, start)
    }

    fn incr(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }

    fn get(&self) -> i64 {
        self.n
    }

    /// Blocks its thread until the test's gate opens, then adds `by`.
    fn held(&mut self, by: i64) -> i64 {
        self.life.0.started.incr();
        self.life.0.gate.wait_for(1);
        self.n += by;
        self.n
    }

    /// Blocks until the gate opens or the call is cancelled (as a
    /// long-running method should); returns the count.
    fn held_until_cancelled(&self) -> i64 {
        self.life.0.started.incr();
        self.life
            .0
            .gate
            .wait_for_or(1, || rustyray::context().is_cancelled());
        self.n
    }

    /// Awaits the test's gate.
    async fn held_async(&self) -> i64 {
        self.life.0.started.incr();
        self.life.0.gate.reached(1).await;
        self.n
    }

    fn whoami(&self) -> Seen {
        seen()
    }

    async fn whoami_async(&self) -> Seen {
        tokio::task::yield_now().await;
        seen()
    }

    fn born(&self) -> Seen {
        self.born.clone()
    }

    fn crash(&self) -> i64 {
        panic!("crashed on purpose")
    }
}

/// Another actor type, for lookups by the wrong type.
#[rustyray::actor]
struct Other;

#[rustyray::actor]
impl Other {
    fn new() -> Self {
        Other
    }

    fn ping(&self) -> u8 {
        1
    }
}

/// A value holding a handle.
#[derive(Serialize, Deserialize)]
struct Holder {
    label: String,
    counter: CounterHandle,
}

/// Returns `value` once the gate of `key` opens; holds no CPU meanwhile.
#[rustyray::remote(num_cpus = 0)]
async fn released(key: u64, value: i64) -> i64 {
    probe(key).gate.reached(1).await;
    value
}

/// Needs one CPU.
#[rustyray::remote(num_cpus = 1)]
fn one_cpu(x: i64) -> i64 {
    x
}

#[rustyray::remote]
fn bump(counter: CounterHandle, by: i64) -> Result<i64> {
    counter.incr(by)?.get()
}

#[rustyray::remote]
async fn bump_async(counter: CounterHandle, by: i64) -> Result<i64> {
    counter.incr(by)?.await
}

#[rustyray::remote]
fn bump_held(holder: Holder, by: i64) -> Result<(String, i64)> {
    Ok((holder.label, holder.counter.incr(by)?.get()?))
}

/// Creates an actor and returns its handle.
#[rustyray::remote]
fn make_counter(key: u64, start: i64) -> Result<CounterHandle> {
    Counter::remote(key, start)
}

// ---------------------------------------------------------------- names

#[rustyray::test]
fn get_actor_returns_a_handle_to_the_same_actor() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::options().name("shared").remote(p.key, 10)?;
    let found = rustyray::get_actor::<Counter>("shared")?;
    assert_eq!(found.id(), c.id());
    assert_eq!(get(&found.incr(5)?)?, 15);
    assert_eq!(get(&c.incr(1)?)?, 16);
    assert_eq!(get(&found.get()?)?, 16);
    assert_eq!(p.constructed.get(), 1);
    Ok(())
}

#[rustyray::test]
fn get_actor_of_the_wrong_type_names_the_real_type() -> Result<()> {
    let p = TestProbe::new();
    let _c = Counter::options().name("typed").remote(p.key, 0)?;
    match rustyray::get_actor::<Other>("typed") {
        Err(Error::ActorNotFound { name, reason }) => {
            assert_eq!(name, "typed");
            assert!(
                reason.contains("actor_lifecycle::Counter") && reason.contains("Other"),
                "{reason}"
            );
        }
        other => panic!("expected ActorNotFound, got {other:?}"),
    }
    match rustyray::get_actor::<Counter>("nobody") {
        Err(Error::ActorNotFound { name, .. }) => assert_eq!(name, "nobody"),
        other => panic!("expected ActorNotFound, got {other:?}"),
    }
    Ok(())
}

#[rustyray::test]
fn a_taken_name_is_refused_with_actor_exists() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::options().name("taken").remote(p.key, 1)?;
    for outcome in [
        Counter::options()
            .name("taken")
            .remote(p.key, 2)
            .map(|_| ()),
        Other::options().name("taken").remote().map(|_| ()),
        // `get_if_exists` does not return an actor of another type.
        Other::options()
            .name("taken")
            .get_if_exists(true)
            .remote()
            .map(|_| ()),
    ] {
        match outcome {
            Err(Error::ActorExists { name, existing }) => {
                assert_eq!(name, "taken");
                assert!(existing.contains("Counter"), "{existing}");
            }
            other => panic!("expected ActorExists, got {other:?}"),
        }
    }
    // The first actor is untouched and no other constructor ran.
    assert_eq!(get(&c.get()?)?, 1);
    assert_eq!(rustyray::get_actor::<Counter>("taken")?.id(), c.id());
    assert_eq!(p.constructed.get(), 1);
    Ok(())
}

#[rustyray::test]
fn get_if_exists_returns_the_live_actor_without_constructing_another() -> Result<()> {
    let p = TestProbe::new();
    // With none of that name, it creates one.
    let c = Counter::options()
        .name("once")
        .get_if_exists(true)
        .remote(p.key, 1)?;
    assert_eq!(get(&c.incr(1)?)?, 2);
    let again = Counter::options()
        .name("once")
        .get_if_exists(true)
        .remote(p.key, 100)?;
    assert_eq!(again.id(), c.id());
    assert_eq!(get(&again.incr(1)?)?, 3);
    assert_eq!(p.constructed.get(), 1);
    Ok(())
}

#[rustyray::test]
fn get_if_exists_without_a_name_is_invalid_config() -> Result<()> {
    let p = TestProbe::new();
    match Counter::options().get_if_exists(true).remote(p.key, 0) {
        Err(Error::InvalidConfig { field, reason }) => {
            assert_eq!(field, "get_if_exists");
            assert_eq!(reason, "needs a name to look up: set `.name(..)` too");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    assert_eq!(p.constructed.get(), 0);
    Ok(())
}

#[rustyray::test]
fn a_killed_actors_name_is_free_again() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::options().name("reborn").remote(p.key, 1)?;
    assert_eq!(get(&c.get()?)?, 1);
    rustyray::kill(&c)?;
    assert!(matches!(
        rustyray::get_actor::<Counter>("reborn"),
        Err(Error::ActorNotFound { .. })
    ));
    let d = Counter::options().name("reborn").remote(p.key, 2)?;
    assert_ne!(d.id(), c.id());
    assert_eq!(get(&d.get()?)?, 2);
    assert_eq!(rustyray::get_actor::<Counter>("reborn")?.id(), d.id());
    Ok(())
}

#[rustyray::test]
fn names_are_per_runtime() -> Result<()> {
    let p = TestProbe::new();
    let a = rustyray::global()?;
    let b_guard = rustyray::init(Config::default().num_cpus(1).name("names-b"))?;
    let b: rustyray::Runtime = b_guard.clone();
    let in_a = Counter::options().name("x").on(&a).remote(p.key, 1)?;
    let in_b = Counter::options().name("x").on(&b).remote(p.key, 2)?;
    assert_ne!(in_a.id(), in_b.id());
    assert_eq!(in_a.id().runtime(), a.id());
    assert_eq!(in_b.id().runtime(), b.id());
    assert_eq!(get(&a.get_actor::<Counter>("x")?.get()?)?, 1);
    assert_eq!(get(&b.get_actor::<Counter>("x")?.get()?)?, 2);
    // The free function looks in the current runtime (b, installed last).
    assert_eq!(rustyray::get_actor::<Counter>("x")?.id(), in_b.id());
    drop(b_guard);
    assert_eq!(rustyray::get_actor::<Counter>("x")?.id(), in_a.id());
    Ok(())
}

// ----------------------------------------------------------------- kill

#[rustyray::test]
fn kill_fails_running_queued_and_later_calls_and_does_not_restart() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::options().max_restarts(3).remote(p.key, 0)?;
    let running = c.held(1)?;
    let queued: Vec<ObjectRef<i64>> = (0..3).map(|_| c.incr(1)).collect::<Result<_>>()?;
    assert!(p.started.wait_for(1));
    rustyray::kill(&c)?;
    assert!(died(get(&running)).contains("killed"));
    for r in &queued {
        assert!(died(get(r)).contains("killed"));
    }
    assert!(died(c.incr(1).and_then(|r| get(&r))).contains("killed"));
    // The running call still holds the state; it is dropped when it ends.
    assert_eq!(p.dropped.get(), 0);
    p.gate.incr();
    assert!(p.dropped.wait_for(1), "the state is dropped after the kill");
    assert_eq!(p.constructed.get(), 1, "a killed actor is not restarted");
    rustyray::kill(&c)?; // again: nothing left to do
    assert!(died(c.get().and_then(|r| get(&r))).contains("killed"));
    Ok(())
}

#[rustyray::test]
fn kill_drops_the_state_of_an_idle_actor_while_handles_remain() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::remote(p.key, 0)?;
    assert_eq!(get(&c.incr(1)?)?, 1);
    let clone = c.clone();
    rustyray::kill(&clone)?;
    assert!(p.dropped.wait_for(1));
    assert!(died(c.get().and_then(|r| get(&r))).contains("killed"));
    Ok(())
}

#[rustyray::test]
fn kill_drops_the_state_of_an_actor_blocked_in_an_async_call() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::remote(p.key, 0)?;
    let blocked = c.held_async()?;
    assert!(p.started.wait_for(1));
    rustyray::kill(&c)?;
    assert!(died(get(&blocked)).contains("killed"));
    // The blocked call is dropped with the actor; nothing holds the state.
    assert!(
        p.dropped.wait_for(1),
        "the state of a killed actor is dropped while the test still holds a handle"
    );
    Ok(())
}

#[rustyray::test]
fn kill_fails_a_call_still_waiting_for_its_argument() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::remote(p.key, 0)?;
    let late = released::remote(p.key, 5)?;
    let call = c.incr(&late)?;
    rustyray::kill(&c)?;
    let outcome = call.get_timeout(PATIENCE);
    p.gate.incr();
    assert!(died(outcome).contains("killed"));
    assert_eq!(get(&late)?, 5);
    Ok(())
}

// ---------------------------------------------------------- last handle

#[rustyray::test]
fn dropping_the_last_handle_stops_an_unnamed_actor_after_its_calls() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::remote(p.key, 0)?;
    let clone = c.clone();
    let mut refs = vec![c.held(1)?];
    for i in 0..99 {
        refs.push(if i % 2 == 0 {
            c.incr(1)?
        } else {
            clone.incr(1)?
        });
    }
    drop(c);
    drop(clone);
    assert!(p.started.wait_for(1));
    assert_eq!(
        p.dropped.get(),
        0,
        "the calls submitted still need the state"
    );
    p.gate.incr();
    assert_eq!(get_all_within(&refs)?, (1..=100).collect::<Vec<i64>>());
    assert!(
        p.dropped.wait_for(1),
        "the state is dropped after the calls"
    );
    Ok(())
}

#[rustyray::test]
fn an_actor_whose_async_calls_wait_for_more_is_dropped_with_its_last_handle() -> Result<()> {
    let p = TestProbe::new();
    p.gate.incr();
    let c = Counter::remote(p.key, 7)?;
    // From the test's thread, async calls run on the executor, where their
    // lane's driver stays between calls, waiting for the next one.
    for _ in 0..3 {
        assert_eq!(get(&c.held_async()?)?, 7);
    }
    drop(c);
    assert!(
        p.dropped.wait_for(1),
        "the driver waiting for calls holds nothing of the actor"
    );
    Ok(())
}

#[rustyray::test]
fn an_actor_lives_while_any_clone_of_its_handle_does() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::remote(p.key, 0)?;
    let clone = c.clone();
    drop(c);
    assert_eq!(get(&clone.incr(1)?)?, 1);
    assert_eq!(p.dropped.get(), 0);
    drop(clone);
    assert!(p.dropped.wait_for(1));
    Ok(())
}

#[rustyray::test]
fn named_actors_outlive_their_handles() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::options().name("keeper").remote(p.key, 5)?;
    assert_eq!(get(&c.get()?)?, 5);
    drop(c);
    let found = rustyray::get_actor::<Counter>("keeper")?;
    assert_eq!(get(&found.incr(1)?)?, 6);
    drop(found);
    let found = rustyray::get_actor::<Counter>("keeper")?;
    assert_eq!(get(&found.get()?)?, 6);
    assert_eq!(p.dropped.get(), 0);
    rustyray::kill(&found)?;
    assert!(p.dropped.wait_for(1));
    Ok(())
}

#[rustyray::test]
fn a_handle_inside_a_stored_object_keeps_the_actor_alive() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::remote(p.key, 0)?;
    let holder = rustyray::put(Holder {
        label: "kept".into(),
        counter: c.clone(),
    })?;
    drop(c);
    let back = get(&holder)?;
    assert_eq!(back.label, "kept");
    assert_eq!(get(&back.counter.incr(3)?)?, 3);
    assert_eq!(p.dropped.get(), 0);
    drop(back);
    drop(holder);
    assert!(p.dropped.wait_for(1), "the last handle was in the object");
    Ok(())
}

// ------------------------------------------------------ handles in tasks

#[rustyray::test(num_cpus = 2)]
fn tasks_call_actors_through_handles_passed_stored_and_returned() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::remote(p.key, 0)?;
    assert_eq!(get(&bump::remote(c.clone(), 1)?)?, 1);
    assert_eq!(get(&bump_async::remote(c.clone(), 2)?)?, 3);
    // A handle inside an object, passed by ref.
    let holder = rustyray::put(Holder {
        label: "held".into(),
        counter: c.clone(),
    })?;
    assert_eq!(
        get(&bump_held::remote(&holder, 3)?)?,
        ("held".to_string(), 6)
    );
    assert_eq!(get(&c.get()?)?, 6);
    // A handle made in a task and returned.
    let q = TestProbe::new();
    let made = get(&make_counter::remote(q.key, 40)?)?;
    assert_eq!(get(&made.incr(2)?)?, 42);
    assert_eq!(q.constructed.get(), 1);
    Ok(())
}

#[rustyray::test]
fn a_handle_decoded_in_another_runtime_is_refused() -> Result<()> {
    let p = TestProbe::new();
    let c = Counter::remote(p.key, 0)?;
    let bytes = postcard::to_allocvec(&c).expect("a handle encodes");
    // Outside any runtime.
    let decoded = std::thread::spawn({
        let bytes = bytes.clone();
        move || postcard::from_bytes::<CounterHandle>(&bytes).is_ok()
    })
    .join()
    .expect("the thread ends");
    assert!(
        !decoded,
        "no runtime in scope: the handle cannot be decoded"
    );
    // In another runtime.
    let other = rustyray::init(Config::default().num_cpus(1).name("decode-b"))?;
    assert!(postcard::from_bytes::<CounterHandle>(&bytes).is_err());
    drop(other);
    // In its own runtime it decodes, and works.
    let back: CounterHandle = postcard::from_bytes(&bytes).expect("decodes in its runtime");
    assert_eq!(back.id(), c.id());
    assert_eq!(get(&back.incr(1)?)?, 1);
    Ok(())
}

// -------------------------------------------------------------- context

#[rustyray::test]
fn context_inside_a_method_names_the_actor_and_the_call() -> Result<()> {
    let p = TestProbe::new();
    let named = Counter::options().name("ctx").remote(p.key, 0)?;
    let id = Some(named.id());
    let name = Some("ctx".to_string());
    assert_eq!(
        get(&named.whoami()?)?,
        (id, name.clone(), Some("Counter.whoami".to_string()))
    );
    assert_eq!(
        get(&named.whoami_async()?)?,
        (id, name.clone(), Some("Counter.whoami_async".to_string()))
    );
    let born = get(&named.born()?)?;
    assert_eq!((born.0, born.1), (id, name));

    let unnamed = Counter::remote(p.key, 0)?;
    let (actor_id, actor_name, _) = get(&unnamed.whoami()?)?;
    assert_eq!((actor_id, actor_name), (Some(unnamed.id()), None));
    // The driver is no actor.
    let driver = rustyray::context();
    assert_eq!((driver.actor_id(), driver.actor_name()), (None, None));
    assert!(!driver.was_restarted());
    Ok(())
}

// ------------------------------------------------------------ resources

#[rustyray::test(num_cpus = 1)]
fn an_actor_holds_its_cpus_until_it_is_killed() -> Result<()> {
    let p = TestProbe::new();
    let a = Counter::options().num_cpus(1.0).remote(p.key, 0)?;
    // Created (and so holding the CPU); its own calls need none.
    assert_eq!(get(&a.incr(1)?)?, 1);
    let task = one_cpu::remote(7)?;
    assert!(matches!(
        task.get_timeout(BRIEFLY),
        Err(Error::Timeout { .. })
    ));
    rustyray::kill(&a)?;
    assert_eq!(get(&task)?, 7);
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn an_actor_waits_for_the_cpus_another_holds_until_its_last_handle_drops() -> Result<()> {
    let (p, q) = (TestProbe::new(), TestProbe::new());
    let first = Counter::options().num_cpus(1.0).remote(p.key, 1)?;
    assert_eq!(get(&first.get()?)?, 1);
    let second = Counter::options().num_cpus(1.0).remote(q.key, 2)?;
    let call = second.get()?;
    assert!(matches!(
        call.get_timeout(BRIEFLY),
        Err(Error::Timeout { .. })
    ));
    assert_eq!(q.constructed.get(), 0);
    drop(first);
    assert_eq!(get(&call)?, 2);
    assert!(p.dropped.wait_for(1));
    Ok(())
}

/// The CPUs an actor holds go back exactly once, also when it is killed
/// while its constructor still runs.
#[rustyray::test(num_cpus = 1)]
fn an_actor_killed_while_its_constructor_runs_gives_its_cpus_back() -> Result<()> {
    let p = TestProbe::new();
    let a = Counter::options().num_cpus(1.0).remote_gated(p.key, 0)?;
    assert!(p.started.wait_for(1));
    rustyray::kill(&a)?;
    assert_eq!(died(get(&a.get()?)), "it was killed");
    p.gate.incr();
    // The instance built after the kill is dropped, and the CPU is free.
    assert!(p.dropped.wait_for(1));
    assert_eq!(get(&one_cpu::remote(7)?)?, 7);
    assert_eq!(get(&one_cpu::remote(8)?)?, 8);
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn a_crashed_actor_releases_its_cpus() -> Result<()> {
    let p = TestProbe::new();
    let a = Counter::options().num_cpus(1.0).remote(p.key, 0)?;
    assert!(died(get(&a.crash()?)).contains("crashed on purpose"));
    assert_eq!(get(&one_cpu::remote(3)?)?, 3);
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn an_actor_asking_for_more_than_the_runtime_has_is_unschedulable() -> Result<()> {
    let p = TestProbe::new();
    for outcome in [
        Counter::options().num_cpus(2.0).remote(p.key, 0),
        Counter::options().resource("gpu", 1.0).remote(p.key, 0),
    ] {
        match outcome {
            Err(Error::Unschedulable { .. }) => {}
            other => panic!("expected Unschedulable, got {other:?}"),
        }
    }
    // Nothing was created, and the name stays free.
    assert!(matches!(
        Counter::options()
            .name("too-big")
            .num_cpus(2.0)
            .remote(p.key, 0),
        Err(Error::Unschedulable { .. })
    ));
    let fits = Counter::options().name("too-big").remote(p.key, 9)?;
    assert_eq!(get(&fits.get()?)?, 9);
    assert_eq!(p.constructed.get(), 1);
    Ok(())
}

// ------------------------------------------------------------- shutdown

#[test]
fn shutdown_completes_every_actor_call_and_drops_every_state() -> Result<()> {
    const NAME: &str = "actor-shutdown";
    let guard = rustyray::init(Config::default().num_cpus(1).name(NAME))?;
    let probes: Vec<TestProbe> = (0..5).map(|_| TestProbe::new()).collect();
    // Blocked in a sync call, calls queued behind it.
    let sync_blocked = Counter::remote(probes[0].key, 0)?;
    let mut refs = vec![("sync blocked", sync_blocked.held_until_cancelled()?)];
    for _ in 0..3 {
        refs.push(("behind sync", sync_blocked.incr(1)?));
    }
    // Blocked in an async call, calls queued behind it.
    let async_blocked = Counter::remote(probes[1].key, 0)?;
    refs.push(("async blocked", async_blocked.held_async()?));
    for _ in 0..3 {
        refs.push(("behind async", async_blocked.incr(1)?));
    }
    // Busy with many quick calls.
    let busy = Counter::remote(probes[2].key, 0)?;
    let busy_refs: Vec<ObjectRef<i64>> = (0..500).map(|_| busy.incr(1)).collect::<Result<_>>()?;
    // Holding the only CPU; a second actor and a task wait for it.
    let holder = Counter::options().num_cpus(1.0).remote(probes[3].key, 0)?;
    assert_eq!(get(&holder.get()?)?, 0);
    let waiting = Counter::options().num_cpus(1.0).remote(probes[4].key, 0)?;
    refs.push(("waiting for creation", waiting.incr(1)?));
    refs.push(("queued task", one_cpu::remote(1)?));
    assert!(probes[0].started.wait_for(1) && probes[1].started.wait_for(1));

    drop(guard);

    let (tx, rx) = mpsc::channel();
    let outcomes: Vec<(&str, ObjectRef<i64>)> = refs;
    std::thread::spawn(move || {
        let got: Vec<(&str, Result<i64>)> =
            outcomes.iter().map(|(what, r)| (*what, r.get())).collect();
        let busy: Vec<Result<i64>> = busy_refs.iter().map(ObjectRef::get).collect();
        let _ = tx.send((got, busy));
    });
    let (got, busy_got) = rx
        .recv_timeout(PATIENCE)
        .expect("every ref completes after shutdown");
    for (what, outcome) in got {
        assert!(
            matches!(
                outcome,
                Err(Error::ShutDown { .. }) | Err(Error::ActorDied { .. })
            ),
            "{what}: {outcome:?}"
        );
    }
    for (i, outcome) in busy_got.into_iter().enumerate() {
        match outcome {
            Ok(v) => assert_eq!(v, i as i64 + 1),
            Err(Error::ShutDown { .. }) | Err(Error::ActorDied { .. }) => {}
            Err(other) => panic!("busy call {i}: {other:?}"),
        }
    }
    // After shutdown, calls are refused at once.
    assert!(matches!(busy.incr(1), Err(Error::ShutDown { .. })));
    // Every constructed state is dropped, while the handles still exist.
    for (i, p) in probes.iter().enumerate() {
        let constructed = p.constructed.get();
        assert!(
            p.dropped.wait_for(constructed),
            "actor {i}: {constructed} constructed, {} dropped",
            p.dropped.get()
        );
    }
    drop((sync_blocked, async_blocked, busy, holder, waiting));
    Ok(())
}
