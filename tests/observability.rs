//! Seeing what a runtime does: every task attempt and actor call runs in a
//! `tracing` span named after it (events from inside a task carry it); the
//! state API lists tasks, actors and objects with their state; the timeline
//! holds one complete event per task that ran.
//!
//! Subscribers are installed per thread (`with_default`), never globally: a
//! task keeps the subscriber of the thread that submitted it. Every wait is
//! bounded by [`PATIENCE`].

#[path = "common/capture.rs"]
mod capture;
mod common;

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use capture::{Capture, EventRecord};
use common::{lock, Keyed, Registry, TestState};
use rustyray::state::{self, ActorStatus, ObjectLocation, TaskStatus};
use rustyray::{Config, Error, Result};

const PATIENCE: Duration = Duration::from_secs(20);

/// A gate a test's tasks wait at, and a count of the tasks that reached it.
#[derive(Default)]
struct Gate {
    state: Mutex<(bool, usize)>,
    changed: Condvar,
}

impl Gate {
    /// Counts this task in, then blocks until the gate opens (at most
    /// [`PATIENCE`]).
    fn pass(&self) {
        let mut state = lock(&self.state);
        state.1 += 1;
        self.changed.notify_all();
        let _ = self
            .changed
            .wait_timeout_while(state, PATIENCE, |s| !s.0)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// Blocks until `n` tasks reached the gate; `false` after [`PATIENCE`].
    fn reached(&self, n: usize) -> bool {
        let state = lock(&self.state);
        let (state, _) = self
            .changed
            .wait_timeout_while(state, PATIENCE, |s| s.1 < n)
            .unwrap_or_else(PoisonError::into_inner);
        state.1 >= n
    }

    fn open(&self) {
        lock(&self.state).0 = true;
        self.changed.notify_all();
    }
}

static GATES: Registry<Gate> = Registry::new();

impl Keyed for Gate {
    fn registry() -> &'static Registry<Self> {
        &GATES
    }

    fn release(&self) {
        self.open();
    }
}

#[rustyray::remote]
fn chatty(x: u32) -> (String, String) {
    tracing::info!(x, "inside the task");
    let ctx = rustyray::context();
    (
        ctx.task_name().unwrap_or_default(),
        ctx.task_id().map(|id| id.to_string()).unwrap_or_default(),
    )
}

#[rustyray::remote]
async fn chatty_async(x: u32) -> String {
    tokio::task::yield_now().await;
    tracing::info!(x, "inside the async task");
    rustyray::context().task_name().unwrap_or_default()
}

#[rustyray::remote(max_retries = 1, retry_exceptions = true)]
fn fails_first(key: u64) -> std::result::Result<u32, String> {
    let attempt = rustyray::context().attempt();
    tracing::warn!(key, attempt, "trying");
    if attempt == 0 {
        return Err("first attempt fails".to_string());
    }
    Ok(attempt)
}

#[rustyray::remote]
fn square(x: u64) -> u64 {
    x * x
}

#[rustyray::remote]
fn held(key: u64) -> u64 {
    GATES.get(key).pass();
    key
}

#[rustyray::remote]
fn after(x: u64) -> u64 {
    x + 1
}

#[rustyray::remote]
fn pause(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// An actor whose constructor fails.
#[rustyray::actor]
struct Doomed;

#[rustyray::actor]
impl Doomed {
    fn new() -> std::result::Result<Self, String> {
        Err("the disk is on fire".into())
    }

    fn ping(&self) -> u8 {
        1
    }
}

#[rustyray::actor]
struct Greeter {
    greeted: u32,
}

#[rustyray::actor]
impl Greeter {
    fn new() -> Self {
        Greeter { greeted: 0 }
    }

    fn greet(&mut self, who: String) -> String {
        self.greeted += 1;
        tracing::info!(who = who.as_str(), "greeting");
        format!("hello {who}")
    }

    fn crash(&mut self) -> u32 {
        panic!("the greeter crashed")
    }
}

/// The events whose message is `message`.
fn with_message<'a>(events: &'a [EventRecord], message: &str) -> Vec<&'a EventRecord> {
    events.iter().filter(|e| e.message() == message).collect()
}

