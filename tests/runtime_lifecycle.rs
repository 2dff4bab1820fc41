//! Runtime lifecycle: `init`, guards (nested, out of order, many threads at
//! once), shutdown, config validation, and guards dropped inside async code.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use rustyray::{Config, Error, Runtime};

/// How long a task may take before a test gives up on it.
const PATIENCE: Duration = Duration::from_secs(30);

#[rustyray::remote]
fn double(x: u8) -> u8 {
    x * 2
}

fn not_initialized<T: std::fmt::Debug>(result: rustyray::Result<T>) -> bool {
    matches!(result, Err(Error::NotInitialized { .. }))
}

fn current_id() -> rustyray::RuntimeId {
    rustyray::global()
        .expect("a runtime should be installed")
        .id()
}

#[test]
fn sixteen_threads_cycling_init_put_get_drop_each_see_only_their_own_runtime() {
    const THREADS: u64 = 16;
    const CYCLES: u64 = 50;
    let start = Arc::new(Barrier::new(THREADS as usize));

    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let mut seen = Vec::new();
                for c in 0..CYCLES {
                    assert!(not_initialized(rustyray::global()));
                    let guard =
                        rustyray::init(Config::default().name(format!("t{t}-c{c}"))).unwrap();
                    assert_eq!(current_id(), guard.id());
                    assert_eq!(guard.name(), format!("t{t}-c{c}"));

                    let pair = rustyray::put((t, c)).unwrap();
                    let many: Vec<u64> = (0..5).map(|k| t * 1_000_000 + c * 1_000 + k).collect();
                    let list = rustyray::put(many.clone()).unwrap();
                    let text = rustyray::put(format!("thread {t} cycle {c}")).unwrap();
                    assert_eq!(pair.id().runtime(), guard.id());
                    assert_eq!(list.id().runtime(), guard.id());

                    assert_eq!(rustyray::get(&pair).unwrap(), (t, c));
                    assert_eq!(rustyray::get(&list).unwrap(), many);
                    assert_eq!(
                        rustyray::get(&text).unwrap(),
                        format!("thread {t} cycle {c}")
                    );
                    assert_eq!(guard.memory().objects_in_memory, 3);
                    assert_eq!(current_id(), guard.id());

                    seen.push((guard.id(), guard.name().to_string()));
                    drop((pair, list, text));
                    drop(guard);
                    assert!(not_initialized(rustyray::global()));
                    assert!(!rustyray::is_initialized());
                }
                seen
            })
        })
        .collect();

    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    for handle in handles {
        for (id, name) in handle.join().unwrap() {
            assert!(ids.insert(id), "runtime id {id} seen twice");
            assert!(names.insert(name));
        }
    }
    assert_eq!(ids.len(), (THREADS * CYCLES) as usize);
    assert_eq!(names.len(), (THREADS * CYCLES) as usize);
}

#[test]
fn nested_guards_restore_the_previous_runtime_on_drop() {
    let outer = rustyray::init(Config::default().name("outer")).unwrap();
    assert_eq!(current_id(), outer.id());

    let inner = rustyray::init(Config::default().name("inner")).unwrap();
    assert_ne!(inner.id(), outer.id());
    assert_eq!(current_id(), inner.id());
    assert_eq!(rustyray::global().unwrap().name(), "inner");

    drop(inner);
    assert_eq!(current_id(), outer.id());
    assert_eq!(rustyray::global().unwrap().name(), "outer");
    let r = rustyray::put(11i32).unwrap();
    assert_eq!(r.id().runtime(), outer.id());

    drop(outer);
    assert!(not_initialized(rustyray::global()));
    assert!(matches!(
        rustyray::put(1u8),
        Err(Error::NotInitialized { .. })
    ));
}

#[test]
fn outer_guard_dropped_first_leaves_the_inner_runtime_installed() {
    let outer = rustyray::init(Config::default().name("outer-first")).unwrap();
    let outer_handle: Runtime = (*outer).clone();
    let inner = rustyray::init(Config::default().name("inner-last")).unwrap();
    let inner_id = inner.id();

    drop(outer);
    assert_eq!(current_id(), inner_id);
    assert!(outer_handle.is_shut_down());
    assert!(!inner.is_shut_down());
    match outer_handle.put(1u8) {
        Err(Error::ShutDown { runtime }) => assert_eq!(runtime, "outer-first"),
        other => panic!("expected ShutDown, got {other:?}"),
    }
    let r = rustyray::put(2u8).unwrap();
    assert_eq!(r.id().runtime(), inner_id);
    assert_eq!(rustyray::get(&r).unwrap(), 2);

    drop(inner);
    assert!(not_initialized(rustyray::global()));
}

