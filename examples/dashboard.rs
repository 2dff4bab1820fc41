//! A live view of a runtime in the terminal: tasks by state, actors and
//! store memory, refreshed four times a second while a workload runs.
//!
//! ```text
//! cargo run --release --example dashboard          # 10 seconds
//! cargo run --release --example dashboard -- 30    # 30 seconds
//! ```
//!
//! It reads the state API ([`rustyray::state`]) and
//! [`Runtime::memory`](rustyray::Runtime::memory) from the main thread while
//! other threads submit work: waves of tasks that depend on each other,
//! calls to two actors (one crashes now and then and is restarted), and
//! objects put past a small memory limit, so that some spill. On a
//! terminal the table redraws in place; piped, each refresh is printed
//! after the last.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustyray::state::{ActorStatus, ObjectLocation, TaskStatus};
use rustyray::{Config, Result, Runtime};

/// A task that takes a while.
#[rustyray::remote]
fn simulate(step: u64, ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    step
}

/// A task that waits for the results of others (its arguments).
#[rustyray::remote]
fn combine(a: u64, b: u64) -> u64 {
    a + b
}

/// An actor that keeps a running total.
#[rustyray::actor]
struct Accumulator {
    total: u64,
}

#[rustyray::actor]
impl Accumulator {
    fn new() -> Self {
        Accumulator { total: 0 }
    }

    fn add(&mut self, x: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(5));
        self.total += x;
        self.total
    }

    fn crash(&mut self) -> u64 {
        panic!("crashed on purpose")
    }
}

/// The work the dashboard watches, until `stop` is set.
fn workload(stop: &AtomicBool) -> Result<()> {
    let steady = Accumulator::options().name("steady").remote()?;
    let fragile = Accumulator::options().max_restarts(-1).remote()?;
    let mut kept = Vec::new();
    let mut wave = 0u64;
    while !stop.load(Ordering::Relaxed) {
        wave += 1;
        // 16 tasks of 20-80 ms, then combinations that wait for them.
        let firsts: Vec<_> = (0..16)
            .map(|i| simulate::remote(i, 20 + (i % 4) * 20))
            .collect::<Result<_>>()?;
        let combined: Vec<_> = firsts
            .chunks(2)
            .map(|pair| combine::remote(&pair[0], &pair[1]))
            .collect::<Result<_>>()?;
        let calls: Vec<_> = (0..8).map(|i| steady.add(i)).collect::<Result<_>>()?;
        if wave % 5 == 0 {
            let _ = fragile.crash()?.get();
        }
        fragile.add(wave)?.get()?;
        rustyray::get_all(&combined)?;
        rustyray::get_all(&calls)?;
        // 256 KiB objects under a 4 MiB limit: the oldest spill.
        kept.push(rustyray::put(vec![wave as u8; 256 << 10])?);
        if kept.len() > 24 {
            kept.remove(0);
        }
    }
    Ok(())
}

/// One frame of the dashboard.
fn frame(rt: &Runtime, elapsed: Duration) -> String {
    let tasks = rt.list_tasks();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for task in &tasks {
        let status = match task.status {
            TaskStatus::WaitingForDependencies => "1 waiting for dependencies",
            TaskStatus::Queued => "2 queued",
            TaskStatus::Running => "3 running",
            TaskStatus::Finished => "4 finished (kept)",
            TaskStatus::Failed => "5 failed (kept)",
        };
        *by_status.entry(status).or_default() += 1;
    }
    let mut out = format!(
        "RustyRay `{}` — {:.1} s\n\n",
        rt.name(),
        elapsed.as_secs_f64()
    );
    out += "TASKS\n";
    for (status, n) in &by_status {
        out += &format!("  {:<28} {n:>7}\n", &status[2..]);
    }
    let running: Vec<&str> = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Running)
        .map(|t| t.name.rsplit("::").next().unwrap_or(&t.name))
        .collect();
    out += &format!("  running now: {}\n\n", running.join(", "));

    out += "ACTORS\n";
    out += &format!(
        "  {:<24} {:<22} {:<11} {:>8}\n",
        "id", "class / name", "status", "restarts"
    );
    for actor in rt.list_actors() {
        let status = match actor.status {
            ActorStatus::Pending => "pending",
            ActorStatus::Alive => "alive",
            ActorStatus::Restarting => "restarting",
            ActorStatus::Dead => "dead",
        };
        let label = match &actor.name {
            Some(name) => format!("{} `{name}`", actor.class),
            None => actor.class.clone(),
        };
        out += &format!(
            "  {:<24} {label:<22} {status:<11} {:>8}\n",
            actor.id.to_string(),
            actor.restarts
        );
    }

    let memory = rt.memory();
    let objects = rt.list_objects();
    let on_disk = objects
        .iter()
        .filter(|o| o.location == ObjectLocation::Disk)
        .count();
    out += "\nOBJECT STORE\n";
    out += &format!(
        "  in memory {:>9.1} KiB of {:.1} KiB ({} objects)\n",
        memory.bytes_in_memory as f64 / 1024.0,
        memory.limit as f64 / 1024.0,
        memory.objects_in_memory
    );
    out += &format!(
        "  on disk   {:>9.1} KiB ({} objects listed on disk; {} spilled, {} restored so far)\n",
        memory.bytes_spilled as f64 / 1024.0,
        on_disk,
        memory.spilled_total,
        memory.restored_total
    );
    out
}

fn main() -> Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = rustyray::init(
        Config::default()
            .name("dashboard")
            .num_cpus(4)
            .object_store_memory(4 << 20),
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (rt, stop) = ((*rt).clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let _entered = rt.enter();
            workload(&stop)
        })
    };
    let terminal = std::io::stdout().is_terminal();
    let start = Instant::now();
    let mut stdout = std::io::stdout().lock();
    while start.elapsed() < Duration::from_secs(seconds) {
        let frame = frame(&rt, start.elapsed());
        let written = if terminal {
            // Home, draw, clear what the last frame left below.
            write!(stdout, "\x1b[H\x1b[2J{frame}")
        } else {
            writeln!(stdout, "{frame}")
        };
        if written.and_then(|()| stdout.flush()).is_err() {
            break; // the reader went away
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    stop.store(true, Ordering::Relaxed);
    match worker.join() {
        Ok(done) => done,
        Err(_) => {
            eprintln!("the workload panicked");
            Ok(())
        }
    }
}