#[test]
fn events_inside_a_task_carry_its_span_named_after_the_function() -> Result<()> {
    let capture = Capture::default();
    let (name, id, runtime) = tracing::subscriber::with_default(capture.clone(), || {
        let rt = rustyray::init(Config::default().num_cpus(2).name("traced"))?;
        let (name, id) = chatty::remote(7)?.get()?;
        Ok::<_, Error>((name, id, rt.name().to_string()))
    })?;
    assert!(name.ends_with("chatty"), "{name}");
    let events = capture.events();
    let inside = with_message(&events, "inside the task");
    assert_eq!(inside.len(), 1, "{events:#?}");
    let span = &inside[0].spans[0];
    assert_eq!(span.name, name);
    assert_eq!(span.target, "rustyray::task");
    assert_eq!(span.fields.get("task_id"), Some(&id));
    assert_eq!(span.fields.get("attempt").map(String::as_str), Some("0"));
    assert_eq!(span.fields.get("runtime"), Some(&runtime));
    assert_eq!(span.fields.get("actor_id"), None);
    assert_eq!(inside[0].fields.get("x").map(String::as_str), Some("7"));

    // Submitted, started and finished, in that order, with the right task.
    let lifecycle: Vec<&str> = events
        .iter()
        .filter(|e| e.target == "rustyray::task")
        .map(|e| e.message())
        .collect();
    assert_eq!(lifecycle, ["submitted", "started", "finished"]);
    let submitted = with_message(&events, "submitted");
    assert_eq!(submitted[0].fields.get("task_id"), Some(&id));
    let finished = with_message(&events, "finished");
    assert_eq!(finished[0].spans[0].fields.get("task_id"), Some(&id));
    Ok(())
}

#[test]
fn a_task_whose_outcome_was_seen_is_listed_as_finished() -> Result<()> {
    // The "finished" event of an async task comes after its results are
    // out, and that of an actor's creation after the actor opened for
    // calls: holding their runners there leaves both between showing their
    // outcome and leaving the system.
    let rt = rustyray::init(Config::default().num_cpus(3))?;
    let gate = TestState::<Gate>::new();
    let held = GATES.get(gate.key);
    let capture = Capture::pausing_at("finished", move || held.pass());
    let (task, greeter) = tracing::subscriber::with_default(capture, || {
        Ok::<_, Error>((chatty_async::remote(3)?, Greeter::remote()?))
    })?;
    assert!(gate.reached(2), "both runners reached the finished event");
    assert_eq!(task.get()?, "observability::chatty_async");
    assert_eq!(greeter.greet("dee".to_string())?.get()?, "hello dee");
    let tasks: Vec<(String, TaskStatus)> = state::list_tasks()?
        .into_iter()
        .map(|t| (t.name, t.status))
        .collect();
    let finished = |name: &str| (name.to_string(), TaskStatus::Finished);
    assert_eq!(
        tasks,
        [
            finished("observability::chatty_async"),
            finished("Greeter.new"),
            finished("Greeter.greet"),
        ]
    );
    gate.open();
    drop(rt);
    Ok(())
}

#[test]
fn a_task_span_is_a_child_of_the_span_it_was_submitted_in() -> Result<()> {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let _rt = rustyray::init(Config::default().num_cpus(2))?;
        let request = tracing::info_span!("request", id = 42);
        let _entered = request.enter();
        chatty::remote(1)?.get()?;
        Ok::<_, Error>(())
    })?;
    let events = capture.events();
    let inside = with_message(&events, "inside the task");
    let names: Vec<&str> = inside[0].spans.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].ends_with("chatty"), "{names:?}");
    assert_eq!(names[1], "request");
    Ok(())
}

