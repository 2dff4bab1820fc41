//! A twin of `ray microbenchmark`: the same rows, the same workloads and the
//! same timing method, printed in Ray's format next to Ray 2.60's figure on
//! a 2-core machine and the ratio.
//!
//! ```text
//! cargo run --release --example microbenchmark              # every row, Ray's timing
//! cargo run --release --example microbenchmark -- --quick   # every row in under a minute
//! cargo run --release --example microbenchmark -- actor     # rows whose name contains "actor"
//! cargo run --release --example microbenchmark -- busy fire-and-forget  # containing either
//! cargo run --release --features ray --example microbenchmark -- --ray[=HOST:PORT]  # on Ray
//! ```
//!
//! `--ray` runs a few rows on a Ray cluster instead (`"auto"` unless an
//! address follows `=`; see the README's "Outgrow one machine"), each
//! followed by the same workload written with Ray's Python API, run in the
//! same process on the same cluster, and RustyRay's cost per call over it
//! (the target is at most ×1.5; Ray 2.60's reference figure is shown too).
//!
//! Timing (from Ray's `ray_microbenchmark_helpers.py`): warm up by calling
//! the workload for 1 s, then 4 runs, each calling it in steps of
//! warm-up-count/10 + 1 until 2 s have passed; a run's figure is
//! `multiplier × calls / elapsed`; the row prints the mean and the
//! population standard deviation. `--quick` shortens the warm-up to 0.1 s
//! and each run to 0.25 s. Ray's 10 s pause before each row is left out.
//! On a terminal, a progress line on stderr shows which row runs and how
//! far it is (warm-up, run 1/4, …); piped or redirected, stderr stays quiet.
//!
//! After Ray's rows come floor rows (what the same work costs on bare tokio
//! and std channels, with RustyRay's ratio to them), then rows of our own,
//! printed as the Markdown tables of the README's Performance section:
//!
//! - under load: Ray's sync round-trip rows and the floors again, each while
//!   a thread spins on an atomic flag on one core (started before the row,
//!   stopped after it), with each row's cost per call over the floors'
//!   under the same load;
//! - actor calls from async code (`h.method(x)?.await` one at a time, in a
//!   future started with `Runtime::spawn`) and fire-and-forget calls (1000
//!   calls whose refs are dropped, then a wait for the last one: calls run
//!   in order), each next to the same workload on a hand-written tokio actor
//!   (a task owning its state, fed by `tokio::sync::mpsc`, replying through
//!   `tokio::sync::oneshot`), with RustyRay's cost per call over the
//!   hand-written actor's (the target is at most 2×);
//!
//! then store throughput and lifecycle rows. Allocations per task and per
//! call are counted by `examples/allocations.rs` (a counting global
//! allocator would slow every row here).

use std::hint::black_box;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rustyray::{Config, ObjectRef, Result};

// ---------------------------------------------------------------- workloads

#[rustyray::remote]
fn small_value() -> u8 {
    0
}

#[rustyray::remote]
fn put_small_values(n: u32) -> u32 {
    for _ in 0..n {
        drop(rustyray::put(0u8));
    }
    n
}

#[rustyray::remote]
fn put_large_values(bytes: usize, times: u32) -> usize {
    for _ in 0..times {
        drop(rustyray::put(vec![0u8; bytes]));
    }
    bytes * times as usize
}

#[rustyray::remote]
fn create_refs(n: u32) -> rustyray::Result<Vec<ObjectRef<u8>>> {
    (0..n).map(|_| rustyray::put(1u8)).collect()
}

#[rustyray::remote]
fn submit_and_get(n: u32) -> rustyray::Result<u32> {
    let refs = (0..n)
        .map(|_| small_value::remote())
        .collect::<Result<Vec<_>>>()?;
    Ok(rustyray::get_all(&refs)?.len() as u32)
}

#[rustyray::remote]
fn call_round_robin(actors: Vec<ActorHandle>, n: u32) -> rustyray::Result<u32> {
    let refs = (0..n as usize)
        .map(|i| actors[i % actors.len()].small_value())
        .collect::<Result<Vec<_>>>()?;
    Ok(rustyray::get_all(&refs)?.len() as u32)
}

#[rustyray::remote]
fn call_async_round_robin(actors: Vec<AsyncActorHandle>, n: u32) -> rustyray::Result<u32> {
    let refs = (0..n as usize)
        .map(|i| actors[i % actors.len()].small_value())
        .collect::<Result<Vec<_>>>()?;
    Ok(rustyray::get_all(&refs)?.len() as u32)
}

#[rustyray::actor]
struct Actor;

#[rustyray::actor]
impl Actor {
    fn new() -> Self {
        Actor
    }

    fn small_value(&self) -> u8 {
        0
    }

    fn small_value_arg(&self, x: u8) -> u8 {
        x
    }
}

#[rustyray::actor]
struct AsyncActor;

#[rustyray::actor]
impl AsyncActor {
    fn new() -> Self {
        AsyncActor
    }

    async fn small_value(&self) -> u8 {
        0
    }

