//! The Ray cluster backend against a real Ray 2.60 cluster: two nodes on
//! loopback, started by `.ci/ray-cluster-tests` (which sets
//! `RUSTYRAY_RAY_ADDRESS`). Run that script, not this file alone.
//!
//! Each test starts a runtime on the cluster; the runtimes of this process
//! share its one Ray connection. Ray runs each task in a worker process
//! that starts this test binary again in worker mode, running the same
//! test, whose `init` serves the worker's calls.
#![cfg(feature = "ray")]

use std::time::Duration;

use rustyray::{Config, Error, RuntimeGuard};

fn address() -> String {
    std::env::var("RUSTYRAY_RAY_ADDRESS").unwrap_or_else(|_| "auto".to_string())
}

fn cluster() -> RuntimeGuard {
    match rustyray::init(Config::default().ray(address())) {
        Ok(guard) => guard,
        Err(err) => panic!("cannot join the test cluster at {}: {err}", address()),
    }
}

#[rustyray::remote]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// The Ray node the task runs on, in hex.
#[rustyray::remote]
fn where_am_i() -> String {
    rustyray::context().node_id().to_string()
}

/// The node the task runs on, its task id and attempt, as its context says.
#[rustyray::remote]
fn who_am_i() -> (rustyray::NodeId, String, u32) {
    let context = rustyray::context();
    let task = context.task_id().map(|id| id.to_string());
    (
        context.node_id(),
        task.unwrap_or_default(),
        context.attempt(),
    )
}