#[test]
fn async_tasks_are_traced_across_their_awaits() -> Result<()> {
    let capture = Capture::default();
    let name = tracing::subscriber::with_default(capture.clone(), || {
        let _rt = rustyray::init(Config::default().num_cpus(2))?;
        chatty_async::remote(3)?.get()
    })?;
    let events = capture.events();
    let inside = with_message(&events, "inside the async task");
    assert_eq!(inside.len(), 1, "{events:#?}");
    assert_eq!(inside[0].spans[0].name, name);
    assert_eq!(
        inside[0].spans[0].fields.get("attempt").map(String::as_str),
        Some("0")
    );
    Ok(())
}

#[test]
fn each_attempt_has_its_span_and_a_retry_is_an_event() -> Result<()> {
    let capture = Capture::default();
    let value = tracing::subscriber::with_default(capture.clone(), || {
        let _rt = rustyray::init(Config::default().num_cpus(2))?;
        fails_first::remote(5)?.get()
    })?;
    assert_eq!(value, 1);
    let events = capture.events();
    let attempts: Vec<&str> = with_message(&events, "trying")
        .iter()
        .map(|e| e.spans[0].fields.get("attempt").map_or("?", String::as_str))
        .collect();
    assert_eq!(attempts, ["0", "1"]);
    let retrying = with_message(&events, "retrying");
    assert_eq!(retrying.len(), 1);
    assert_eq!(retrying[0].level, tracing::Level::INFO);
    assert_eq!(
        retrying[0].fields.get("error").map(String::as_str),
        Some(
            format!(
                "task `{}` failed: first attempt fails",
                with_message(&events, "trying")[0].spans[0].name
            )
            .as_str()
        )
    );
    Ok(())
}

#[test]
fn actor_calls_run_in_a_span_named_after_the_method_with_the_actor_id() -> Result<()> {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let _rt = rustyray::init(Config::default().num_cpus(2))?;
        let greeter = Greeter::remote()?;
        assert_eq!(greeter.greet("ann".to_string())?.get()?, "hello ann");
        let actor = state::list_actors()?;
        assert_eq!(actor.len(), 1);
        let events = capture.events();
        let greeting = with_message(&events, "greeting");
        assert_eq!(greeting.len(), 1, "{events:#?}");
        assert_eq!(greeting[0].spans[0].name, "Greeter.greet");
        assert_eq!(
            greeting[0].spans[0].fields.get("actor_id"),
            Some(&actor[0].id.to_string())
        );
        Ok(())
    })
}

#[test]
fn without_a_subscriber_tasks_run_untraced() -> Result<()> {
    // Another test's subscriber is on its own thread: nothing reaches it
    // from here, and tasks here run as usual.
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let (name, _) = chatty::remote(1)?.get()?;
    assert!(name.ends_with("chatty"));
    Ok(())
}

#[test]
fn n_tasks_give_n_finished_entries() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let refs = (0..50u64).map(square::remote).collect::<Result<Vec<_>>>()?;
    let values = rustyray::get_all(&refs)?;
    assert_eq!(values, (0..50u64).map(|x| x * x).collect::<Vec<_>>());
    let tasks = state::list_tasks()?;
    assert_eq!(tasks.len(), 50);
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Finished));
    assert!(tasks.iter().all(|t| t.name.ends_with("square")));
    assert!(tasks.iter().all(|t| t.attempt == 0 && t.actor.is_none()));
    let ids: Vec<u64> = tasks.iter().map(|t| t.id.index()).collect();
    assert_eq!(ids, (1..=50).collect::<Vec<u64>>());
    Ok(())
}

#[test]
fn finished_tasks_are_kept_up_to_the_configured_count() -> Result<()> {
    // One CPU: the tasks end in the order they were submitted.
    let _rt = rustyray::init(Config::default().num_cpus(1).max_finished_tasks(10))?;
    let refs = (0..30u64).map(square::remote).collect::<Result<Vec<_>>>()?;
    rustyray::get_all(&refs)?;
    let tasks = state::list_tasks()?;
    let ids: Vec<u64> = tasks.iter().map(|t| t.id.index()).collect();
    assert_eq!(ids, (21..=30).collect::<Vec<u64>>());
    Ok(())
}