    async fn small_value_with_arg(&self, x: u32) -> u32 {
        x
    }
}

/// A client actor: submits work from inside an actor, as Ray's multi-client
/// rows do.
#[rustyray::actor]
struct Client;

#[rustyray::actor]
impl Client {
    fn new() -> Self {
        Client
    }

    fn small_value_batch(&self, n: u32) -> rustyray::Result<u32> {
        let refs = (0..n)
            .map(|_| small_value::remote())
            .collect::<Result<Vec<_>>>()?;
        Ok(rustyray::get_all(&refs)?.len() as u32)
    }

    fn call_actors(&self, servers: Vec<ActorHandle>, n: u32) -> rustyray::Result<u32> {
        let mut refs = Vec::with_capacity(servers.len() * n as usize);
        for server in &servers {
            for _ in 0..n {
                refs.push(server.small_value()?);
            }
        }
        Ok(rustyray::get_all(&refs)?.len() as u32)
    }

    fn call_async_actors(&self, servers: Vec<AsyncActorHandle>, n: u32) -> rustyray::Result<u32> {
        let mut refs = Vec::with_capacity(servers.len() * n as usize);
        for server in &servers {
            for _ in 0..n {
                refs.push(server.small_value()?);
            }
        }
        Ok(rustyray::get_all(&refs)?.len() as u32)
    }

    fn call_with_arg(&self, server: ActorHandle, n: u32) -> rustyray::Result<u32> {
        let x = rustyray::put(0u8)?;
        let refs = (0..n)
            .map(|_| server.small_value_arg(&x))
            .collect::<Result<Vec<_>>>()?;
        Ok(rustyray::get_all(&refs)?.len() as u32)
    }
}

// ------------------------------------------------------------------ timing

struct Timing {
    warmup: Duration,
    run: Duration,
    runs: usize,
}

/// Ray's figures on this machine kind (`ray-2.60-microbenchmark-2core.txt`).
fn ray_figure(name: &str) -> Option<f64> {
    Some(match name {
        "single client get calls (Plasma Store)" => 16776.51,
        "single client put calls (Plasma Store)" => 2712.07,
        "multi client put calls (Plasma Store)" => 1808.31,
        "single client put gigabytes" => 3.46,
        "single client tasks and get batch" => 2.66,
        "multi client put gigabytes" => 16.43,
        "single client get object containing 10k refs" => 15.56,
        "single client wait 1k refs" => 2.32,
        "single client tasks sync" => 798.8,
        "single client tasks async" => 2569.2,
        "multi client tasks async" => 2778.47,
        "placement group create/removal" => 629.32,
        "1:1 actor calls sync" => 1627.62,
        "1:1 actor calls async" => 6812.1,
        "1:1 actor calls concurrent" => 7976.05,
        "1:n actor calls async" => 6772.88,
        "n:n actor calls async" => 7244.04,
        "n:n actor calls with arg async" => 2034.66,
        "1:1 async-actor calls sync" => 1190.57,
        "1:1 async-actor calls async" => 3634.23,
        "1:1 async-actor calls with args async" => 3054.77,
        "1:n async-actor calls async" => 3828.31,
        "n:n async-actor calls async" => 3569.86,
        _ => return None,
    })
}

struct Bench {
    timing: Timing,
    /// Substrings of the rows to run (any of them); empty: every row.
    filter: Vec<String>,
    results: Vec<(String, f64)>,
    progress: Progress,
}

