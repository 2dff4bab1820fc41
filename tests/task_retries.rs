//! Retries: with `retry_exceptions`, an `Err` or a panic runs the task
//! again up to `max_retries` times, each attempt numbered in
//! `rustyray::context().attempt()` and given its own copy of the
//! arguments; without it, one attempt only.
//!
//! Each task records its attempts under a key its test passes in, so tests
//! running in parallel never see each other's attempts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use rustyray::{Error, Result};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Attempts seen per key: (attempt number, argument seen).
type Seen = HashMap<u64, Vec<(u32, String)>>;

static ATTEMPTS: LazyLock<Mutex<Seen>> = LazyLock::new(Default::default);

/// A fresh key for one test.
fn new_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Records the running attempt under `key`; returns its number.
fn record(key: u64, arg: &str) -> u32 {
    let attempt = rustyray::context().attempt();
    lock(&ATTEMPTS)
        .entry(key)
        .or_default()
        .push((attempt, arg.to_string()));
    attempt
}

fn attempts(key: u64) -> Vec<u32> {
    lock(&ATTEMPTS)
        .get(&key)
        .map(|seen| seen.iter().map(|(attempt, _)| *attempt).collect())
        .unwrap_or_default()
}

fn args_seen(key: u64) -> Vec<String> {
    lock(&ATTEMPTS)
        .get(&key)
        .map(|seen| seen.iter().map(|(_, arg)| arg.clone()).collect())
        .unwrap_or_default()
}

fn task_failed(err: Error) -> (String, String) {
    match err {
        Error::TaskFailed { task, message, .. } => (task, message),
        other => panic!("expected Error::TaskFailed, got {other:?}"),
    }
}

#[rustyray::remote(max_retries = 3, retry_exceptions = true)]
fn always_fails(key: u64) -> std::result::Result<u32, String> {
    let attempt = record(key, "");
    Err(format!("attempt {attempt} failed"))
}

#[rustyray::remote(max_retries = 3, retry_exceptions = true)]
async fn always_fails_async(key: u64) -> std::result::Result<u32, String> {
    tokio::task::yield_now().await;
    let attempt = record(key, "");
    Err(format!("async attempt {attempt} failed"))
}

/// Fails on attempts 0 and 1, then returns its argument.
#[rustyray::remote(max_retries = 3, retry_exceptions = true)]
fn fails_twice(key: u64, text: String) -> std::result::Result<String, String> {
    let attempt = record(key, &text);
    if attempt < 2 {
        return Err(format!("attempt {attempt} failed"));
    }
    Ok(format!("{text} on attempt {attempt}"))
}

#[rustyray::remote(max_retries = 3, retry_exceptions = true)]
async fn fails_twice_async(key: u64, text: String) -> std::result::Result<String, String> {
    let attempt = record(key, &text);
    tokio::task::yield_now().await;
    if attempt < 2 {
        return Err(format!("attempt {attempt} failed"));
    }
    Ok(format!("{text} on attempt {attempt}"))
}

/// Panics on attempts 0 and 1, then returns its argument.
#[rustyray::remote(max_retries = 3, retry_exceptions = true)]
fn panics_twice(key: u64, values: Vec<u32>) -> Vec<u32> {
    let attempt = record(key, &format!("{values:?}"));
    if attempt < 2 {
        panic!("panic on attempt {attempt}");
    }
    values
}

#[rustyray::remote(max_retries = 3, retry_exceptions = true)]
async fn panics_twice_async(key: u64, values: Vec<u32>) -> Vec<u32> {
    let attempt = record(key, &format!("{values:?}"));
    tokio::task::yield_now().await;
    if attempt < 2 {
        panic!("async panic on attempt {attempt}");
    }
    values
}

#[rustyray::remote(max_retries = 3, retry_exceptions = true)]
fn always_panics(key: u64) -> u32 {
    let attempt = record(key, "");
    panic!("panic on attempt {attempt}")
}

/// No attribute options: Ray's defaults (application errors not retried).
#[rustyray::remote]
fn fails_once(key: u64) -> std::result::Result<u32, String> {
    let attempt = record(key, "");
    if attempt == 0 {
        return Err("attempt 0 failed".to_string());
    }
    Ok(attempt)
}

#[rustyray::remote(max_retries = 3)]
fn fails_without_retry_exceptions(key: u64) -> std::result::Result<u32, String> {
    let attempt = record(key, "");
    Err(format!("attempt {attempt} failed"))
}

#[rustyray::remote(max_retries = 3)]
fn panics_without_retry_exceptions(key: u64) -> u32 {
    let attempt = record(key, "");
    panic!("panic on attempt {attempt}")
}

#[rustyray::remote(max_retries = 0, retry_exceptions = true)]
fn fails_with_zero_retries(key: u64) -> std::result::Result<u32, String> {
    let attempt = record(key, "");
    Err(format!("attempt {attempt} failed"))
}

#[rustyray::remote(max_retries = 3, retry_exceptions = true)]
fn consume(key: u64, x: u32) -> std::result::Result<u32, String> {
    record(key, "");
    Ok(x)
}

