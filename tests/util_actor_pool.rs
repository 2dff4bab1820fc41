//! `rustyray::util::ActorPool`: the examples of Ray's `ray.util.ActorPool`
//! docs, translated, and what the pool promises about order, free actors
//! and errors.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Count, Keyed, Registry, TestState};
use rustyray::util::ActorPool;
use rustyray::{Config, Error};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// Ray's example actor.
#[rustyray::actor]
struct Actor {
    key: u64,
}

/// Gates that hold `slow_double` calls, per test.
#[derive(Default)]
struct Gates {
    open: Count,
    started: Count,
}

static GATES: Registry<Gates> = Registry::new();

impl Keyed for Gates {
    fn registry() -> &'static Registry<Gates> {
        &GATES
    }

    fn release(&self) {
        self.open.incr();
    }
}

#[rustyray::actor]
impl Actor {
    fn new() -> Self {
        Actor { key: 0 }
    }

    fn gated(key: u64) -> Self {
        Actor { key }
    }

    fn double(&self, v: i64) -> i64 {
        2 * v
    }

    /// Doubles once the test opens its gate.
    fn slow_double(&self, v: i64) -> i64 {
        let gates = GATES.get(self.key);
        gates.started.incr();
        assert!(gates.open.wait_for(1), "the gate never opened");
        2 * v
    }

    fn fail(&self, v: i64) -> Result<i64, String> {
        Err(format!("no {v}"))
    }

    fn key(&self) -> u64 {
        self.key
    }
}

fn init() -> rustyray::RuntimeGuard {
    rustyray::init(Config::default().num_cpus(2)).unwrap()
}

#[test]
fn map_doubles_in_order() {
    let _rt = init();
    let (a1, a2) = (Actor::remote().unwrap(), Actor::remote().unwrap());
    let mut pool = ActorPool::new(vec![a1, a2]);
    let out: Vec<i64> = pool
        .map(|a, v| a.double(v), vec![1, 2, 3, 4])
        .collect::<rustyray::Result<_>>()
        .unwrap();
    assert_eq!(out, vec![2, 4, 6, 8]);
    assert!(!pool.has_next());
}

#[test]
fn map_unordered_yields_every_result() {
    let _rt = init();
    let (a1, a2) = (Actor::remote().unwrap(), Actor::remote().unwrap());
    let mut pool = ActorPool::new(vec![a1, a2]);
    let out: BTreeSet<i64> = pool
        .map_unordered(|a, v| a.double(v), vec![1, 2, 3, 4])
        .collect::<rustyray::Result<_>>()
        .unwrap();
    assert_eq!(out, BTreeSet::from([2, 4, 6, 8]));
}

#[test]
fn submit_then_get_next_in_submission_order() {
    let _rt = init();
    let (a1, a2) = (Actor::remote().unwrap(), Actor::remote().unwrap());
    let mut pool = ActorPool::new(vec![a1, a2]);
    pool.submit(|a, v| a.double(v), 1);
    pool.submit(|a, v| a.double(v), 2);
    assert_eq!((pool.get_next().unwrap(), pool.get_next().unwrap()), (2, 4));
}

#[test]
fn has_next_until_the_last_result_is_taken() {
    let _rt = init();
    let mut pool = ActorPool::new(vec![Actor::remote().unwrap(), Actor::remote().unwrap()]);
    pool.submit(|a, v| a.double(v), 1);
    assert!(pool.has_next());
    assert_eq!(pool.get_next().unwrap(), 2);
    assert!(!pool.has_next());
}

#[test]
fn get_next_unordered_takes_whichever_finishes_first() {
    let _rt = init();
    let gates = TestState::<Gates>::new();
    let slow = Actor::remote_gated(gates.key).unwrap();
    let fast = Actor::remote().unwrap();
    let mut pool = ActorPool::new(vec![slow, fast]);
    pool.submit(|a, v| a.slow_double(v), 1); // first actor: held
    pool.submit(|a, v| a.double(v), 2);
    assert!(gates.started.wait_for(1));
    assert_eq!(pool.get_next_unordered().unwrap(), 4);
    gates.open.incr();
    assert_eq!(pool.get_next_unordered().unwrap(), 2);
    assert!(!pool.has_next());
}

#[test]
fn get_next_waits_for_the_oldest_even_when_a_later_one_finished() {
    let _rt = init();
    let gates = TestState::<Gates>::new();
    let mut pool = ActorPool::new(vec![
        Actor::remote_gated(gates.key).unwrap(),
        Actor::remote().unwrap(),
    ]);
    pool.submit(|a, v| a.slow_double(v), 10);
    pool.submit(|a, v| a.double(v), 20);
    assert!(gates.started.wait_for(1));
    assert!(matches!(
        pool.get_next_timeout(Duration::from_millis(50)),
        Err(Error::Timeout { .. })
    ));
    gates.open.incr();
    assert_eq!(pool.get_next().unwrap(), 20);
    assert_eq!(pool.get_next().unwrap(), 40);
}

#[test]
fn has_free_and_pop_idle_follow_the_actors_in_use() {
    let _rt = init();
    let a1 = Actor::remote_gated(7).unwrap();
    let mut pool = ActorPool::new(vec![a1]);
    pool.submit(|a, v| a.double(v), 1);
    assert!(!pool.has_free());
    assert!(pool.pop_idle().is_none());
    assert_eq!(pool.get_next().unwrap(), 2);
    assert!(pool.has_free());
    let idle = pool.pop_idle().expect("the actor is free again");
    assert_eq!(idle.key().unwrap().get().unwrap(), 7);
    assert!(!pool.has_free());
}

#[test]
fn push_adds_an_actor_that_takes_waiting_calls() {
    let _rt = init();
    let mut pool = ActorPool::new(Vec::new());
    pool.submit(|a: &ActorHandle, v| a.double(v), 21);
    assert!(pool.has_next());
    assert!(matches!(
        pool.get_next(),
        Err(Error::InvalidArgument { .. })
    ));
    pool.push(Actor::remote().unwrap());
    assert_eq!(pool.get_next().unwrap(), 42);
}

#[test]
fn more_calls_than_actors_run_one_per_actor_and_all_finish() {
    let _rt = init();
    let actors: Vec<ActorHandle> = (1..=3).map(|k| Actor::remote_gated(k).unwrap()).collect();
    let mut pool = ActorPool::new(actors);
    for _ in 0..9 {
        pool.submit(|a, _: ()| a.key(), ());
    }
    let mut per_actor = [0; 3];
    for _ in 0..9 {
        per_actor[pool.get_next().unwrap() as usize - 1] += 1;
    }
    assert_eq!(per_actor, [3, 3, 3]);
}

#[test]
fn errors_are_results_and_nothing_pending_is_an_error() {
    let _rt = init();
    let mut pool = ActorPool::new(vec![Actor::remote().unwrap()]);
    assert!(matches!(
        pool.get_next(),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        pool.get_next_unordered(),
        Err(Error::InvalidArgument { .. })
    ));
    pool.submit(|a, v| a.fail(v), 3);
    pool.submit(
        |_, v: i64| {
            Err(Error::InvalidArgument {
                call: "test",
                reason: format!("refused {v}"),
            })
        },
        4,
    );
    pool.submit(|a, v| a.double(v), 5);
    match pool.get_next() {
        Err(Error::TaskFailed { message, .. }) => assert_eq!(message, "no 3"),
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    match pool.get_next() {
        Err(Error::InvalidArgument { reason, .. }) => assert_eq!(reason, "refused 4"),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    assert_eq!(pool.get_next().unwrap(), 10);
}
