//! RustyRay inside a tokio application: `init` inside a tokio runtime runs
//! RustyRay's async work there (no second executor), `Runtime::spawn` and
//! plain `tokio::spawn` (in `#[rustyray::test]`/`#[rustyray::main]`, or with
//! `tokio_thread_start`) see the runtime, `wait_async`/`get_all_async` wait
//! in any async context and leave nothing behind when dropped, and blocking
//! calls work where tokio allows blocking (`spawn_blocking`,
//! `block_in_place`) and are refused where they would stall an executor.
//!
//! Every wait is bounded by [`PATIENCE`], so a bug fails a test instead of
//! hanging it.

mod common;

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use common::probe::{probe, TestProbe};
use rustyray::{Config, Error, ObjectRef, Result, RuntimeId};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// The names of every thread of this process, from `/proc/self/task/*/comm`.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|comm| comm.trim_end().to_string())
        .collect()
}

fn current_thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string()
}

fn tokio_named(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

#[rustyray::remote]
async fn async_thread_name(yields: u32) -> String {
    for _ in 0..yields {
        tokio::task::yield_now().await;
    }
    current_thread_name()
}

#[rustyray::remote]
async fn sleepy_sum(a: u32, b: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    a + b
}

#[test]
fn init_inside_a_tokio_runtime_runs_async_work_there_and_starts_no_executor() -> Result<()> {
    let app = tokio_named("app-one");
    let names = app.block_on(async {
        let rt = rustyray::init(Config::default().name("inside-one"))?;
        let task = async_thread_name::remote(3)?.await?;
        let spawned = rt
            .spawn(async { async_thread_name::remote(1)?.await })
            .await
            .expect("the spawned future completes")?;
        assert_eq!(sleepy_sum::remote(1, 2)?.await?, 3);
        Ok::<_, Error>((task, spawned))
    })?;
    assert_eq!(names, ("app-one".to_string(), "app-one".to_string()));
    assert!(!thread_names().iter().any(|n| n == "inside-one-tokio"));
    Ok(())
}

#[test]
fn tokio_handle_picks_another_executor_than_the_current_one() -> Result<()> {
    let (here, there) = (tokio_named("app-here"), tokio_named("app-there"));
    let other = there.handle().clone();
    let name = here.block_on(async move {
        let _rt = rustyray::init(Config::default().tokio_handle(other))?;
        async_thread_name::remote(2)?.await
    })?;
    assert_eq!(name, "app-there");
    Ok(())
}

#[test]
fn runtime_spawn_sees_the_runtime_on_every_poll() -> Result<()> {
    let app = tokio_named("app-spawn");
    let rt = app.block_on(async { rustyray::init(Config::default()) })?;
    let id = rt.id();
    let seen = app
        .block_on(rt.spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..5 {
                tokio::task::yield_now().await;
                seen.push(rustyray::global().map(|rt| rt.id()));
            }
            seen
        }))
        .expect("the spawned future completes");
    assert_eq!(seen.into_iter().collect::<Result<Vec<_>>>()?, vec![id; 5]);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
async fn plain_tokio_spawn_sees_the_runtime_inside_an_async_rustyray_test() -> Result<()> {
    let id = rustyray::global()?.id();
    let spawned = tokio::spawn(async {
        tokio::task::yield_now().await;
        let r = rustyray::put(41u32)?;
        let sum = sleepy_sum::remote(&r, 1)?.await?;
        Ok::<(RuntimeId, u32), Error>((rustyray::global()?.id(), sum))
    });
    assert_eq!(
        spawned.await.expect("the spawned task completes")?,
        (id, 42)
    );
    Ok(())
}

#[test]
fn tokio_thread_start_gives_a_hand_built_tokio_runtime_the_context() -> Result<()> {
    let app = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(rustyray::tokio_thread_start())
        .build()
        .unwrap();
    app.block_on(async {
        let rt = rustyray::init(Config::default())?;
        let spawned = tokio::spawn(async {
            let r = rustyray::put(7u8)?;
            Ok::<_, Error>((rustyray::global()?.id(), r.await?))
        });
        assert_eq!(spawned.await.expect("completes")?, (rt.id(), 7));
        Ok(())
    })
}

// ---- async waits ----

