//! An actor's life from inside and outside: `exit_actor()` stops it after
//! the call (no restart; pending calls fail with `ActorDied`),
//! `kill_with(.., no_restart(false))` restarts it while restarts remain,
//! `context().current_actor::<A>()` and `assigned_resources()`, and
//! namespaces for named actors.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{died, get, get_all_within, Count, Keyed, Registry, TestState};
use rustyray::{Config, Error, KillOptions, Result};

const PATIENCE: Duration = Duration::from_secs(20);

/// A gate that holds a call until the test opens it.
#[derive(Default)]
struct Gate {
    open: Count,
    entered: Count,
}

static GATES: Registry<Gate> = Registry::new();

impl Keyed for Gate {
    fn registry() -> &'static Registry<Gate> {
        &GATES
    }

    fn release(&self) {
        self.open.incr();
    }
}

#[rustyray::actor]
struct Job {
    n: i64,
    gate: u64,
}

#[rustyray::actor(max_restarts = 3)]
impl Job {
    fn new(gate: u64) -> Self {
        Job { n: 0, gate }
    }

    fn incr(&mut self) -> i64 {
        self.n += 1;
        self.n
    }

    /// Exits once the gate opens.
    fn finish(&mut self) -> i64 {
        let gate = GATES.get(self.gate);
        gate.entered.incr();
        gate.open.wait_for(1);
        rustyray::exit_actor();
        self.n += 100;
        self.n
    }

    fn restarted(&self) -> bool {
        rustyray::context().was_restarted()
    }

    /// Calls itself through the handle the context gives.
    fn me(&self) -> Option<String> {
        rustyray::context()
            .current_actor::<Job>()
            .map(|h| format!("{:?}", h.id()))
    }

    fn not_me(&self) -> bool {
        rustyray::context().current_actor::<Other>().is_none()
    }

    fn resources(&self) -> HashMap<String, f64> {
        rustyray::context().assigned_resources()
    }
}

#[rustyray::actor]
struct Other;

#[rustyray::actor]
impl Other {
    fn new() -> Self {
        Other
    }

    fn hello(&self) -> u8 {
        1
    }
}

#[test]
fn exit_actor_delivers_the_result_then_fails_pending_and_later_calls() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let gate = TestState::<Gate>::new();
    let job = Job::remote(gate.key)?;
    assert_eq!(get(&job.incr()?)?, 1);
    let finish = job.finish()?;
    assert!(gate.entered.wait_for(1));
    let pending = (0..3).map(|_| job.incr()).collect::<Result<Vec<_>>>()?;
    gate.open.incr();
    assert_eq!(get(&finish)?, 101);
    for call in &pending {
        let cause = died(get(call));
        assert_eq!(cause, "it called `exit_actor()`");
    }
    // No restart, although `max_restarts = 3`.
    assert_eq!(died(get(&job.restarted()?)), "it called `exit_actor()`");
    Ok(())
}

#[test]
fn kill_with_no_restart_false_restarts_the_actor() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let gate = TestState::<Gate>::new();
    let job = Job::options().max_restarts(1).remote(gate.key)?;
    assert_eq!(get(&job.incr()?)?, 1);
    assert_eq!(get(&job.incr()?)?, 2);
    rustyray::kill_with(&job, KillOptions::default().no_restart(false))?;
    // A fresh instance: its count starts again.
    assert_eq!(get(&job.incr()?)?, 1);
    assert!(get(&job.restarted()?)?);
    // The last restart used: killed again, it dies.
    rustyray::kill_with(&job, KillOptions::default().no_restart(false))?;
    let cause = died(get(&job.incr()?));
    assert_eq!(cause, "it was killed with no restarts left");
    Ok(())
}

#[test]
fn kill_with_default_options_is_kill() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let gate = TestState::<Gate>::new();
    let job = Job::remote(gate.key)?;
    assert_eq!(get(&job.incr()?)?, 1);
    rustyray::kill_with(&job, KillOptions::default())?;
    assert_eq!(died(get(&job.incr()?)), "it was killed");
    Ok(())
}

#[test]
fn current_actor_is_a_handle_to_the_running_actor() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let gate = TestState::<Gate>::new();
    let job = Job::remote(gate.key)?;
    assert_eq!(get(&job.me()?)?, Some(format!("{:?}", job.id())));
    assert!(get(&job.not_me()?)?);
    assert!(rustyray::context().current_actor::<Job>().is_none());
    let other = Other::remote()?;
    assert_eq!(get(&other.hello()?)?, 1);
    Ok(())
}

