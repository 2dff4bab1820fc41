//! `rustyray::util::Queue`: the example of Ray's `ray.util.queue` docs,
//! translated, and the queue's bound, timeouts, order and handle passing.

mod common;

use std::time::Duration;

use common::get;
use futures::executor::block_on;
use rustyray::util::Queue;
use rustyray::{Config, Error};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

fn init() -> rustyray::RuntimeGuard {
    rustyray::init(Config::default().num_cpus(2)).unwrap()
}

/// Ray's example consumer: takes work until the queue stays empty for a
/// while (Ray's `queue.get(block=True, timeout=1)` until `Empty`).
#[rustyray::remote]
fn consumer(id: u32, queue: Queue<u32>) -> Vec<(u32, u32)> {
    let mut got = Vec::new();
    loop {
        match queue.get_timeout(Duration::from_millis(300)) {
            Ok(item) => got.push((id, item)),
            Err(Error::Timeout { .. }) => return got,
            Err(other) => panic!("unexpected {other}"),
        }
    }
}

#[test]
fn ray_docs_example_consumers_share_the_work() {
    let _rt = init();
    let queue = Queue::new(100).unwrap();
    for i in 0..10 {
        queue.put(i).unwrap();
    }
    let consumers: Vec<_> = (0..2)
        .map(|id| consumer::remote(id, queue.clone()).unwrap())
        .collect();
    let mut items: Vec<u32> = consumers
        .iter()
        .flat_map(|c| get(c).unwrap())
        .map(|(_, item)| item)
        .collect();
    items.sort_unstable();
    assert_eq!(items, (0..10).collect::<Vec<_>>());
    assert!(queue.empty().unwrap());
}

#[test]
fn items_come_out_in_the_order_they_went_in() {
    let _rt = init();
    let queue = Queue::new(0).unwrap();
    for word in ["a", "b", "c"] {
        queue.put(word.to_string()).unwrap();
    }
    assert_eq!(queue.size().unwrap(), 3);
    let out: Vec<String> = (0..3).map(|_| queue.get().unwrap()).collect();
    assert_eq!(out, ["a", "b", "c"]);
    assert!(queue.empty().unwrap());
}

#[test]
fn a_full_queue_times_out_a_put_and_an_empty_one_a_get() {
    let _rt = init();
    let queue = Queue::new(2).unwrap();
    assert_eq!(queue.maxsize(), 2);
    queue.put(1u8).unwrap();
    queue.put(2u8).unwrap();
    assert!(queue.full().unwrap());
    match queue.put_timeout(3, Duration::from_millis(30)) {
        Err(Error::Timeout { timeout, .. }) => assert_eq!(timeout, Duration::from_millis(30)),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(matches!(
        queue.put_timeout(3, Duration::ZERO),
        Err(Error::Timeout { .. })
    ));
    assert_eq!(queue.size().unwrap(), 2);
    assert_eq!((queue.get().unwrap(), queue.get().unwrap()), (1, 2));
    assert!(matches!(
        queue.get_timeout(Duration::from_millis(30)),
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        queue.get_timeout(Duration::ZERO),
        Err(Error::Timeout { .. })
    ));
    assert!(!queue.full().unwrap());
}

#[test]
fn a_blocked_get_is_woken_by_a_put_from_another_thread() {
    let rt = init();
    let queue: Queue<u64> = Queue::new(1).unwrap();
    let getter = {
        let (queue, rt) = (queue.clone(), (*rt).clone());
        std::thread::spawn(move || {
            let _entered = rt.enter();
            queue.get_timeout(PATIENCE)
        })
    };
    queue.put(99).unwrap();
    assert_eq!(getter.join().unwrap().unwrap(), 99);
}

#[test]
fn a_blocked_put_waits_for_room() {
    let rt = init();
    let queue: Queue<u64> = Queue::new(1).unwrap();
    queue.put(1).unwrap();
    let putter = {
        let (queue, rt) = (queue.clone(), (*rt).clone());
        std::thread::spawn(move || {
            let _entered = rt.enter();
            queue.put_timeout(2, PATIENCE)
        })
    };
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 1);
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 2);
    putter.join().unwrap().unwrap();
    assert!(queue.empty().unwrap());
}

#[rustyray::actor]
struct Producer {
    queue: Queue<String>,
}

#[rustyray::actor]
impl Producer {
    fn new(queue: Queue<String>) -> Self {
        Producer { queue }
    }

