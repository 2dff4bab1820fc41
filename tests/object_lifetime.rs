//! Object lifetime: an object lives exactly as long as something holds it
//! (a ref, a ref inside another stored value, a pending task's argument, a
//! running task) and its bytes leave the store's accounts the moment the
//! last holder lets go. Sizes are bytes of the postcard encoding, so every
//! count below is exact.
//!
//! The 100,000-cycle RSS test shares this process with the other tests of
//! this file, so they are kept light (a few MiB at most).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use common::{ref_len, wait_until};
use rustyray::{Config, MemoryStats, ObjectRef, Runtime};
use serde::{Deserialize, Serialize};

/// How long a condition may take to become true before a test gives up.
/// Generous: it bounds a wait, it is not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(30);

/// The store's accounts with nothing in it.
fn empty(rt: &Runtime) -> MemoryStats {
    MemoryStats {
        objects_in_memory: 0,
        bytes_in_memory: 0,
        objects_spilled: 0,
        bytes_spilled: 0,
        spilled_total: 0,
        restored_total: 0,
        limit: rt.memory().limit,
    }
}

/// Waits until the store is empty again (tasks let go of their cells just
/// after completing them), then checks every account is exactly zero.
fn assert_store_empties(rt: &Runtime) {
    wait_until("the store is empty", || rt.memory().objects_in_memory == 0);
    assert_eq!(rt.memory(), empty(rt));
}

/// Sum of the varint sizes of `0..1000`: 128 one-byte values (0..=127) and
/// 872 two-byte values (128..=999).
const THOUSAND_U64S_BYTES: u64 = 128 + 872 * 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Holder {
    inner: ObjectRef<Vec<u8>>,
}

/// A one-shot gate a task blocks on until the test opens it.
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            open: Mutex::new(false),
            opened: Condvar::new(),
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }
}

#[rustyray::remote]
fn identity(x: u64) -> u64 {
    x
}

#[test]
fn thousand_puts_are_counted_exactly_and_freed_when_their_refs_drop() {
    let rt = rustyray::init(Config::default()).unwrap();
    assert_eq!(rt.memory(), empty(&rt));

    let refs: Vec<ObjectRef<u64>> = (0..1000u64).map(|i| rustyray::put(i).unwrap()).collect();
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 1000,
            bytes_in_memory: THOUSAND_U64S_BYTES,
            ..empty(&rt)
        }
    );

    // Reads and clones change nothing.
    assert_eq!(
        rustyray::get_all(&refs).unwrap(),
        (0..1000).collect::<Vec<u64>>()
    );
    let clones = refs.clone();
    assert_eq!(rt.memory().objects_in_memory, 1000);

    // Half of the refs go, but their clones keep every object.
    let (first_half, second_half) = {
        let mut refs = refs;
        let second = refs.split_off(500);
        (refs, second)
    };
    drop(first_half);
    assert_eq!(rt.memory().objects_in_memory, 1000);
    drop(clones);
    // Objects 0..500 have no holder left: 128 one-byte values and 372
    // two-byte values go.
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 500,
            bytes_in_memory: THOUSAND_U64S_BYTES - (128 + 372 * 2),
            ..empty(&rt)
        }
    );

    drop(second_half);
    assert_eq!(rt.memory(), empty(&rt));
}

#[test]
fn thousand_task_results_are_counted_exactly_and_freed_when_their_refs_drop() {
    let rt = rustyray::init(Config::default()).unwrap();

    let refs: Vec<ObjectRef<u64>> = (0..1000u64).map(|i| identity::remote(i).unwrap()).collect();
    assert_eq!(
        rustyray::get_all(&refs).unwrap(),
        (0..1000).collect::<Vec<u64>>()
    );
    // Every result is stored once all are ready; by-value arguments are
    // not objects.
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 1000,
            bytes_in_memory: THOUSAND_U64S_BYTES,
            ..empty(&rt)
        }
    );

    drop(refs);
    assert_store_empties(&rt);
}

/// Drops of stored [`DropCounted`] values, only for the test below.
static UNHELD_RESULT_DROPS: AtomicUsize = AtomicUsize::new(0);
/// Runs of `unheld_result`.
static UNHELD_RESULT_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A value that counts its drops: it is moved into the store, so its one
/// drop is the store freeing it.
#[derive(Serialize, Deserialize)]
struct DropCounted {
    payload: Vec<u8>,
}

