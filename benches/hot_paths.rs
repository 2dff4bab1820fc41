//! Criterion benches of RustyRay's hot paths, so a change's effect shows in
//! `cargo bench`. The `microbenchmark` example measures the same paths the
//! way `ray microbenchmark` does, next to Ray's figures.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rustyray::{Config, ObjectRef};

#[rustyray::remote]
fn small_value() -> u8 {
    0
}

#[rustyray::actor]
struct Counter {
    n: u64,
}

#[rustyray::actor]
impl Counter {
    fn new() -> Self {
        Counter { n: 0 }
    }

    fn incr(&mut self) -> u64 {
        self.n += 1;
        self.n
    }
}

fn objects(c: &mut Criterion) {
    let _rt = rustyray::init(Config::default().num_cpus(2)).expect("runtime");
    let mut group = c.benchmark_group("objects");
    group.bench_function("put small", |b| b.iter(|| rustyray::put(black_box(0u8))));
    let r = rustyray::put(0u8).expect("put");
    group.bench_function("get small", |b| b.iter(|| rustyray::get(black_box(&r))));
    let big = vec![7u8; 8 << 20];
    group.throughput(Throughput::Bytes(big.len() as u64));
    group.bench_function("put+get 8 MiB", |b| {
        b.iter_batched(
            || big.clone(),
            |v| rustyray::get(&rustyray::put(v).expect("put")),
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("serde");
    let r = rustyray::put(1u64).expect("put");
    group.bench_function("ObjectRef encode+decode", |b| {
        b.iter(|| {
            let bytes = postcard::to_allocvec(black_box(&r)).expect("encode");
            postcard::from_bytes::<ObjectRef<u64>>(&bytes).expect("decode")
        })
    });
    group.finish();
}

fn tasks_and_actors(c: &mut Criterion) {
    let _rt = rustyray::init(Config::default().num_cpus(2)).expect("runtime");
    let mut group = c.benchmark_group("tasks");
    group.bench_function("submit+get", |b| {
        b.iter(|| rustyray::get(&small_value::remote().expect("submit")))
    });
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000 submitted then got", |b| {
        b.iter(|| {
            let refs: Vec<_> = (0..1000)
                .map(|_| small_value::remote().expect("submit"))
                .collect();
            rustyray::get_all(&refs)
        })
    });
    group.finish();

    let counter = Counter::remote().expect("actor");
    let mut group = c.benchmark_group("actors");
    group.bench_function("call+get", |b| {
        b.iter(|| rustyray::get(&counter.incr().expect("call")))
    });
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000 calls then got", |b| {
        b.iter(|| {
            let refs: Vec<_> = (0..1000).map(|_| counter.incr().expect("call")).collect();
            rustyray::get_all(&refs)
        })
    });
    group.finish();
}

fn lifecycle(c: &mut Criterion) {
    c.bench_function("init+shutdown", |b| {
        b.iter(|| drop(rustyray::init(Config::default().num_cpus(2)).expect("runtime")))
    });
}

criterion_group!(benches, objects, tasks_and_actors, lifecycle);
criterion_main!(benches);