#[test]
fn middle_of_three_guards_dropped_first_keeps_the_others_in_order() {
    let a = rustyray::init(Config::default().name("a")).unwrap();
    let b = rustyray::init(Config::default().name("b")).unwrap();
    let b_handle: Runtime = (*b).clone();
    let c = rustyray::init(Config::default().name("c")).unwrap();
    let (a_id, c_id) = (a.id(), c.id());

    drop(b);
    assert!(b_handle.is_shut_down());
    assert_eq!(current_id(), c_id);

    drop(c);
    assert_eq!(current_id(), a_id);
    assert!(!a.is_shut_down());
    assert_eq!(rustyray::get(&rustyray::put(3u16).unwrap()).unwrap(), 3);

    drop(a);
    assert!(not_initialized(rustyray::global()));
}

#[test]
fn is_initialized_follows_init_and_drop() {
    assert!(!rustyray::is_initialized());
    let outer = rustyray::init(Config::default()).unwrap();
    assert!(rustyray::is_initialized());
    let inner = rustyray::init(Config::default()).unwrap();
    assert!(rustyray::is_initialized());
    drop(inner);
    assert!(rustyray::is_initialized());
    drop(outer);
    assert!(!rustyray::is_initialized());
}

#[test]
fn explicit_shutdown_refuses_put_and_get_and_is_idempotent() {
    let guard = rustyray::init(Config::default().name("explicit-shutdown")).unwrap();
    let handle: Runtime = (*guard).clone();
    let r = rustyray::put(vec![1u32, 2, 3]).unwrap();
    assert_eq!(r.get().unwrap(), vec![1, 2, 3]);
    assert!(!handle.is_shut_down());

    handle.shutdown();
    assert!(handle.is_shut_down());
    assert!(guard.is_shut_down());
    let shut_down =
        |e: Error| matches!(e, Error::ShutDown { runtime } if runtime == "explicit-shutdown");
    assert!(shut_down(rustyray::put(4u32).unwrap_err()));
    assert!(shut_down(handle.put(4u32).unwrap_err()));
    assert!(shut_down(rustyray::get(&r).unwrap_err()));
    assert!(shut_down(handle.get(&r).unwrap_err()));
    assert!(shut_down(r.get().unwrap_err()));
    assert!(shut_down(
        r.get_timeout(std::time::Duration::from_secs(5))
            .unwrap_err()
    ));

    handle.shutdown();
    guard.shutdown();
    assert!(handle.is_shut_down());
    // The guard is still installed: the slot does not change on shutdown.
    assert_eq!(current_id(), handle.id());
    drop(guard);
    assert!(not_initialized(rustyray::global()));
    handle.shutdown();
    assert!(handle.is_shut_down());
}

#[test]
fn dropping_the_guard_shuts_down_runtimes_whose_handles_live_on() {
    let guard = rustyray::init(Config::default().name("dropped-guard")).unwrap();
    let handle: Runtime = (*guard).clone();
    let r = rustyray::put("kept".to_string()).unwrap();
    drop(guard);

    assert!(handle.is_shut_down());
    assert!(!rustyray::is_initialized());
    match handle.put(1i64) {
        Err(Error::ShutDown { runtime }) => assert_eq!(runtime, "dropped-guard"),
        other => panic!("expected ShutDown, got {other:?}"),
    }
    match handle.get(&r) {
        Err(Error::ShutDown { runtime }) => assert_eq!(runtime, "dropped-guard"),
        other => panic!("expected ShutDown, got {other:?}"),
    }
    // Without a runtime in context the free function cannot even find one.
    assert!(not_initialized(rustyray::get(&r)));
    handle.shutdown();
    handle.shutdown();
    assert!(handle.is_shut_down());
}

