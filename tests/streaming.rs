//! Streaming generators: `#[remote(streaming)]` on a sync function
//! returning an iterator or an async one returning a stream; the caller's
//! `ObjectRefStream` gets each item as a ref as soon as it is yielded (the
//! consumer has item k before the producer yields item k + 2); an `Err` or
//! a panic mid-stream is the next item, then the end; a retry replays
//! without duplicates; `generator_backpressure(n)` keeps the producer at
//! most `n` items ahead; cancelling the task ref (or dropping the stream)
//! stops the producer.
//!
//! Producer and consumer meet through counts the test owns; every wait is
//! bounded by [`PATIENCE`].

mod common;

use std::time::Duration;

use common::probe::{probe, DropSignal, TestProbe};
use common::{get, Count, Keyed, Registry, TestState};
use rustyray::{Config, Error, ObjectRefStream, Result};

const PATIENCE: Duration = Duration::from_secs(20);

/// What a test's producer and consumer share.
#[derive(Default)]
struct Flow {
    /// Items the producer made (counted as it makes each).
    made: Count,
    /// Items the consumer received.
    received: Count,
    /// Times the producer made item k + 2 before the consumer had item k.
    early: Count,
}

static FLOWS: Registry<Flow> = Registry::new();

impl Keyed for Flow {
    fn registry() -> &'static Registry<Flow> {
        &FLOWS
    }

    fn release(&self) {
        for _ in 0..1000 {
            self.received.incr();
        }
    }
}

/// `0..n`, each item made only once the consumer has the one two before.
#[rustyray::remote(streaming)]
fn lockstep(key: u64, n: u32) -> impl Iterator<Item = u32> + Send + 'static {
    let flow = FLOWS.get(key);
    (0..n).inspect(move |&k| {
        if k >= 2 && !flow.received.wait_for(k as usize - 1) {
            flow.early.incr();
        }
        flow.made.incr();
    })
}

#[rustyray::remote(streaming)]
fn numbers(n: u32) -> impl Iterator<Item = u32> + Send + 'static {
    0..n
}

#[rustyray::remote(streaming)]
async fn ticks(n: u32) -> impl futures::Stream<Item = u32> + Send + 'static {
    use futures::StreamExt;
    tokio::task::yield_now().await;
    futures::stream::iter(0..n).then(|i| async move {
        tokio::task::yield_now().await;
        i * 10
    })
}

#[rustyray::remote(streaming)]
fn fallible(
    fail_at: u32,
) -> impl Iterator<Item = std::result::Result<u32, String>> + Send + 'static {
    (0..5).map(move |i| {
        if i == fail_at {
            Err(format!("item {i} is bad"))
        } else {
            Ok(i)
        }
    })
}

#[rustyray::remote(streaming)]
fn panicky(panic_at: u32) -> impl Iterator<Item = u32> + Send + 'static {
    (0..5).inspect(move |&i| assert!(i != panic_at, "no item {i}"))
}

/// The first attempt fails after two items; the retry yields them all.
#[rustyray::remote(streaming, max_retries = 1, retry_exceptions = true)]
fn flaky() -> impl Iterator<Item = std::result::Result<u32, String>> + Send + 'static {
    let attempt = rustyray::context().attempt();
    (0..4).map(move |i| match (attempt, i) {
        (0, 2) => Err("first attempt fails".to_string()),
        _ => Ok(i * 100 + attempt),
    })
}

/// `0..n` counting each item it makes; reports its drop.
#[rustyray::remote(streaming)]
fn counted(key: u64, n: u32) -> impl Iterator<Item = u32> + Send + 'static {
    let flow = FLOWS.get(key);
    (0..n).inspect(move |_| flow.made.incr())
}

/// Never ends on its own; reports its drop to the probe.
#[rustyray::remote(streaming)]
fn endless(probe_key: u64) -> impl Iterator<Item = u64> + Send + 'static {
    let signal = DropSignal(probe(probe_key));
    (0..).inspect(move |_| {
        let _ = &signal;
    })
}

/// Every value of a stream that ends without an error.
fn drain(mut stream: ObjectRefStream<u32>) -> Vec<u32> {
    match drain_keep(&mut stream) {
        (values, None) => values,
        (values, Some(err)) => panic!("the stream failed after {values:?}: {err}"),
    }
}

#[test]
fn a_sync_generator_yields_each_item_as_a_ref() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let stream = numbers::remote(5)?;
    let task = stream.task_ref().clone();
    assert_eq!(drain(stream), vec![0, 1, 2, 3, 4]);
    assert_eq!(get(&task)?, ());
    assert_eq!(drain(numbers::remote(0)?), Vec::<u32>::new());
    Ok(())
}

