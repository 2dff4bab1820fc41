//! Remote tasks, the basics: sync and async remote functions, the three
//! argument shapes, per-call options, `Result` and panicking bodies,
//! `num_returns`, the task context, a 10,000-task fan-out/fan-in, and
//! submitting to an explicit runtime with `.on(..)`.

use std::fmt;

use rustyray::{Config, Error, ObjectRef, Result};

const TASK_FAILED: &str = "expected Error::TaskFailed";

#[rustyray::remote]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[rustyray::remote]
async fn add_async(a: i64, b: i64) -> i64 {
    tokio::task::yield_now().await;
    a + b
}

#[rustyray::remote]
fn square(x: i64) -> i64 {
    x * x
}

#[derive(Debug)]
struct Boom(&'static str);

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "boom: {}", self.0)
    }
}

#[rustyray::remote]
fn parse_number(text: String) -> std::result::Result<u64, String> {
    text.parse().map_err(|_| format!("not a number: {text:?}"))
}

#[rustyray::remote]
fn fail_always() -> std::result::Result<u32, Boom> {
    Err(Boom("sync"))
}

#[rustyray::remote]
async fn fail_always_async() -> std::result::Result<u32, Boom> {
    tokio::task::yield_now().await;
    Err(Boom("async"))
}

#[rustyray::remote]
fn panics(code: u32) -> u32 {
    panic!("kaboom {code}")
}

#[rustyray::remote]
async fn panics_async(code: u32) -> u32 {
    tokio::task::yield_now().await;
    panic!("async kaboom {code}")
}

#[rustyray::remote(num_returns = 2)]
fn div_rem(a: u32, b: u32) -> (u32, u32) {
    (a / b, a % b)
}

#[rustyray::remote(num_returns = 2)]
fn checked_div_rem(a: u32, b: u32) -> std::result::Result<(u32, u32), String> {
    if b == 0 {
        return Err(format!("{a} / 0"));
    }
    Ok((a / b, a % b))
}

#[rustyray::remote(num_returns = 2)]
async fn div_rem_async(a: u32, b: u32) -> (u32, u32) {
    (a / b, a % b)
}

/// What a task sees of itself: (id, name, attempt, cancelled).
type Seen = (Option<String>, Option<String>, u32, bool);

fn seen() -> Seen {
    let ctx = rustyray::context();
    (
        ctx.task_id().map(|id| id.to_string()),
        ctx.task_name(),
        ctx.attempt(),
        ctx.is_cancelled(),
    )
}

#[rustyray::remote]
fn whoami() -> Seen {
    seen()
}

#[rustyray::remote]
async fn whoami_async() -> Seen {
    tokio::task::yield_now().await;
    seen()
}

#[rustyray::remote]
fn runtime_name() -> std::result::Result<String, Error> {
    Ok(rustyray::global()?.name().to_string())
}

fn task_failed(err: Error) -> (String, String) {
    match err {
        Error::TaskFailed { task, message, .. } => (task, message),
        other => panic!("{TASK_FAILED}, got {other:?}"),
    }
}

