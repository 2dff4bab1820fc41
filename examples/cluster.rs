//! The quickstart's work on a Ray cluster: the same tasks and actor, with
//! one `Config` switch. See the README's "Outgrow one machine".
//!
//! ```text
//! python3 -m venv ~/ray-venv && ~/ray-venv/bin/pip install ray==2.60.0
//! . ~/ray-venv/bin/activate
//! ray start --head
//! cargo run --release --features ray --example cluster            # joins it ("auto")
//! cargo run --release --features ray --example cluster -- local   # a private Ray
//! ray stop
//! ```
//!
//! Each Ray worker runs this binary again in worker mode (`init` serves
//! the worker's calls there), so the tasks below run in Ray's processes,
//! on any node of the cluster.

use rustyray::Config;

/// A remote function: runs in a Ray worker process.
#[rustyray::remote]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Where a task ran: the Ray node and the process.
#[rustyray::remote]
fn whereabouts() -> (String, u32) {
    (
        rustyray::ray::node_id().unwrap_or_default(),
        std::process::id(),
    )
}

/// An actor: a Ray actor holding the Rust state.
#[rustyray::actor]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    fn new(start: i64) -> Self {
        Counter { n: start }
    }

    fn incr(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }
}

fn main() -> rustyray::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "auto".to_string());
    // In a Ray worker, this `init` serves the worker's calls and never
    // returns: call it first.
    let _rt = rustyray::init(Config::default().ray(address.as_str()))?;
    println!(
        "driver on node {}",
        rustyray::ray::node_id().unwrap_or_default()
    );

    let a = add::remote(1, 2)?; // a Ray task; returns at once
    let b = add::remote(&a, 10)?; // Ray resolves the dependency
    assert_eq!(rustyray::get(&b)?, 13);

    let data = rustyray::put((1..=1000).collect::<Vec<i64>>())?; // in Ray's object store
    let sums: Vec<_> = (0..4)
        .map(|i| add::remote(i, 1))
        .collect::<Result<_, _>>()?;
    println!("sums {:?}", rustyray::get_all(&sums)?);
    println!("{} values stored", rustyray::get(&data)?.len());

    let (node, pid) = whereabouts::remote()?.get()?;
    println!("a task ran on node {node}, in process {pid}");

    let counter = Counter::remote(0)?; // a Ray actor
    let calls = (0..3)
        .map(|_| counter.incr(2))
        .collect::<rustyray::Result<Vec<_>>>()?;
    assert_eq!(rustyray::get_all(&calls)?, vec![2, 4, 6]);
    println!("counter: {:?}", rustyray::get_all(&calls)?);

    // Round trips, for comparison with Ray's own from Python.
    let n = 200;
    let started = std::time::Instant::now();
    for i in 0..n {
        add::remote(i, 1)?.get()?;
    }
    let task = started.elapsed() / n as u32;
    let started = std::time::Instant::now();
    for _ in 0..n {
        counter.incr(1)?.get()?;
    }
    let call = started.elapsed() / n as u32;
    println!("sync task round trip {task:?}, sync actor call round trip {call:?} ({n} each)");
    Ok(())
}
