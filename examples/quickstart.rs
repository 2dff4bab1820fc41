//! RustyRay in one screen: a runtime, objects, and a runtime nested in it.
//!
//! Run with `cargo run --release --example quickstart`.

use std::time::Instant;

use rustyray::{Config, ObjectRef};
use serde::{Deserialize, Serialize};

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

    // A runtime inside a runtime: the inner one is current until its guard
    // drops, then the outer one is back.
    {
        let inner = rustyray::init(Config::default().name("inner"))?;
        println!("nested: current runtime is `{}`", rustyray::global()?.name());
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
