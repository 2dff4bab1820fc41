//! The context slot across threads and futures: `Runtime::enter` on other
//! threads, `Runtime::scope` across `.await`s and executor threads, and what
//! code outside any scope sees.

use rustyray::{Config, Error, Runtime, RuntimeId};

fn not_initialized<T: std::fmt::Debug>(result: rustyray::Result<T>) -> bool {
    matches!(result, Err(Error::NotInitialized { .. }))
}

fn current_id() -> rustyray::Result<RuntimeId> {
    rustyray::global().map(|rt| rt.id())
}

fn multi_thread_tokio(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn enter_on_another_thread_installs_the_runtime_until_the_guard_drops() {
    let guard = rustyray::init(Config::default().name("entered")).unwrap();
    let rt: Runtime = (*guard).clone();

    let (r, id_inside) = std::thread::spawn(move || {
        assert!(not_initialized(rustyray::global()));
        let entered = rt.enter();
        let id_inside = current_id().unwrap();
        let r = rustyray::put(vec!["a".to_string(), "b".to_string()]).unwrap();
        assert_eq!(rustyray::get(&r).unwrap(), ["a", "b"]);
        drop(entered);
        assert!(not_initialized(rustyray::global()));
        assert!(!rustyray::is_initialized());
        assert!(!rt.is_shut_down());
        (r, id_inside)
    })
    .join()
    .unwrap();

    assert_eq!(id_inside, guard.id());
    assert!(!guard.is_shut_down());
    assert_eq!(r.id().runtime(), guard.id());
    assert_eq!(rustyray::get(&r).unwrap(), ["a", "b"]);
    assert_eq!(
        rustyray::get(&rustyray::put(1u8).unwrap()).unwrap(),
        1,
        "the runtime keeps working after the EnterGuard dropped"
    );
}

#[test]
fn enter_nested_in_another_runtime_restores_it_on_drop() {
    let outer = rustyray::init(Config::default()).unwrap();
    let other = rustyray::init(Config::default()).unwrap();
    let other_handle: Runtime = (*other).clone();
    drop(other);
    // `other` is shut down but its handle can still be entered.
    let shut = other_handle.enter();
    assert_eq!(current_id().unwrap(), other_handle.id());
    assert!(matches!(rustyray::put(1u8), Err(Error::ShutDown { .. })));
    drop(shut);
    assert_eq!(current_id().unwrap(), outer.id());

    let live = rustyray::init(Config::default()).unwrap();
    let live_handle: Runtime = (*live).clone();
    let entered_outer = outer.enter();
    assert_eq!(current_id().unwrap(), outer.id());
    drop(entered_outer);
    assert_eq!(current_id().unwrap(), live_handle.id());
    assert!(!outer.is_shut_down());
    drop(live);
    assert_eq!(current_id().unwrap(), outer.id());
}

#[test]
fn enter_twice_on_one_thread_nests() {
    let guard = rustyray::init(Config::default()).unwrap();
    let rt: Runtime = (*guard).clone();
    std::thread::spawn(move || {
        let first = rt.enter();
        let second = rt.enter();
        drop(first);
        assert_eq!(current_id().unwrap(), rt.id());
        drop(second);
        assert!(not_initialized(rustyray::global()));
        assert!(!rt.is_shut_down());
    })
    .join()
    .unwrap();
}

#[test]
fn scoped_future_sees_its_runtime_after_every_yield_on_any_worker() {
    let guard = rustyray::init(Config::default()).unwrap();
    let id = guard.id();
    let tokio = multi_thread_tokio(4);

    let scoped = guard.scope(async move {
        let mut checked = 0;
        for _ in 0..100 {
            tokio::task::yield_now().await;
            assert_eq!(current_id()?, id);
            checked += 1;
        }
        let r = rustyray::put(checked)?;
        assert_eq!(r.id().runtime(), id);
        r.await
    });
    assert_eq!(tokio.block_on(tokio.spawn(scoped)).unwrap().unwrap(), 100);
}

#[test]
fn many_scoped_futures_of_different_runtimes_share_worker_threads() {
    let guards: Vec<_> = (0..8)
        .map(|_| rustyray::init(Config::default()).unwrap())
        .collect();
    let tokio = multi_thread_tokio(4);
    let tasks: Vec<_> = guards
        .iter()
        .map(|rt| {
            let id = rt.id();
            tokio.spawn(rt.scope(async move {
                for _ in 0..100 {
                    tokio::task::yield_now().await;
                    assert_eq!(current_id().unwrap(), id);
                }
                current_id().unwrap()
            }))
        })
        .collect();
    let ids: Vec<RuntimeId> = tokio.block_on(async {
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    });
    let expected: Vec<RuntimeId> = guards.iter().map(|g| g.id()).collect();
    assert_eq!(ids, expected);
}

#[test]
fn unscoped_spawned_future_has_no_runtime() {
    let _guard = rustyray::init(Config::default()).unwrap();
    let tokio = multi_thread_tokio(4);
    let seen = tokio.block_on(tokio.spawn(async { current_id() })).unwrap();
    assert!(not_initialized(seen));
}

#[test]
fn future_spawned_from_inside_a_scoped_future_loses_the_context() {
    let guard = rustyray::init(Config::default()).unwrap();
    let id = guard.id();
    let tokio = multi_thread_tokio(4);
    let (own, spawned) = tokio
        .block_on(tokio.spawn(guard.scope(async {
            let spawned = tokio::spawn(async {
                tokio::task::yield_now().await;
                current_id()
            })
            .await
            .unwrap();
            (current_id(), spawned)
        })))
        .unwrap();
    assert_eq!(own.unwrap(), id);
    assert!(not_initialized(spawned));
}

#[test]
fn scope_of_the_already_current_runtime_keeps_it_current() {
    let guard = rustyray::init(Config::default()).unwrap();
    let rt: Runtime = (*guard).clone();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let id = tokio.block_on(guard.scope(rt.scope(async {
        tokio::task::yield_now().await;
        current_id()
    })));
    assert_eq!(id.unwrap(), guard.id());
    assert_eq!(current_id().unwrap(), guard.id());
}

#[test]
fn inner_scope_shadows_the_outer_one_only_while_polled() {
    let outer = rustyray::init(Config::default()).unwrap();
    let inner = rustyray::init(Config::default()).unwrap();
    let (outer_id, inner_id) = (outer.id(), inner.id());
    let inner_handle: Runtime = (*inner).clone();
    let tokio = multi_thread_tokio(2);
    let seen = tokio
        .block_on(tokio.spawn(outer.scope(async move {
            let before = current_id().unwrap();
            let during = inner_handle
                .scope(async {
                    tokio::task::yield_now().await;
                    current_id().unwrap()
                })
                .await;
            tokio::task::yield_now().await;
            let after = current_id().unwrap();
            (before, during, after)
        })))
        .unwrap();
    assert_eq!(seen, (outer_id, inner_id, outer_id));
}