#[test]
fn a_hung_task_shows_as_running_and_its_dependent_as_waiting() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let gate = TestState::<Gate>::new();
    let hung = held::remote(gate.key)?;
    let dependent = after::remote(&hung)?;
    assert!(gate.reached(1), "the task never started");

    let tasks = state::list_tasks()?;
    let shown: Vec<(String, TaskStatus)> = tasks
        .iter()
        .map(|t| {
            let short = t.name.rsplit("::").next().unwrap_or("").to_string();
            (short, t.status)
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("held".to_string(), TaskStatus::Running),
            ("after".to_string(), TaskStatus::WaitingForDependencies),
        ]
    );

    gate.open();
    assert_eq!(dependent.get()?, gate.key + 1);
    let statuses: Vec<TaskStatus> = state::list_tasks()?.iter().map(|t| t.status).collect();
    assert_eq!(statuses, [TaskStatus::Finished, TaskStatus::Finished]);
    Ok(())
}

#[test]
fn a_task_queued_for_its_cpu_shows_as_queued() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(1))?;
    let gate = TestState::<Gate>::new();
    let first = held::remote(gate.key)?;
    let second = square::remote(3)?;
    assert!(gate.reached(1), "the first task never started");
    let statuses: Vec<TaskStatus> = state::list_tasks()?.iter().map(|t| t.status).collect();
    assert_eq!(statuses, [TaskStatus::Running, TaskStatus::Queued]);
    gate.open();
    assert_eq!((first.get()?, second.get()?), (gate.key, 9));
    Ok(())
}

#[test]
fn failed_and_cancelled_tasks_show_as_failed() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let gate = TestState::<Gate>::new();
    let hung = held::remote(gate.key)?;
    let dependent = after::remote(&hung)?;
    rustyray::cancel(&dependent)?;
    assert!(matches!(dependent.get(), Err(Error::Cancelled { .. })));
    gate.open();
    hung.get()?;
    // An actor whose constructor fails: its creation failed. (The call is
    // a task only if it came before the actor's death, so it is left out.)
    let doomed = Doomed::remote()?;
    assert!(matches!(doomed.ping()?.get(), Err(Error::ActorDied { .. })));
    let statuses: Vec<(String, TaskStatus)> = state::list_tasks()?
        .into_iter()
        .filter(|t| t.name != "Doomed.ping")
        .map(|t| (t.name, t.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("observability::held".to_string(), TaskStatus::Finished),
            ("observability::after".to_string(), TaskStatus::Failed),
            ("Doomed.new".to_string(), TaskStatus::Failed),
        ]
    );
    Ok(())
}

#[test]
fn actors_are_listed_with_their_class_name_status_and_restarts() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let greeter = Greeter::options().name("front-desk").remote()?;
    let crashing = Greeter::options().max_restarts(1).remote()?;
    greeter.greet("bob".to_string())?.get()?;
    assert!(crashing.crash()?.get().is_err());
    // The restart ran once the next call is served.
    assert_eq!(crashing.greet("cy".to_string())?.get()?, "hello cy");

    let actors = state::list_actors()?;
    let shown: Vec<(Option<&str>, &str, ActorStatus, u32)> = actors
        .iter()
        .map(|a| (a.name.as_deref(), a.class.as_str(), a.status, a.restarts))
        .collect();
    assert_eq!(
        shown,
        [
            (Some("front-desk"), "Greeter", ActorStatus::Alive, 0),
            (None, "Greeter", ActorStatus::Alive, 1),
        ]
    );

    rustyray::kill(&greeter)?;
    let statuses: Vec<ActorStatus> = state::list_actors()?.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [ActorStatus::Dead, ActorStatus::Alive]);

    // The calls are tasks too, with their actor; so are the creations and
    // the restart (whose place among the calls depends on timing).
    let tasks = state::list_tasks()?;
    let created: Vec<Option<rustyray::ActorId>> = tasks
        .iter()
        .filter(|t| t.name == "Greeter.new")
        .map(|t| t.actor)
        .collect();
    let crashing_id = actors[1].id;
    assert_eq!(
        created,
        [Some(actors[0].id), Some(crashing_id), Some(crashing_id)]
    );
    let calls: Vec<(String, Option<rustyray::ActorId>)> = tasks
        .into_iter()
        .filter(|t| t.name != "Greeter.new")
        .map(|t| (t.name, t.actor))
        .collect();
    assert_eq!(
        calls,
        [
            ("Greeter.greet".to_string(), Some(actors[0].id)),
            ("Greeter.crash".to_string(), Some(crashing_id)),
            ("Greeter.greet".to_string(), Some(crashing_id)),
        ]
    );
    Ok(())
}