    fn produce(&self, n: u32) -> Result<u32, rustyray::Error> {
        for i in 0..n {
            self.queue.put(format!("item {i}"))?;
        }
        Ok(n)
    }
}

#[test]
fn the_handle_passes_to_actors_and_through_the_store() {
    let _rt = init();
    let queue: Queue<String> = Queue::new(10).unwrap();
    let producer = Producer::remote(queue.clone()).unwrap();
    assert_eq!(get(&producer.produce(3).unwrap()).unwrap(), 3);
    // A copy read back from the store is the same queue.
    let stored = rustyray::put(queue.clone()).unwrap();
    let copy: Queue<String> = get(&stored).unwrap();
    assert_eq!(copy.maxsize(), 10);
    assert_eq!(copy.size().unwrap(), 3);
    let copied = rustyray::put(vec![queue.clone()]).unwrap();
    let encoded: Vec<Queue<String>> = get(&copied).unwrap();
    assert_eq!(encoded[0].get().unwrap(), "item 0");
    assert_eq!(queue.get().unwrap(), "item 1");
    assert_eq!(copy.get().unwrap(), "item 2");
}

#[test]
fn a_shut_down_queue_fails_its_calls() {
    let _rt = init();
    let queue: Queue<u8> = Queue::new(0).unwrap();
    queue.put(1).unwrap();
    queue.shutdown();
    assert!(matches!(queue.get(), Err(Error::ActorDied { .. })));
    assert!(matches!(queue.put(2), Err(Error::ActorDied { .. })));
}

#[test]
fn batches_go_in_and_come_out_whole_or_not_at_all() {
    let _rt = init();
    let queue: Queue<u32> = Queue::new(3).unwrap();
    let no_room = queue.put_nowait_batch(vec![1, 2, 3, 4]);
    assert!(
        matches!(no_room, Err(Error::Timeout { timeout, .. }) if timeout == Duration::ZERO),
        "{no_room:?}"
    );
    assert_eq!(queue.size().unwrap(), 0);
    queue.put_nowait_batch(vec![1, 2]).unwrap();
    assert!(matches!(
        queue.put_nowait_batch(vec![3, 4]),
        Err(Error::Timeout { .. })
    ));
    assert_eq!(queue.size().unwrap(), 2);
    assert!(matches!(
        queue.get_nowait_batch(3),
        Err(Error::Timeout { .. })
    ));
    assert_eq!(queue.size().unwrap(), 2);
    assert_eq!(queue.get_nowait_batch(2).unwrap(), vec![1, 2]);
    assert!(queue.empty().unwrap());
    // An unbounded queue takes any batch.
    let unbounded: Queue<u32> = Queue::new(0).unwrap();
    unbounded.put_nowait_batch((0..1000).collect()).unwrap();
    assert_eq!(
        unbounded.get_nowait_batch(1000).unwrap(),
        (0..1000).collect::<Vec<_>>()
    );
}

/// Takes `n` items with `get_async`, each waited for at most `PATIENCE`.
#[rustyray::remote]
async fn async_consumer(queue: Queue<u32>, n: u32) -> Result<Vec<u32>, Error> {
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(queue.get_async(Some(PATIENCE)).await?);
    }
    Ok(got)
}

#[test]
fn async_code_waits_for_items_and_for_room() {
    let rt = init();
    let queue: Queue<u32> = Queue::new(1).unwrap();
    let consumer = async_consumer::remote(queue.clone(), 3).unwrap();
    let producer = rt.spawn({
        let queue = queue.clone();
        async move {
            for i in 0..3 {
                // Waits for room: the queue holds one item.
                queue.put_async(i, Some(PATIENCE)).await?;
            }
            Ok::<_, Error>(())
        }
    });
    assert_eq!(get(&consumer).unwrap(), vec![0, 1, 2]);
    block_on(producer).unwrap().unwrap();

    // Timeouts, as in the blocking calls.
    queue.put(7).unwrap();
    let full = block_on(queue.put_async(8, Some(Duration::ZERO)));
    assert!(matches!(full, Err(Error::Timeout { .. })), "{full:?}");
    assert_eq!(block_on(queue.get_async(None)).unwrap(), 7);
    let waited = Duration::from_millis(50);
    let empty = block_on(queue.get_async(Some(waited)));
    assert!(
        matches!(empty, Err(Error::Timeout { timeout, .. }) if timeout == waited),
        "{empty:?}"
    );
}
