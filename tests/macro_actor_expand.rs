//! `#[rustyray::actor]` end to end: the generated constructors, options
//! builder and handle methods create and call real actors on a runtime,
//! for every supported shape (sync and async, `&self` and `&mut self`,
//! fallible methods and constructors, split results, `Self` in
//! signatures), and the handle behaves as documented (clone, send,
//! serialize, find by name, kill).

use rustyray::{ActorHandle, Error, ObjectRef, Result};
use serde::{Deserialize, Serialize};

#[rustyray::actor]
struct Counter {
    n: i64,
    log: Vec<i64>,
}

#[rustyray::actor]
impl Counter {
    /// Starts at `start`.
    fn new(start: i64) -> Self {
        Counter {
            n: start,
            log: Vec::new(),
        }
    }

    /// Starts at `x * 10`.
    fn with_x(x: i64) -> Self {
        Counter::new(x * 10)
    }

    /// Refuses negative starts.
    fn checked(start: i64) -> std::result::Result<Self, String> {
        if start < 0 {
            return Err(format!("negative start {start}"));
        }
        Ok(Counter::new(start))
    }

    /// Adds `by` and returns the new count.
    fn incr(&mut self, by: i64) -> i64 {
        self.n += by;
        self.log.push(self.n);
        self.n
    }

    fn get(&self) -> i64 {
        self.n
    }

    async fn slow_get(&self) -> i64 {
        tokio::task::yield_now().await;
        self.n
    }

    async fn incr_async(&mut self, by: i64) -> i64 {
        tokio::task::yield_now().await;
        self.incr(by)
    }

    fn fail(&self) -> std::result::Result<(), String> {
        Err("no".into())
    }

    #[rustyray(num_returns = 2)]
    fn split(&self) -> (i64, usize) {
        (self.n, self.log.len())
    }

    #[rustyray(num_returns = 2)]
    async fn split_async(&mut self) -> std::result::Result<(i64, String), String> {
        tokio::task::yield_now().await;
        Ok((self.n, self.n.to_string()))
    }

    async fn fail_async(&self, fail: bool) -> std::result::Result<i64, String> {
        if fail {
            return Err(format!("failed at {}", self.n));
        }
        Ok(self.n)
    }

    fn nothing(&self) {}

    /// Compiled out, and so is its handle method (its types do not exist).
    #[cfg(any())]
    fn gone(&self, x: DoesNotExist) -> AlsoMissing {
        x.into()
    }

    fn patterns(&self, (a, b): (i64, i64), _: bool) -> i64 {
        self.n + a + b
    }

    #[rustyray(local)]
    fn double(x: i64) -> i64 {
        x * 2
    }
}

/// An actor whose state is itself an object: `Self` in signatures.
#[rustyray::actor]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point(i64, i64);

#[rustyray::actor]
impl Point {
    pub fn origin() -> Self {
        Point(0, 0)
    }

    pub fn snapshot(&self) -> Self {
        self.clone()
    }

    pub fn replace(&mut self, other: Self) -> Option<Self> {
        Some(std::mem::replace(self, other))
    }
}

/// A unit struct with a `Result` constructor that fails.
#[rustyray::actor]
struct Doomed;

#[rustyray::actor]
impl Doomed {
    fn new() -> std::result::Result<Self, String> {
        Err("the disk is on fire".into())
    }

    fn ping(&self) -> u8 {
        1
    }
}

/// Compiled out: the struct's and the `impl`'s `#[cfg]` go on every
/// generated item (nothing here names a type that exists).
#[rustyray::actor]
#[cfg(any())]
struct Ghost {
    x: Missing,
}

#[rustyray::actor]
#[cfg(any())]
impl Ghost {
    fn new(x: Missing) -> Self {
        Ghost { x }
    }
    fn get(&self) -> Missing {
        self.x
    }
}

mod visibility {
    #[rustyray::actor]
    pub struct PubActor;

    #[rustyray::actor]
    pub(crate) struct CrateActor;

    #[rustyray::actor]
    impl CrateActor {
        pub(crate) fn new() -> Self {
            CrateActor
        }
        pub(crate) fn ping(&self) -> u8 {
            2
        }
    }

    #[rustyray::actor]
    struct PrivateActor;

    #[rustyray::actor]
    impl PrivateActor {
        fn new() -> Self {
            PrivateActor
        }
        fn ping(&self) -> u8 {
            3
        }
    }

    pub(crate) fn private_ping() -> rustyray::Result<u8> {
        PrivateActor::remote()?.ping()?.get()
    }