#[test]
fn objects_are_listed_with_their_size_and_location() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("rustyray-obs-{}", std::process::id()));
    let _rt = rustyray::init(
        Config::default()
            .num_cpus(2)
            .object_store_memory(3000)
            .spill_dir(&dir),
    )?;
    let first = rustyray::put(vec![1u8; 1000])?;
    let second = rustyray::put(vec![2u8; 1000])?;
    let objects = state::list_objects()?;
    let shown: Vec<_> = objects.iter().map(|o| (o.id, o.size, o.location)).collect();
    // 1,000 bytes and their length as a two-byte varint.
    assert_eq!(
        shown,
        [
            (first.id(), 1002, ObjectLocation::Memory),
            (second.id(), 1002, ObjectLocation::Memory),
        ]
    );
    // A third does not fit: the oldest goes to disk.
    let third = rustyray::put(vec![3u8; 1000])?;
    let shown: Vec<_> = state::list_objects()?
        .iter()
        .map(|o| (o.id, o.location))
        .collect();
    assert_eq!(
        shown,
        [
            (first.id(), ObjectLocation::Disk),
            (second.id(), ObjectLocation::Memory),
            (third.id(), ObjectLocation::Memory),
        ]
    );
    drop(first);
    assert_eq!(state::list_objects()?.len(), 2);
    Ok(())
}

#[test]
fn state_calls_without_a_runtime_say_so() {
    assert!(matches!(
        state::list_tasks(),
        Err(Error::NotInitialized { .. })
    ));
    assert!(matches!(
        rustyray::timeline("unused.json"),
        Err(Error::NotInitialized { .. })
    ));
}

/// The timeline at `path`, parsed.
fn read_timeline(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the timeline file");
    std::fs::remove_file(path).expect("removing the timeline file");
    serde_json::from_str(&text).expect("the timeline is JSON")
}

fn temp_path(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rustyray-{what}-{}.json", std::process::id()))
}

#[test]
fn the_timeline_has_one_complete_event_per_finished_task() -> Result<()> {
    let rt = rustyray::init(Config::default().num_cpus(2).name("timeline"))?;
    let refs = (0..20u64).map(square::remote).collect::<Result<Vec<_>>>()?;
    rustyray::get_all(&refs)?;
    let greeter = Greeter::remote()?;
    greeter.greet("dee".to_string())?.get()?;
    let path = temp_path("timeline");
    rustyray::timeline(&path)?;
    let json = read_timeline(&path);

    let events = json["traceEvents"].as_array().expect("traceEvents");
    let complete: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    let names: Vec<&str> = complete
        .iter()
        .map(|e| e["name"].as_str().unwrap_or(""))
        .collect();
    // 20 tasks, the actor's creation and its call.
    assert_eq!(complete.len(), 22, "{names:?}");
    assert_eq!(names.iter().filter(|n| n.ends_with("square")).count(), 20);
    assert_eq!(names.iter().filter(|n| **n == "Greeter.new").count(), 1);
    assert_eq!(names.iter().filter(|n| **n == "Greeter.greet").count(), 1);
    for event in &complete {
        assert!(event["ts"].as_f64().is_some_and(|ts| ts >= 0.0), "{event}");
        assert!(event["dur"].as_f64().is_some_and(|d| d >= 0.0), "{event}");
        assert_eq!(event["pid"], std::process::id());
    }
    // Every row a task ran on is named after its worker thread.
    let rows: std::collections::BTreeSet<u64> =
        complete.iter().filter_map(|e| e["tid"].as_u64()).collect();
    let named: std::collections::BTreeSet<u64> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .filter_map(|e| e["tid"].as_u64())
        .collect();
    assert_eq!(rows, named);
    let process = events
        .iter()
        .find(|e| e["name"] == "process_name")
        .expect("the process row");
    assert_eq!(process["args"]["name"], rt.name());
    Ok(())
}