/// Returns `x` once the gate of `key` opens; holds no CPU.
#[rustyray::remote(num_cpus = 0)]
async fn gated(key: u64, x: u32) -> u32 {
    probe(key).gate.reached(1).await;
    x
}

/// Fails at once.
#[rustyray::remote(num_cpus = 0)]
fn refuse() -> std::result::Result<u32, String> {
    Err("refused".to_string())
}

#[rustyray::test(num_cpus = 2)]
async fn wait_async_honours_its_timeout_then_sees_refs_complete() -> Result<()> {
    let p = TestProbe::new();
    let pending = gated::remote(p.key, 1)?;
    let ready = rustyray::put(2u32)?;
    let refs = [pending.clone(), ready.clone()];
    let (done, waiting) = rustyray::wait_async(&refs, 2, Some(Duration::from_millis(20))).await?;
    assert_eq!(
        (done, waiting),
        (vec![ready.clone()], vec![pending.clone()])
    );
    p.open();
    let (done, waiting) = rustyray::wait_async(&refs, 2, Some(PATIENCE)).await?;
    assert_eq!((done, waiting.len()), (vec![pending, ready], 0));
    Ok(())
}

#[rustyray::test]
async fn dropped_async_waits_leave_no_waker_behind() -> Result<()> {
    let p = TestProbe::new();
    let pending = gated::remote(p.key, 1)?;
    for _ in 0..100 {
        let refs = [pending.clone()];
        // A wait that times out, and one dropped half-way by `select!`.
        let (done, _) = rustyray::wait_async(&refs, 1, Some(Duration::ZERO)).await?;
        assert!(done.is_empty());
        tokio::select! {
            _ = rustyray::wait_async(&refs, 1, None) => panic!("the gate is closed"),
            _ = rustyray::get_all_async(&refs) => panic!("the gate is closed"),
            _ = IntoFuture::into_future(&pending) => panic!("the gate is closed"),
            _ = tokio::task::yield_now() => {}
        }
    }
    assert_eq!(pending.__waiters(), 0);
    p.open();
    assert_eq!(pending.await?, 1);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn a_blocking_wait_loop_leaves_no_waker_behind() -> Result<()> {
    let p = TestProbe::new();
    let pending = gated::remote(p.key, 1)?;
    let mut refs: Vec<ObjectRef<u32>> = (0..50).map(rustyray::put).collect::<Result<_>>()?;
    refs.push(pending.clone());
    // The usual loop: take one ready ref at a time.
    let mut left = refs;
    while left.len() > 1 {
        let (_, pending_refs) = rustyray::wait(&left, 1, Some(PATIENCE))?;
        left = pending_refs;
    }
    let (done, _) = rustyray::wait(&left, 1, Some(Duration::from_millis(1)))?;
    assert!(done.is_empty());
    assert_eq!(pending.__waiters(), 0);
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
async fn get_all_async_gives_values_in_order_or_the_first_failure_anywhere() -> Result<()> {
    let refs: Vec<ObjectRef<u32>> = (1..=3).map(rustyray::put).collect::<Result<_>>()?;
    assert_eq!(rustyray::get_all_async(&refs).await?, vec![1, 2, 3]);
    let p = TestProbe::new();
    let mixed = [gated::remote(p.key, 1)?, refuse::remote()?];
    match rustyray::get_all_async(&mixed).await {
        Err(Error::TaskFailed { message, .. }) => assert_eq!(message, "refused"),
        other => panic!("expected the failure, got {other:?}"),
    }
    Ok(())
}

/// Runs `future` to completion on this thread, with no async runtime
/// around it (not tokio's).
fn block_on_bare<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[test]
fn async_waits_work_outside_any_tokio_runtime() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(1))?;
    let p = TestProbe::new();
    let pending = gated::remote(p.key, 5)?;
    let refs = [pending.clone()];
    let (done, _) = block_on_bare(rustyray::wait_async(
        &refs,
        1,
        Some(Duration::from_millis(5)),
    ))?;
    assert!(done.is_empty());
    p.open();
    assert_eq!(block_on_bare(rustyray::get_all_async(&refs))?, vec![5]);
    Ok(())
}

// ---- blocking where tokio allows it ----