#[test]
fn the_consumer_has_item_k_before_the_producer_makes_item_k_plus_2() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let flow = TestState::<Flow>::new();
    let mut values = Vec::new();
    for item in lockstep::remote(flow.key, 10)? {
        values.push(get(&item?)?);
        flow.received.incr();
    }
    assert_eq!(values, (0..10).collect::<Vec<_>>());
    assert_eq!(flow.early.get(), 0);
    assert_eq!(flow.made.get(), 10);
    Ok(())
}

#[test]
fn an_async_generator_streams_to_a_blocking_consumer() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    assert_eq!(drain(ticks::remote(4)?), vec![0, 10, 20, 30]);
    Ok(())
}

#[rustyray::test]
async fn an_async_consumer_reads_an_async_generator() -> Result<()> {
    use futures::StreamExt;
    let mut stream = ticks::remote(3)?;
    let mut values = Vec::new();
    while let Some(item) = StreamExt::next(&mut stream).await {
        values.push(item?.await?);
    }
    assert_eq!(values, vec![0, 10, 20]);
    Ok(())
}

#[rustyray::test]
async fn an_async_consumer_reads_a_sync_generator() -> Result<()> {
    use futures::StreamExt;
    let mut stream = numbers::remote(3)?;
    let mut values = Vec::new();
    while let Some(item) = StreamExt::next(&mut stream).await {
        values.push(item?.await?);
    }
    assert_eq!(values, vec![0, 1, 2]);
    Ok(())
}

#[test]
fn an_err_mid_stream_is_the_next_item_then_the_end() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let mut stream = fallible::remote(2)?;
    let (values, err) = drain_keep(&mut stream);
    assert_eq!(values, vec![0, 1]);
    match err {
        Some(Error::TaskFailed { message, .. }) => assert_eq!(message, "item 2 is bad"),
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    assert!(stream.next().is_none());
    assert!(matches!(
        get(stream.task_ref()),
        Err(Error::TaskFailed { .. })
    ));
    Ok(())
}

#[test]
fn a_panic_mid_stream_is_the_next_item_then_the_end() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let mut stream = panicky::remote(3)?;
    let (values, err) = drain_keep(&mut stream);
    assert_eq!(values, vec![0, 1, 2]);
    match err {
        Some(Error::TaskFailed { message, .. }) => {
            assert!(message.contains("no item 3"), "{message}")
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    assert!(stream.next().is_none());
    Ok(())
}

#[test]
fn a_retry_replays_the_stream_without_duplicates() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    // Attempt 0 yields 0 and 100, then fails; attempt 1's first two items
    // are skipped, its others follow.
    assert_eq!(drain(flaky::remote()?), vec![0, 100, 201, 301]);
    Ok(())
}

#[test]
fn backpressure_keeps_the_producer_n_items_ahead() -> Result<()> {
    const N: usize = 2;
    const TOTAL: usize = 8;
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let flow = TestState::<Flow>::new();
    let mut stream = counted::options()
        .generator_backpressure(N)
        .remote(flow.key, TOTAL as u32)?;
    for taken in 0..TOTAL {
        // With `taken` items taken, the producer holds N more and has made
        // the next one, which waits for room.
        let expected = (taken + N + 1).min(TOTAL);
        assert!(flow.made.wait_for(expected));
        assert_eq!(flow.made.get(), expected);
        let item = stream.next().expect("an item")?;
        assert_eq!(get(&item)?, taken as u32);
    }
    assert!(stream.next().is_none());
    Ok(())
}

#[test]
fn cancelling_the_task_ref_stops_the_producer() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let probe = TestProbe::new();
    let mut stream = endless::options()
        .generator_backpressure(2)
        .remote(probe.key)?;
    let first: Vec<u64> = stream
        .by_ref()
        .take(3)
        .map(|item| get(&item.expect("an item")).expect("its value"))
        .collect();
    assert_eq!(first, vec![0, 1, 2]);
    rustyray::cancel(stream.task_ref())?;
    // The items already yielded come first, in order, then the cancel.
    let mut next = 3;
    let end = loop {
        match stream.next() {
            Some(Ok(item)) => {
                assert_eq!(get(&item)?, next);
                next += 1;
            }
            Some(Err(err)) => break err,
            None => panic!("the stream ended without the cancel"),
        }
    };
    assert!(matches!(end, Error::Cancelled { .. }), "{end:?}");
    assert!(next <= 5, "{next} items: more than the backpressure allows");
    assert!(stream.next().is_none());
    // The producer stopped: its iterator was dropped.
    assert!(probe.dropped.wait_for(1));
    Ok(())
}

#[test]
fn dropping_the_stream_stops_the_producer() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let probe = TestProbe::new();
    let mut stream = endless::options()
        .generator_backpressure(1)
        .remote(probe.key)?;
    let first = stream.next().expect("an item")?;
    assert_eq!(get(&first)?, 0);
    let task = stream.task_ref().clone();
    drop(stream);
    assert!(probe.dropped.wait_for(1));
    assert_eq!(get(&task)?, ());
    Ok(())
}

