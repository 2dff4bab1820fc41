//! The threads a runtime starts: a task (or a client) blocked on the tasks
//! it submitted runs them itself instead of starting threads (or waiting
//! for one), actors blocked on each other get the threads they need,
//! zero-CPU tasks share a bounded set
//! (reaching the bound is reported, naming the option), and a thread that
//! cannot start fails its task with a clear error.
//!
//! Every wait is bounded by [`PATIENCE`], so a bug fails a test instead of
//! hanging it.

mod common;

use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use common::probe::{probe, TestProbe};
use common::{get, get_all_within, Keyed, Registry, TestState};
use rustyray::{Config, Error, Result, Runtime};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(30);

/// Worker threads of `runtime` alive now (named `<runtime name>-w<n>`).
fn worker_threads_of(runtime: &Runtime) -> usize {
    let prefix = format!("{}-w", runtime.name());
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with(&prefix))
                .count()
        })
        .unwrap_or(0)
}

#[rustyray::remote]
fn fib(n: u64) -> Result<u64> {
    if n < 2 {
        return Ok(n);
    }
    let a = fib::remote(n - 1)?;
    let b = fib::remote(n - 2)?;
    Ok(a.get()? + b.get()?)
}

/// Each task waits for the two it submitted, which cannot start (the one
/// CPU is its own): it runs them itself, so the whole tree runs on the one
/// worker thread instead of a thread per waiting task.
#[test]
fn recursion_at_one_cpu_runs_on_one_thread() -> Result<()> {
    let rt = rustyray::init(Config::default().num_cpus(1).name("fib"))?;
    assert_eq!(get(&fib::remote(20)?)?, 6765);
    assert_eq!(worker_threads_of(&rt), 1);
    Ok(())
}

#[rustyray::remote]
fn double(x: u64) -> u64 {
    2 * x
}

#[test]
fn a_task_whose_thread_cannot_start_fails_saying_so() -> Result<()> {
    // No thread gets a terabyte of stack: starting one fails.
    let _rt = rustyray::init(Config::default().num_cpus(1).worker_stack_size(1 << 40))?;
    match double::remote(4)?.get_timeout(PATIENCE) {
        Err(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(task, "worker_threads::double");
            assert!(
                message.starts_with("no worker thread could start to run it (")
                    && message.ends_with("): the process is at a thread or memory limit"),
                "{message}"
            );
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    Ok(())
}

/// A barrier the actors of one test meet at.
struct Meeting(Barrier);

impl Keyed for Meeting {
    fn registry() -> &'static Registry<Meeting> {
        &MEETINGS
    }

    fn release(&self) {}
}

static MEETINGS: Registry<Meeting> = Registry::new();

#[rustyray::actor]
struct Attendee;

#[rustyray::actor]
impl Attendee {
    fn new() -> Self {
        Attendee
    }

    /// Blocks its thread until every attendee arrived; whether it leads.
    fn meet(&self, key: u64) -> bool {
        MEETINGS.get(key).0.wait().is_leader()
    }
}

/// In Ray each actor is a process of its own: 500 actors blocked at once
/// on one barrier all get there.
#[rustyray::test(num_cpus = 2)]
fn five_hundred_actors_blocked_on_one_barrier_all_pass_it() -> Result<()> {
    const ACTORS: usize = 500;
    let meeting = TestState::with(Meeting(Barrier::new(ACTORS)));
    let actors = (0..ACTORS)
        .map(|_| Attendee::remote())
        .collect::<Result<Vec<_>>>()?;
    let calls = actors
        .iter()
        .map(|a| a.meet(meeting.key))
        .collect::<Result<Vec<_>>>()?;
    let led = get_all_within(&calls)?;
    assert_eq!(led.len(), ACTORS);
    assert_eq!(led.iter().filter(|&&leader| leader).count(), 1);
    Ok(())
}

/// Waits for the gate of `key`, needing no CPU.
#[rustyray::remote(num_cpus = 0)]
fn idle_wait(key: u64) -> u32 {
    let p = probe(key);
    p.started.incr();
    p.gate.wait_for(1);
    1
}

/// The name of the thread it runs on.
#[rustyray::remote(num_cpus = 0)]
fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string()
}

