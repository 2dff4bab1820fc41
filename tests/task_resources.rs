//! Resources: CPUs (whole and fractional) and custom resources bound how
//! many tasks run at once; requests the runtime can never satisfy are
//! refused at submit with `Error::Unschedulable`.
//!
//! Concurrency is observed from inside the tasks: each one reports to a
//! [`Probe`] it reaches through a key (task arguments must be objects).
//! Tasks that must run at the same time meet at a rendezvous that gives up
//! after [`PATIENCE`], so a broken scheduler fails the test instead of
//! hanging it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Count, Keyed, Registry, TestState};
use rustyray::{Error, ObjectRef, Result};

/// How long a task or the test waits for a condition before giving up.
const PATIENCE: Duration = Duration::from_secs(10);

/// What tasks report to their test.
#[derive(Default)]
struct Probe {
    /// Opened (count 1) by the test to release gated tasks.
    gate: Count,
    /// Tasks that arrived.
    arrived: Count,
    /// Tasks running now, and the most seen at once.
    current: AtomicUsize,
    max: AtomicUsize,
}

impl Probe {
    fn enter(&self) {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }

    fn exit(&self) {
        self.current.fetch_sub(1, Ordering::SeqCst);
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// Probes stay after their test: a task that starts late finds its gate
/// open.
static PROBES: Registry<Probe> = Registry::keeping_released();

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

/// A test's own probe: a fresh key, and its gate opened on drop so that a
/// failing test leaves no task blocked.
type TestProbe = TestState<Probe>;

/// A little real work, so that tasks that could overlap do.
fn busy_work() {
    let mut x = 0u64;
    for i in 0..200u64 {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        std::thread::yield_now();
    }
    std::hint::black_box(x);
}

#[rustyray::remote(resources(gpu = 1.0))]
fn on_gpu(key: u64, i: u64) -> u64 {
    let p = probe(key);
    p.enter();
    busy_work();
    p.exit();
    i
}

/// Like `on_gpu`, with the resource given per call.
#[rustyray::remote]
fn tracked(key: u64, i: u64) -> u64 {
    let p = probe(key);
    p.enter();
    busy_work();
    p.exit();
    i
}

/// Arrives at the rendezvous `key` and waits for `parties` arrivals;
/// `false` if they did not all come within [`PATIENCE`].
#[rustyray::remote]
fn rendezvous(key: u64, parties: usize) -> bool {
    let p = probe(key);
    p.arrived.incr();
    p.arrived.wait_for(parties)
}

/// Counted in `tracker` while it meets the other `parties - 1` members of
/// its group at rendezvous `group`.
#[rustyray::remote]
fn grouped(tracker: u64, group: u64, parties: usize) -> bool {
    let t = probe(tracker);
    t.enter();
    let met = rendezvous(group, parties);
    t.exit();
    met
}

/// Holds whatever it was given until the gate of `key` opens.
#[rustyray::remote]
fn hold_until_open(key: u64) -> bool {
    let p = probe(key);
    p.arrived.incr();
    p.gate.wait_for(1)
}

#[rustyray::remote(resources(gpu = 1.0))]
fn gpu_panics() -> u32 {
    panic!("gpu task fails")
}

#[rustyray::remote(resources(gpu = 1.0))]
fn gpu_err() -> std::result::Result<u32, String> {
    Err("gpu task errs".to_string())
}

#[rustyray::remote(resources(gpu = 1.0))]
fn gpu_ok() -> u32 {
    1
}

#[rustyray::remote(resources(tpu = 1.0))]
fn needs_tpu() -> u32 {
    1
}

#[rustyray::remote(num_cpus = 3)]
fn needs_three_cpus() -> u32 {
    3
}

fn unschedulable<T: std::fmt::Debug>(result: Result<T>) -> (String, String) {
    match result {
        Err(Error::Unschedulable { task, reason }) => (task, reason),
        other => panic!("expected Error::Unschedulable, got {other:?}"),
    }
}

#[rustyray::test(num_cpus = 4, resource(gpu = 1.0))]
fn tasks_needing_the_only_gpu_run_one_at_a_time() -> Result<()> {
    let p = TestProbe::new();
    let refs: Vec<ObjectRef<u64>> = (0..20)
        .map(|i| on_gpu::remote(p.key, i))
        .collect::<Result<_>>()?;
    assert_eq!(rustyray::get_all(&refs)?.iter().sum::<u64>(), 190);
    assert_eq!(p.max(), 1);
    Ok(())
}

#[rustyray::test(num_cpus = 4, resource(gpu = 1.0))]
fn resource_given_per_call_limits_concurrency_too() -> Result<()> {
    let p = TestProbe::new();
    let refs: Vec<ObjectRef<u64>> = (0..20)
        .map(|i| tracked::options().resource("gpu", 1.0).remote(p.key, i))
        .collect::<Result<_>>()?;
    assert_eq!(rustyray::get_all(&refs)?.iter().sum::<u64>(), 190);
    assert_eq!(p.max(), 1);
    Ok(())
}

#[rustyray::test(num_cpus = 4, resource(gpu = 2.0))]
fn half_a_gpu_each_lets_four_tasks_share_two_gpus() -> Result<()> {
    let p = TestProbe::new();
    let refs: Vec<ObjectRef<bool>> = (0..4)
        .map(|_| {
            rendezvous::options()
                .resource("gpu", 0.5)
                .num_cpus(1)
                .remote(p.key, 4)
        })
        .collect::<Result<_>>()?;
    assert_eq!(rustyray::get_all(&refs)?, vec![true; 4]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn two_cpus_run_two_one_cpu_tasks_at_once() -> Result<()> {
    let p = TestProbe::new();
    let a = rendezvous::options().num_cpus(1).remote(p.key, 2)?;
    let b = rendezvous::options().num_cpus(1).remote(p.key, 2)?;
    assert_eq!((rustyray::get(&a)?, rustyray::get(&b)?), (true, true));
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn two_cpus_never_run_three_one_cpu_tasks_at_once() -> Result<()> {
    // Six tasks meet in pairs (0,1), (2,3), (4,5): two run at once, and
    // never three.
    let tracker = TestProbe::new();
    let pairs: Vec<TestProbe> = (0..3).map(|_| TestProbe::new()).collect();
    let refs: Vec<ObjectRef<bool>> = (0..6)
        .map(|i| {
            grouped::options()
                .num_cpus(1)
                .remote(tracker.key, pairs[i / 2].key, 2)
        })
        .collect::<Result<_>>()?;
    assert_eq!(rustyray::get_all(&refs)?, vec![true; 6]);
    assert_eq!(tracker.max(), 2);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn half_cpu_tasks_run_four_at_once_on_two_cpus() -> Result<()> {
    let p = TestProbe::new();
    let refs: Vec<ObjectRef<bool>> = (0..4)
        .map(|_| rendezvous::options().num_cpus(0.5).remote(p.key, 4))
        .collect::<Result<_>>()?;
    assert_eq!(rustyray::get_all(&refs)?, vec![true; 4]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn half_cpu_tasks_never_run_five_at_once_on_two_cpus() -> Result<()> {
    // Twelve half-CPU tasks meet in groups of four: four run at once, and
    // never five.
    let tracker = TestProbe::new();
    let groups: Vec<TestProbe> = (0..3).map(|_| TestProbe::new()).collect();
    let refs: Vec<ObjectRef<bool>> = (0..12)
        .map(|i| {
            grouped::options()
                .num_cpus(0.5)
                .remote(tracker.key, groups[i / 4].key, 4)
        })
        .collect::<Result<_>>()?;
    assert_eq!(rustyray::get_all(&refs)?, vec![true; 12]);
    assert_eq!(tracker.max(), 4);
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn zero_cpu_tasks_run_while_every_cpu_is_held() -> Result<()> {
    let p = TestProbe::new();
    let holder = hold_until_open::remote(p.key)?;
    assert!(p.arrived.wait_for(1), "the holder never started");
    let free = rendezvous::options()
        .num_cpus(0)
        .remote(TestProbe::new().key, 1)?;
    assert!(rustyray::get_timeout(&free, PATIENCE)?);
    p.gate.incr();
    assert!(rustyray::get(&holder)?);
    Ok(())
}

#[rustyray::test(num_cpus = 2, resource(gpu = 1.0))]
fn cpu_only_tasks_pass_tasks_queued_for_the_gpu() -> Result<()> {
    let p = TestProbe::new();
    let holder = hold_until_open::options()
        .resource("gpu", 1.0)
        .remote(p.key)?;
    assert!(p.arrived.wait_for(1), "the GPU holder never started");
    let queued_for_gpu = gpu_ok::remote()?;
    let cpu_only = tracked::remote(TestProbe::new().key, 7)?;
    assert_eq!(rustyray::get_timeout(&cpu_only, PATIENCE)?, 7);
    let (ready, pending) = rustyray::wait(
        std::slice::from_ref(&queued_for_gpu),
        1,
        Some(Duration::ZERO),
    )?;
    assert!(ready.is_empty());
    assert_eq!(pending, vec![queued_for_gpu.clone()]);
    p.gate.incr();
    assert!(rustyray::get(&holder)?);
    assert_eq!(rustyray::get(&queued_for_gpu)?, 1);
    Ok(())
}

#[rustyray::test(num_cpus = 2, resource(gpu = 1.0))]
fn failed_tasks_give_their_resources_back() -> Result<()> {
    assert!(matches!(
        rustyray::get(&gpu_panics::remote()?),
        Err(Error::TaskFailed { .. })
    ));
    assert!(matches!(
        rustyray::get(&gpu_err::remote()?),
        Err(Error::TaskFailed { .. })
    ));
    let next = gpu_ok::remote()?;
    assert_eq!(rustyray::get_timeout(&next, PATIENCE)?, 1);
    Ok(())
}

#[rustyray::test(num_cpus = 2, resource(gpu = 1.0))]
fn requests_beyond_the_runtime_are_unschedulable_at_submit() {
    let (task, reason) = unschedulable(needs_three_cpus::remote());
    assert_eq!(task, "task_resources::needs_three_cpus");
    assert!(reason.contains('3'), "reason: {reason}");

    let (task, _) = unschedulable(gpu_ok::options().num_cpus(3).name("greedy").remote());
    assert_eq!(task, "greedy");

    let (task, reason) = unschedulable(needs_tpu::remote());
    assert_eq!(task, "task_resources::needs_tpu");
    assert!(reason.contains("tpu"), "reason: {reason}");

    let (task, reason) = unschedulable(tracked::options().resource("fpga", 1.0).remote(0, 0));
    assert_eq!(task, "task_resources::tracked");
    assert!(reason.contains("fpga"), "reason: {reason}");

    let (task, reason) = unschedulable(gpu_ok::options().resource("gpu", 2.0).remote());
    assert_eq!(task, "task_resources::gpu_ok");
    assert!(reason.contains("gpu"), "reason: {reason}");

    // Exactly what the runtime has is fine.
    let exact = tracked::options()
        .num_cpus(2)
        .resource("gpu", 1.0)
        .remote(0, 5)
        .unwrap();
    assert_eq!(rustyray::get(&exact).unwrap(), 5);
}

#[rustyray::test(num_cpus = 2)]
fn invalid_amounts_are_unschedulable_at_submit() {
    let (task, _) = unschedulable(
        tracked::options()
            .num_cpus(-1.0)
            .name("negative")
            .remote(0, 0),
    );
    assert_eq!(task, "negative");
    let (task, _) = unschedulable(tracked::options().num_cpus(f64::NAN).remote(0, 0));
    assert_eq!(task, "task_resources::tracked");
}

#[rustyray::test(num_cpus = 1)]
fn cancelling_a_queued_task_gives_back_no_cpu_it_never_took() -> Result<()> {
    // A task queued behind the only CPU is cancelled; when the CPU frees,
    // the runtime must still have exactly one.
    let first = TestProbe::new();
    let holder = hold_until_open::remote(first.key)?;
    assert!(first.arrived.wait_for(1), "the holder never started");
    let queued = tracked::remote(TestProbe::new().key, 1)?;
    rustyray::cancel(&queued)?;
    first.gate.incr();
    assert!(rustyray::get(&holder)?);
    assert!(matches!(
        rustyray::get(&queued),
        Err(Error::Cancelled { .. })
    ));

    // One CPU: while `second` holds it, `waiting` cannot start.
    let second = TestProbe::new();
    let holder = hold_until_open::remote(second.key)?;
    assert!(
        second.arrived.wait_for(1),
        "the second holder never started"
    );
    let waiting = tracked::remote(TestProbe::new().key, 2)?;
    let early = rustyray::get_timeout(&waiting, Duration::from_millis(200));
    assert!(
        matches!(early, Err(Error::Timeout { .. })),
        "a second 1-CPU task ran on a 1-CPU runtime: {early:?}"
    );
    second.gate.incr();
    assert!(rustyray::get(&holder)?);
    assert_eq!(rustyray::get(&waiting)?, 2);
    Ok(())
}

#[rustyray::remote(num_cpus = 0)]
fn zero_cpu_work(i: u64) -> u64 {
    (0..1_000).fold(i, |acc, x| acc.wrapping_mul(31).wrapping_add(x))
}

fn worker_threads_of(runtime: &rustyray::Runtime) -> usize {
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

#[test]
fn a_burst_of_zero_cpu_tasks_runs_on_a_bounded_number_of_threads() -> Result<()> {
    // Zero-CPU tasks are not bounded by resources; the pool bounds its
    // threads (64 on this runtime: 4 per CPU, at least 64).
    let rt = rustyray::init(rustyray::Config::default().num_cpus(2).name("burst"))?;
    let refs = (0..2_000u64)
        .map(zero_cpu_work::remote)
        .collect::<Result<Vec<_>>>()?;
    let expected: Vec<u64> = (0..2_000u64).map(zero_cpu_work).collect();
    assert_eq!(rustyray::get_all(&refs)?, expected);
    let threads = worker_threads_of(&rt);
    assert!(
        (1..=64).contains(&threads),
        "{threads} worker threads for 2,000 zero-CPU tasks"
    );
    Ok(())
}