/// Whether `text` is Ray's hex id of `bytes` bytes.
fn is_ray_hex(text: &str, bytes: usize) -> bool {
    text.len() == 2 * bytes && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[rustyray::remote]
fn sum(values: Vec<u32>) -> (u64, String) {
    let total = values.iter().map(|&v| u64::from(v)).sum();
    (total, rustyray::ray::node_id().unwrap_or_default())
}

#[rustyray::remote]
fn numbers(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[rustyray::remote]
fn boom(what: String) -> i64 {
    panic!("boom: {what}")
}

#[rustyray::remote(num_returns = 2)]
fn split(s: String) -> (String, usize) {
    let n = s.len();
    (s.to_uppercase(), n)
}

/// Kills its worker process on its first attempt; says which attempt it is
/// on the next.
#[rustyray::remote(max_retries = 2)]
fn abort_once(marker: String) -> u32 {
    if !std::path::Path::new(&marker).exists() {
        std::fs::write(&marker, b"first attempt").expect("write the marker");
        std::process::abort();
    }
    rustyray::context().attempt()
}

/// Fails every attempt, after adding its attempt number to the file `log`.
#[rustyray::remote(max_retries = 2, retry_exceptions = true)]
fn always_fails(log: String) -> Result<u32, String> {
    use std::io::Write;
    let attempt = rustyray::context().attempt();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("open the log");
    writeln!(file, "{attempt}").expect("write the log");
    Err(format!("attempt {attempt} fails"))
}

/// Holds what it was granted until the file `release` exists (at most two
/// minutes).
#[rustyray::remote(num_cpus = 0)]
fn hold_until(release: String) -> u32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !std::path::Path::new(&release).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    1
}

/// A fresh path for a test's marker file `file` (its directory made, the
/// file absent); the test removes the directory when done.
fn scratch(test: &str, file: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("rustyray-ray-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    let _ = std::fs::remove_file(&path);
    (dir, path)
}

/// Waits (at most two minutes: another test may hold the resource a while)
/// until Ray's figures, which its nodes report a little late, make `holds`
/// true.
fn until_ray_reports(what: &str, mut holds: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !holds() {
        assert!(
            std::time::Instant::now() < deadline,
            "Ray never reported {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[rustyray::remote(num_cpus = 0)]
fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[rustyray::remote]
async fn add_async(a: i64, b: i64) -> i64 {
    tokio::task::yield_now().await;
    a + b
}

#[test]
fn tasks_and_dependencies_run_in_ray_workers() {
    let _rt = cluster();
    let a = add::remote(1, 2).unwrap();
    let b = add::remote(&a, 10).unwrap();
    assert_eq!(b.get().unwrap(), 13);
    assert_eq!(a.get().unwrap(), 3);
    assert_eq!(add_async::remote(20, 22).unwrap().get().unwrap(), 42);
    let (upper, len) = split::remote("ray").unwrap();
    assert_eq!(
        (upper.get().unwrap(), len.get().unwrap()),
        ("RAY".to_string(), 3)
    );
}

#[test]
fn a_task_pinned_to_node2_runs_on_another_node() {
    let _rt = cluster();
    let driver = rustyray::context().node_id();
    assert_eq!(
        Some(driver.hex()),
        rustyray::ray::node_id().as_deref(),
        "the driver's node is its Ray node"
    );
    assert!(is_ray_hex(driver.hex(), 28), "{driver:?}");
    let (there, there_task, attempt) = who_am_i::options()
        .resource("node2", 1.0)
        .remote()
        .unwrap()
        .get()
        .unwrap();
    let (here, here_task, _) = who_am_i::options()
        .resource("head", 1.0)
        .remote()
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(here, driver);
    assert_ne!(there, driver);
    assert!(is_ray_hex(there.hex(), 28), "{there:?}");
    // Inside, the task's id is Ray's (24 bytes, in hex), one per task.
    assert!(is_ray_hex(&there_task, 24), "{there_task}");
    assert!(is_ray_hex(&here_task, 24), "{here_task}");
    assert_ne!(there_task, here_task);
    assert_eq!(attempt, 0);
}

#[test]
fn objects_cross_nodes() {
    let _rt = cluster();
    let driver = rustyray::ray::node_id().expect("the driver's node");
    // Put by the driver (on the head node), read on node 2.
    let put = rustyray::put(vec![1u32, 2, 3, 4]).unwrap();
    let (total, node) = sum::options()
        .resource("node2", 1.0)
        .remote(&put)
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(total, 10);
    assert_ne!(node, driver);
    // Made on node 2, read on the head node.
    let made = numbers::options()
        .resource("node2", 1.0)
        .remote(100)
        .unwrap();
    let (total, node) = sum::options()
        .resource("head", 1.0)
        .remote(&made)
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(total, 5050);
    assert_eq!(node, driver);
    assert_eq!(made.get().unwrap(), (1..=100).collect::<Vec<u32>>());
    // About a megabyte each way between a worker and its program.
    let many = numbers::options()
        .resource("node2", 1.0)
        .remote(300_000)
        .unwrap();
    let (total, _) = sum::remote(&many).unwrap().get().unwrap();
    assert_eq!(total, 45_000_150_000);
    assert_eq!(many.get().unwrap(), (1..=300_000).collect::<Vec<u32>>());
}

#[test]
fn a_panic_is_task_failed_with_its_message() {
    let local = {
        let _rt = rustyray::init(Config::default()).unwrap();
        boom::remote("here").unwrap().get().unwrap_err()
    };
    let _rt = cluster();
    let remote = boom::remote("here").unwrap().get().unwrap_err();
    match &remote {
        Error::TaskFailed { task, message, .. } => {
            assert_eq!(task, concat!(module_path!(), "::boom"));
            assert_eq!(message, "panicked: boom: here");
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    assert_eq!(remote.to_string(), local.to_string());
}

#[test]
fn max_retries_retries_after_the_worker_process_dies() {
    let _rt = cluster();
    let (dir, marker) = scratch("abort", "attempted");
    let r = abort_once::remote(marker.to_string_lossy().into_owned()).unwrap();
    // Ray's retry is attempt 1, as `context()` says in it.
    assert_eq!(r.get_timeout(Duration::from_secs(120)).unwrap(), 1);
    assert_eq!(std::fs::read(&marker).unwrap(), b"first attempt");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ray_retries_an_application_error_max_retries_times_numbering_the_attempts() {
    let _rt = cluster();
    let (dir, log) = scratch("retry", "attempts");
    let r = always_fails::remote(log.to_string_lossy().into_owned()).unwrap();
    match r.get_timeout(Duration::from_secs(120)) {
        Err(Error::TaskFailed { message, .. }) => assert_eq!(message, "attempt 2 fails"),
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    // Three runs in all (the first and two retries, each once): Ray
    // retries, the worker does not retry again inside each of Ray's.
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "0\n1\n2\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wait_and_cancel_behave_as_locally() {
    let _rt = cluster();
    let fast = nap::remote(0).unwrap();
    let slow = nap::remote(60_000).unwrap();
    let (ready, pending) = rustyray::wait(
        &[slow.clone(), fast.clone()],
        1,
        Some(Duration::from_secs(60)),
    )
    .unwrap();
    assert_eq!((ready, pending), (vec![fast.clone()], vec![slow.clone()]));
    assert_eq!(fast.get().unwrap(), 0);
    rustyray::cancel(&slow).unwrap();
    match slow.get() {
        Err(Error::Cancelled { task }) => assert_eq!(task, concat!(module_path!(), "::nap")),
        other => panic!("expected Cancelled, got {other:?}"),
    }
    // A timeout leaves the task running.
    let later = nap::remote(2_000).unwrap();
    assert!(matches!(
        later.get_timeout(Duration::from_millis(1)),
        Err(Error::Timeout { .. })
    ));
    assert_eq!(later.get().unwrap(), 2_000);
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

    fn node(&self) -> String {
        rustyray::context().node_id().to_string()
    }

    /// The name of the process that started the actor's process.
    fn parent(&self) -> String {
        let parent = std::os::unix::process::parent_id();
        std::fs::read_to_string(format!("/proc/{parent}/comm"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// The actor's id and the call's task id, as the context says them.
    fn ids(&self) -> (Option<rustyray::ActorId>, String) {
        let context = rustyray::context();
        let task = context.task_id().map(|id| id.to_string());
        (context.actor_id(), task.unwrap_or_default())
    }

    /// Kills the actor's process on the first call (`marker` missing);
    /// the count and the attempt that returned it.
    fn crash_once(&self, marker: String) -> (i64, u32) {
        if !std::path::Path::new(&marker).exists() {
            std::fs::write(&marker, b"crashed").expect("write the marker");
            std::process::abort();
        }
        (self.n, rustyray::context().attempt())
    }

    /// Fails with `Err` until its count reaches `until`, counting up on
    /// each failure; then the attempt that succeeded.
    #[method(max_retries = 2, retry_exceptions = true)]
    fn flaky(&mut self, until: i64) -> Result<u32, String> {
        if self.n < until {
            self.n += 1;
            return Err("not yet".to_string());
        }
        Ok(rustyray::context().attempt())
    }

    fn fail(&self, why: String) -> Result<i64, String> {
        Err(why)
    }

    /// `v`, and where it ran.
    fn tagged(&self, v: i64) -> (String, i64) {
        (rustyray::ray::node_id().unwrap_or_default(), v)
    }

    /// Its count; the actor stops for good once this call returns.
    fn quit(&self) -> i64 {
        rustyray::exit_actor();
        self.n
    }

    /// Counts up from its count, never ending on its own.
    #[method(streaming, generator_backpressure = 2)]
    fn forever(&self) -> impl Iterator<Item = i64> + Send + 'static {
        self.n..
    }

    /// The counts after each of `n` increments of one, and where it ran.
    #[method(streaming)]
    fn count_up(&mut self, n: i64) -> impl Iterator<Item = (i64, String)> + Send + 'static {
        let (start, node) = (self.n, rustyray::ray::node_id().unwrap_or_default());
        self.n += n;
        (1..=n).map(move |i| (start + i, node.clone()))
    }
}

#[test]
fn an_actor_on_node2_keeps_state_in_order() {
    let _rt = cluster();
    let driver = rustyray::context().node_id().to_string();
    let counter = Counter::options()
        .resource("node2", 1.0)
        .remote(10)
        .unwrap();
    let calls: Vec<_> = (1..=5).map(|by| counter.incr(by).unwrap()).collect();
    assert_eq!(rustyray::get_all(&calls).unwrap(), vec![11, 13, 16, 20, 25]);
    let node = counter.node().unwrap().get().unwrap();
    assert_ne!(node, driver);
    // The actor lives in the Ray worker process itself, which Ray's
    // `raylet` started, not in a process of its own that a worker started.
    assert_eq!(counter.parent().unwrap().get().unwrap(), "raylet");
    // The actor's id is Ray's, alike on the driver and in the actor; each
    // call has a Ray task id of its own.
    assert!(
        is_ray_hex(&counter.id().to_string(), 16),
        "{}",
        counter.id()
    );
    let (id, first) = counter.ids().unwrap().get().unwrap();
    let (_, second) = counter.ids().unwrap().get().unwrap();
    assert_eq!(id, Some(counter.id()));
    assert!(is_ray_hex(&first, 24), "{first}");
    assert_ne!(first, second);
    // A call's application error is TaskFailed with its message.
    match counter.fail("no".to_string()).unwrap().get() {
        Err(Error::TaskFailed { message, .. }) => assert_eq!(message, "no"),
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    // Refs pass between the actor and tasks.
    let total = add::remote(&calls[4], 5).unwrap();
    assert_eq!(total.get().unwrap(), 30);
}

/// Meets other calls: `n` calls of `meet` wait for each other (up to 60 s).
#[rustyray::actor]
struct Rendezvous {
    arrived: std::sync::Mutex<u32>,
    changed: std::sync::Condvar,
}

#[rustyray::actor]
impl Rendezvous {
    fn new() -> Self {
        Rendezvous {
            arrived: std::sync::Mutex::new(0),
            changed: std::sync::Condvar::new(),
        }
    }

    /// Whether `n` calls were here at once.
    fn meet(&self, n: u32) -> bool {
        let mut arrived = self.arrived.lock().expect("the lock");
        *arrived += 1;
        self.changed.notify_all();
        let (arrived, timeout) = self
            .changed
            .wait_timeout_while(arrived, Duration::from_secs(60), |a| *a < n)
            .expect("the lock");
        !timeout.timed_out() && *arrived >= n
    }
}

#[test]
fn an_actor_with_max_concurrency_runs_calls_at_once() {
    let _rt = cluster();
    let actor = Rendezvous::options().max_concurrency(3).remote().unwrap();
    let calls: Vec<_> = (0..3).map(|_| actor.meet(3).unwrap()).collect();
    assert_eq!(rustyray::get_all(&calls).unwrap(), vec![true, true, true]);
}

/// A gate: `pass` waits in the default group until `open`, a call of the
/// `control` group, opens it.
#[rustyray::actor]
struct Gate {
    open: std::sync::Mutex<bool>,
    changed: std::sync::Condvar,
}

#[rustyray::actor(concurrency_groups(control = 1))]
impl Gate {
    fn new() -> Self {
        Gate {
            open: std::sync::Mutex::new(false),
            changed: std::sync::Condvar::new(),
        }
    }

    /// Whether the gate opened within 60 s.
    fn pass(&self) -> bool {
        let open = self.open.lock().expect("the lock");
        let (open, _) = self
            .changed
            .wait_timeout_while(open, Duration::from_secs(60), |open| !*open)
            .expect("the lock");
        *open
    }

    #[method(concurrency_group = "control")]
    fn open(&self) -> u32 {
        *self.open.lock().expect("the lock") = true;
        self.changed.notify_all();
        1
    }

    #[method(concurrency_group = "elsewhere")]
    fn undeclared(&self) -> u32 {
        0
    }

    #[method(streaming, concurrency_group = "control")]
    fn countdown(&self, from: u32) -> impl Iterator<Item = u32> + Send + 'static {
        (0..from).rev()
    }
}

#[test]
fn a_call_waiting_in_the_default_group_does_not_hold_up_another_group() {
    let _rt = cluster();
    let name = format!("gate-{}", std::process::id());
    let gate = Gate::options().name(name.as_str()).remote().unwrap();
    // Ray's single thread of the default group blocks in `pass`; `open`
    // runs on the `control` group's own thread (through a handle found by
    // name, which knows the actor's groups too).
    let passing = gate.pass().unwrap();
    let found: GateHandle = rustyray::get_actor::<Gate>(&name).unwrap();
    assert_eq!(
        found
            .open()
            .unwrap()
            .get_timeout(Duration::from_secs(60))
            .unwrap(),
        1
    );
    assert!(passing.get_timeout(Duration::from_secs(60)).unwrap());
    assert!(matches!(
        found.undeclared(),
        Err(Error::InvalidConfig {
            field: "concurrency_group",
            ..
        })
    ));
    // A streaming method of an actor that runs calls at once.
    let (items, end) = drain(gate.countdown(3).unwrap());
    assert_eq!((items, end.is_none()), (vec![2, 1, 0], true));
}

#[test]
fn named_actors_are_found_and_killed() {
    let _rt = cluster();
    let name = format!("counter-{}", std::process::id());
    let counter = Counter::options().name(name.as_str()).remote(0).unwrap();
    assert_eq!(counter.incr(1).unwrap().get().unwrap(), 1);
    let found: CounterHandle = rustyray::get_actor::<Counter>(&name).unwrap();
    assert_eq!(found.incr(1).unwrap().get().unwrap(), 2);
    assert!(matches!(
        rustyray::get_actor::<Counter>("no-such-actor"),
        Err(Error::ActorNotFound { .. })
    ));
    rustyray::kill(&found).unwrap();
    match counter.incr(1).unwrap().get() {
        Err(Error::ActorDied { .. }) => {}
        other => panic!("expected ActorDied, got {other:?}"),
    }
}

#[test]
fn an_actor_restarts_after_its_process_dies() {
    let _rt = cluster();
    let (dir, marker) = scratch("crash", "crashed");
    let counter = Counter::options()
        .max_restarts(1)
        .max_task_retries(1)
        .remote(100)
        .unwrap();
    assert_eq!(counter.incr(1).unwrap().get().unwrap(), 101);
    // The call kills the actor's process; Ray restarts the actor (its
    // constructor runs again) and retries the call there.
    let crashed = counter
        .crash_once(marker.to_string_lossy().into_owned())
        .unwrap();
    // Ray's second attempt, on the restarted actor.
    assert_eq!(
        crashed.get_timeout(Duration::from_secs(120)).unwrap(),
        (100, 1)
    );
    assert_eq!(std::fs::read(&marker).unwrap(), b"crashed");
    assert_eq!(counter.incr(1).unwrap().get().unwrap(), 101);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_python_program_calls_rust_functions_and_actors_by_name() {
    let _rt = cluster();
    // A Ray program of its own, in Python, on the same cluster: it starts
    // this test binary in worker mode (this test, which serves there).
    let python = std::env::var("VIRTUAL_ENV")
        .map(|venv| format!("{venv}/bin/python"))
        .unwrap_or_else(|_| "python3".to_string());
    let program = [
        std::env::current_exe()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        "a_python_program_calls_rust_functions_and_actors_by_name".to_string(),
        "--exact".to_string(),
    ];
    let script = format!(
        r#"
import sys
sys.path.insert(0, {helper:?})
import ray
from bridge import rust_function
ray.init(address={address:?}, log_to_driver=False)
program = [{program}]
add = rust_function(program, "ray_cluster::add")
split = rust_function(program, "ray_cluster::split", num_returns=2)
print(ray.get(add.remote(2, 3)))
print(ray.get(list(split.remote("abc"))))
try:
    ray.get(rust_function(program, "ray_cluster::boom").remote("from Python"))
except Exception as error:
    print("boom" if "boom: from Python" in str(error) else repr(error))
from bridge import rust_actor
Counter = rust_actor(program, "ray_cluster::Counter")
counter = Counter.remote(10)
print([ray.get(counter.call.remote("incr", by)) for by in (5, 2)])
try:
    ray.get(counter.call.remote("fail", "refused from Python"))
except Exception as error:
    print("failed" if "refused from Python" in str(error) else repr(error))
print(ray.get(counter.call.remote("incr", 0)))
"#,
        helper = concat!(env!("CARGO_MANIFEST_DIR"), "/src/backend/ray"),
        address = address(),
        program = program.map(|p| format!("{p:?}")).join(", "),
    );
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["5", "['ABC', 3]", "boom", "[15, 17]", "failed", "17"]
    );
}

#[test]
fn python_functions_are_called_with_msgpack_values() {
    let _rt = cluster();
    let hypot = rustyray::python::function("math", "hypot");
    assert_eq!(hypot.remote::<f64>((3.0, 4.0)).unwrap().get().unwrap(), 5.0);
    let joined = rustyray::python::function("operator", "add")
        .remote::<String>(("ab", "cd"))
        .unwrap();
    assert_eq!(joined.get().unwrap(), "abcd");
    let sorted = rustyray::python::function("builtins", "sorted")
        .remote::<Vec<i64>>((vec![3, 1, 2],))
        .unwrap();
    assert_eq!(sorted.get().unwrap(), vec![1, 2, 3]);
    // A Python result feeds a Rust task once complete.
    let product = rustyray::python::function("operator", "mul")
        .remote::<i64>((6, 7))
        .unwrap();
    assert_eq!(product.get().unwrap(), 42);
    assert_eq!(add::remote(&product, 1).unwrap().get().unwrap(), 43);
    match rustyray::python::function("math", "sqrt")
        .remote::<f64>((-1.0,))
        .unwrap()
        .get()
    {
        Err(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(task, "math.sqrt");
            assert_eq!(message, "ValueError: math domain error");
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
}

#[test]
fn python_functions_need_a_runtime_on_ray() {
    let _rt = rustyray::init(Config::default()).unwrap();
    match rustyray::python::function("math", "hypot").remote::<f64>((3.0, 4.0)) {
        Err(Error::InvalidArgument { reason, .. }) => assert_eq!(
            reason,
            "the current runtime does not run on Ray: start it with `Config::default().ray(..)`"
        ),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn resources_are_rays_figures_for_the_whole_cluster() {
    let _rt = cluster();
    let total = rustyray::cluster_resources().unwrap();
    assert_eq!(
        (total["CPU"], total["head"], total["node2"]),
        (2.0, 1.0, 1.0),
        "{total:?}"
    );
    let (dir, release) = scratch("hold", "release");
    let node2 = || rustyray::available_resources().unwrap()["node2"];
    let held = hold_until::options()
        .resource("node2", 1.0)
        .remote(release.to_string_lossy().into_owned())
        .unwrap();
    // Nothing of node2 free: listed with 0.0 (Ray leaves it out).
    until_ray_reports("node2 held", || node2() == 0.0);
    std::fs::write(&release, b"go").unwrap();
    assert_eq!(held.get_timeout(Duration::from_secs(120)).unwrap(), 1);
    until_ray_reports("node2 free again", || node2() == 1.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn placement_groups_reserve_on_the_cluster_and_hold_what_is_placed_in_them() {
    let _rt = cluster();
    let driver = rustyray::ray::node_id().expect("the driver's node");
    // Node 2's CPU, reserved there (its `node2` resource pins the bundle).
    let pg = rustyray::placement_group(
        vec![rustyray::Bundle::new().num_cpus(1.0).resource("node2", 1.0)],
        rustyray::PlacementStrategy::StrictPack,
    )
    .unwrap();
    // (Other tests' work on node 2 may hold it a while first.)
    assert!(pg.wait(Duration::from_secs(120)).unwrap(), "never reserved");
    assert_eq!(pg.bundle_count(), 1);
    // Tasks placed in the bundle ask for a CPU only: with node 2's CPU
    // reserved, they run there only through the group.
    let placed: Vec<_> = (0..3)
        .map(|_| {
            where_am_i::options()
                .placement_group(&pg, Some(0))
                .remote()
                .unwrap()
        })
        .collect();
    for r in &placed {
        let node = r.get_timeout(Duration::from_secs(120)).unwrap();
        assert!(
            !node.is_empty() && node != driver,
            "ran on {node}, the driver's node"
        );
    }
    let counter = Counter::options()
        .placement_group(&pg, None)
        .remote(1)
        .unwrap();
    assert_ne!(
        counter
            .node()
            .unwrap()
            .get_timeout(Duration::from_secs(120))
            .unwrap(),
        driver
    );
    // A task given the group places its own work in it.
    let (reserved, task_node, actor_node) = place_in_given::options()
        .resource("head", 0.5)
        .remote(pg.clone())
        .unwrap()
        .get_timeout(Duration::from_secs(120))
        .unwrap();
    let node2 = placed[0].get().unwrap();
    assert!(reserved);
    assert_eq!((task_node, actor_node), (node2.clone(), node2));
    rustyray::remove_placement_group(&pg).unwrap();
    // Removal frees node 2 and kills what was placed in the group.
    until_ray_reports("node2 free after the removal", || {
        rustyray::available_resources().unwrap()["node2"] == 1.0
    });
    assert!(matches!(
        counter
            .incr(1)
            .unwrap()
            .get_timeout(Duration::from_secs(120)),
        Err(Error::ActorDied { .. })
    ));
}

/// Given a placement group made on the cluster: whether it is reserved,
/// and the nodes where a task and an actor it places in the group's
/// bundle 0 run.
#[rustyray::remote]
fn place_in_given(pg: rustyray::PlacementGroup) -> (bool, String, String) {
    let reserved = pg.wait(Duration::from_secs(120)).unwrap();
    let task = where_am_i::options()
        .placement_group(&pg, Some(0))
        .remote()
        .unwrap();
    let counter = Counter::options()
        .placement_group(&pg, Some(0))
        .remote(1)
        .unwrap();
    let actor_node = counter.node().unwrap().get().unwrap();
    (reserved, task.get().unwrap(), actor_node)
}

#[test]
fn a_task_makes_a_placement_group_that_outlives_it() {
    let _rt = cluster();
    let driver = rustyray::ray::node_id().expect("the driver's node");
    let made = make_a_group_on_node2::options()
        .resource("head", 0.5)
        .remote()
        .unwrap();
    // Another task given the made group (Ray resolves the ref) places
    // its work in it.
    let placed = placed_in::options()
        .resource("head", 0.5)
        .remote(&made)
        .unwrap()
        .get_timeout(Duration::from_secs(120))
        .unwrap();
    assert!(
        !placed.is_empty() && placed != driver,
        "work placed in the group ran on {placed}, the driver's node"
    );
    // The group comes to the driver as Ray's own, and lives on after the
    // task that made it: the driver waits for it and places work in it.
    let pg = made.get_timeout(Duration::from_secs(120)).unwrap();
    assert_eq!(pg.bundle_count(), 1);
    assert_eq!(pg.strategy(), rustyray::PlacementStrategy::StrictPack);
    assert!(pg.wait(Duration::from_secs(120)).unwrap());
    let here = where_am_i::options()
        .num_cpus(0.0)
        .placement_group(&pg, Some(0))
        .remote()
        .unwrap()
        .get_timeout(Duration::from_secs(120))
        .unwrap();
    assert_eq!(here, placed);
    rustyray::remove_placement_group(&pg).unwrap();
    // The removal frees the half of node 2 the group held (other tests'
    // work on node 2 may hold it a while longer).
    until_ray_reports("node2 free after the removal", || {
        rustyray::available_resources().unwrap()["node2"] == 1.0
    });
}

/// A placement group of half of node 2, made inside a Ray worker, once
/// Ray has reserved it.
#[rustyray::remote]
fn make_a_group_on_node2() -> rustyray::PlacementGroup {
    let pg = rustyray::placement_group(
        vec![rustyray::Bundle::new().resource("node2", 0.5)],
        rustyray::PlacementStrategy::StrictPack,
    )
    .unwrap();
    assert!(pg.wait(Duration::from_secs(120)).unwrap(), "never reserved");
    pg
}

/// Where a task placed in bundle 0 of `pg` runs.
#[rustyray::remote]
fn placed_in(pg: rustyray::PlacementGroup) -> String {
    where_am_i::options()
        .num_cpus(0.0)
        .placement_group(&pg, Some(0))
        .remote()
        .unwrap()
        .get()
        .unwrap()
}

/// Where it runs, then `n` numbers; an error instead of `fail_at`.
#[rustyray::remote(streaming)]
fn tally(
    n: u32,
    fail_at: Option<u32>,
) -> impl Iterator<Item = Result<(u32, String), String>> + Send + 'static {
    let node = rustyray::ray::node_id().unwrap_or_default();
    (0..n).map(move |i| match fail_at {
        Some(at) if at == i => Err(format!("item {i} failed")),
        _ => Ok((i, node.clone())),
    })
}

#[rustyray::remote(streaming)]
async fn squares(n: u64) -> impl futures::Stream<Item = u64> + Send + 'static {
    futures::stream::iter((0..n).map(|i| i * i))
}

/// Never ends on its own.
#[rustyray::remote(streaming)]
fn endless() -> impl Iterator<Item = u64> + Send + 'static {
    0..
}

/// Each item's value (each read within 60 s), and the error that ended
/// the stream.
fn drain<T: rustyray::Object>(stream: rustyray::ObjectRefStream<T>) -> (Vec<T>, Option<Error>) {
    let mut values = Vec::new();
    for item in stream {
        match item.and_then(|r| r.get_timeout(Duration::from_secs(60))) {
            Ok(value) => values.push(value),
            Err(err) => return (values, Some(err)),
        }
    }
    (values, None)
}

#[test]
fn a_streaming_generator_yields_its_items_from_a_ray_worker() {
    let _rt = cluster();
    let driver = rustyray::ray::node_id().expect("the driver's node");
    let stream = tally::options()
        .resource("node2", 1.0)
        .remote(4, None)
        .unwrap();
    let task = stream.task_ref().clone();
    let (items, end) = drain(stream);
    assert!(end.is_none(), "{end:?}");
    assert_eq!(
        items.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    let node = &items[0].1;
    assert!(items.iter().all(|(_, n)| n == node));
    assert_ne!(node, &driver);
    task.get_timeout(Duration::from_secs(60)).unwrap();

    let (squares, end) = drain(squares::remote(5).unwrap());
    assert_eq!((squares, end.is_none()), (vec![0, 1, 4, 9, 16], true));
}

#[test]
fn an_error_mid_stream_follows_the_items_before_it() {
    let _rt = cluster();
    let stream = tally::remote(5, Some(2)).unwrap();
    let task = stream.task_ref().clone();
    let (items, end) = drain(stream);
    assert_eq!(items.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1]);
    match end {
        Some(Error::TaskFailed { task, message, .. }) => {
            assert!(task.ends_with("tally"), "{task}");
            assert_eq!(message, "item 2 failed");
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    assert!(matches!(
        task.get_timeout(Duration::from_secs(60)),
        Err(Error::TaskFailed { .. })
    ));
}

#[test]
fn cancelling_a_stream_stops_it_on_the_cluster() {
    let _rt = cluster();
    let mut stream = endless::options()
        .generator_backpressure(2)
        .remote()
        .unwrap();
    let first: Vec<u64> = (&mut stream)
        .take(3)
        .map(|item| item.unwrap().get_timeout(Duration::from_secs(60)).unwrap())
        .collect();
    assert_eq!(first, [0, 1, 2]);
    rustyray::cancel(stream.task_ref()).unwrap();
    // At most the items already fed, then the cancellation, then the end.
    let (rest, end) = drain(stream);
    assert!(rest.len() <= 4, "{rest:?}");
    assert!(matches!(end, Some(Error::Cancelled { .. })), "{end:?}");
    // Ray stopped the generator: the CPU it held is free on either node.
    for node in ["head", "node2"] {
        where_am_i::options()
            .resource(node, 1.0)
            .remote()
            .unwrap()
            .get_timeout(Duration::from_secs(60))
            .unwrap();
    }
}

#[test]
fn a_streaming_method_runs_in_its_actor_in_order() {
    let _rt = cluster();
    let counter = Counter::options()
        .resource("node2", 1.0)
        .remote(10)
        .unwrap();
    let stream = counter.count_up(3).unwrap();
    let after = counter.incr(100).unwrap();
    let (items, end) = drain(stream);
    assert!(end.is_none(), "{end:?}");
    assert_eq!(
        items.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [11, 12, 13]
    );
    assert_eq!(items[0].1, counter.node().unwrap().get().unwrap());
    assert_eq!(after.get().unwrap(), 113);
}

#[test]
fn an_actor_pool_spreads_calls_over_actors_on_both_nodes() {
    let _rt = cluster();
    let actors =
        ["head", "node2"].map(|node| Counter::options().resource(node, 0.5).remote(0).unwrap());
    let nodes: Vec<String> = actors
        .iter()
        .map(|a| a.node().unwrap().get().unwrap())
        .collect();
    let mut pool = rustyray::util::ActorPool::new(actors);
    let ran: Vec<(String, i64)> = pool
        .map(|a, v| a.tagged(v), vec![1, 2, 3, 4])
        .collect::<rustyray::Result<_>>()
        .unwrap();
    // In submission order; the first two calls went to the two actors.
    assert_eq!(
        ran.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!((&ran[0].0, &ran[1].0), (&nodes[0], &nodes[1]));
}

/// Takes `n` items from the queue, in order.
#[rustyray::remote]
fn consume(queue: rustyray::util::Queue<u32>, n: usize) -> Vec<u32> {
    (0..n).map(|_| queue.get().unwrap()).collect()
}

/// Puts `100..100 + n` into the queue; how many it put.
#[rustyray::remote]
fn produce(queue: rustyray::util::Queue<u32>, n: u32) -> u32 {
    (0..n).for_each(|i| queue.put(100 + i).unwrap());
    n
}

#[test]
fn a_queue_passes_items_between_the_driver_and_tasks_on_the_cluster() {
    let _rt = cluster();
    let queue = rustyray::util::Queue::<u32>::new(2).unwrap();
    let consumer = consume::options()
        .resource("node2", 1.0)
        .remote(queue.clone(), 5)
        .unwrap();
    // The queue holds 2: each put past that waits for the consumer.
    for i in 0..5 {
        queue.put(i).unwrap();
    }
    assert_eq!(consumer.get().unwrap(), vec![0, 1, 2, 3, 4]);
    assert!(matches!(
        queue.get_timeout(Duration::ZERO),
        Err(Error::Timeout { .. })
    ));
    queue.put_nowait_batch(vec![7, 8]).unwrap();
    assert_eq!(queue.size().unwrap(), 2);
    assert!(queue.full().unwrap());
    assert_eq!(queue.get_nowait_batch(2).unwrap(), vec![7, 8]);
    // A task puts (its third put waits for room); the driver gets.
    let produced = produce::remote(queue.clone(), 3).unwrap();
    let got: Vec<u32> = (0..3).map(|_| queue.get().unwrap()).collect();
    assert_eq!(got, vec![100, 101, 102]);
    assert_eq!(produced.get().unwrap(), 3);
    queue.shutdown();
}

/// An item that holds a ref.
type Labelled = (u32, rustyray::ObjectRef<String>);

/// Puts `n` items into the queue, each holding a ref to a text put in
/// this worker; how many it put.
#[rustyray::remote]
fn produce_refs(queue: rustyray::util::Queue<Labelled>, n: u32) -> u32 {
    for i in 0..n {
        let text = rustyray::put(format!("worker {i}")).unwrap();
        queue.put((i, text)).unwrap();
    }
    n
}

/// Takes `n` items from the queue, each with the text its ref names.
#[rustyray::remote]
fn consume_refs(queue: rustyray::util::Queue<Labelled>, n: usize) -> Vec<(u32, String)> {
    (0..n)
        .map(|_| {
            let (i, text) = queue.get().unwrap();
            (i, text.get().unwrap())
        })
        .collect()
}

#[test]
fn a_queue_on_the_cluster_carries_items_that_hold_refs() {
    let _rt = cluster();
    let queue = rustyray::util::Queue::<Labelled>::new(0).unwrap();
    // A task on node 2 puts them and ends: the items keep its objects.
    let produced = produce_refs::options()
        .resource("node2", 1.0)
        .remote(queue.clone(), 3)
        .unwrap();
    assert_eq!(produced.get_timeout(Duration::from_secs(120)).unwrap(), 3);
    let (first, text) = queue.get().unwrap();
    assert_eq!((first, text.get().unwrap()), (0, "worker 0".to_string()));
    let (second, text) = futures::executor::block_on(queue.get_async(None)).unwrap();
    assert_eq!((second, text.get().unwrap()), (1, "worker 1".to_string()));
    let rest = queue.get_nowait_batch(1).unwrap();
    assert_eq!(rest[0].0, 2);
    assert_eq!(rest[0].1.get().unwrap(), "worker 2");
    // The driver's refs go the other way.
    let items: Vec<Labelled> = (0..2)
        .map(|i| (i, rustyray::put(format!("driver {i}")).unwrap()))
        .collect();
    queue.put_nowait_batch(items).unwrap();
    let consumed = consume_refs::options()
        .resource("node2", 1.0)
        .remote(queue.clone(), 2)
        .unwrap();
    assert_eq!(
        consumed.get_timeout(Duration::from_secs(120)).unwrap(),
        [(0, "driver 0".to_string()), (1, "driver 1".to_string())]
    );
    queue.shutdown();
}

#[rustyray::remote]
fn total_of(refs: Vec<rustyray::ObjectRef<u32>>) -> (u32, String) {
    let total = refs.iter().map(|r| r.get().unwrap_or(1000)).sum();
    (total, rustyray::ray::node_id().unwrap_or_default())
}

/// Refs to `n` objects put in the worker (its own runtime's), each `10 * i`.
#[rustyray::remote]
fn tens(n: u32) -> Vec<rustyray::ObjectRef<u32>> {
    (0..n).map(|i| rustyray::put(10 * i).unwrap()).collect()
}

/// The refs it was given, and a ref to a vector of refs to them (a ref
/// inside an object a ref inside the result names).
#[rustyray::remote]
fn echo(
    refs: Vec<rustyray::ObjectRef<u32>>,
) -> (
    Vec<rustyray::ObjectRef<u32>>,
    rustyray::ObjectRef<Vec<rustyray::ObjectRef<u32>>>,
) {
    let nested = rustyray::put(refs.clone()).unwrap();
    (refs, nested)
}

/// A ref to a value and a ref to a task that panics, both made in the
/// worker.
#[rustyray::remote]
fn one_good_one_failed() -> Vec<rustyray::ObjectRef<i64>> {
    vec![
        rustyray::put(7_i64).unwrap(),
        boom::remote("inside").unwrap(),
    ]
}

/// Calls the counter it was passed: its value after adding 1, and the
/// node it ran on.
#[rustyray::remote]
fn bump(counter: CounterHandle) -> (i64, String) {
    let now = counter.incr(1).and_then(|r| r.get()).unwrap_or(-1);
    (now, rustyray::ray::node_id().unwrap_or_default())
}

/// Adds `by` to each counter, twice; the sum of the second values, summed
/// by a task of the worker's own from the refs the calls returned.
#[rustyray::remote]
fn bump_all(counters: Vec<CounterHandle>, by: i64) -> i64 {
    let calls: Vec<_> = counters
        .iter()
        .flat_map(|c| [c.incr(by).unwrap(), c.incr(by).unwrap()])
        .collect();
    let seconds: Vec<_> = calls.iter().skip(1).step_by(2).collect();
    let total = seconds.iter().fold(add::remote(0, 0).unwrap(), |sum, r| {
        add::remote(&sum, *r).unwrap()
    });
    total.get().unwrap_or(-1)
}

/// The error a failing call of the counter it was passed gives.
#[rustyray::remote]
fn fail_through(counter: CounterHandle) -> String {
    match counter.fail("through a task".to_string()).unwrap().get() {
        Err(Error::TaskFailed { message, .. }) => message,
        other => format!("unexpected: {other:?}"),
    }
}

/// Streams `count_up(n)` from the counter it was given, then two items of
/// `forever()` (the stream, dropped, stops); the counts, and the counter
/// after one more increment.
#[rustyray::remote]
fn stream_through(counter: CounterHandle, n: i64) -> (Vec<i64>, Vec<i64>, i64) {
    let counted = counter
        .count_up(n)
        .unwrap()
        .map(|item| item.unwrap().get().unwrap().0)
        .collect();
    let first_two = counter
        .forever()
        .unwrap()
        .take(2)
        .map(|item| item.unwrap().get().unwrap())
        .collect();
    let after = counter.incr(1).unwrap().get().unwrap();
    (counted, first_two, after)
}

#[test]
fn a_task_streams_from_an_actor_whose_handle_it_was_given() {
    let _rt = cluster();
    let counter = Counter::remote(10).unwrap();
    let (counted, first_two, after) = stream_through::remote(counter.clone(), 3)
        .unwrap()
        .get_timeout(Duration::from_secs(100))
        .unwrap();
    assert_eq!(counted, [11, 12, 13]);
    // `forever` counts from the count without changing it; the increment
    // ran once the stopped generator let the actor go.
    assert_eq!(first_two, [13, 14]);
    assert_eq!(after, 14);
    assert_eq!(counter.incr(0).unwrap().get().unwrap(), 14);
    // Waiting for a stream's items lends the worker's CPU, as in Ray.
    let counted = stream_from_a_counter_on_node2::options()
        .resource("node2", 0.5)
        .remote()
        .unwrap()
        .get_timeout(Duration::from_secs(100))
        .unwrap();
    assert_eq!(counted, [11, 12, 13]);
}

/// Creates a counter that needs node 2's one CPU, which this task holds,
/// and streams `count_up(3)` from it: the counter starts only if waiting
/// for the stream lends the CPU.
#[rustyray::remote]
fn stream_from_a_counter_on_node2() -> Vec<i64> {
    let counter = Counter::options()
        .num_cpus(1.0)
        .resource("node2", 0.5)
        .remote(10)
        .unwrap();
    let items = counter.count_up(3).unwrap();
    items.map(|item| item.unwrap().get().unwrap().0).collect()
}

#[test]
fn refs_inside_arguments_reach_a_task_on_another_node() {
    let _rt = cluster();
    let driver = rustyray::ray::node_id().expect("the driver's node");
    let one = rustyray::put(1_u32).unwrap();
    let made = numbers::remote(3).unwrap();
    let two = rustyray::put(2_u32).unwrap();
    let (total, node) = total_of::options()
        .resource("node2", 1.0)
        .remote(vec![one.clone(), two.clone(), one.clone()])
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(total, 4);
    assert_ne!(node, driver);
    // A put value holding refs, passed as a ref: Ray resolves the outer
    // object, the refs inside stay refs.
    let list = rustyray::put(vec![two.clone(), two]).unwrap();
    let (total, _) = total_of::remote(&list).unwrap().get().unwrap();
    assert_eq!(total, 4);
    assert_eq!(made.get().unwrap(), vec![1, 2, 3]);
}

#[test]
fn refs_inside_results_come_back_to_the_driver_and_on_to_other_tasks() {
    let _rt = cluster();
    let refs = tens::options()
        .resource("node2", 1.0)
        .remote(3)
        .unwrap()
        .get()
        .unwrap();
    let values: Vec<u32> = refs.iter().map(|r| r.get().unwrap()).collect();
    assert_eq!(values, vec![0, 10, 20]);
    // Passed on, inside a value, to a task on the other node.
    let (total, _) = total_of::options()
        .resource("head", 1.0)
        .remote(refs.clone())
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(total, 30);
    // Back and forth: the same objects, one level deeper too.
    let (back, nested) = echo::remote(refs).unwrap().get().unwrap();
    assert_eq!(
        back.iter().map(|r| r.get().unwrap()).collect::<Vec<_>>(),
        vec![0, 10, 20]
    );
    let inner = nested.get().unwrap();
    assert_eq!(
        inner.iter().map(|r| r.get().unwrap()).collect::<Vec<_>>(),
        vec![0, 10, 20]
    );
}

#[test]
fn a_failed_object_inside_a_result_fails_only_its_own_ref() {
    let _rt = cluster();
    let refs = one_good_one_failed::remote().unwrap().get().unwrap();
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[0].get().unwrap(), 7);
    match refs[1].get() {
        Err(Error::TaskFailed { message, .. }) => {
            assert!(message.contains("boom: inside"), "{message}")
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
}

/// Fibonacci by nested tasks: each waits for the two it submits, so the
/// cluster's two CPUs run it only if a waiting task lends its CPU (as Ray's
/// `get` does).
#[rustyray::remote]
fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let a = fib::remote(n - 1).unwrap();
    let b = fib::remote(n - 2).unwrap();
    a.get().unwrap() + b.get().unwrap()
}

/// Waits (up to two minutes, by `get_timeout`, or by `wait` then `get`)
/// for a nested task that needs node 2's one CPU, which this task holds:
/// it runs only if the wait lends the CPU.
#[rustyray::remote]
fn wait_for_nested_on_node2(by_wait: bool) -> Result<i64, String> {
    let nested = add::options()
        .resource("node2", 0.5)
        .remote(20, 22)
        .map_err(|e| e.to_string())?;
    let two_minutes = Duration::from_secs(120);
    if by_wait {
        let (ready, _) = rustyray::wait(std::slice::from_ref(&nested), 1, Some(two_minutes))
            .map_err(|e| e.to_string())?;
        if ready.is_empty() {
            return Err("the nested task never ran".into());
        }
        return nested.get().map_err(|e| e.to_string());
    }
    nested.get_timeout(two_minutes).map_err(|e| e.to_string())
}

/// Inside a Ray worker, for the refs it was given (inside its argument,
/// so they stay refs): the positions `wait` finds ready when it waits for
/// one, then when it waits 200 ms for all, and the first ready's value.
#[rustyray::remote]
fn first_ready(
    refs: Vec<rustyray::ObjectRef<u32>>,
) -> Result<(Vec<usize>, Vec<usize>, u32), String> {
    let positions = |ready: &[rustyray::ObjectRef<u32>]| -> Vec<usize> {
        ready
            .iter()
            .filter_map(|r| refs.iter().position(|given| given == r))
            .collect()
    };
    let (one, _) = rustyray::wait(&refs, 1, None).map_err(|e| e.to_string())?;
    let (all, _) = rustyray::wait(&refs, refs.len(), Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let value = one[0].get().map_err(|e| e.to_string())?;
    Ok((positions(&one), positions(&all), value))
}

/// The node a nested task pinned to node 2 ran on, its ref returned as is,
/// and the message of a nested task that panics.
#[rustyray::remote]
fn nested() -> (rustyray::ObjectRef<String>, String) {
    let there = where_am_i::options()
        .resource("node2", 1.0)
        .remote()
        .unwrap();
    let failed = match boom::remote("deep").unwrap().get() {
        Err(Error::TaskFailed { message, .. }) => message,
        other => format!("unexpected: {other:?}"),
    };
    (there, failed)
}

#[test]
fn tasks_submitted_inside_a_task_run_on_the_cluster() {
    let _rt = cluster();
    let driver = rustyray::ray::node_id().expect("the driver's node");
    assert_eq!(fib::remote(5).unwrap().get().unwrap(), 5);
    let (there, failed) = nested::options()
        .resource("head", 1.0)
        .remote()
        .unwrap()
        .get()
        .unwrap();
    assert_ne!(there.get().unwrap(), driver);
    assert!(failed.contains("boom: deep"), "{failed}");
    // `get_timeout` and `wait` lend the worker's CPU too, as Ray's
    // `get(timeout=..)` and `wait` do.
    for by_wait in [false, true] {
        let lent = wait_for_nested_on_node2::options()
            .resource("node2", 0.5)
            .remote(by_wait)
            .unwrap()
            .get()
            .unwrap();
        assert_eq!(lent, 42, "by wait: {by_wait}");
    }
}

#[test]
fn a_task_starts_before_the_refs_inside_its_arguments_are_ready() {
    let _rt = cluster();
    let (dir, release) = scratch("first-ready", "release");
    let held = hold_until::remote(release.display().to_string()).unwrap();
    let given = rustyray::put(5_u32).unwrap();
    // The held object comes first: `wait` for one returns the other.
    let found = first_ready::remote(vec![held.clone(), given])
        .unwrap()
        .get_timeout(Duration::from_secs(100))
        .unwrap();
    assert_eq!(found, (vec![1], vec![1], 5));
    std::fs::write(&release, b"").unwrap();
    assert_eq!(held.get().unwrap(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Creates a counter named `name` from inside a task, finds it again by
/// name, and calls it through both handles; returns the values and the
/// handle.
#[rustyray::remote]
fn make_and_find(name: String) -> (i64, i64, CounterHandle) {
    let made = Counter::options().name(&name).remote(40).unwrap();
    let first = made.incr(1).unwrap().get().unwrap();
    let found = rustyray::get_actor::<Counter>(&name).unwrap();
    (first, found.incr(1).unwrap().get().unwrap(), made)
}

#[test]
fn a_task_creates_finds_and_returns_ray_actors() {
    let _rt = cluster();
    let (first, second, counter) = make_and_find::options()
        .resource("node2", 1.0)
        .remote("made-in-a-task".to_string())
        .unwrap()
        .get()
        .unwrap();
    assert_eq!((first, second), (41, 42));
    // The handle it returned reaches the same actor, as does its name.
    assert_eq!(counter.incr(1).unwrap().get().unwrap(), 43);
    let found = rustyray::get_actor::<Counter>("made-in-a-task").unwrap();
    assert_eq!(found.incr(1).unwrap().get().unwrap(), 44);
    assert_eq!(found.id(), counter.id());
    let (id, _) = counter.ids().unwrap().get().unwrap();
    assert_eq!(id, Some(counter.id()));
    // And it passes on to another task.
    let (now, _) = bump::remote(counter.clone()).unwrap().get().unwrap();
    assert_eq!(now, 45);
    rustyray::kill(&counter).unwrap();
}

#[test]
fn an_actor_handle_passed_to_tasks_reaches_the_actor() {
    let _rt = cluster();
    let driver = rustyray::ray::node_id().expect("the driver's node");
    let counter = Counter::remote(0).unwrap();
    let (now, node) = bump::options()
        .resource("node2", 1.0)
        .remote(counter.clone())
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(now, 1);
    assert_ne!(node, driver);
    let (now, _) = bump::remote(counter.clone()).unwrap().get().unwrap();
    assert_eq!(now, 2);
    assert_eq!(counter.incr(10).unwrap().get().unwrap(), 12);
    assert_eq!(
        fail_through::remote(counter.clone())
            .unwrap()
            .get()
            .unwrap(),
        "through a task"
    );
}

#[test]
fn handles_inside_values_call_their_actors_in_order() {
    let _rt = cluster();
    let a = Counter::remote(0).unwrap();
    let b = Counter::remote(100).unwrap();
    // a: 5, 10; b: 105, 110 — the second values sum to 120.
    let total = bump_all::options()
        .resource("node2", 1.0)
        .remote(vec![a.clone(), b.clone()], 5)
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(total, 120);
    assert_eq!(a.incr(0).unwrap().get().unwrap(), 10);
    assert_eq!(b.incr(0).unwrap().get().unwrap(), 110);
}

#[test]
fn cancelling_a_streaming_method_frees_its_actor() {
    let _rt = cluster();
    let counter = Counter::remote(5).unwrap();
    let mut stream = counter.forever().unwrap();
    let first: Vec<i64> = (&mut stream)
        .take(2)
        .map(|item| item.unwrap().get_timeout(Duration::from_secs(60)).unwrap())
        .collect();
    assert_eq!(first, [5, 6]);
    rustyray::cancel(stream.task_ref()).unwrap();
    let (rest, end) = drain(stream);
    assert!(rest.len() <= 4, "{rest:?}");
    assert!(matches!(end, Some(Error::Cancelled { .. })), "{end:?}");
    // The actor runs one call at a time: this one runs once the generator
    // has stopped.
    assert_eq!(
        counter
            .incr(1)
            .unwrap()
            .get_timeout(Duration::from_secs(60))
            .unwrap(),
        6
    );
}

#[test]
fn kill_with_restart_restarts_a_ray_actor() {
    let _rt = cluster();
    let counter = Counter::options()
        .max_restarts(1)
        .max_task_retries(1)
        .remote(100)
        .unwrap();
    assert_eq!(counter.incr(1).unwrap().get().unwrap(), 101);
    rustyray::kill_with(&counter, rustyray::KillOptions::default().no_restart(false)).unwrap();
    // Ray restarts it (its constructor runs again, so its count starts
    // over); a call may still reach the old instance before Ray's kill does.
    until_ray_reports("the restarted actor's fresh count", || {
        counter
            .incr(0)
            .and_then(|r| r.get_timeout(Duration::from_secs(60)))
            .is_ok_and(|n| n == 100)
    });
}

#[test]
fn a_method_is_retried_by_ray_as_its_settings_say() {
    let _rt = cluster();
    let counter = Counter::remote(0).unwrap();
    // Two failures, then Ray's third attempt succeeds.
    assert_eq!(counter.flaky(2).unwrap().get().unwrap(), 2);
    // Three failures are one too many.
    match counter.flaky(5).unwrap().get() {
        Err(Error::TaskFailed { message, .. }) => assert_eq!(message, "not yet"),
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    assert_eq!(counter.incr(0).unwrap().get().unwrap(), 5);
}

#[test]
fn exit_actor_in_a_ray_actor_ends_it_for_good() {
    let _rt = cluster();
    let counter = Counter::options()
        .max_restarts(1)
        .resource("head", 1.0)
        .remote(7)
        .unwrap();
    assert_eq!(counter.quit().unwrap().get().unwrap(), 7);
    match counter
        .incr(1)
        .unwrap()
        .get_timeout(Duration::from_secs(60))
    {
        Err(Error::ActorDied { .. }) => {}
        other => panic!("expected ActorDied, got {other:?}"),
    }
    // The Ray actor ended, and gave back what it held, while its handle
    // lives on: a task needing all of `head` runs.
    let here = where_am_i::options()
        .resource("head", 1.0)
        .remote()
        .unwrap()
        .get_timeout(Duration::from_secs(60))
        .unwrap();
    assert_eq!(here, rustyray::ray::node_id().unwrap());
}

#[test]
fn per_call_num_returns_splits_a_vec_on_ray() {
    let _rt = cluster();
    let refs = numbers::options().num_returns(3).remote(3).unwrap();
    assert_eq!(refs.len(), 3);
    assert_eq!(rustyray::get_all(&refs).unwrap(), vec![1, 2, 3]);
    let wrong = numbers::options().num_returns(2).remote(3).unwrap();
    match wrong[0].get_timeout(Duration::from_secs(60)) {
        Err(Error::TaskFailed { message, .. }) => {
            assert!(message.contains("num_returns = 2"), "{message}");
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
}