/// A progress line on stderr (which row, how far into it), redrawn in
/// place, when stderr is a terminal; nothing when it is piped or
/// redirected, so the output stays plain.
struct Progress {
    shown: bool,
    rows: usize,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            shown: std::io::stderr().is_terminal(),
            rows: 0,
        }
    }

    /// A row starts.
    fn row(&mut self) {
        self.rows += 1;
    }

    /// Shows how far the row `name` is: `done` of `total` phases (the
    /// warm-up, then each run), the current one `phase`.
    fn show(&self, name: &str, phase: &str, done: usize, total: usize) {
        if !self.shown {
            return;
        }
        const WIDTH: usize = 20;
        let filled = WIDTH * done / total.max(1);
        let bar: String = "#".repeat(filled) + &".".repeat(WIDTH - filled);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K[row {}] [{bar}] {phase}: {name}", self.rows);
        let _ = err.flush();
    }

    /// Clears the line before the row's result is printed.
    fn clear(&self) {
        if self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Bench {
    fn wanted(&self, name: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|f| name.contains(f.as_str()))
    }

    /// Times `work` as Ray does and records the row: the mean and the
    /// population standard deviation of the runs, or `None` if the filter
    /// leaves the row out.
    fn measure(
        &mut self,
        name: &str,
        multiplier: f64,
        mut work: impl FnMut(),
    ) -> Option<(f64, f64)> {
        if !self.wanted(name) {
            return None;
        }
        let runs = self.timing.runs;
        self.progress.row();
        self.progress.show(name, "warm-up", 0, runs + 1);
        let start = Instant::now();
        let mut warmup_calls = 0u64;
        while start.elapsed() < self.timing.warmup {
            work();
            warmup_calls += 1;
        }
        let step = warmup_calls / 10 + 1;
        let mut figures = Vec::with_capacity(self.timing.runs);
        for run in 0..runs {
            let phase = format!("run {}/{runs}", run + 1);
            self.progress.show(name, &phase, run + 1, runs + 1);
            let start = Instant::now();
            let mut calls = 0u64;
            while start.elapsed() < self.timing.run {
                for _ in 0..step {
                    work();
                }
                calls += step;
            }
            figures.push(multiplier * calls as f64 / start.elapsed().as_secs_f64());
        }
        self.progress.clear();
        let mean = figures.iter().sum::<f64>() / figures.len() as f64;
        let var = figures.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / figures.len() as f64;
        self.results.push((name.to_string(), mean));
        Some((mean, var.sqrt()))
    }

    /// Times `work` as Ray does; prints the row in Ray's format and records
    /// it.
    fn row(&mut self, name: &str, multiplier: f64, note: &str, work: impl FnMut()) {
        let Some((mean, std)) = self.measure(name, multiplier, work) else {
            return;
        };
        let ray = ray_figure(name)
            .map(|r| format!("  | Ray 2.60: {r:.2}  | x{:.0}", mean / r))
            .unwrap_or_default();
        let note = if note.is_empty() {
            String::new()
        } else {
            format!("  ({note})")
        };
        println!("{name} per second {mean:.2} +- {std:.2}{ray}{note}");
    }

    /// Prints a table's title and header if the filter keeps any of its
    /// rows.
    fn table(&self, title: &str, comparison: &str, rows: &[&str]) {
        if rows.iter().any(|r| self.wanted(r)) {
            println!("\n{title}\n");
            println!("| row | per second | per call | {comparison} |");
            println!("|---|---:|---:|---|");
        }
    }

    /// Times `work` as Ray does; prints the row as a line of a Markdown
    /// table (the README's style), its last column made by `compare` from
    /// the row's figure and those measured before it.
    fn table_row(
        &mut self,
        name: &str,
        multiplier: f64,
        compare: impl FnOnce(&Bench, f64) -> String,
        work: impl FnMut(),
    ) {
        let Some((mean, std)) = self.measure(name, multiplier, work) else {
            return;
        };
        println!(
            "| {name} | {} ± {} | {} | {} |",
            thousands(mean),
            thousands(std),
            per_call(mean),
            compare(self, mean)
        );
    }

    /// `name`'s cost per call over `baseline`'s (`ours` is `name`'s
    /// figure): "×2.41 label", or "(label: not run)" when the filter left
    /// the baseline out.
    fn cost_ratio(&self, ours: f64, baseline: &str, label: &str) -> String {
        match self.figure(baseline) {
            Some(base) => format!("×{:.2} {label}", base / ours),
            None => format!("({label}: not run)"),
        }
    }

    fn figure(&self, name: &str) -> Option<f64> {
        self.results
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| *f)
    }

    /// A floor row: the figure, and RustyRay's row as a share of it.
    fn floor(&mut self, name: &str, matching: &str, multiplier: f64, work: impl FnMut()) {
        self.row(name, multiplier, "", work);
        if let (Some(floor), Some(ours)) = (self.figure(name), self.figure(matching)) {
            println!(
                "    -> `{matching}` runs at {:.1}% of this floor (floor / RustyRay = {:.2}x)",
                100.0 * ours / floor,
                floor / ours
            );
        }
    }
}