#[rustyray::test(num_cpus = 2)]
fn always_failing_task_runs_max_retries_plus_one_attempts() -> Result<()> {
    let key = new_key();
    let err = rustyray::get(&always_fails::remote(key)?).unwrap_err();
    assert_eq!(attempts(key), vec![0, 1, 2, 3]);
    assert_eq!(
        task_failed(err),
        (
            "task_retries::always_fails".to_string(),
            "attempt 3 failed".to_string()
        )
    );
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn always_failing_async_task_runs_max_retries_plus_one_attempts() -> Result<()> {
    let key = new_key();
    let err = rustyray::get(&always_fails_async::remote(key)?).unwrap_err();
    assert_eq!(attempts(key), vec![0, 1, 2, 3]);
    assert_eq!(
        task_failed(err),
        (
            "task_retries::always_fails_async".to_string(),
            "async attempt 3 failed".to_string()
        )
    );
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn task_failing_twice_succeeds_on_the_third_attempt() -> Result<()> {
    let key = new_key();
    let r = fails_twice::remote(key, "payload".to_string())?;
    assert_eq!(rustyray::get(&r)?, "payload on attempt 2");
    assert_eq!(attempts(key), vec![0, 1, 2]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn async_task_failing_twice_succeeds_on_the_third_attempt() -> Result<()> {
    let key = new_key();
    let r = fails_twice_async::remote(key, "payload".to_string())?;
    assert_eq!(rustyray::get(&r)?, "payload on attempt 2");
    assert_eq!(attempts(key), vec![0, 1, 2]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn every_attempt_gets_the_by_value_arguments() -> Result<()> {
    let key = new_key();
    let text = "moved in once".to_string();
    let r = fails_twice::remote(key, text)?;
    assert_eq!(rustyray::get(&r)?, "moved in once on attempt 2");
    assert_eq!(args_seen(key), vec!["moved in once"; 3]);

    let key = new_key();
    let r = panics_twice::remote(key, vec![4, 5, 6])?;
    assert_eq!(rustyray::get(&r)?, vec![4, 5, 6]);
    assert_eq!(args_seen(key), vec!["[4, 5, 6]"; 3]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn every_attempt_gets_ref_arguments() -> Result<()> {
    let key = new_key();
    let text = rustyray::put("stored".to_string())?;
    let r = fails_twice::remote(key, &text)?;
    assert_eq!(rustyray::get(&r)?, "stored on attempt 2");
    assert_eq!(args_seen(key), vec!["stored"; 3]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn panics_are_retried_like_errors() -> Result<()> {
    let key = new_key();
    let r = panics_twice::remote(key, vec![1, 2, 3])?;
    assert_eq!(rustyray::get(&r)?, vec![1, 2, 3]);
    assert_eq!(attempts(key), vec![0, 1, 2]);

    let key = new_key();
    let r = panics_twice_async::remote(key, vec![7])?;
    assert_eq!(rustyray::get(&r)?, vec![7]);
    assert_eq!(attempts(key), vec![0, 1, 2]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn always_panicking_task_fails_after_max_retries_plus_one_attempts() -> Result<()> {
    let key = new_key();
    let err = rustyray::get(&always_panics::remote(key)?).unwrap_err();
    assert_eq!(attempts(key), vec![0, 1, 2, 3]);
    let (task, message) = task_failed(err);
    assert_eq!(task, "task_retries::always_panics");
    assert!(
        message.contains("panic on attempt 3"),
        "message: {message:?}"
    );
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn without_retry_exceptions_an_error_runs_once() -> Result<()> {
    let key = new_key();
    let err = rustyray::get(&fails_without_retry_exceptions::remote(key)?).unwrap_err();
    assert_eq!(attempts(key), vec![0]);
    assert_eq!(task_failed(err).1, "attempt 0 failed");

    let key = new_key();
    let err = rustyray::get(&panics_without_retry_exceptions::remote(key)?).unwrap_err();
    assert_eq!(attempts(key), vec![0]);
    assert!(task_failed(err).1.contains("panic on attempt 0"));

    // Ray's defaults: application errors are not retried.
    let key = new_key();
    let err = rustyray::get(&fails_once::remote(key)?).unwrap_err();
    assert_eq!(attempts(key), vec![0]);
    assert_eq!(task_failed(err).1, "attempt 0 failed");
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn zero_max_retries_runs_once() -> Result<()> {
    let key = new_key();
    let err = rustyray::get(&fails_with_zero_retries::remote(key)?).unwrap_err();
    assert_eq!(attempts(key), vec![0]);
    assert_eq!(task_failed(err).1, "attempt 0 failed");
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn retries_can_be_set_per_call() -> Result<()> {
    // Turned on for a function without retry options...
    let key = new_key();
    let r = fails_once::options()
        .max_retries(1)
        .retry_exceptions(true)
        .remote(key)?;
    assert_eq!(rustyray::get(&r)?, 1);
    assert_eq!(attempts(key), vec![0, 1]);

    // ...limited below the attribute's value...
    let key = new_key();
    let err = rustyray::get(&always_fails::options().max_retries(1).remote(key)?).unwrap_err();
    assert_eq!(attempts(key), vec![0, 1]);
    assert_eq!(task_failed(err).1, "attempt 1 failed");

    // ...and turned off.
    let key = new_key();
    let r = always_fails::options()
        .retry_exceptions(false)
        .remote(key)?;
    assert!(rustyray::get(&r).is_err());
    assert_eq!(attempts(key), vec![0]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn a_task_whose_dependency_failed_never_runs_even_with_retries() -> Result<()> {
    let dep_key = new_key();
    let dep = always_fails::options()
        .retry_exceptions(false)
        .remote(dep_key)?;
    let key = new_key();
    let err = rustyray::get(&consume::remote(key, &dep)?).unwrap_err();
    assert_eq!(
        task_failed(err),
        (
            "task_retries::always_fails".to_string(),
            "attempt 0 failed".to_string()
        )
    );
    assert_eq!(attempts(dep_key), vec![0]);
    assert_eq!(attempts(key), Vec::<u32>::new());
    Ok(())
}
