//! Tasks and shutdown: every ref in flight completes when the runtime shuts
//! down (queued, waiting, running, sync or async), queued work never runs
//! afterwards, running work is told to stop, and submitting to a shut-down
//! runtime, or with none installed, is refused.
//!
//! Each test owns its runtime. Gets that could hang run on a helper thread
//! the test waits for with a deadline, so a bug fails instead of hanging.

mod common;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::probe::{probe, DropSignal, TestProbe};
use common::run_in_child_process;
use rustyray::{Config, Error, ObjectRef, Result};

/// How long a task or the test waits for a condition before giving up.
const PATIENCE: Duration = Duration::from_secs(20);

#[rustyray::remote]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[rustyray::remote]
async fn add_async(a: u32, b: u32) -> u32 {
    a + b
}

/// Returns `value` once the gate of `key` opens, blocking its thread.
#[rustyray::remote]
fn gated(key: u64, value: u32) -> u32 {
    let p = probe(key);
    p.started.incr();
    p.gate.wait_for(1);
    p.finished.incr();
    value
}

/// Counts its runs in `key`'s probe.
#[rustyray::remote]
fn counted(key: u64, x: u32) -> u32 {
    probe(key).started.incr();
    x
}

/// Awaits a future that never completes; holds no CPU.
#[rustyray::remote(num_cpus = 0)]
async fn hang_forever(key: u64) -> u32 {
    let p = probe(key);
    let _signal = DropSignal(Arc::clone(&p));
    p.started.incr();
    std::future::pending::<()>().await;
    unreachable!("pending() completed")
}

/// Spins until it sees `is_cancelled()` (bounded by [`PATIENCE`]).
#[rustyray::remote]
fn spin_until_cancelled(key: u64) -> u32 {
    let p = probe(key);
    p.started.incr();
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if rustyray::context().is_cancelled() {
            p.saw_cancel.incr();
            return 1;
        }
        std::thread::yield_now();
    }
    0
}

fn is_shut_down<T>(result: &Result<T>, runtime: &str) -> bool {
    matches!(result, Err(Error::ShutDown { runtime: name }) if name == runtime)
}

/// Gets every ref on a helper thread (started now, so it may block on
/// pending refs across the shutdown); the outcomes arrive on the receiver.
fn get_all_on_a_thread(refs: Vec<ObjectRef<u32>>) -> mpsc::Receiver<Vec<Result<u32>>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let outcomes = refs.iter().map(ObjectRef::get).collect();
        let _ = tx.send(outcomes);
    });
    rx
}

#[test]
fn shutdown_with_a_thousand_tasks_queued_completes_every_ref() -> Result<()> {
    const NAME: &str = "shutdown-thousand";
    let guard = rustyray::init(
        Config::default()
            .num_cpus(1)
            .name(NAME)
            .shutdown_timeout(Duration::from_secs(1)),
    )?;
    let gate = TestProbe::new();
    let runs = TestProbe::new();
    let hangs = TestProbe::new();
    let free = TestProbe::new();

    // The only CPU is held by `blocker`; 999 tasks queue behind it.
    let blocker = gated::remote(gate.key, 0)?;
    assert!(gate.started.wait_for(1), "the blocker never started");
    let queued: Vec<ObjectRef<u32>> = (1..1000)
        .map(|i| counted::remote(runs.key, i))
        .collect::<Result<_>>()?;
    // Tasks waiting for the blocker's result.
    let waiting: Vec<ObjectRef<u32>> = (0..10)
        .map(|_| counted::remote(runs.key, &blocker))
        .collect::<Result<_>>()?;
    // Async tasks running, awaiting futures that never complete.
    let hanging: Vec<ObjectRef<u32>> = (0..10)
        .map(|_| hang_forever::remote(hangs.key))
        .collect::<Result<_>>()?;
    assert!(hangs.started.wait_for(10), "the async tasks never started");
    // And one finished before the shutdown.
    let done = counted::options().num_cpus(0).remote(free.key, 7)?;
    assert_eq!(rustyray::get(&done)?, 7);

    let (ready, _) = rustyray::wait(&queued, 1, Some(Duration::ZERO))?;
    assert_eq!(ready, vec![]);
    assert_eq!(runs.started.get(), 0);

    let mut all = vec![blocker];
    all.extend(queued.iter().cloned());
    all.extend(waiting.iter().cloned());
    all.extend(hanging.iter().cloned());
    let outcomes = get_all_on_a_thread(all);

    drop(guard);
    let outcomes = outcomes
        .recv_timeout(PATIENCE)
        .expect("a get on a task ref hung after shutdown");
    assert_eq!(outcomes.len(), 1 + 999 + 10 + 10);
    for (i, outcome) in outcomes.iter().enumerate() {
        assert!(
            is_shut_down(outcome, NAME),
            "ref {i}: expected ShutDown, got {outcome:?}"
        );
    }
    // The finished task's ref reads as its value or ShutDown, at once.
    let finished = done.get_timeout(PATIENCE);
    assert!(
        matches!(finished, Ok(7)) || is_shut_down(&finished, NAME),
        "{finished:?}"
    );

    // The async tasks' futures were dropped.
    assert!(hangs.dropped.wait_for(10), "futures not dropped");
    // Released now, the blocker returns; nothing queued ever runs.
    gate.open();
    assert!(gate.finished.wait_for(1), "the blocker never returned");
    assert_eq!(runs.started.get(), 0);
    Ok(())
}

