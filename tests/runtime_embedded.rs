//! Embedding in an application's tokio runtime (`Config::tokio_handle`): async
//! work runs on the application's threads and RustyRay starts no executor of
//! its own; without a handle, it starts `<name>-tokio` threads on first use.

use rustyray::{Config, Runtime};

/// The names of every thread of this process, from `/proc/self/task/*/comm`.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|comm| comm.trim_end().to_string())
        .collect()
}

fn executor_thread_name(rt: &Runtime) -> String {
    format!("{}-tokio", rt.name())
}

fn current_thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string()
}

/// The output of a spawned future, waited for outside any runtime.
fn wait_for<T>(handle: tokio::task::JoinHandle<T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(handle)
        .unwrap()
}

fn app_tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("app-tokio")
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

#[test]
fn embedded_runtime_runs_async_work_on_the_app_executor_and_starts_none() {
    let app = app_tokio();
    let rt = rustyray::init(Config::default().tokio_handle(app.handle().clone())).unwrap();
    let own_executor = executor_thread_name(&rt);

    let r = rustyray::put(vec![1u64, 2, 3]).unwrap();
    assert_eq!(rustyray::get(&r).unwrap(), vec![1, 2, 3]);

    // A scoped future spawned on the application's executor.
    let (name, value) = app
        .block_on(app.spawn(rt.scope(async move {
            tokio::task::yield_now().await;
            (current_thread_name(), (&r).await.unwrap())
        })))
        .unwrap();
    assert_eq!(name, "app-tokio");
    assert_eq!(value, vec![1, 2, 3]);

    // `Runtime::spawn` runs on the embedded executor.
    let name = rt.name().to_string();
    let spawned_on = app
        .block_on(rt.spawn(async move {
            assert_eq!(rustyray::global().unwrap().name(), name);
            tokio::spawn(async { current_thread_name() }).await.unwrap()
        }))
        .unwrap();
    assert_eq!(spawned_on, "app-tokio");

    // An async remote function runs there too.
    let task = async_thread_name::remote(3).unwrap();
    assert_eq!(task.get().unwrap(), "app-tokio");

    let names = thread_names();
    assert!(
        !names.contains(&own_executor),
        "embedded runtime started its own executor `{own_executor}`: {names:?}"
    );
    assert!(names.iter().any(|n| n == "app-tokio"), "{names:?}");

    drop(rt);
    // Shutting the embedded runtime down leaves the application's executor running.
    assert_eq!(
        app.block_on(app.spawn(async { current_thread_name() }))
            .unwrap(),
        "app-tokio"
    );
}

#[test]
fn embedded_runtime_guard_dropped_inside_the_app_executor_does_not_panic() {
    let app = app_tokio();
    let handle = app.handle().clone();
    let (id, value, shut_down, still_installed) = app.block_on(async move {
        // Inside the application's async context: init, use and drop there.
        let rt = rustyray::init(Config::default().tokio_handle(handle).name("emb-drop")).unwrap();
        let id = rt.name().to_string();
        let r = rustyray::put("embedded".to_string()).unwrap();
        let value = r.await.unwrap();
        let handle: Runtime = (*rt).clone();
        drop(rt);
        (id, value, handle.is_shut_down(), rustyray::is_initialized())
    });
    assert_eq!(value, "embedded");
    assert!(shut_down);
    assert!(!still_installed);
    assert!(!thread_names().contains(&format!("{id}-tokio")));
}

#[test]
fn owned_runtime_starts_its_executor_threads_on_first_async_work() {
    let rt = rustyray::init(Config::default().num_cpus(2).name("emb-own")).unwrap();
    let own_executor = executor_thread_name(&rt);
    let r = rustyray::put(1u8).unwrap();
    assert_eq!(rustyray::get(&r).unwrap(), 1);
    assert!(
        !thread_names().contains(&own_executor),
        "no async work ran yet, so no executor thread should exist"
    );

    let spawned_on =
        wait_for(rt.spawn(async { tokio::spawn(async { current_thread_name() }).await.unwrap() }));
    assert_eq!(spawned_on, own_executor);
    let task = async_thread_name::remote(2).unwrap();
    assert_eq!(task.get().unwrap(), own_executor);

    let names = thread_names();
    assert!(
        names.contains(&own_executor),
        "expected `{own_executor}` among {names:?}"
    );
}