#[test]
fn timeline_durations_follow_the_work_done() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let short = pause::remote(1)?;
    let long = pause::remote(60)?;
    assert_eq!((short.get()?, long.get()?), (1, 60));
    let path = temp_path("durations");
    rustyray::timeline(&path)?;
    let json = read_timeline(&path);
    let durations: Vec<f64> = json["traceEvents"]
        .as_array()
        .expect("traceEvents")
        .iter()
        .filter(|e| e["ph"] == "X")
        .filter_map(|e| e["dur"].as_f64())
        .collect();
    assert_eq!(durations.len(), 2);
    // In µs: each at least its pause, the long one longer.
    assert!(durations[0] >= 1_000.0, "{durations:?}");
    assert!(durations[1] >= 60_000.0, "{durations:?}");
    assert!(durations[1] > durations[0], "{durations:?}");
    Ok(())
}

#[rustyray::remote]
fn waits_then_pauses(ms: u64) -> Result<u64> {
    let inner = pause::remote(1)?.get()?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(inner + ms)
}

#[test]
fn a_task_run_while_its_caller_waits_ends_before_its_caller_goes_on() -> Result<()> {
    // The inner task ends, wherever it runs (on another worker, or on the
    // outer's thread while it waits), before the outer's 200 ms pause: its
    // end time must not be the end of the job it ran in.
    for cpus in [1, 2] {
        let _rt = rustyray::init(Config::default().num_cpus(cpus))?;
        // Workers that have run a job before.
        assert_eq!(square::remote(3)?.get()?, 9);
        assert_eq!(waits_then_pauses::remote(200)?.get()?, 201);
        let path = temp_path(&format!("nested-{cpus}"));
        rustyray::timeline(&path)?;
        let json = read_timeline(&path);
        let span = |suffix: &str| -> (f64, f64) {
            let event = json["traceEvents"]
                .as_array()
                .expect("traceEvents")
                .iter()
                .find(|e| e["ph"] == "X" && e["name"].as_str().is_some_and(|n| n.ends_with(suffix)))
                .unwrap_or_else(|| panic!("an event named *{suffix}: {json}"));
            let ts = event["ts"].as_f64().expect("ts");
            (ts, ts + event["dur"].as_f64().expect("dur"))
        };
        let (outer_start, outer_end) = span("waits_then_pauses");
        let (inner_start, inner_end) = span("::pause");
        assert!(outer_start <= inner_start, "{json}");
        assert!(inner_end - inner_start >= 1_000.0, "{json}");
        assert!(inner_end <= outer_end - 200_000.0, "{json}");
    }
    Ok(())
}

#[test]
fn an_unwritable_timeline_path_is_an_io_error() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(1))?;
    let path = std::env::temp_dir()
        .join(format!("rustyray-missing-{}", std::process::id()))
        .join("deeper")
        .join("timeline.json");
    match rustyray::timeline(&path) {
        Err(Error::Io { what, .. }) => {
            assert_eq!(what, format!("writing the timeline to {}", path.display()))
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
    Ok(())
}
