//! Races inside a task's life that need a whole runtime to set up (a
//! scheduler with its store and pool): stop against the resolution of the
//! last dependency, against a task that returns once it sees the cancel,
//! and cancel against an async task's poll. They live in
//! the runtime layer, which may name every layer below it; the loom models
//! next to the phase machine (`task/phase.rs`) check the same protocols
//! exhaustively on a smaller model.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Weak};
use std::task::{Wake, Waker};

use crate::error::Error;
use crate::object::cell::Producer;
use crate::object::value::Value;
use crate::runtime::Runtime;
use crate::task::resources::Demand;
use crate::task::returns::One;
use crate::task::run::SyncBody;
use crate::task::scheduler::Scheduler;
use crate::task::spec::{FirstAttempt, TaskName, TaskSpec};
use crate::task::task::Task;

/// The scheduler of a runtime started by `init`.
fn scheduler(runtime: &Runtime) -> Arc<Scheduler> {
    Arc::clone(runtime.engine().local().scheduler())
}

/// A pool task that needs nothing, named `name`.
fn spec(name: &'static str) -> TaskSpec {
    TaskSpec {
        name: TaskName::Function(name),
        demand: Demand::default(),
        max_retries: 0,
        retry_exceptions: false,
        outputs: 1,
        place: None,
        seq: 0,
        first_attempt: FirstAttempt::NEW,
    }
}

struct NoProducer;

impl Producer for NoProducer {
    fn cancel(self: Arc<Self>) {}
    fn help(self: Arc<Self>) -> bool {
        false
    }
}

/// `stop` and the completion of the last dependency race, aligned on a
/// barrier, thousands of times: the task leaves the system exactly
/// once, whichever wins.
#[test]
fn stop_racing_with_resolution_leaves_exactly_once() {
    let guard = crate::runtime::init(crate::runtime::Config::default().num_cpus(1)).unwrap();
    let runtime: Runtime = (*guard).clone();
    let barrier = Arc::new(Barrier::new(2));
    let mut raced = Vec::new();
    for _ in 0..10_000 {
        let none: Weak<dyn Producer> = Weak::<NoProducer>::new();
        let scheduler = scheduler(&runtime);
        let dep = scheduler.store().pending(none, false);
        let racing = Task::start(
            &scheduler,
            spec("racing"),
            vec![Arc::clone(&dep)],
            SyncBody::new(|_: &Arc<Task>| Ok(())),
        );
        let completer = {
            let (dep, barrier) = (Arc::clone(&dep), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                dep.complete(Ok(Value::new(1u32)));
            })
        };
        barrier.wait();
        racing.stop(Error::Cancelled {
            task: "racing".to_string(),
        });
        completer.join().unwrap();
        raced.push(racing);
    }
    // Shutdown waits for the workers: every task that ran is done.
    drop(guard);
    let left: Vec<usize> = raced
        .iter()
        .map(|t| t.left_count.load(Ordering::SeqCst))
        .filter(|&n| n != 1)
        .collect();
    assert_eq!(
        left,
        Vec::<usize>::new(),
        "tasks that did not leave exactly once"
    );
}

/// A task that returns as soon as it sees `is_cancelled` (as user code
/// polling `context().is_cancelled()` does) races `stop`, thousands of
/// times: its ref always reads `Cancelled`, never the value it returned
/// after seeing the cancel.
#[test]
fn a_task_that_saw_its_cancel_reads_as_cancelled() {
    let guard = crate::runtime::init(crate::runtime::Config::default().num_cpus(1)).unwrap();
    let cancelled = || Error::Cancelled {
        task: "lone".to_string(),
    };
    let mut returned = 0;
    for _ in 0..10_000 {
        let task = lone_task(&guard);
        let body = {
            let task = Arc::clone(&task);
            std::thread::spawn(move || {
                while !task.is_cancelled() {
                    std::hint::spin_loop();
                }
                task.succeed(One(7u32));
            })
        };
        task.stop(cancelled());
        body.join().unwrap();
        match task.outputs.cells()[0].try_get() {
            Some(Err(Error::Cancelled { .. })) => {}
            _ => returned += 1,
        }
    }
    assert_eq!(
        returned, 0,
        "refs that read the value returned after the cancel"
    );
}

struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A task that waits for a dependency nobody completes.
fn lone_task(runtime: &Runtime) -> Arc<Task> {
    let none: Weak<dyn Producer> = Weak::<NoProducer>::new();
    let scheduler = scheduler(runtime);
    let dep = scheduler.store().pending(none, false);
    Task::start(
        &scheduler,
        spec("lone"),
        vec![dep],
        SyncBody::new(|_: &Arc<Task>| Ok(())),
    )
}

/// The two orders `cancel` and an async task's poll can take: the poll
/// sees the cancel, or the cancel wakes the waker the poll left.
#[test]
fn a_cancel_is_seen_by_the_next_poll_or_wakes_the_last_one() {
    let guard = crate::runtime::init(crate::runtime::Config::default().num_cpus(1)).unwrap();
    let cancelled = || Error::Cancelled {
        task: "lone".to_string(),
    };
    let counter = Arc::new(CountWakes(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counter));

    let stopped_first = lone_task(&guard);
    stopped_first.stop(cancelled());
    assert!(!stopped_first.arm_waker(&waker));
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);

    let polled_first = lone_task(&guard);
    assert!(polled_first.arm_waker(&waker));
    polled_first.stop(cancelled());
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert!(!polled_first.arm_waker(&waker));
}