impl Drop for DropCounted {
    fn drop(&mut self) {
        UNHELD_RESULT_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

#[rustyray::remote]
fn unheld_result(gate: u64) -> DropCounted {
    UNHELD_RESULT_RUNS.fetch_add(1, Ordering::SeqCst);
    DropCounted {
        payload: vec![gate as u8; 4096],
    }
}

#[test]
fn task_result_nobody_holds_is_freed_when_the_task_completes() {
    let rt = rustyray::init(Config::default()).unwrap();

    drop(unheld_result::remote(7).unwrap());

    // The task runs and stores its 4,098-byte result, which nobody holds:
    // the store frees it (one drop of the moved-in value) and every
    // account is back to zero.
    wait_until("the unheld result is dropped", || {
        UNHELD_RESULT_DROPS.load(Ordering::SeqCst) == 1
    });
    assert_eq!(UNHELD_RESULT_RUNS.load(Ordering::SeqCst), 1);
    assert_store_empties(&rt);
    assert_eq!(UNHELD_RESULT_DROPS.load(Ordering::SeqCst), 1);
}

#[test]
fn ref_inside_a_stored_object_keeps_its_target_alive() {
    let rt = rustyray::init(Config::default()).unwrap();

    let inner = rustyray::put(vec![9u8; 300]).unwrap();
    let holder = rustyray::put(Holder {
        inner: inner.clone(),
    })
    .unwrap();
    let holder_bytes = ref_len(&inner);
    let both = MemoryStats {
        objects_in_memory: 2,
        bytes_in_memory: 302 + holder_bytes,
        ..empty(&rt)
    };
    assert_eq!(rt.memory(), both);

    drop(inner);
    assert_eq!(rt.memory(), both, "the holder keeps the inner object");

    let read = rustyray::get(&holder).unwrap();
    assert_eq!(rustyray::get(&read.inner).unwrap(), vec![9u8; 300]);
    drop(read);
    assert_eq!(rt.memory(), both);

    drop(holder);
    assert_eq!(rt.memory(), empty(&rt));
}

#[test]
fn nested_holders_free_their_chain_when_the_outermost_ref_drops() {
    #[derive(Serialize, Deserialize)]
    struct Outer {
        holder: ObjectRef<Holder>,
    }

    let rt = rustyray::init(Config::default()).unwrap();
    let inner = rustyray::put(vec![1u8; 10]).unwrap();
    let holder = rustyray::put(Holder {
        inner: inner.clone(),
    })
    .unwrap();
    let outer = rustyray::put(Outer {
        holder: holder.clone(),
    })
    .unwrap();
    let bytes = 11 + ref_len(&inner) + ref_len(&holder);
    drop((inner, holder));
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 3,
            bytes_in_memory: bytes,
            ..empty(&rt)
        }
    );

    let holder = rustyray::get(&outer).unwrap().holder;
    let inner = rustyray::get(&holder).unwrap().inner;
    assert_eq!(rustyray::get(&inner).unwrap(), vec![1u8; 10]);
    drop((inner, holder));

    drop(outer);
    assert_eq!(rt.memory(), empty(&rt));
}

#[rustyray::remote]
fn wrap_in_holder(len: u64) -> rustyray::Result<Holder> {
    let inner = rustyray::put(vec![5u8; len as usize])?;
    Ok(Holder { inner })
}

#[test]
fn ref_returned_inside_a_task_result_keeps_its_target_alive() {
    let rt = rustyray::init(Config::default()).unwrap();

    let holder = wrap_in_holder::remote(200).unwrap();
    let inner = rustyray::get(&holder).unwrap().inner;
    assert_eq!(rustyray::get(&inner).unwrap(), vec![5u8; 200]);
    let bytes = 202 + ref_len(&inner);
    drop(inner);
    wait_until("only the holder and its target are stored", || {
        rt.memory().bytes_in_memory == bytes
    });
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 2,
            bytes_in_memory: bytes,
            ..empty(&rt)
        }
    );

    drop(holder);
    assert_store_empties(&rt);
}

/// An actor whose calls return what they are given.
#[rustyray::actor]
struct Echo {
    calls: u64,
}

#[rustyray::actor]
impl Echo {
    fn new() -> Self {
        Echo { calls: 0 }
    }

    fn echo(&mut self, x: u64) -> u64 {
        self.calls += 1;
        x
    }

    fn counted(&self, len: u64) -> ActorDropCounted {
        ActorDropCounted {
            payload: vec![1; len as usize],
        }
    }
}

/// Drops of stored [`ActorDropCounted`] values, only for the test below.
static UNHELD_ACTOR_RESULT_DROPS: AtomicUsize = AtomicUsize::new(0);

#[derive(Serialize, Deserialize)]
struct ActorDropCounted {
    payload: Vec<u8>,
}

impl Drop for ActorDropCounted {
    fn drop(&mut self) {
        UNHELD_ACTOR_RESULT_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn thousand_actor_call_results_are_counted_exactly_and_freed_when_their_refs_drop() {
    let rt = rustyray::init(Config::default()).unwrap();
    let echo = Echo::remote().unwrap();

    let refs: Vec<ObjectRef<u64>> = (0..1000u64).map(|i| echo.echo(i).unwrap()).collect();
    assert_eq!(
        rustyray::get_all(&refs).unwrap(),
        (0..1000).collect::<Vec<u64>>()
    );
    // Only the results are objects: creating the actor stores none.
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 1000,
            bytes_in_memory: THOUSAND_U64S_BYTES,
            ..empty(&rt)
        }
    );

