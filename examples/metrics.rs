//! Prometheus metrics of a RustyRay runtime while a workload runs.
//!
//! ```text
//! cargo run --release -p rustyray-extras --example metrics        # port 9464
//! cargo run --release -p rustyray-extras --example metrics -- 9000
//! curl http://127.0.0.1:9464/metrics
//! ```
//!
//! RustyRay reports its figures through the `metrics` facade
//! ([`rustyray::record_metrics`]), so any exporter plugs in; this one is
//! `metrics-exporter-prometheus`, serving Prometheus' text format on
//! 127.0.0.1 only. The runtime keeps its figures anyway (what ran, what is
//! live, what the store holds), so they are recorded when scraped, not as
//! tasks run: each request to `/metrics` records them into the exporter's
//! recorder, then renders it. The recorder is used through
//! `metrics::with_local_recorder`, so nothing is installed process-wide (a
//! program with metrics of its own installs the recorder globally with
//! `PrometheusBuilder::install_recorder` and calls `record_metrics` the
//! same way).
//!
//! Meanwhile a workload runs: batches of tasks (some failing), calls to an
//! actor that crashes now and then and is restarted, and objects put past a
//! small memory limit, so that some spill to disk.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use rustyray::Runtime;

/// A task of the workload.
#[rustyray::remote]
pub fn square(x: u64) -> u64 {
    x * x
}

/// A task that fails for odd numbers.
#[rustyray::remote]
pub fn even_only(x: u64) -> Result<u64, String> {
    if x % 2 == 1 {
        return Err(format!("{x} is odd"));
    }
    Ok(x / 2)
}

/// An actor that crashes on demand (and is restarted).
#[rustyray::actor]
pub struct Tally {
    n: u64,
}

#[rustyray::actor]
impl Tally {
    #[allow(clippy::new_without_default)] // an actor's constructor
    pub fn new() -> Self {
        Tally { n: 0 }
    }

    pub fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    pub fn crash(&mut self) -> u64 {
        panic!("the tally crashed on purpose")
    }
}

#[derive(Clone)]
struct App {
    runtime: Runtime,
    recorder: Arc<PrometheusRecorder>,
}

/// Records the runtime's figures into the exporter's recorder, then
/// renders them as Prometheus text.
async fn scrape(State(app): State<App>) -> String {
    metrics::with_local_recorder(&*app.recorder, || app.runtime.record_metrics());
    app.recorder.handle().render()
}

/// The `/metrics` route of `runtime`.
pub fn router(runtime: Runtime) -> Router {
    let recorder = Arc::new(PrometheusBuilder::new().build_recorder());
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(App { runtime, recorder })
}

/// Serves `runtime`'s metrics on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, runtime: Runtime) -> std::io::Result<()> {
    axum::serve(listener, router(runtime)).await
}

/// The workload: a round of work every 200 ms, forever.
async fn workload() -> rustyray::Result<()> {
    let tally = Tally::options().max_restarts(-1).remote()?;
    let mut kept = std::collections::VecDeque::new();
    for round in 0u64.. {
        let squares = (0..100)
            .map(square::remote)
            .collect::<rustyray::Result<Vec<_>>>()?;
        let halves = (0..10)
            .map(even_only::remote)
            .collect::<rustyray::Result<Vec<_>>>()?;
        rustyray::get_all_async(&squares).await?;
        for half in halves {
            let _ = half.await; // odd ones fail, on purpose
        }
        tally.add(round)?.await?;
        if round % 10 == 9 {
            let _ = tally.crash()?.await; // and it restarts
        }
        // 64 KiB objects under a 1 MiB limit: the oldest spill to disk.
        kept.push_back(rustyray::put(vec![round as u8; 64 << 10])?);
        if kept.len() > 32 {
            kept.pop_front();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

#[rustyray::main(object_store_memory = 1 << 20)]
#[allow(dead_code)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(9464), |p| p.parse())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "Prometheus metrics on http://{}/metrics",
        listener.local_addr()?
    );
    let work = tokio::spawn(workload());
    tokio::select! {
        served = serve(listener, rustyray::global()?) => served?,
        worked = work => worked??,
    }
    Ok(())
}