#[test]
fn config_with_zero_cpus_is_refused_naming_num_cpus() {
    match rustyray::init(Config::default().num_cpus(0)) {
        Err(Error::InvalidConfig { field, .. }) => assert_eq!(field, "num_cpus"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    assert!(!rustyray::is_initialized());
}

#[test]
fn config_with_zero_store_memory_is_refused_naming_object_store_memory() {
    match rustyray::init(Config::default().object_store_memory(0)) {
        Err(Error::InvalidConfig { field, .. }) => assert_eq!(field, "object_store_memory"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    assert!(!rustyray::is_initialized());
}

#[test]
fn config_with_negative_or_nan_or_infinite_resource_is_refused_naming_resource() {
    for amount in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        match rustyray::init(Config::default().resource("gpu", amount)) {
            Err(Error::InvalidConfig { field, reason }) => {
                assert_eq!(field, "resource", "amount {amount}");
                assert!(reason.contains("gpu"), "{reason}");
            }
            other => panic!("expected InvalidConfig for {amount}, got {other:?}"),
        }
    }
    assert!(!rustyray::is_initialized());
    let ok = rustyray::init(Config::default().resource("gpu", 0.0)).unwrap();
    drop(ok);
}

#[test]
fn config_with_more_cpus_than_can_be_counted_is_refused_saying_the_limit() {
    match rustyray::init(Config::default().num_cpus(usize::MAX)) {
        Err(err @ Error::InvalidConfig { field, .. }) => {
            assert_eq!(field, "num_cpus");
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid config: `num_cpus` = {}: must be at most 1000000000000, the largest \
                     amount of a resource",
                    usize::MAX
                )
            );
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    match rustyray::init(Config::default().num_cpus(1_000_000_000_001)) {
        Err(Error::InvalidConfig { field, .. }) => assert_eq!(field, "num_cpus"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    assert!(!rustyray::is_initialized());
}

#[test]
fn config_with_a_resource_beyond_the_limit_is_refused_saying_the_limit() {
    for amount in [1e12 + 1.0, 1e13, f64::MAX] {
        match rustyray::init(Config::default().resource("gpu", amount)) {
            Err(err @ Error::InvalidConfig { field, .. }) => {
                assert_eq!(field, "resource");
                assert_eq!(
                    err.to_string(),
                    format!(
                        "invalid config: `resource` `gpu` = {amount}: amounts must be at most \
                         1000000000000, the largest amount of a resource"
                    )
                );
            }
            other => panic!("expected InvalidConfig for {amount}, got {other:?}"),
        }
    }
    assert!(!rustyray::is_initialized());
    // The limit itself is a valid amount, and all of it can be asked for.
    let rt = rustyray::init(Config::default().num_cpus(1).resource("gpu", 1e12)).unwrap();
    let r = rustyray::put(5u8).unwrap();
    let doubled = double::options()
        .num_cpus(0)
        .resource("gpu", 1e12)
        .remote(&r)
        .unwrap();
    assert_eq!(doubled.get_timeout(PATIENCE).unwrap(), 10);
    match double::options().resource("gpu", 1e12 + 1.0).remote(&r) {
        Err(Error::Unschedulable { reason, .. }) => assert_eq!(
            reason,
            format!("resource `gpu` = {} is not a valid amount", 1e12 + 1.0)
        ),
        other => panic!("expected Unschedulable, got {other:?}"),
    }
    drop(rt);
}

#[test]
fn config_with_empty_name_is_refused_naming_name() {
    match rustyray::init(Config::default().name("")) {
        Err(Error::InvalidConfig { field, .. }) => assert_eq!(field, "name"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    assert!(!rustyray::is_initialized());
}

#[test]
fn invalid_config_display_names_the_field() {
    let err = rustyray::init(Config::default().num_cpus(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid config: `num_cpus` must be at least 1"
    );
}

#[test]
fn default_config_starts_a_runtime_named_after_its_number_in_the_process() {
    let rt = rustyray::init(Config::default()).unwrap();
    let other = rustyray::init(Config::default()).unwrap();
    let number = |name: &str| {
        name.strip_prefix("rustyray-")
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(number(other.name()) > number(rt.name()));
    drop(other);
    assert!(!rt.is_shut_down());
    assert_eq!(rt.memory().limit, 2 << 30);
}

#[test]
fn named_config_gives_the_runtime_its_name() {
    let rt = rustyray::init(Config::default().name("x")).unwrap();
    assert_eq!(rt.name(), "x");
    assert_eq!(rustyray::global().unwrap().name(), "x");
    let limited = rustyray::init(Config::default().object_store_memory(4096)).unwrap();
    assert_eq!(limited.memory().limit, 4096);
}

#[test]
fn runtime_ids_are_distinct_and_displayed_with_prefix() {
    let a = rustyray::init(Config::default()).unwrap();
    let b = rustyray::init(Config::default()).unwrap();
    assert_ne!(a.id(), b.id());
    assert_eq!(a.id().to_string(), format!("rt-{:016x}", a.id().as_u64()));
    assert_eq!(
        format!("{:?}", b.id()),
        format!("rt-{:016x}", b.id().as_u64())
    );
}

#[test]
fn not_initialized_error_says_how_to_fix_it() {
    let err = rustyray::global().unwrap_err();
    let Error::NotInitialized { reason } = &err else {
        panic!("expected NotInitialized, got {err:?}");
    };
    assert_eq!(*reason, "no runtime is installed on this thread");
    let message = err.to_string();
    assert!(message.contains("rustyray::init"), "{message}");
    assert!(message.contains("Runtime::enter"), "{message}");
    assert!(message.contains(reason), "{message}");
}

#[test]
fn errors_are_matchable_values() {
    let errors = [
        rustyray::put(1u8).unwrap_err(),
        rustyray::init(Config::default().name("")).unwrap_err(),
        {
            let rt = rustyray::init(Config::default().name("gone")).unwrap();
            let handle: Runtime = (*rt).clone();
            drop(rt);
            handle.put(1u8).unwrap_err()
        },
    ];
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            Error::NotInitialized { .. } => "not-initialized",
            Error::InvalidConfig { .. } => "invalid-config",
            Error::ShutDown { .. } => "shut-down",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["not-initialized", "invalid-config", "shut-down"]);
    assert_eq!(errors[2].to_string(), "runtime `gone` is shut down");
    // Errors are `Clone` values: a clone displays the same.
    assert_eq!(errors[0].clone().to_string(), errors[0].to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_dropped_inside_a_multi_thread_tokio_test_does_not_panic() {
    let guard = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(vec![7u8; 16]).unwrap();
    assert_eq!((&r).await.unwrap(), vec![7u8; 16]);
    assert_eq!(r.await.unwrap(), vec![7u8; 16]);
    let handle: Runtime = (*guard).clone();
    drop(guard);
    assert!(handle.is_shut_down());
    assert!(!rustyray::is_initialized());
}

#[tokio::test(flavor = "current_thread")]
async fn guard_dropped_inside_a_current_thread_tokio_test_does_not_panic() {
    let guard = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put("async".to_string()).unwrap();
    assert_eq!(r.await.unwrap(), "async");
    let handle: Runtime = (*guard).clone();
    drop(guard);
    assert!(handle.is_shut_down());
    assert!(!rustyray::is_initialized());
}

/// Spawns on the runtime's executor from a thread outside any async
/// context; the name of the thread that ran it.
fn start_owned_executor(rt: &Runtime) -> String {
    let rt = rt.clone();
    std::thread::spawn(move || {
        let spawned = rt.spawn(async {
            tokio::spawn(async {
                std::thread::current()
                    .name()
                    .unwrap_or_default()
                    .to_string()
            })
            .await
            .unwrap()
        });
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(spawned)
            .unwrap()
    })
    .join()
    .unwrap()
}

#[test]
fn guard_of_a_runtime_with_a_started_executor_dropped_inside_async_code_does_not_panic() {
    let guard = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let worker = start_owned_executor(&guard);
    assert_eq!(worker, format!("{}-tokio", guard.name()));
    let handle: Runtime = (*guard).clone();

    let app = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    app.block_on(async move {
        let r = rustyray::put(5i64).unwrap();
        assert_eq!(r.await.unwrap(), 5);
        drop(guard);
    });
    assert!(handle.is_shut_down());
    assert!(!rustyray::is_initialized());
}

/// `init` inside a tokio runtime runs RustyRay's async work on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_of_a_runtime_embedded_in_a_tokio_test_dropped_there_does_not_panic() {
    let guard = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let rt: Runtime = (*guard).clone();
    std::thread::spawn(move || {
        let _ = tx.send(start_owned_executor(&rt));
    });
    assert_eq!(rx.await.unwrap(), "tokio-rt-worker");
    let r = rustyray::put(9u8).unwrap();
    assert_eq!((&r).await.unwrap(), 9);
    let handle: Runtime = (*guard).clone();
    drop(guard);
    assert!(handle.is_shut_down());
    assert!(matches!(r.await, Err(Error::ShutDown { .. })));
}

#[rustyray::remote]
fn sync_thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string()
}

#[rustyray::remote]
async fn async_thread_name() -> String {
    tokio::task::yield_now().await;
    std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string()
}

/// `Config::name` names the runtime's threads, so a panic message (which
/// names its thread) says which runtime it came from.
#[test]
fn the_runtimes_name_names_its_threads() -> Result<(), Error> {
    let _rt = rustyray::init(Config::default().num_cpus(1).name("svc"))?;
    // `get_timeout`: a plain `get` may run a task that has not started on
    // the calling thread.
    let patience = std::time::Duration::from_secs(60);
    assert_eq!(sync_thread_name::remote()?.get_timeout(patience)?, "svc-w0");
    assert_eq!(async_thread_name::remote()?.get()?, "svc-tokio");
    Ok(())
}