    drop(refs);
    assert_store_empties(&rt);
    drop(echo);
    assert_eq!(rt.memory(), empty(&rt));
}

#[test]
fn actor_call_result_nobody_holds_is_freed_when_the_call_completes() {
    let rt = rustyray::init(Config::default()).unwrap();
    let echo = Echo::remote().unwrap();

    drop(echo.counted(4096).unwrap());
    wait_until("the unheld actor result is dropped", || {
        UNHELD_ACTOR_RESULT_DROPS.load(Ordering::SeqCst) == 1
    });
    assert_store_empties(&rt);
    // The actor is still there and answers.
    assert_eq!(echo.echo(3).unwrap().get().unwrap(), 3);
    assert_eq!(UNHELD_ACTOR_RESULT_DROPS.load(Ordering::SeqCst), 1);
}

static PENDING_ARG_GATE: Gate = Gate::new();

#[rustyray::remote]
fn wait_for_pending_arg_gate() -> u64 {
    PENDING_ARG_GATE.wait();
    1
}

#[rustyray::remote]
fn byte_sum(_gate: u64, bytes: Vec<u8>) -> u64 {
    bytes.iter().map(|&b| u64::from(b)).sum()
}

#[test]
fn ref_argument_of_a_pending_task_keeps_its_target_until_the_task_finishes() {
    let rt = rustyray::init(Config::default().num_cpus(4)).unwrap();

    let gate = wait_for_pending_arg_gate::remote().unwrap();
    let arg = rustyray::put(vec![3u8; 500]).unwrap();
    let sum = byte_sum::remote(&gate, arg).unwrap(); // the only ref moves in

    // The task waits for `gate`; its argument is held by it alone. A
    // pending result is not an object yet.
    let arg_only = MemoryStats {
        objects_in_memory: 1,
        bytes_in_memory: 502,
        ..empty(&rt)
    };
    assert_eq!(rt.memory(), arg_only);
    assert_eq!(
        rustyray::wait(std::slice::from_ref(&sum), 1, Some(Duration::ZERO))
            .unwrap()
            .0
            .len(),
        0,
        "the task must still be waiting for its gate"
    );
    assert_eq!(rt.memory(), arg_only);

    PENDING_ARG_GATE.open();
    assert_eq!(rustyray::get(&sum).unwrap(), 1500);
    drop((gate, sum));
    // The finished task lets go of its argument; the results are dropped.
    assert_store_empties(&rt);
}

#[test]
fn shutdown_releases_objects_whose_refs_are_still_held() {
    let guard = rustyray::init(Config::default()).unwrap();
    let rt: Runtime = guard.clone();
    let held: Vec<ObjectRef<Vec<u8>>> = (0..10)
        .map(|i| rustyray::put(vec![i as u8; 100]).unwrap())
        .collect();
    assert_eq!(rt.memory().objects_in_memory, 10);
    assert_eq!(rt.memory().bytes_in_memory, 10 * 101);

    drop(guard);
    assert_eq!(rt.memory(), empty(&rt));
    assert!(matches!(
        rt.get(&held[0]),
        Err(rustyray::Error::ShutDown { .. })
    ));
    drop(held);
    assert_eq!(rt.memory(), empty(&rt));
}

/// Resident set size of this process, in bytes.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .expect("statm has a resident field")
        .parse()
        .expect("resident pages");
    resident * 4096
}

/// Bound on RSS growth over the 100,000 cycles: 64 MiB. A leak of the
/// 4 KiB payload per cycle would be 400 MB, of one ref holder's cell a few
/// hundred bytes per cycle (tens of MB). The other tests of this file run
/// in parallel and hold a few MiB at most.
const RSS_GROWTH_BOUND: u64 = 64 << 20;

#[test]
fn hundred_thousand_put_drop_cycles_return_to_baseline_without_growing_rss() {
    let rt = rustyray::init(Config::default()).unwrap();
    let baseline = empty(&rt);

    let cycle = |i: usize| {
        let inner = rustyray::put(vec![i as u8; 4096]).unwrap();
        let holder = rustyray::put(Holder {
            inner: inner.clone(),
        })
        .unwrap();
        drop(inner);
        drop(holder);
        assert_eq!(rt.memory(), baseline, "after cycle {i}");
    };

    for i in 0..10_000 {
        cycle(i);
    }
    let after_warmup = rss_bytes();
    for i in 0..100_000 {
        cycle(i);
    }
    let at_end = rss_bytes();

    assert_eq!(rt.memory(), baseline);
    let growth = at_end.saturating_sub(after_warmup);
    eprintln!("RSS after warm-up {after_warmup} B, at end {at_end} B, growth {growth} B");
    assert!(
        growth < RSS_GROWTH_BOUND,
        "RSS grew by {growth} bytes over 100,000 put/drop cycles (bound {RSS_GROWTH_BOUND})"
    );
}