#[rustyray::remote]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[rustyray::test(num_cpus = 2)]
async fn blocking_calls_work_inside_spawn_blocking_and_block_in_place() -> Result<()> {
    let rt = rustyray::global()?;
    let r = add::remote(1, 2)?;
    let (r2, rt2) = (r.clone(), rt.clone());
    let in_spawn_blocking = tokio::task::spawn_blocking(move || {
        // The test's tokio runtime gives its blocking threads the context.
        let all = rustyray::get_all(std::slice::from_ref(&r2))?;
        let (ready, _) = rustyray::wait(std::slice::from_ref(&r2), 1, Some(PATIENCE))?;
        Ok::<_, Error>((rt2.get(&r2)?, all, ready.len()))
    })
    .await
    .expect("the blocking task completes")?;
    assert_eq!(in_spawn_blocking, (3, vec![3], 1));
    let in_block_in_place = tokio::task::block_in_place(|| {
        let timed = rustyray::get_timeout(&r, PATIENCE)?;
        Ok::<_, Error>((rustyray::get(&r)?, timed))
    })?;
    assert_eq!(in_block_in_place, (3, 3));
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
async fn blocking_calls_on_an_executor_thread_are_refused_naming_the_async_call() -> Result<()> {
    let r = rustyray::put(1u32)?;
    let refs = [r.clone()];
    let refused = [
        rustyray::get(&r).map(|_| ()),
        rustyray::get_timeout(&r, PATIENCE).map(|_| ()),
        rustyray::get_all(&refs).map(|_| ()),
        rustyray::wait(&refs, 1, None).map(|_| ()),
    ];
    let messages: Vec<String> = refused
        .into_iter()
        .map(|outcome| match outcome {
            Err(err @ Error::BlockingInAsync { .. }) => err.to_string(),
            other => panic!("expected BlockingInAsync, got {other:?}"),
        })
        .collect();
    let tail = "instead, or run the blocking call inside `tokio::task::spawn_blocking` or \
                `tokio::task::block_in_place`";
    assert_eq!(
        messages,
        vec![
            format!(
                "blocking `get` would stall the async executor polling this code; use `r.await` \
                 (with `tokio::time::timeout` for a limit) {tail}"
            ),
            format!(
                "blocking `get_timeout` would stall the async executor polling this code; use \
                 `r.await` (with `tokio::time::timeout` for a limit) {tail}"
            ),
            format!(
                "blocking `get_all` would stall the async executor polling this code; use \
                 `rustyray::get_all_async(&refs).await` {tail}"
            ),
            format!(
                "blocking `wait` would stall the async executor polling this code; use \
                 `rustyray::wait_async(&refs, n, timeout).await` {tail}"
            ),
        ]
    );
    Ok(())
}

// ---- sync calls awaited from async code ----

/// An actor whose calls wait for their test's gate.
#[rustyray::actor]
struct Turnstile;

#[rustyray::actor]
impl Turnstile {
    fn new() -> Self {
        Turnstile
    }

    /// `x` once the gate of `key` opens (on a worker thread: the method is
    /// sync); `None` if it stayed shut for [`PATIENCE`].
    fn pass(&self, key: u64, x: u32) -> Option<u32> {
        probe(key).gate.wait_for(1).then_some(x)
    }
}

/// A future awaiting a sync call that a worker thread runs spins only
/// briefly before it suspends: on a one-thread executor, the future that
/// opens the call's gate runs meanwhile, and the call's value arrives.
#[test]
fn an_awaited_sync_call_leaves_the_executor_to_other_futures_while_it_runs() -> Result<()> {
    let app = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let p = TestProbe::new();
    let key = p.key;
    let values = app.block_on(async move {
        let _rt = rustyray::init(Config::default().num_cpus(2).name("await-sync"))?;
        let turnstile = Turnstile::remote()?;
        // Quick: the call ends within the awaiting future's first poll or
        // soon after, with the gate open.
        p.open();
        let quick = turnstile.pass(key, 1)?.await?;
        // Held: the call waits for a gate that a later future opens, on
        // this same executor thread.
        let shut = TestProbe::new();
        let held = turnstile.pass(shut.key, 2)?;
        let opener = async {
            tokio::task::yield_now().await;
            shut.open();
        };
        let (held, ()) = tokio::join!(held.into_future(), opener);
        Ok::<_, Error>((quick, held?))
    })?;
    assert_eq!(values, (Some(1), Some(2)));
    Ok(())
}