    pub mod child {
        /// The `impl` may live in another module than the struct.
        #[rustyray::actor]
        impl super::PubActor {
            pub fn new() -> Self {
                super::PubActor
            }
            pub fn with_pong() -> Self {
                super::PubActor
            }
            pub fn ping(&self) -> u8 {
                1
            }
            pub fn pong(&self) -> u8 {
                4
            }
        }
    }
}

/// A task that calls an actor through a handle it was passed.
#[rustyray::remote]
fn bump(counter: CounterHandle, by: i64) -> Result<i64> {
    counter.incr(by)?.get()
}

/// A value holding a handle: serialized into the store and back.
#[derive(Serialize, Deserialize)]
struct Holder {
    label: String,
    counter: CounterHandle,
}

const _: () = {
    const fn assert_handle<T: Clone + Send + Sync + 'static + rustyray::Object>() {}
    assert_handle::<CounterHandle>();
    assert_handle::<PointHandle>();
};

#[rustyray::test]
fn counter_counts() -> Result<()> {
    let c: CounterHandle = Counter::remote(0)?;
    let refs: Vec<ObjectRef<i64>> = (0..100).map(|_| c.incr(1)).collect::<Result<_>>()?;
    assert_eq!(rustyray::get_all(&refs)?, (1..=100).collect::<Vec<i64>>());
    assert_eq!(c.slow_get()?.get()?, 100);
    assert_eq!(c.get()?.get()?, 100);
    assert_eq!(c.incr_async(5)?.get()?, 105);
    let (n, len) = c.split()?;
    assert_eq!((n.get()?, len.get()?), (105, 101));
    let (n, text) = c.split_async()?;
    assert_eq!((n.get()?, text.get()?), (105, "105".to_string()));
    assert_eq!(c.fail_async(false)?.get()?, 105);
    match c.fail_async(true)?.get() {
        Err(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(
                (task.as_str(), message.as_str()),
                ("Counter.fail_async", "failed at 105")
            );
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    let _: ObjectRef<()> = c.nothing()?;
    assert_eq!(c.patterns((1, 2), true)?.get()?, 108);
    Ok(())
}

#[rustyray::test]
async fn async_test_awaits_actor_calls() -> Result<()> {
    let c = Counter::remote(1)?;
    let r = c.incr(2)?;
    assert_eq!(r.await?, 3);
    assert_eq!(c.slow_get()?.await?, 3);
    assert_eq!(c.incr_async(1)?.await?, 4);
    Ok(())
}

#[rustyray::test]
fn arguments_may_be_refs() -> Result<()> {
    let c = Counter::remote(rustyray::put(10i64)?)?;
    let by = rustyray::put(5i64)?;
    assert_eq!(c.incr(&by)?.get()?, 15);
    assert_eq!(c.incr(by)?.get()?, 20);
    // A call's result feeds another call.
    let twenty = c.get()?;
    assert_eq!(c.incr(twenty)?.get()?, 40);
    Ok(())
}

#[rustyray::test]
fn an_err_fails_the_call_not_the_actor() -> Result<()> {
    let c = Counter::remote(7)?;
    match c.fail()?.get() {
        Err(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(task, "Counter.fail");
            assert_eq!(message, "no");
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    assert_eq!(c.get()?.get()?, 7);
    Ok(())
}

#[rustyray::test]
fn named_actors_are_found_by_name() -> Result<()> {
    let named = Counter::options().name("hits").remote(3)?;
    let same: CounterHandle = rustyray::get_actor::<Counter>("hits")?;
    assert_eq!(same.id(), named.id());
    assert_eq!(ActorHandle::id(&same), named.id());
    same.incr(1)?.get()?;
    assert_eq!(named.get()?.get()?, 4);
    let again = Counter::options()
        .name("hits")
        .get_if_exists(true)
        .remote(0)?;
    assert_eq!(again.id(), named.id());
    Ok(())
}

#[rustyray::test]
fn killed_actors_fail_later_calls() -> Result<()> {
    let c = Counter::options().name("doomed").remote(0)?;
    assert_eq!(c.incr(1)?.get()?, 1);
    rustyray::kill(&c)?;
    match c.incr(1).and_then(|r| r.get()) {
        Err(Error::ActorDied { .. }) => {}
        other => panic!("expected ActorDied, got {other:?}"),
    }
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn every_option_applies() -> Result<()> {
    let c = Counter::options()
        .max_concurrency(2)
        .name("configured")
        .max_restarts(1)
        .max_task_retries(1)
        .num_cpus(0.5)
        .remote(0)?;
    assert_eq!(c.incr(2)?.get()?, 2);
    assert_eq!(rustyray::get_actor::<Counter>("configured")?.id(), c.id());
    let options: rustyray::ActorOptions = Counter::options().name("x").into_options();
    assert!(format!("{options:?}").contains("\"x\""));
    Ok(())
}

#[rustyray::test]
fn other_constructors_get_their_own_remote() -> Result<()> {
    let c = Counter::remote_with_x(4)?;
    assert_eq!(c.get()?.get()?, 40);
    let c = Counter::options().remote_with_x(5)?;
    assert_eq!(c.get()?.get()?, 50);
    let c = Counter::remote_checked(6)?;
    assert_eq!(c.get()?.get()?, 6);
    // The only constructor, not named `new`, is `remote`.
    let p = Point::remote()?;
    assert_eq!(p.snapshot()?.get()?, Point(0, 0));
    Ok(())
}

#[rustyray::test]
fn a_failed_constructor_kills_the_actor() -> Result<()> {
    let c = Counter::remote_checked(-1)?;
    match c.get()?.get() {
        Err(Error::ActorDied { cause, .. }) => {
            assert!(cause.contains("negative start -1"), "{cause}");
        }
        other => panic!("expected ActorDied, got {other:?}"),
    }
    let d = Doomed::remote()?;
    match d.ping()?.get() {
        Err(Error::ActorDied { cause, .. }) => {
            assert!(cause.contains("the disk is on fire"), "{cause}");
        }
        other => panic!("expected ActorDied, got {other:?}"),
    }
    Ok(())
}

#[rustyray::test]
fn self_in_signatures_means_the_actor() -> Result<()> {
    let p = Point::remote()?;
    let old: ObjectRef<Option<Point>> = p.replace(Point(1, 2))?;
    assert_eq!(old.get()?, Some(Point(0, 0)));
    assert_eq!(p.snapshot()?.get()?, Point(1, 2));
    Ok(())
}

#[rustyray::test]
fn handles_survive_the_object_store() -> Result<()> {
    let c = Counter::remote(0)?;
    let holder = rustyray::put(Holder {
        label: "counter".into(),
        counter: c.clone(),
    })?;
    let back = holder.get()?;
    assert_eq!(back.label, "counter");
    assert_eq!(back.counter.id(), c.id());
    assert_eq!(back.counter.incr(3)?.get()?, 3);
    assert_eq!(c.get()?.get()?, 3);
    assert!(format!("{c:?}").contains("Counter"), "{c:?}");
    Ok(())
}

#[rustyray::test(num_cpus = 2)]
fn tasks_call_actors_through_passed_handles() -> Result<()> {
    let c = Counter::remote(0)?;
    assert_eq!(bump::remote(c.clone(), 5)?.get()?, 5);
    assert_eq!(bump::remote(c.clone(), 6)?.get()?, 11);
    assert_eq!(c.get()?.get()?, 11);
    Ok(())
}

#[rustyray::test]
fn clones_share_the_actor_across_threads() -> Result<()> {
    let c = Counter::remote(0)?;
    let runtime = rustyray::global()?;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (c, runtime) = (c.clone(), runtime.clone());
            std::thread::spawn(move || {
                let _entered = runtime.enter();
                for _ in 0..10 {
                    c.incr(1).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(c.get()?.get()?, 40);
    Ok(())
}

#[rustyray::test]
fn every_visibility_compiles() -> Result<()> {
    use visibility::{CrateActor, PubActor};
    assert_eq!(PubActor::remote()?.ping()?.get()?, 1);
    assert_eq!(PubActor::remote_with_pong()?.pong()?.get()?, 4);
    assert_eq!(CrateActor::remote()?.ping()?.get()?, 2);
    assert_eq!(visibility::private_ping()?, 3);
    let _: visibility::PubActorHandle = PubActor::options().remote()?;
    Ok(())
}

#[rustyray::test]
fn actors_may_be_declared_in_a_function() -> Result<()> {
    #[rustyray::actor]
    struct Local {
        items: Vec<String>,
    }

    #[rustyray::actor]
    impl Local {
        fn new() -> Self {
            Local { items: Vec::new() }
        }

        fn push(&mut self, item: String) -> usize {
            self.items.push(item);
            self.items.len()
        }
    }

    let l = Local::remote()?;
    l.push(String::from("a"))?;
    assert_eq!(l.push(String::from("b"))?.get()?, 2);
    Ok(())
}

#[test]
fn the_impl_stays_callable_locally() {
    let mut c = Counter::new(1);
    assert_eq!(c.incr(2), 3);
    assert_eq!(c.get(), 3);
    assert_eq!(Counter::double(4), 8);
    assert_eq!(c.split(), (3, 1));
    assert!(c.fail().is_err());
    assert_eq!(Counter::with_x(2).n, 20);
}