#[test]
fn shutdown_completes_a_five_thousand_task_chain_waiting_on_its_head() -> Result<()> {
    if run_in_child_process("shutdown_completes_a_five_thousand_task_chain_waiting_on_its_head") {
        return Ok(());
    }
    const NAME: &str = "shutdown-chain";
    let guard = rustyray::init(Config::default().num_cpus(2).name(NAME))?;
    let hangs = TestProbe::new();
    let head = hang_forever::remote(hangs.key)?;
    let mut r = head.clone();
    for _ in 0..5_000 {
        r = add::remote(r, 1)?;
    }
    let outcomes = get_all_on_a_thread(vec![head, r]);
    drop(guard);
    let outcomes = outcomes
        .recv_timeout(PATIENCE)
        .expect("a get hung after shutdown");
    assert!(
        outcomes.iter().all(|o| is_shut_down(o, NAME)),
        "{outcomes:?}"
    );
    Ok(())
}

#[test]
fn explicit_shutdown_is_idempotent_and_completes_pending_refs() -> Result<()> {
    const NAME: &str = "shutdown-explicit";
    let guard = rustyray::init(Config::default().num_cpus(2).name(NAME))?;
    let hangs = TestProbe::new();
    let hanging = hang_forever::remote(hangs.key)?;
    assert!(hangs.started.wait_for(1), "the task never started");
    let outcomes = get_all_on_a_thread(vec![hanging.clone()]);

    guard.shutdown();
    guard.shutdown();
    assert!(guard.is_shut_down());
    let outcomes = outcomes
        .recv_timeout(PATIENCE)
        .expect("a get hung after shutdown");
    assert!(is_shut_down(&outcomes[0], NAME), "{outcomes:?}");
    assert!(is_shut_down(&hanging.get(), NAME));
    assert!(hangs.dropped.wait_for(1), "the future was never dropped");
    drop(guard);
    Ok(())
}

#[test]
fn remote_after_shutdown_is_refused() -> Result<()> {
    const NAME: &str = "shutdown-refuses";
    let guard = rustyray::init(Config::default().num_cpus(1).name(NAME))?;
    let rt = guard.clone();
    let before = add::remote(1, 2)?;
    assert_eq!(rustyray::get(&before)?, 3);
    guard.shutdown();

    // Still installed, but shut down.
    assert!(is_shut_down(&add::remote(1, 2), NAME));
    assert!(is_shut_down(&add_async::remote(1, 2), NAME));
    assert!(is_shut_down(
        &add::options().name("x").remote(&before, 1),
        NAME
    ));
    assert!(is_shut_down(&add::options().on(&rt).remote(1, 2), NAME));
    assert!(is_shut_down(&rustyray::get(&before), NAME));
    assert!(is_shut_down(&rustyray::cancel(&before), NAME));
    assert!(is_shut_down(
        &rustyray::wait(std::slice::from_ref(&before), 1, None),
        NAME
    ));

    // Uninstalled: nothing current, the explicit runtime still refuses.
    drop(guard);
    assert!(matches!(
        add::remote(1, 2),
        Err(Error::NotInitialized { .. })
    ));
    assert!(is_shut_down(&add::options().on(&rt).remote(1, 2), NAME));
    assert!(is_shut_down(&before.get(), NAME));
    Ok(())
}

