//! Tasks that depend on other tasks: chains and diamonds of refs, failures
//! flowing down a chain without running what follows, error causes, and
//! tasks that submit tasks (recursively, from sync and async bodies).

mod common;

use std::error::Error as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use common::run_in_child_process;
use rustyray::{Config, Error, ObjectRef, Result};

/// How long a task waits for a condition before giving up.
const PATIENCE: Duration = Duration::from_secs(10);

#[rustyray::remote]
fn add_one(x: u64) -> u64 {
    x + 1
}

#[rustyray::remote]
async fn add_one_async(x: u64) -> u64 {
    tokio::task::yield_now().await;
    x + 1
}

#[rustyray::remote]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[rustyray::remote]
fn double(x: u64) -> u64 {
    x * 2
}

/// Runs of `diamond_source`, only used by the diamond test.
static DIAMOND_SOURCE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[rustyray::remote]
fn diamond_source(x: u64) -> u64 {
    DIAMOND_SOURCE_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

/// Runs of `chain_step`, only used by the failing-chain test.
static CHAIN_STEP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[rustyray::remote]
fn chain_step(x: u64, fail_at: u64) -> std::result::Result<u64, String> {
    CHAIN_STEP_RUNS.fetch_add(1, Ordering::SeqCst);
    if x == fail_at {
        Err(format!("step failed at {x}"))
    } else {
        Ok(x + 1)
    }
}

/// Runs of `async_chain_step`, only used by the failing async-chain test.
static ASYNC_CHAIN_STEP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[rustyray::remote]
async fn async_chain_step(x: u64, fail_at: u64) -> std::result::Result<u64, String> {
    ASYNC_CHAIN_STEP_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    if x == fail_at {
        Err(format!("async step failed at {x}"))
    } else {
        Ok(x + 1)
    }
}

#[rustyray::remote]
fn fail_with(message: String) -> std::result::Result<u64, String> {
    Err(message)
}

/// Submits `fail_with` and returns its error as its own.
#[rustyray::remote]
fn outer_of_failing(message: String) -> std::result::Result<u64, Error> {
    let inner = fail_with::remote(message)?;
    rustyray::get(&inner)
}

#[rustyray::remote(num_cpus = 1)]
fn fib(n: u64) -> std::result::Result<u64, Error> {
    if n < 2 {
        return Ok(n);
    }
    let a = fib::remote(n - 1)?;
    let b = fib::remote(n - 2)?;
    Ok(rustyray::get(&a)? + rustyray::get(&b)?)
}

/// Awaits the sync tasks it submits.
#[rustyray::remote]
async fn sum_of_doubles_async(n: u64) -> std::result::Result<u64, Error> {
    let mut total = 0;
    for i in 0..n {
        total += double::remote(i)?.await?;
    }
    Ok(total)
}

/// Recursion through async tasks; they hold no CPU, so awaiting children
/// cannot starve them.
#[rustyray::remote(num_cpus = 0)]
async fn fib_async(n: u64) -> std::result::Result<u64, Error> {
    if n < 2 {
        return Ok(n);
    }
    let a = fib_async::remote(n - 1)?;
    let b = fib_async::remote(n - 2)?;
    Ok(a.await? + b.await?)
}

fn task_failed(err: &Error) -> (&str, &str) {
    match err {
        Error::TaskFailed { task, message, .. } => (task, message),
        other => panic!("expected Error::TaskFailed, got {other:?}"),
    }
}

#[rustyray::test(num_cpus = 2)]
fn chain_of_twenty_tasks_adds_twenty() -> Result<()> {
    let mut r = rustyray::put(0u64)?;
    for _ in 0..20 {
        r = add_one::remote(r)?;
    }
    assert_eq!(rustyray::get(&r)?, 20);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn chain_alternating_sync_and_async_tasks_adds_twenty() -> Result<()> {
    let mut r = add_one::remote(0)?;
    for i in 1..20 {
        r = if i % 2 == 0 {
            add_one::remote(&r)?
        } else {
            add_one_async::remote(&r)?
        };
    }
    assert_eq!(rustyray::get(&r)?, 20);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn diamond_joins_both_branches_and_runs_the_source_once() -> Result<()> {
    //      a = 5
    //     /     \
    // b = 2a   c = a + 1
    //     \     /
    //    d = b + c
    let a = diamond_source::remote(5)?;
    let b = double::remote(&a)?;
    let c = add_one::remote(&a)?;
    let d = add::remote(b, c)?;
    assert_eq!(rustyray::get(&d)?, 16);
    assert_eq!(DIAMOND_SOURCE_RUNS.load(Ordering::SeqCst), 1);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn failure_in_a_chain_reaches_the_end_and_skips_the_rest() -> Result<()> {
    let mut refs: Vec<ObjectRef<u64>> = Vec::new();
    let mut r = rustyray::put(0u64)?;
    for i in 0..20 {
        r = chain_step::options()
            .name(format!("step-{i}"))
            .remote(&r, 9)?;
        refs.push(r.clone());
    }
    let err = rustyray::get(&r).unwrap_err();
    assert_eq!(task_failed(&err), ("step-9", "step failed at 9"));
    assert_eq!(err.to_string(), "task `step-9` failed: step failed at 9");

    // Steps 0..=9 ran; the ten after the failure never did.
    assert_eq!(CHAIN_STEP_RUNS.load(Ordering::SeqCst), 10);
    for (i, r) in refs.iter().enumerate() {
        match rustyray::get(r) {
            Ok(v) => {
                assert!(i < 9, "step {i} has a value");
                assert_eq!(v, i as u64 + 1);
            }
            Err(err) => {
                assert!(i >= 9, "step {i} failed: {err}");
                assert_eq!(task_failed(&err), ("step-9", "step failed at 9"));
            }
        }
    }
    assert_eq!(CHAIN_STEP_RUNS.load(Ordering::SeqCst), 10);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn failure_in_an_async_chain_reaches_the_end_and_skips_the_rest() -> Result<()> {
    let mut r = rustyray::put(0u64)?;
    for _ in 0..20 {
        r = async_chain_step::remote(&r, 4)?;
    }
    let err = rustyray::get(&r).unwrap_err();
    assert_eq!(
        task_failed(&err),
        (
            "task_dependencies::async_chain_step",
            "async step failed at 4"
        )
    );
    assert_eq!(ASYNC_CHAIN_STEP_RUNS.load(Ordering::SeqCst), 5);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn failed_dependency_fails_a_join_with_the_first_error() -> Result<()> {
    let ok = add_one::remote(1)?;
    let bad = fail_with::remote("left branch".to_string())?;
    let joined = add::remote(&ok, &bad)?;
    let after = double::remote(&joined)?;
    let err = rustyray::get(&after).unwrap_err();
    assert_eq!(
        task_failed(&err),
        ("task_dependencies::fail_with", "left branch")
    );
    assert_eq!(rustyray::get(&ok)?, 2);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn error_from_a_nested_task_keeps_it_as_the_source() -> Result<()> {
    let err = rustyray::get(&outer_of_failing::remote("deep".to_string())?).unwrap_err();
    let inner_display = "task `task_dependencies::fail_with` failed: deep";
    assert_eq!(
        task_failed(&err),
        ("task_dependencies::outer_of_failing", inner_display)
    );
    assert_eq!(
        err.to_string(),
        format!("task `task_dependencies::outer_of_failing` failed: {inner_display}")
    );
    let source = err.source().expect("the inner task's error is the source");
    assert_eq!(source.to_string(), inner_display);
    let inner = err.cause().expect("the cause is the inner rustyray::Error");
    assert_eq!(task_failed(inner), ("task_dependencies::fail_with", "deep"));
    assert!(inner.source().is_none());
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn recursive_fib_on_one_cpu_finishes() -> Result<()> {
    // Each task blocks in `get` on its children; blocking lends the CPU
    // back, so one CPU is enough.
    assert_eq!(rustyray::get(&fib::remote(15)?)?, 610);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn async_task_awaits_tasks_it_submits() -> Result<()> {
    let r = sum_of_doubles_async::remote(10)?;
    assert_eq!(rustyray::get(&r)?, 90);
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn recursive_fib_through_async_tasks_finishes() -> Result<()> {
    assert_eq!(rustyray::get(&fib_async::remote(12)?)?, 144);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
async fn async_test_awaits_a_chain() -> Result<()> {
    let mut r = add_one_async::remote(0)?;
    for _ in 1..20 {
        r = add_one::remote(r)?;
    }
    assert_eq!(r.await?, 20);
    Ok(())
}

/// Holds the head of the long chain until the whole chain is submitted.
static LONG_CHAIN_GATE: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

#[rustyray::remote]
fn fail_when_released(message: String) -> std::result::Result<u64, String> {
    let (open, changed) = &LONG_CHAIN_GATE;
    let guard = open.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = changed
        .wait_timeout_while(guard, PATIENCE, |open| !*open)
        .unwrap_or_else(PoisonError::into_inner);
    Err(message)
}

#[rustyray::remote]
fn sum_refs(refs: Vec<ObjectRef<u64>>) -> std::result::Result<u64, Error> {
    let mut total = 0;
    for r in &refs {
        total += rustyray::get(r)?;
    }
    Ok(total)
}

/// Returns a ref to a task it submits, without waiting for it.
#[rustyray::remote]
fn submit_add_one(x: u64) -> std::result::Result<ObjectRef<u64>, Error> {
    add_one::remote(x)
}

#[rustyray::test(num_cpus = 1)]
fn refs_inside_an_argument_are_read_by_the_task() -> Result<()> {
    let children: Vec<ObjectRef<u64>> = (0..100).map(add_one::remote).collect::<Result<_>>()?;
    let total = sum_refs::remote(children.clone())?;
    assert_eq!(rustyray::get(&total)?, 5050);
    // With retries the argument is stored and copied for each attempt, the
    // refs inside it included.
    let total = sum_refs::options()
        .max_retries(1)
        .retry_exceptions(true)
        .remote(children)?;
    assert_eq!(rustyray::get(&total)?, 5050);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn task_may_return_a_ref_to_another_task() -> Result<()> {
    let outer: ObjectRef<ObjectRef<u64>> = submit_add_one::remote(41)?;
    let inner = rustyray::get(&outer)?;
    assert_eq!(rustyray::get(&inner)?, 42);
    assert_eq!(rustyray::get(&add_one::remote(&inner)?)?, 43);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn same_ref_passed_twice_is_one_dependency_read_twice() -> Result<()> {
    let a = add_one::remote(20)?;
    let b = add::remote(&a, &a)?;
    assert_eq!(rustyray::get(&b)?, 42);
    Ok(())
}

#[test]
fn failure_at_the_head_of_a_five_thousand_task_chain_reaches_the_end() -> Result<()> {
    if run_in_child_process("failure_at_the_head_of_a_five_thousand_task_chain_reaches_the_end") {
        return Ok(());
    }
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    // All 5,000 dependents are waiting when the head fails.
    let head = fail_when_released::remote("head failed".to_string())?;
    let mut r = head.clone();
    for _ in 0..5_000 {
        r = add_one::remote(r)?;
    }
    {
        let (open, changed) = &LONG_CHAIN_GATE;
        *open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        changed.notify_all();
    }
    let err = rustyray::get(&r).unwrap_err();
    assert_eq!(
        task_failed(&err),
        ("task_dependencies::fail_when_released", "head failed")
    );
    Ok(())
}