/// Every value of `stream` up to its error (which it returns); the stream
/// is kept for more `next` calls.
fn drain_keep(stream: &mut ObjectRefStream<u32>) -> (Vec<u32>, Option<Error>) {
    let mut values = Vec::new();
    for item in stream.by_ref() {
        match item {
            Ok(r) => values.push(get(&r).expect("an item's value")),
            Err(err) => return (values, Some(err)),
        }
    }
    (values, None)
}

/// An actor with streaming methods: sync `&self`, sync `&mut self`, async.
#[rustyray::actor]
struct Feed {
    base: u32,
    served: u32,
}

#[rustyray::actor]
impl Feed {
    fn new(base: u32) -> Self {
        Feed { base, served: 0 }
    }

    #[method(streaming)]
    fn events(&self, n: u32) -> impl Iterator<Item = u32> + Send + 'static {
        let base = self.base;
        (0..n).map(move |i| base + i)
    }

    /// Counts the streams it served; fails at `fail_at`.
    #[method(streaming)]
    fn checked(
        &mut self,
        fail_at: u32,
    ) -> impl Iterator<Item = std::result::Result<u32, String>> + Send + 'static {
        self.served += 1;
        (0..4).map(move |i| {
            if i == fail_at {
                Err(format!("event {i} failed"))
            } else {
                Ok(i)
            }
        })
    }

    #[method(streaming)]
    async fn ticks(&self, n: u32) -> impl futures::Stream<Item = u32> + Send + 'static {
        tokio::task::yield_now().await;
        futures::stream::iter((0..n).map(|i| i * 2))
    }

    fn served(&self) -> u32 {
        self.served
    }

    /// Never ends on its own; at most two items ahead of its consumer.
    #[method(streaming, generator_backpressure = 2)]
    fn endless(&self, probe_key: u64) -> impl Iterator<Item = u64> + Send + 'static {
        let signal = DropSignal(probe(probe_key));
        (0..).inspect(move |_| {
            let _ = &signal;
        })
    }
}

#[test]
fn actor_methods_stream_in_order_with_the_actors_state() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let feed = Feed::remote(100)?;
    assert_eq!(drain(feed.events(3)?), vec![100, 101, 102]);
    assert_eq!(drain(feed.ticks(4)?), vec![0, 2, 4, 6]);
    let mut failing = feed.checked(2)?;
    let (values, err) = drain_keep(&mut failing);
    assert_eq!(values, vec![0, 1]);
    match err {
        Some(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(task, "Feed.checked");
            assert_eq!(message, "event 2 failed");
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    assert_eq!(drain(feed.checked(9)?), vec![0, 1, 2, 3]);
    assert_eq!(get(&feed.served()?)?, 2);
    Ok(())
}

#[test]
fn a_streaming_method_of_a_killed_actor_ends_with_actor_died() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let feed = Feed::remote(0)?;
    rustyray::kill(&feed)?;
    let mut stream = feed.events(3)?;
    match stream.next() {
        Some(Err(Error::ActorDied { .. })) => {}
        other => panic!("expected ActorDied, got {other:?}"),
    }
    assert!(stream.next().is_none());
    Ok(())
}

/// Sums a generator's items from inside a task.
#[rustyray::remote]
fn sum_of_numbers(n: u32) -> rustyray::Result<u32> {
    let mut sum = 0;
    for item in numbers::options().generator_backpressure(1).remote(n)? {
        sum += item?.get()?;
    }
    Ok(sum)
}

#[test]
fn a_task_consuming_a_stream_lends_its_cpu_to_the_producer() -> Result<()> {
    // One CPU: the consumer task holds it, and lends it while it waits.
    let _rt = rustyray::init(Config::default().num_cpus(1))?;
    assert_eq!(get(&sum_of_numbers::remote(6)?)?, 15);
    Ok(())
}

#[test]
fn cancelling_a_streaming_actor_call_stops_it_and_frees_the_actor() -> Result<()> {
    let _rt = rustyray::init(Config::default().num_cpus(2))?;
    let probe = TestProbe::new();
    let feed = Feed::remote(0)?;
    let mut stream = feed.endless(probe.key)?;
    for expected in 0..3 {
        assert_eq!(get(&stream.next().expect("an item")?)?, expected);
    }
    rustyray::cancel(stream.task_ref())?;
    let mut next = 3;
    let end = loop {
        match stream.next() {
            Some(Ok(item)) => {
                assert_eq!(get(&item)?, next);
                next += 1;
            }
            Some(Err(err)) => break err,
            None => panic!("the stream ended without the cancel"),
        }
    };
    assert!(matches!(end, Error::Cancelled { .. }), "{end:?}");
    assert!(next <= 5, "{next} items: more than the backpressure allows");
    assert!(probe.dropped.wait_for(1));
    // The actor serves its next call.
    assert_eq!(drain(feed.events(2)?), vec![0, 1]);
    Ok(())
}