/// A figure as the README prints it: whole numbers with thousands
/// separators from 100 up, two decimals below.
fn thousands(x: f64) -> String {
    if x < 100.0 {
        return format!("{x:.2}");
    }
    let digits = format!("{x:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The time per call at `per_second` calls per second.
fn per_call(per_second: f64) -> String {
    let ns = 1e9 / per_second;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{:.2} µs", ns / 1_000.0)
    }
}

/// One core kept busy: a thread spinning on an atomic flag from `start`
/// (which returns once it spins) until the value is dropped.
struct BusyCore {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BusyCore {
    fn start() -> BusyCore {
        let stop = Arc::new(AtomicBool::new(false));
        let spinning = Arc::new(Barrier::new(2));
        let thread = {
            let (stop, spinning) = (Arc::clone(&stop), Arc::clone(&spinning));
            std::thread::Builder::new()
                .name("busy-core".into())
                .spawn(move || {
                    spinning.wait();
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
                .ok()
        };
        if thread.is_some() {
            spinning.wait();
        }
        BusyCore { stop, thread }
    }
}

impl Drop for BusyCore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A call to the hand-written actor: an argument and where to reply.
type HandCall = (u8, tokio::sync::oneshot::Sender<u8>);

/// The hand-written tokio actor the new actor rows are compared with: a
/// task owning its state (the number of calls it has served), fed by an
/// unbounded `tokio::sync::mpsc` channel (a RustyRay mailbox is unbounded
/// too), replying through a `tokio::sync::oneshot` per call, as RustyRay
/// makes a result slot per call. Stops when every sender is gone.
fn spawn_hand_written_actor(
    tokio: &tokio::runtime::Runtime,
) -> tokio::sync::mpsc::UnboundedSender<HandCall> {
    let (calls, mut inbox) = tokio::sync::mpsc::unbounded_channel::<HandCall>();
    tokio.spawn(async move {
        let mut served = 0u64;
        while let Some((x, reply)) = inbox.recv().await {
            served += 1;
            black_box(served);
            let _ = reply.send(x);
        }
    });
    calls
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

// -------------------------------------------------------------------- rows

/// The same rows written with Ray's Python API, run by the interpreter the
/// runtime embeds, on its connection to the cluster: the peer each
/// RustyRay row is compared with in the same run.
#[cfg(feature = "ray")]
const PYTHON_PEER: &std::ffi::CStr = c"
import ray

@ray.remote
def small_value():
    return b'\\x00'

@ray.remote
class Actor:
    def small_value(self):
        return b'\\x00'

actor = Actor.remote()
ray.get(actor.small_value.remote())

def tasks(n):
    ray.get([small_value.remote() for _ in range(n)])

def calls(n):
    ray.get([actor.small_value.remote() for _ in range(n)])
";

/// Ray's rows for tasks and actor calls, on a Ray cluster: each call
/// crosses Ray and a worker-mode process of this program (in a Ray
/// worker, `init` below serves the worker's calls and never returns).
/// Each row is followed by the same workload written with Ray's Python
/// API in the same run, and RustyRay's cost per call over it.
#[cfg(feature = "ray")]
fn ray_rows(bench: &mut Bench, address: &str) -> Result<()> {
    use pyo3::prelude::*;

    let _rt = rustyray::init(Config::default().ray(address))?;
    println!("RustyRay microbenchmark on the Ray cluster at {address}");
    let peer = Python::attach(|py| -> PyResult<Py<PyModule>> {
        let module = PyModule::from_code(py, PYTHON_PEER, c"peer.py", c"rustyray_peer")?;
        Ok(module.unbind())
    })
    .map_err(|err| rustyray::Error::InvalidConfig {
        field: "ray",
        reason: format!("the Python peer rows failed to start: {err}"),
    })?;
    let mut row = |name: &str, multiplier: f64, work: &mut dyn FnMut(), peer_fn: &str| {
        let Some((mean, std)) = bench.measure(name, multiplier, work) else {
            return;
        };
        let ray = ray_figure(name)
            .map(|r| format!("  | Ray 2.60 (reference): {r:.2}"))
            .unwrap_or_default();
        println!("{name} per second {mean:.2} +- {std:.2}{ray}");
        let n = multiplier as usize;
        let python = format!("{name} with Ray's Python API (same run)");
        let mut call_peer = || {
            Python::attach(|py| {
                if let Err(err) = peer.bind(py).call_method1(peer_fn, (n,)) {
                    eprintln!("the Python peer failed: {err}");
                }
            })
        };
        if let Some((peer_mean, peer_std)) = bench.measure(&python, multiplier, &mut call_peer) {
            println!(
                "{python} per second {peer_mean:.2} +- {peer_std:.2}  | RustyRay's cost per call \
                 x{:.2} Python's",
                peer_mean / mean
            );
        }
    };
    row(
        "single client tasks sync",
        1.0,
        &mut || {
            if let Ok(r) = small_value::remote() {
                drop(black_box(rustyray::get(&r)));
            }
        },
        "tasks",
    );
    row(
        "single client tasks async",
        1000.0,
        &mut || {
            let refs: Vec<_> = (0..1000)
                .filter_map(|_| small_value::remote().ok())
                .collect();
            drop(black_box(rustyray::get_all(&refs)));
        },
        "tasks",
    );
    let actor = Actor::remote()?;
    row(
        "1:1 actor calls sync",
        1.0,
        &mut || {
            if let Ok(r) = actor.small_value() {
                drop(black_box(rustyray::get(&r)));
            }
        },
        "calls",
    );
    row(
        "1:1 actor calls async",
        1000.0,
        &mut || {
            let refs: Vec<_> = (0..1000).filter_map(|_| actor.small_value().ok()).collect();
            drop(black_box(rustyray::get_all(&refs)));
        },
        "calls",
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let filter: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .collect();
    let timing = if quick {
        Timing {
            warmup: Duration::from_millis(100),
            run: Duration::from_millis(250),
            runs: 4,
        }
    } else {
        Timing {
            warmup: Duration::from_secs(1),
            run: Duration::from_secs(2),
            runs: 4,
        }
    };
    #[cfg(feature = "ray")]
    if let Some(ray) = args.iter().find(|a| a.starts_with("--ray")) {
        let address = ray.strip_prefix("--ray=").unwrap_or("auto").to_string();
        let mut bench = Bench {
            timing,
            filter,
            results: Vec::new(),
            progress: Progress::new(),
        };
        return ray_rows(&mut bench, &address);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Ray's `n_cpu`: half the cores.
    let n_cpu = (cores / 2).max(1);
    println!(
        "RustyRay microbenchmark: {cores} cores, {} timing{}",
        if quick { "quick" } else { "Ray's" },
        if filter.is_empty() {
            String::new()
        } else {
            format!(", rows matching `{}`", filter.join("` or `"))
        }
    );
    let mut bench = Bench {
        timing,
        filter,
        results: Vec::new(),
        progress: Progress::new(),
    };

    let rt = rustyray::init(Config::default().num_cpus(cores))?;

    // Objects.
    let value = rustyray::put(0u8)?;
    bench.row(
        "single client get calls (Plasma Store)",
        1.0,
        "a copy of the stored u8; no deserialization",
        || drop(black_box(rustyray::get(&value))),
    );
    bench.row(
        "single client put calls (Plasma Store)",
        1.0,
        "the value is moved in",
        || drop(black_box(rustyray::put(0u8))),
    );
    bench.row("multi client put calls (Plasma Store)", 1000.0, "", || {
        let refs: Vec<_> = (0..10)
            .filter_map(|_| put_small_values::remote(100).ok())
            .collect();
        drop(black_box(rustyray::get_all(&refs)));
    });
    if bench.wanted("gigabytes") {
        // Ones, not zeros: a clone of a zeroed buffer the compiler can see
        // is turned into a fresh zeroed allocation, copying nothing.
        let array = vec![1u8; 800 << 20];
        let mut target = vec![0u8; 800 << 20];
        bench.row(
            "memcpy gigabytes (800 MiB into an existing buffer: this machine's bandwidth)",
            0.8,
            "",
            || {
                target.copy_from_slice(black_box(&array));
                black_box(&mut target);
            },
        );
        drop(target);
        bench.row(
            "single client put gigabytes",
            0.8,
            "put_bytes(&array): the caller keeps its array, the store copies it",
            || drop(black_box(rustyray::put_bytes(black_box(&array)))),
        );
    }
    bench.row(
        "multi client put gigabytes",
        8.0,
        "each put moves a fresh zeroed array in, as Ray's `put(np.zeros(..))` builds one; no copy",
        || {
            let refs: Vec<_> = (0..10)
                .filter_map(|_| put_large_values::remote(80 << 20, 10).ok())
                .collect();
            drop(black_box(rustyray::get_all(&refs)));
        },
    );
    bench.row(
        "single client get object containing 10k refs",
        1.0,
        "",
        || {
            if let Ok(r) = create_refs::remote(10_000) {
                drop(black_box(rustyray::get(&r)));
            }
        },
    );

    // Tasks.
    bench.row("single client tasks and get batch", 1.0, "", || {
        let refs: Vec<_> = (0..1000)
            .filter_map(|_| small_value::remote().ok())
            .collect();
        drop(black_box(rustyray::get_all(&refs)));
    });
    bench.row("single client wait 1k refs", 1.0, "", || {
        let mut pending: Vec<_> = (0..1000)
            .filter_map(|_| small_value::remote().ok())
            .collect();
        while !pending.is_empty() {
            match rustyray::wait(&pending, 1, None) {
                Ok((_, rest)) => pending = rest,
                Err(_) => break,
            }
        }
    });
    bench.row("single client tasks sync", 1.0, "", || {
        if let Ok(r) = small_value::remote() {
            drop(black_box(rustyray::get(&r)));
        }
    });
    bench.row("single client tasks async", 1000.0, "", || {
        let refs: Vec<_> = (0..1000)
            .filter_map(|_| small_value::remote().ok())
            .collect();
        drop(black_box(rustyray::get_all(&refs)));
    });
    let clients = (0..4)
        .map(|_| Client::remote())
        .collect::<Result<Vec<_>>>()?;
    bench.row("multi client tasks async", 40_000.0, "", || {
        let refs: Vec<_> = clients
            .iter()
            .filter_map(|c| c.small_value_batch(10_000).ok())
            .collect();
        drop(black_box(rustyray::get_all(&refs)));
    });

    // Actors.
    let actor = Actor::remote()?;
    bench.row("1:1 actor calls sync", 1.0, "", || {
        if let Ok(r) = actor.small_value() {
            drop(black_box(rustyray::get(&r)));
        }
    });
    bench.row("1:1 actor calls async", 1000.0, "", || {
        let refs: Vec<_> = (0..1000).filter_map(|_| actor.small_value().ok()).collect();
        drop(black_box(rustyray::get_all(&refs)));
    });
    let concurrent = Actor::options().max_concurrency(16).remote()?;
    bench.row("1:1 actor calls concurrent", 1000.0, "", || {
        let refs: Vec<_> = (0..1000)
            .filter_map(|_| concurrent.small_value().ok())
            .collect();
        drop(black_box(rustyray::get_all(&refs)));
    });
    let servers = (0..n_cpu)
        .map(|_| Actor::remote())
        .collect::<Result<Vec<_>>>()?;
    let client = Client::remote()?;
    bench.row("1:n actor calls async", 5000.0 * n_cpu as f64, "", || {
        if let Ok(r) = client.call_actors(servers.clone(), 5000) {
            drop(black_box(rustyray::get(&r)));
        }
    });
    bench.row("n:n actor calls async", 20_000.0, "", || {
        let refs: Vec<_> = (0..4)
            .filter_map(|_| call_round_robin::remote(servers.clone(), 5000).ok())
            .collect();
        drop(black_box(rustyray::get_all(&refs)));
    });
    let pairs = (0..n_cpu)
        .map(|_| Ok((Client::remote()?, Actor::remote()?)))
        .collect::<Result<Vec<_>>>()?;
    bench.row(
        "n:n actor calls with arg async",
        1000.0 * n_cpu as f64,
        "",
        || {
            let refs: Vec<_> = pairs
                .iter()
                .filter_map(|(c, s)| c.call_with_arg(s.clone(), 1000).ok())
                .collect();
            drop(black_box(rustyray::get_all(&refs)));
        },
    );
    let async_actor = AsyncActor::remote()?;
    bench.row("1:1 async-actor calls sync", 1.0, "", || {
        if let Ok(r) = async_actor.small_value() {
            drop(black_box(rustyray::get(&r)));
        }
    });
    bench.row("1:1 async-actor calls async", 1000.0, "", || {
        let refs: Vec<_> = (0..1000)
            .filter_map(|_| async_actor.small_value().ok())
            .collect();
        drop(black_box(rustyray::get_all(&refs)));
    });
    bench.row("1:1 async-actor calls with args async", 1000.0, "", || {
        let refs: Vec<_> = (0..1000)
            .filter_map(|i| async_actor.small_value_with_arg(i).ok())
            .collect();
        drop(black_box(rustyray::get_all(&refs)));
    });
    let async_servers = (0..n_cpu)
        .map(|_| AsyncActor::remote())
        .collect::<Result<Vec<_>>>()?;
    bench.row(
        "1:n async-actor calls async",
        5000.0 * n_cpu as f64,
        "",
        || {
            if let Ok(r) = client.call_async_actors(async_servers.clone(), 5000) {
                drop(black_box(rustyray::get(&r)));
            }
        },
    );
    bench.row("n:n async-actor calls async", 20_000.0, "", || {
        let refs: Vec<_> = (0..4)
            .filter_map(|_| call_async_round_robin::remote(async_servers.clone(), 5000).ok())
            .collect();
        drop(black_box(rustyray::get_all(&refs)));
    });
    bench.row(
        "placement group create/removal",
        100.0,
        "100 groups of one bundle of 0.001 CPU: create, wait each, remove all",
        || {
            let tiny = || vec![rustyray::Bundle::new().num_cpus(0.001)];
            let groups: Vec<_> = (0..100)
                .filter_map(|_| {
                    rustyray::placement_group(tiny(), rustyray::PlacementStrategy::Pack).ok()
                })
                .collect();
            for group in &groups {
                drop(black_box(group.wait(Duration::from_secs(10))));
            }
            for group in &groups {
                drop(black_box(rustyray::remove_placement_group(group)));
            }
        },
    );
    drop(rt);

    // Floors: the same shapes of work on bare tokio and std channels.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .build()
        .map_err(|e| rustyray::Error::Serialization(e.to_string()))?;
    let mut spawn_floor = || {
        tokio.block_on(async {
            let handles: Vec<_> = (0..1000).map(|_| tokio::spawn(async { 0u8 })).collect();
            for h in handles {
                let _ = black_box(h.await);
            }
        })
    };
    bench.floor(
        "floor: tokio::spawn + join, 1000 then join all",
        "single client tasks async",
        1000.0,
        &mut spawn_floor,
    );
    let (requests, served) = std::sync::mpsc::channel::<tokio::sync::oneshot::Sender<u8>>();
    let server = std::thread::spawn(move || {
        for reply in served {
            let _ = reply.send(0);
        }
    });
    let mut round_trip_floor = || {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if requests.send(tx).is_ok() {
            let _ = black_box(rx.blocking_recv());
        }
    };
    bench.floor(
        "floor: mpsc request + oneshot reply round trip",
        "single client tasks sync",
        1.0,
        &mut round_trip_floor,
    );
    if let (Some(ours), Some(floor)) = (
        bench.figure("1:1 actor calls async"),
        bench.figure("floor: tokio::spawn + join, 1000 then join all"),
    ) {
        println!(
            "    -> `1:1 actor calls async` runs at {:.1}% of the spawn floor (floor / RustyRay = {:.2}x)",
            100.0 * ours / floor,
            floor / ours
        );
    }

    // Under load: the sync round trips and the floors again, each while a
    // thread spins on one core.
    const BUSY_ROUND_TRIP: &str =
        "floor: mpsc request + oneshot reply round trip (other core busy)";
    const BUSY_SPAWN: &str = "floor: tokio::spawn + join, 1000 then join all (other core busy)";
    const BUSY_TASKS: &str = "single client tasks sync (other core busy)";
    const BUSY_ACTOR: &str = "1:1 actor calls sync (other core busy)";
    const BUSY_ASYNC_ACTOR: &str = "1:1 async-actor calls sync (other core busy)";
    bench.table(
        "Under load: each row runs while a thread spins on an atomic flag on one core \
         (started before the row's warm-up, stopped after its last run)",
        "cost per call ÷ that of: the round-trip floor, the spawn floor (both under the same load), \
         the same row with no load",
        &[BUSY_ROUND_TRIP, BUSY_SPAWN, BUSY_TASKS, BUSY_ACTOR, BUSY_ASYNC_ACTOR],
    );
    if bench.wanted(BUSY_ROUND_TRIP) {
        let _busy = BusyCore::start();
        bench.table_row(
            BUSY_ROUND_TRIP,
            1.0,
            |_, _| "—".into(),
            &mut round_trip_floor,
        );
    }
    if bench.wanted(BUSY_SPAWN) {
        let _busy = BusyCore::start();
        bench.table_row(BUSY_SPAWN, 1000.0, |_, _| "—".into(), &mut spawn_floor);
    }
    let under_load = |idle: &'static str| {
        move |b: &Bench, ours: f64| {
            format!(
                "{}; {}; {}",
                b.cost_ratio(ours, BUSY_ROUND_TRIP, "the round-trip floor"),
                b.cost_ratio(ours, BUSY_SPAWN, "the spawn floor"),
                b.cost_ratio(ours, idle, "the row with no load")
            )
        }
    };
    let rt = rustyray::init(Config::default().num_cpus(cores))?;
    let actor = Actor::remote()?;
    let async_actor = AsyncActor::remote()?;
    if bench.wanted(BUSY_TASKS) {
        let _busy = BusyCore::start();
        bench.table_row(
            BUSY_TASKS,
            1.0,
            under_load("single client tasks sync"),
            || {
                if let Ok(r) = small_value::remote() {
                    drop(black_box(rustyray::get(&r)));
                }
            },
        );
    }
    if bench.wanted(BUSY_ACTOR) {
        let _busy = BusyCore::start();
        bench.table_row(BUSY_ACTOR, 1.0, under_load("1:1 actor calls sync"), || {
            if let Ok(r) = actor.small_value() {
                drop(black_box(rustyray::get(&r)));
            }
        });
    }
    if bench.wanted(BUSY_ASYNC_ACTOR) {
        let _busy = BusyCore::start();
        bench.table_row(
            BUSY_ASYNC_ACTOR,
            1.0,
            under_load("1:1 async-actor calls sync"),
            || {
                if let Ok(r) = async_actor.small_value() {
                    drop(black_box(rustyray::get(&r)));
                }
            },
        );
    }

    // Actor calls from async code and fire-and-forget, next to the same
    // workloads on a hand-written tokio actor.
    const HAND_AWAITED: &str =
        "hand-written tokio actor: calls awaited one at a time in async code";
    const ACTOR_AWAITED: &str = "1:1 actor calls awaited one at a time in async code";
    const ASYNC_ACTOR_AWAITED: &str = "1:1 async-actor calls awaited one at a time in async code";
    const HAND_FIRED: &str = "hand-written tokio actor: calls fire-and-forget";
    const ACTOR_FIRED: &str = "1:1 actor calls fire-and-forget";
    const ASYNC_ACTOR_FIRED: &str = "1:1 async-actor calls fire-and-forget";
    bench.table(
        "Actor calls, 1000 per workload: awaited one at a time by a future (started with \
         `Runtime::spawn`, or `tokio::spawn` for the hand-written actor), and fire-and-forget \
         from the main thread (refs or reply receivers dropped, then a wait for the last call); \
         the hand-written actor is a tokio task owning its state, fed by an unbounded \
         `tokio::sync::mpsc`, replying through a `tokio::sync::oneshot` per call",
        "RustyRay's cost per call ÷ the hand-written actor's (target: at most ×2)",
        &[
            HAND_AWAITED,
            ACTOR_AWAITED,
            ASYNC_ACTOR_AWAITED,
            HAND_FIRED,
            ACTOR_FIRED,
            ASYNC_ACTOR_FIRED,
        ],
    );
    let hand = spawn_hand_written_actor(&tokio);
    bench.table_row(
        HAND_AWAITED,
        1000.0,
        |_, _| "—".into(),
        || {
            let calls = hand.clone();
            let client = tokio.spawn(async move {
                for _ in 0..1000 {
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    if calls.send((0, reply)).is_err() {
                        break;
                    }
                    let _ = black_box(answer.await);
                }
            });
            let _ = tokio.block_on(client);
        },
    );
    let over_hand = |hand: &'static str| {
        move |b: &Bench, ours: f64| b.cost_ratio(ours, hand, "the hand-written actor")
    };
    bench.table_row(ACTOR_AWAITED, 1000.0, over_hand(HAND_AWAITED), || {
        let actor = actor.clone();
        let client = rt.spawn(async move {
            for _ in 0..1000 {
                black_box(actor.small_value_arg(0)?.await?);
            }
            Ok::<_, rustyray::Error>(())
        });
        let _ = tokio.block_on(client);
    });
    bench.table_row(ASYNC_ACTOR_AWAITED, 1000.0, over_hand(HAND_AWAITED), || {
        let actor = async_actor.clone();
        let client = rt.spawn(async move {
            for i in 0..1000 {
                black_box(actor.small_value_with_arg(i)?.await?);
            }
            Ok::<_, rustyray::Error>(())
        });
        let _ = tokio.block_on(client);
    });
    bench.table_row(
        HAND_FIRED,
        1000.0,
        |_, _| "—".into(),
        || {
            for _ in 0..999 {
                let (reply, _) = tokio::sync::oneshot::channel();
                let _ = hand.send((0, reply));
            }
            let (reply, answer) = tokio::sync::oneshot::channel();
            if hand.send((0, reply)).is_ok() {
                let _ = black_box(answer.blocking_recv());
            }
        },
    );
    bench.table_row(ACTOR_FIRED, 1000.0, over_hand(HAND_FIRED), || {
        for _ in 0..999 {
            drop(actor.small_value_arg(0));
        }
        if let Ok(last) = actor.small_value_arg(0) {
            drop(black_box(rustyray::get(&last)));
        }
    });
    bench.table_row(ASYNC_ACTOR_FIRED, 1000.0, over_hand(HAND_FIRED), || {
        for i in 0..999 {
            drop(async_actor.small_value_with_arg(i));
        }
        if let Ok(last) = async_actor.small_value_with_arg(999) {
            drop(black_box(rustyray::get(&last)));
        }
    });
    drop(hand);
    drop(rt);
    println!();

    drop(requests);
    let _ = server.join();

    // Store throughput: put + get of large byte objects, in memory and
    // through spilling (a 64 MiB limit: every 8 MiB object beyond 7 goes to
    // disk and is read back from it).
    for (name, size, limit) in [
        (
            "store: put+get 100 MiB Vec<u8> gigabytes",
            100usize << 20,
            2u64 << 30,
        ),
        ("store: put+get 8 MiB Vec<u8> gigabytes", 8 << 20, 2 << 30),
        (
            "store: put+get 8 MiB Vec<u8> with spilling gigabytes",
            8 << 20,
            64 << 20,
        ),
    ] {
        if !bench.wanted(name) {
            continue;
        }
        let rt = rustyray::init(Config::default().num_cpus(cores).object_store_memory(limit))?;
        let data = vec![1u8; size];
        // Keep 16 objects alive so that, with the small limit, puts spill.
        let mut held = std::collections::VecDeque::new();
        bench.row(
            name,
            size as f64 / 1e9,
            "put_bytes of a new object + get of the oldest of 16 kept (on disk when spilling)",
            || {
                if let Ok(r) = rustyray::put_bytes(black_box(&data)) {
                    held.push_back(r);
                    if held.len() > 16 {
                        held.pop_front();
                    }
                    if let Some(oldest) = held.front() {
                        drop(black_box(rustyray::get(oldest)));
                    }
                }
            },
        );
        let spilled = rt.memory().objects_spilled;
        drop(held);
        if spilled > 0 {
            println!("    ({spilled} of the 16 live objects on disk at the end)");
        }
        drop(rt);
    }

    // Small objects past the memory limit: every put needs room, so this
    // times victim selection, batching and packing, not the disk's bandwidth.
    let name = "store: 1 KiB puts past the memory limit";
    if bench.wanted(name) {
        const KEEP: usize = 16_384;
        let rt = rustyray::init(
            Config::default()
                .num_cpus(cores)
                .object_store_memory(4 << 20),
        )?;
        let data = vec![1u8; 1024];
        let mut held = std::collections::VecDeque::with_capacity(KEEP + 1);
        bench.row(
            name,
            1.0,
            "put_bytes of 1 KiB, the newest 16,384 kept (16 MiB) under a 4 MiB limit: most on disk",
            || {
                if let Ok(r) = rustyray::put_bytes(black_box(&data)) {
                    held.push_back(r);
                    if held.len() > KEEP {
                        held.pop_front();
                    }
                }
            },
        );
        let m = rt.memory();
        drop(held);
        println!(
            "    ({} of the {KEEP} live objects on disk at the end)",
            m.objects_spilled
        );
        drop(rt);
    }

    // Lifecycle.
    if bench.wanted("init") {
        let samples = (0..1000)
            .map(|_| {
                let start = Instant::now();
                drop(rustyray::init(Config::default().num_cpus(cores)));
                start.elapsed()
            })
            .collect();
        println!(
            "init + shutdown: median of 1,000 {:?}  | Ray 2.60: 3.36 s + 1.37 s",
            median(samples)
        );
    }
    if bench.wanted("first task") {
        let samples = (0..100)
            .map(|_| {
                let rt = rustyray::init(Config::default().num_cpus(cores))?;
                let start = Instant::now();
                rustyray::get(&small_value::remote()?)?;
                let elapsed = start.elapsed();
                drop(rt);
                Ok(elapsed)
            })
            .collect::<Result<Vec<_>>>()?;
        println!(
            "first task after init: median of 100 {:?}  | Ray 2.60: 0.017 s",
            median(samples)
        );
    }
    Ok(())
}