#[test]
fn remote_without_a_runtime_is_not_initialized() {
    assert!(!rustyray::is_initialized());
    assert!(matches!(
        add::remote(1, 2),
        Err(Error::NotInitialized { .. })
    ));
    assert!(matches!(
        add_async::remote(1, 2),
        Err(Error::NotInitialized { .. })
    ));
    assert!(matches!(
        add::options().name("x").num_cpus(1).remote(1, 2),
        Err(Error::NotInitialized { .. })
    ));
}

#[test]
fn running_sync_task_sees_shutdown_as_cancellation() -> Result<()> {
    let guard = rustyray::init(Config::default().num_cpus(1).name("shutdown-sync"))?;
    let p = TestProbe::new();
    let r = spin_until_cancelled::remote(p.key)?;
    assert!(p.started.wait_for(1), "the task never started");
    drop(guard);
    assert!(
        p.saw_cancel.wait_for(1),
        "the task never saw is_cancelled()"
    );
    assert!(is_shut_down(&r.get(), "shutdown-sync"));
    Ok(())
}

#[test]
fn running_async_task_is_dropped_at_shutdown() -> Result<()> {
    let guard = rustyray::init(Config::default().num_cpus(1).name("shutdown-async"))?;
    let p = TestProbe::new();
    let r = hang_forever::remote(p.key)?;
    assert!(p.started.wait_for(1), "the task never started");
    drop(guard);
    assert!(p.dropped.wait_for(1), "the future was never dropped");
    assert!(is_shut_down(&r.get(), "shutdown-async"));
    Ok(())
}

#[test]
fn shutdown_of_one_runtime_leaves_another_serving() -> Result<()> {
    let keep = rustyray::init(Config::default().num_cpus(1).name("kept"))?;
    let keep_rt = keep.clone();
    {
        let _gone = rustyray::init(Config::default().num_cpus(1).name("gone"))?;
        let r = add::remote(1, 1)?;
        assert_eq!(rustyray::get(&r)?, 2);
    }
    assert_eq!(rustyray::global()?.name(), "kept");
    assert_eq!(rustyray::get(&add::remote(2, 2)?)?, 4);
    assert_eq!(keep_rt.get(&add::options().on(&keep_rt).remote(3, 3)?)?, 6);
    drop(keep);
    Ok(())
}

#[rustyray::test(num_cpus = 2, name = "shutdown-in-async")]
async fn shutdown_from_async_code_completes_pending_refs() -> Result<()> {
    let p = TestProbe::new();
    let r = hang_forever::remote(p.key)?;
    p.started.reached(1).await;
    rustyray::global()?.shutdown();
    let outcome = r.await;
    assert!(is_shut_down(&outcome, "shutdown-in-async"), "{outcome:?}");
    assert!(is_shut_down(&add::remote(1, 2), "shutdown-in-async"));
    Ok(())
}

/// Dropping a guard inside async code never blocks the executor polling
/// it, not even for a sync task that holds a worker thread (with a
/// shutdown timeout of `Duration::MAX`, a wait would never end).
#[test]
fn a_guard_dropped_inside_async_code_never_waits_for_busy_workers() {
    let p = TestProbe::new();
    let key = p.key;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let app = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        app.block_on(async move {
            let config = Config::default()
                .num_cpus(1)
                .name("async-drop")
                .shutdown_timeout(Duration::MAX);
            let rt = rustyray::init(config).expect("init");
            let busy = gated::remote(key, 1).expect("submit");
            probe(key).started.reached(1).await;
            drop(rt);
            let _ = tx.send(busy.await);
        });
    });
    let outcome = rx
        .recv_timeout(PATIENCE)
        .expect("dropping the guard inside async code returned");
    assert!(is_shut_down(&outcome, "async-drop"), "{outcome:?}");
    p.open();
}

#[test]
fn a_shutdown_timeout_of_duration_max_waits_for_running_tasks_without_overflowing() -> Result<()> {
    let rt = rustyray::init(
        Config::default()
            .num_cpus(1)
            .shutdown_timeout(Duration::MAX),
    )?;
    let r = add::remote(1, 2)?;
    assert_eq!(r.get_timeout(PATIENCE)?, 3);
    let handle = (*rt).clone();
    drop(rt);
    assert!(handle.is_shut_down());
    assert!(is_shut_down(&handle.put(1u8).map(|_| 1u32), handle.name()));
    Ok(())
}
