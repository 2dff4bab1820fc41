//! RustyRay in one screen: a runtime, objects, tasks, actors, and a runtime
//! nested in it.
//!
//! Run with `cargo run --release --example quickstart`.

use std::time::Instant;

use rustyray::{Config, ObjectRef};
use serde::{Deserialize, Serialize};

/// A remote function: `add::remote(..)` runs it as a task.
#[rustyray::remote]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// An async remote function returning `Result`: `Err` becomes the task's
/// error.
#[rustyray::remote]
async fn checked_div(a: i64, b: i64) -> Result<i64, String> {
    if b == 0 {
        Err(format!("cannot divide {a} by zero"))
    } else {
        Ok(a / b)
    }
}

/// An actor: state behind a typed handle, calls run in order.
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

    async fn get(&self) -> i64 {
        self.n
    }
}

/// A value that holds refs to other objects.
#[derive(Serialize, Deserialize)]
struct Batch {
    label: String,
    parts: Vec<ObjectRef<Vec<u32>>>,
}

fn main() -> rustyray::Result<()> {
    let started = Instant::now();
    let rt = rustyray::init(Config::default().name("quickstart"))?;
    println!("runtime `{}` started in {:?}", rt.name(), started.elapsed());

    // Objects: put moves a value into the store, get copies it out.
    let greeting = rustyray::put(String::from("hello, RustyRay"))?;
    println!("get(put(..)) = {:?}", rustyray::get(&greeting)?);

    // Refs are values too: store a batch of refs and follow them back.
    let parts = (0..3u32)
        .map(|i| rustyray::put((0..4).map(|j| i * 10 + j).collect::<Vec<u32>>()))
        .collect::<rustyray::Result<Vec<_>>>()?;
    let batch = rustyray::put(Batch {
        label: "three parts".into(),
        parts,
    })?;
    let batch = rustyray::get(&batch)?;
    let sums = batch
        .parts
        .iter()
        .map(|p| Ok(rustyray::get(p)?.iter().sum::<u32>()))
        .collect::<rustyray::Result<Vec<_>>>()?;
    println!("{}: part sums {sums:?}", batch.label);

    // Tasks: submitting returns at once; a ref argument is a dependency.
    let a = add::remote(1, 2)?;
    let b = add::remote(&a, 10)?;
    let c = add::options().name("sum").remote(b, 1)?;
    println!("add chain = {}", rustyray::get(&c)?);
    let fan_out = (0..100)
        .map(|i| add::remote(i, i))
        .collect::<rustyray::Result<Vec<_>>>()?;
    let total: i64 = rustyray::get_all(&fan_out)?.iter().sum();
    println!("100 tasks in parallel, sum = {total}");
    match rustyray::get(&checked_div::remote(1, 0)?) {
        Err(rustyray::Error::TaskFailed { task, message, .. }) => {
            println!("task `{task}` failed: {message}")
        }
        other => println!("unexpected: {other:?}"),
    }

    // Actors: calls return refs at once and run one at a time, in order.
    let counter = Counter::options().name("hits").remote(0)?;
    let counts = (0..5)
        .map(|_| counter.incr(2))
        .collect::<rustyray::Result<Vec<_>>>()?;
    println!("counter after each call: {:?}", rustyray::get_all(&counts)?);
    let same = rustyray::get_actor::<Counter>("hits")?;
    println!("looked up by name: {}", rustyray::get(&same.get()?)?);

    // A runtime inside a runtime: the inner one is current until its guard
    // drops, then the outer one is back.
    {
        let inner = rustyray::init(Config::default().name("inner"))?;
        println!(
            "nested: current runtime is `{}`",
            rustyray::global()?.name()
        );
        let r = rustyray::put(42u64)?;
        println!("nested: get = {}", inner.get(&r)?);
    }
    println!("back to `{}`", rustyray::global()?.name());

    let mem = rt.memory();
    println!(
        "store: {} objects, {} bytes in memory",
        mem.objects_in_memory, mem.bytes_in_memory
    );
    drop(rt);
    println!("shut down; initialized: {}", rustyray::is_initialized());
    Ok(())
}