#[rustyray::test(num_cpus = 2)]
fn sync_remote_fn_returns_its_value() -> Result<()> {
    let r: ObjectRef<i64> = add::remote(40, 2)?;
    assert_eq!(rustyray::get(&r)?, 42);
    assert_eq!(r.get()?, 42);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn async_remote_fn_returns_its_value() -> Result<()> {
    let r: ObjectRef<i64> = add_async::remote(40, 2)?;
    assert_eq!(rustyray::get(&r)?, 42);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn arguments_may_be_values_refs_or_borrowed_refs() -> Result<()> {
    let ten = rustyray::put(10i64)?;
    let three = add::remote(1, 2)?;
    // By value and by borrowed ref.
    let thirteen = add::remote(&ten, 3)?;
    // Borrowed ref and owned ref (a task's result).
    let sixteen = add::remote(&thirteen, three)?;
    // Owned put ref and a value, into an async function.
    let twenty = add_async::remote(ten.clone(), 10)?;
    assert_eq!(rustyray::get(&thirteen)?, 13);
    assert_eq!(rustyray::get(&sixteen)?, 16);
    assert_eq!(rustyray::get(&twenty)?, 20);
    // Borrowed refs stay usable.
    assert_eq!(rustyray::get(&ten)?, 10);
    Ok(())
}

#[test]
fn remote_functions_stay_plain_functions() {
    assert_eq!(add(2, 3), 5);
    assert_eq!(square(-4), 16);
    assert_eq!(div_rem(17, 5), (3, 2));
    assert_eq!(parse_number("7".to_string()), Ok(7));
    assert_eq!(fail_always().unwrap_err().to_string(), "boom: sync");
    let executor = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(executor.block_on(add_async(2, 3)), 5);
    // Called directly, a remote function is not a task.
    assert_eq!(whoami(), (None, None, 0, false));
}

#[rustyray::test(num_cpus = 2)]
fn options_set_the_name_and_cpus_of_one_call() -> Result<()> {
    let sum = add::options().name("sum").num_cpus(1).remote(1, 2)?;
    assert_eq!(rustyray::get(&sum)?, 3);

    let (_, name, _, _) = rustyray::get(&whoami::options().name("sum").num_cpus(1).remote()?)?;
    assert_eq!(name.as_deref(), Some("sum"));
    // The next call without options has the default name again.
    let (_, name, _, _) = rustyray::get(&whoami::remote()?)?;
    assert_eq!(name.as_deref(), Some("task_basics::whoami"));
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
async fn task_refs_can_be_awaited_in_an_async_test() -> Result<()> {
    let three = add::remote(1, 2)?;
    assert_eq!(three.clone().await?, 3);
    assert_eq!((&three).await?, 3);
    assert_eq!(add_async::remote(&three, 4)?.await?, 7);
    let (q, r) = div_rem_async::remote(17, 5)?;
    assert_eq!((q.await?, r.await?), (3, 2));
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn ok_result_is_the_value() -> Result<()> {
    assert_eq!(
        rustyray::get(&parse_number::remote("1234".to_string())?)?,
        1234
    );
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn err_result_fails_with_task_name_and_display_message() -> Result<()> {
    let err = rustyray::get(&parse_number::remote("x1".to_string())?).unwrap_err();
    assert_eq!(
        task_failed(err),
        (
            "task_basics::parse_number".to_string(),
            "not a number: \"x1\"".to_string()
        )
    );

    let err = rustyray::get(&fail_always::remote()?).unwrap_err();
    assert_eq!(
        err.to_string(),
        "task `task_basics::fail_always` failed: boom: sync"
    );
    assert_eq!(
        task_failed(err),
        (
            "task_basics::fail_always".to_string(),
            "boom: sync".to_string()
        )
    );

    let err = rustyray::get(&fail_always_async::remote()?).unwrap_err();
    assert_eq!(
        task_failed(err),
        (
            "task_basics::fail_always_async".to_string(),
            "boom: async".to_string()
        )
    );
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn err_result_carries_the_name_given_in_options() -> Result<()> {
    let err = rustyray::get(&fail_always::options().name("custom-name").remote()?).unwrap_err();
    assert_eq!(
        task_failed(err),
        ("custom-name".to_string(), "boom: sync".to_string())
    );
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn panic_fails_the_task_and_the_runtime_keeps_serving() -> Result<()> {
    let err = rustyray::get(&panics::remote(7)?).unwrap_err();
    let (task, message) = task_failed(err);
    assert_eq!(task, "task_basics::panics");
    assert!(message.contains("kaboom 7"), "message: {message:?}");

    // The one CPU came back, and the worker keeps serving.
    assert_eq!(rustyray::get(&add::remote(20, 22)?)?, 42);
    assert_eq!(rustyray::get(&add::remote(1, 1)?)?, 2);
    Ok(())
}

#[rustyray::test(num_cpus = 1)]
fn panic_in_async_task_fails_the_task_and_the_runtime_keeps_serving() -> Result<()> {
    let err = rustyray::get(&panics_async::remote(9)?).unwrap_err();
    let (task, message) = task_failed(err);
    assert_eq!(task, "task_basics::panics_async");
    assert!(message.contains("async kaboom 9"), "message: {message:?}");

    assert_eq!(rustyray::get(&add_async::remote(20, 22)?)?, 42);
    assert_eq!(rustyray::get(&add::remote(1, 1)?)?, 2);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn num_returns_two_gives_one_ref_per_tuple_element() -> Result<()> {
    let (q, r): (ObjectRef<u32>, ObjectRef<u32>) = div_rem::remote(17, 5)?;
    assert_ne!(q.id(), r.id());
    assert_eq!(rustyray::get(&q)?, 3);
    assert_eq!(rustyray::get(&r)?, 2);

    let (q, r) = div_rem_async::remote(&q, 2)?;
    assert_eq!((rustyray::get(&q)?, rustyray::get(&r)?), (1, 1));
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn num_returns_error_fails_every_ref() -> Result<()> {
    let (q, r) = checked_div_rem::remote(9, 0)?;
    for out in [q, r] {
        assert_eq!(
            task_failed(rustyray::get(&out).unwrap_err()),
            (
                "task_basics::checked_div_rem".to_string(),
                "9 / 0".to_string()
            )
        );
    }
    let (q, r) = checked_div_rem::remote(9, 4)?;
    assert_eq!((rustyray::get(&q)?, rustyray::get(&r)?), (2, 1));
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn context_inside_a_task_names_the_running_task() -> Result<()> {
    let (id_a, name, attempt, cancelled) = rustyray::get(&whoami::remote()?)?;
    assert!(id_a.is_some());
    assert_eq!(name.as_deref(), Some("task_basics::whoami"));
    assert_eq!((attempt, cancelled), (0, false));

    let (id_b, name, attempt, cancelled) = rustyray::get(&whoami_async::remote()?)?;
    assert!(id_b.is_some());
    assert_eq!(name.as_deref(), Some("task_basics::whoami_async"));
    assert_eq!((attempt, cancelled), (0, false));
    assert_ne!(id_a, id_b, "two tasks share an id");
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn context_outside_a_task_is_the_drivers() {
    let ctx = rustyray::context();
    assert_eq!(ctx.task_id(), None);
    assert_eq!(ctx.task_name(), None);
    assert_eq!(ctx.attempt(), 0);
    assert!(!ctx.is_cancelled());
    assert_eq!(ctx.actor_id(), None);
}

#[rustyray::remote]
fn node() -> rustyray::NodeId {
    rustyray::context().node_id()
}

#[rustyray::remote]
async fn node_async() -> rustyray::NodeId {
    tokio::task::yield_now().await;
    rustyray::context().node_id()
}

#[rustyray::test(num_cpus = 2)]
fn every_task_of_every_local_runtime_runs_on_the_drivers_node() -> Result<()> {
    let driver = rustyray::context().node_id();
    assert_eq!(rustyray::get(&node::remote()?)?, driver);
    assert_eq!(rustyray::get(&node_async::remote()?)?, driver);
    // A second runtime in the process: the same node.
    let other = rustyray::init(Config::default().num_cpus(1))?;
    assert_eq!(
        rustyray::get(&node::options().on(&other).remote()?)?,
        driver
    );
    drop(other);
    // A node id survives a round trip through the codec, as a result does.
    let bytes = postcard::to_allocvec(&driver).unwrap();
    assert_eq!(
        postcard::from_bytes::<rustyray::NodeId>(&bytes).unwrap(),
        driver
    );
    assert_eq!(driver.to_string(), driver.hex());
    Ok(())
}

#[test]
fn context_without_any_runtime_is_the_drivers() {
    assert_eq!(seen(), (None, None, 0, false));
}

#[rustyray::test(num_cpus = 2)]
fn fan_out_and_fan_in_of_ten_thousand_tasks_sums_exactly() -> Result<()> {
    const N: i64 = 10_000;
    let squares: Vec<ObjectRef<i64>> = (0..N).map(square::remote).collect::<Result<_>>()?;
    let expected = (N - 1) * N * (2 * N - 1) / 6;
    assert_eq!(expected, 333_283_335_000);

    // Fan-in on the driver...
    let values = rustyray::get_all(&squares)?;
    assert_eq!(values.len(), N as usize);
    assert_eq!(values.iter().sum::<i64>(), expected);

    // ...and as a tree of tasks, each adding two refs.
    let mut level = squares;
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            next.push(match pair {
                [a, b] => add::remote(a, b)?,
                [a] => a.clone(),
                _ => unreachable!(),
            });
        }
        level = next;
    }
    assert_eq!(rustyray::get(&level[0])?, expected);
    Ok(())
}

#[rustyray::test(num_cpus = 2, name = "async-entry")]
async fn async_rustyray_test_runs_with_its_runtime_installed() -> Result<()> {
    assert_eq!(rustyray::global()?.name(), "async-entry");
    let name = runtime_name::remote()?.await?;
    assert_eq!(name, "async-entry");
    Ok(())
}

#[test]
fn on_submits_to_that_runtime_while_another_is_current() -> Result<()> {
    let first = rustyray::init(Config::default().num_cpus(1).name("first"))?;
    let first_rt = first.clone();
    {
        let second = rustyray::init(Config::default().num_cpus(1).name("second"))?;
        assert_eq!(rustyray::global()?.name(), "second");

        let on_first = runtime_name::options().on(&first_rt).remote()?;
        let on_current = runtime_name::remote()?;
        assert_eq!(on_first.id().runtime(), first_rt.id());
        assert_eq!(on_current.id().runtime(), second.id());
        assert_eq!(rustyray::get(&on_first)?, "first");
        assert_eq!(rustyray::get(&on_current)?, "second");

        // The explicit runtime keeps working after the current one is gone.
        drop(second);
        let again = add::options().on(&first_rt).remote(2, 2)?;
        assert_eq!(first_rt.get(&again)?, 4);
    }
    assert_eq!(rustyray::global()?.name(), "first");
    drop(first);
    Ok(())
}