#[rustyray::remote(num_cpus = 2, resources(disk = 0.5))]
fn task_resources() -> HashMap<String, f64> {
    rustyray::context().assigned_resources()
}

#[test]
fn assigned_resources_are_what_the_task_or_actor_holds() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(4).resource("disk", 1.0))?;
    let gate = TestState::<Gate>::new();
    let expected = HashMap::from([("CPU".to_string(), 2.0), ("disk".to_string(), 0.5)]);
    assert_eq!(get(&task_resources::remote()?)?, expected);
    let job = Job::options()
        .num_cpus(1.5)
        .resource("disk", 0.25)
        .remote(gate.key)?;
    let expected = HashMap::from([("CPU".to_string(), 1.5), ("disk".to_string(), 0.25)]);
    assert_eq!(get(&job.resources()?)?, expected);
    let idle = Job::remote(gate.key)?;
    assert_eq!(get(&idle.resources()?)?, HashMap::new());
    assert_eq!(rustyray::context().assigned_resources(), HashMap::new());
    Ok(())
}

#[test]
fn names_are_unique_per_namespace() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2).namespace("team-a"))?;
    let gate = TestState::<Gate>::new();
    let a = Job::options().name("job").remote(gate.key)?;
    let b = Job::options()
        .name("job")
        .namespace("team-b")
        .remote(gate.key)?;
    assert_eq!(get(&a.incr()?)?, 1);
    assert_eq!(get(&b.incr()?)?, 1);
    // `get_actor` looks in the runtime's namespace.
    let found = rustyray::get_actor::<Job>("job")?;
    assert_eq!(found.id(), a.id());
    let found_b = rustyray::get_actor_in::<Job>("job", "team-b")?;
    assert_eq!(found_b.id(), b.id());
    assert_eq!(get(&found_b.incr()?)?, 2);
    match rustyray::get_actor_in::<Job>("job", "default") {
        Err(Error::ActorNotFound { name, reason }) => {
            assert_eq!(name, "job");
            assert!(reason.contains("`default`"), "{reason}");
        }
        other => panic!("expected ActorNotFound, got {other:?}"),
    }
    // The same name twice in one namespace is refused.
    assert!(matches!(
        Job::options().name("job").remote(gate.key),
        Err(Error::ActorExists { .. })
    ));
    Ok(())
}

#[test]
fn the_default_namespace_is_default() -> Result<()> {
    let rt = rustyray::init(Config::default().num_cpus(2))?;
    assert_eq!(rt.namespace(), rustyray::runtime::DEFAULT_NAMESPACE);
    let gate = TestState::<Gate>::new();
    let job = Job::options().name("solo").remote(gate.key)?;
    let found = rustyray::get_actor_in::<Job>("solo", "default")?;
    assert_eq!(found.id(), job.id());
    let calls = vec![found.incr()?, job.incr()?];
    assert_eq!(get_all_within(&calls)?, vec![1, 2]);
    Ok(())
}

/// An async actor: the same from async methods.
#[rustyray::actor]
struct Session {
    n: i64,
}

#[rustyray::actor]
impl Session {
    fn new() -> Self {
        Session { n: 0 }
    }

    async fn incr(&mut self) -> i64 {
        tokio::task::yield_now().await;
        self.n += 1;
        self.n
    }

    async fn close(&self) -> i64 {
        tokio::task::yield_now().await;
        rustyray::exit_actor();
        self.n
    }

    async fn me(&self) -> bool {
        tokio::task::yield_now().await;
        let me = rustyray::context().current_actor::<Session>();
        me.is_some_and(|h| Some(h.id()) == rustyray::context().actor_id())
    }
}

#[test]
fn exit_actor_and_current_actor_work_in_async_methods() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let session = Session::options().max_concurrency(1).remote()?;
    assert!(get(&session.me()?)?);
    assert_eq!(get(&session.incr()?)?, 1);
    let close = session.close()?;
    let after = session.incr()?;
    assert_eq!(get(&close)?, 1);
    assert_eq!(died(get(&after)), "it called `exit_actor()`");
    Ok(())
}