/// A client thread (no task) blocked in `get` on a task that waits for a
/// pool thread runs it itself: here the one zero-CPU thread is held, so
/// without that the `get` would wait until the gate opens.
#[test]
fn a_client_blocked_on_a_task_waiting_for_a_thread_runs_it_itself() -> Result<()> {
    let p = TestProbe::new();
    let _rt = rustyray::init(Config::default().num_cpus(1).zero_cpu_task_threads(1))?;
    let held = idle_wait::remote(p.key)?;
    assert!(p.started.wait_for(1));
    let here = std::thread::current().name().map(str::to_string);
    let ran_on = thread_name::remote()?.get()?;
    assert_eq!(Some(ran_on), here);
    assert_eq!(p.started.get(), 1);
    p.open();
    assert_eq!(get(&held)?, 1);
    Ok(())
}

/// An async actor whose calls say where their first poll ran.
#[rustyray::actor]
struct Where;

#[rustyray::actor]
impl Where {
    fn new() -> Self {
        Where
    }

    /// Answers once the actor is up (a sync method: on a worker thread).
    fn up(&self) -> bool {
        true
    }

    /// The name of the thread its first poll runs on.
    async fn thread_name(&self) -> String {
        std::thread::current()
            .name()
            .unwrap_or_default()
            .to_string()
    }

    /// The same, then waits (holding no thread) for the gate of `key`.
    async fn gated(&self, key: u64) -> String {
        let name = self.thread_name().await;
        let p = probe(key);
        p.started.incr();
        p.gate.reached(1).await;
        name
    }
}

/// A client blocked in `get` on an async actor call alone in its lane runs
/// the call's first poll itself, instead of waiting for the lane's driver
/// to be scheduled on the executor; a call that suspends there goes on on
/// the executor. Here no thread drives the executor until the test says
/// so, so the driver cannot take the calls first.
#[test]
fn a_client_blocked_on_an_async_call_alone_in_its_lane_runs_it_itself() -> Result<()> {
    let executor = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = rustyray::init(Config::default().tokio_handle(executor.handle().clone()))?;
    let (go, told) = std::sync::mpsc::channel::<()>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = std::thread::spawn(move || {
        // Driven once told, or after PATIENCE: then the driver runs the
        // calls, and a hand-over that never came fails the test instead of
        // hanging it.
        let _ = told.recv_timeout(PATIENCE);
        executor.block_on(stopped)
    });
    let actor = Where::remote()?;
    assert!(actor.up()?.get()?);
    let here = std::thread::current().name().map(str::to_string);
    assert_eq!(Some(actor.thread_name()?.get()?), here);
    let p = TestProbe::new();
    let held = actor.gated(p.key)?;
    let client = std::thread::Builder::new()
        .name("handover-client".into())
        .spawn(move || held.get())
        .unwrap();
    // Its first poll ran, on the client thread: only then is the gate
    // opened and the executor driven, for the rest of the call.
    assert!(p.started.wait_for(1));
    p.open();
    go.send(()).unwrap();
    assert_eq!(client.join().unwrap()?, "handover-client");
    drop(rt);
    stop.send(()).unwrap();
    driver.join().unwrap().unwrap();
    Ok(())
}

/// Collects the messages of `tracing` events.
#[derive(Default)]
struct Events(Mutex<Vec<String>>);

struct Message<'a>(&'a mut String);

impl tracing::field::Visit for Message<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

struct Collect(Arc<Events>);

impl tracing::Subscriber for Collect {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        // Tasks' own lifecycle events (submitted, started, …) are not what
        // this test watches.
        if event.metadata().target() == "rustyray::task" {
            return;
        }
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        self.0 .0.lock().unwrap().push(message);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn zero_cpu_tasks_beyond_the_thread_limit_wait_and_say_which_option_to_raise() -> Result<()> {
    let events = Arc::new(Events::default());
    let p = TestProbe::new();
    let _rt = rustyray::init(Config::default().num_cpus(1).zero_cpu_task_threads(2))?;
    let refs = tracing::subscriber::with_default(Collect(Arc::clone(&events)), || {
        (0..3)
            .map(|_| idle_wait::remote(p.key))
            .collect::<Result<Vec<_>>>()
    })?;
    assert!(p.started.wait_for(2));
    // The third waits for one of the two threads.
    assert_eq!(p.started.get(), 2);
    assert_eq!(
        *events.0.lock().unwrap(),
        vec![
            "zero-CPU tasks wait for a thread: 2 threads already run; raise \
             `Config::zero_cpu_task_threads` if they wait for each other"
                .to_string()
        ]
    );
    p.open();
    assert_eq!(get_all_within(&refs)?, vec![1, 1, 1]);
    Ok(())
}
