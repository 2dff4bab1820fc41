//! An HTTP service (axum on hyper, in an ordinary tokio application) whose
//! handlers submit RustyRay tasks and actor calls and await their refs.
//!
//! ```text
//! cargo run --release --example tokio_service          # on 127.0.0.1:3000
//! cargo run --release --example tokio_service -- 0     # on a free port
//! curl '127.0.0.1:3000/add?a=2&b=3'                    # 5: a task
//! curl -X POST 127.0.0.1:3000/count/4                  # 4, 8, ...: an actor call
//! curl '127.0.0.1:3000/slow?ms=100000' --max-time 1    # gives up: the task is cancelled
//! ```
//!
//! `#[rustyray::main]` on an `async fn main` builds the tokio runtime and
//! starts RustyRay on it: one executor, and every future it runs (axum's
//! per-connection tasks included) sees the runtime, so handlers call
//! remote functions and actors directly. A handler future dropped by hyper
//! (the client went away) cancels the task it waited for.
//!
//! The service binds 127.0.0.1 only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rustyray::{Object, ObjectRef, Runtime};
use serde::Deserialize;

/// A task: runs on RustyRay's worker threads.
#[rustyray::remote]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Slow tasks whose futures were dropped by a cancel (before finishing),
/// and a signal for each.
pub static SLOW_CANCELLED: AtomicU64 = AtomicU64::new(0);
pub static SLOW_CANCELLED_SIGNAL: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Counts the cancel of the slow task holding it.
struct Cancelled(bool);

impl Drop for Cancelled {
    fn drop(&mut self) {
        if !self.0 {
            SLOW_CANCELLED.fetch_add(1, Ordering::SeqCst);
            SLOW_CANCELLED_SIGNAL.notify_waiters();
        }
    }
}

/// An async task that takes `ms` milliseconds. It holds no CPU while it
/// waits (`num_cpus = 0`): an async task holds its CPUs across `.await`
/// otherwise, as in Ray.
#[rustyray::remote(num_cpus = 0)]
async fn slow(ms: u64) -> u64 {
    let mut guard = Cancelled(false);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    guard.0 = true;
    ms
}

/// State kept across requests by an actor.
#[rustyray::actor]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    fn new() -> Self {
        Counter { n: 0 }
    }

    fn incr(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }
}

/// What handlers share.
#[derive(Clone)]
struct App {
    runtime: Runtime,
    counter: CounterHandle,
}

/// A RustyRay error as an HTTP response.
struct Failed(rustyray::Error);

impl From<rustyray::Error> for Failed {
    fn from(err: rustyray::Error) -> Self {
        Failed(err)
    }
}

impl IntoResponse for Failed {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.0.to_string()).into_response()
    }
}

/// Awaits `r`; if the future is dropped first (the client went away), the
/// task behind it is cancelled.
async fn await_or_cancel<T: Object>(runtime: &Runtime, r: ObjectRef<T>) -> rustyray::Result<T> {
    struct CancelOnDrop<'a, T: Object>(&'a Runtime, Option<ObjectRef<T>>);
    impl<T: Object> Drop for CancelOnDrop<'_, T> {
        fn drop(&mut self) {
            if let Some(r) = self.1.take() {
                let _ = self.0.cancel(&r);
            }
        }
    }
    let mut pending = CancelOnDrop(runtime, Some(r.clone()));
    let value = r.await;
    pending.1 = None;
    value
}

#[derive(Deserialize)]
struct Sum {
    a: i64,
    b: i64,
}

async fn sum(Query(Sum { a, b }): Query<Sum>) -> Result<String, Failed> {
    Ok(add::remote(a, b)?.await?.to_string())
}

async fn count(State(app): State<App>, Path(by): Path<i64>) -> Result<String, Failed> {
    Ok(app.counter.incr(by)?.await?.to_string())
}

#[derive(Deserialize)]
struct Wait {
    ms: u64,
}

async fn wait(State(app): State<App>, Query(Wait { ms }): Query<Wait>) -> Result<String, Failed> {
    let r = slow::remote(ms)?;
    Ok(await_or_cancel(&app.runtime, r).await?.to_string())
}

/// The service's routes, with a new counter actor.
pub fn app() -> rustyray::Result<Router> {
    let app = App {
        runtime: rustyray::global()?,
        counter: Counter::remote()?,
    };
    Ok(Router::new()
        .route("/add", get(sum))
        .route("/count/{by}", post(count))
        .route("/slow", get(wait))
        .with_state(app))
}

/// Serves the routes on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let router = app().map_err(std::io::Error::other)?;
    axum::serve(listener, router).await
}

#[rustyray::main]
#[allow(dead_code)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(3000), |p| p.parse())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener).await?;
    Ok(())
}
