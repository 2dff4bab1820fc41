//! `wait_mixed` and `get_mixed`: `wait` and `get_all` over refs of
//! different types in one call.

mod common;

use std::time::Duration;

use common::probe::{probe, TestProbe};
use rustyray::{AnyRef, Config, Error};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

#[rustyray::remote(num_cpus = 0)]
fn slow_word(key: u64) -> String {
    assert!(probe(key).gate.wait_for(1), "the gate never opened");
    "late".to_string()
}

#[rustyray::remote(num_cpus = 0)]
fn fails() -> Result<u64, String> {
    Err("no number".to_string())
}

#[test]
fn wait_mixed_splits_refs_of_different_types_in_input_order() {
    let _rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let probe = TestProbe::new();
    let slow = slow_word::remote(probe.key).unwrap();
    let n = rustyray::put(1u32).unwrap();
    let v = rustyray::put(vec![1.5f64, 2.5]).unwrap();
    let refs = [slow.untyped(), n.untyped(), AnyRef::from(&v)];
    let (ready, pending) = rustyray::wait_mixed(&refs, 3, Some(Duration::from_millis(50))).unwrap();
    assert_eq!(ready, vec![n.untyped(), v.untyped()]);
    assert_eq!(pending, vec![slow.untyped()]);
    assert!(!pending[0].is_ready());
    probe.gate.incr();
    let (ready, pending) = rustyray::wait_mixed(&refs, 3, Some(PATIENCE)).unwrap();
    assert_eq!((ready.len(), pending.len()), (3, 0));
    assert_eq!(ready[0].typed::<String>().get().unwrap(), "late");
    assert_eq!(ready[2].typed::<Vec<f64>>().get().unwrap(), vec![1.5, 2.5]);
    assert!(matches!(
        rustyray::wait_mixed(&[n.untyped(), n.untyped()], 1, None),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn get_mixed_reads_a_tuple_of_refs_and_the_first_failure_wins() {
    let _rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let probe = TestProbe::new();
    let n = rustyray::put(3u32).unwrap();
    let s = rustyray::put("three".to_string()).unwrap();
    let b = rustyray::put(true).unwrap();
    assert_eq!(
        rustyray::get_mixed((&n, &s, &b)).unwrap(),
        (3, "three".to_string(), true)
    );
    // A failure completes first: the call ends at once, without waiting
    // for the slow ref.
    let slow = slow_word::remote(probe.key).unwrap();
    let failed = fails::remote().unwrap();
    match rustyray::get_mixed((&slow, &failed)) {
        Err(Error::TaskFailed { message, .. }) => assert_eq!(message, "no number"),
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    assert!(!slow.untyped().is_ready());
}

#[test]
fn a_typed_view_of_another_type_is_an_error_not_a_value() {
    let _rt = rustyray::init(Config::default().num_cpus(1)).unwrap();
    let n = rustyray::put(5u64).unwrap();
    assert!(n.untyped().typed::<String>().get().is_err());
    assert_eq!(n.untyped().typed::<u64>().get().unwrap(), 5);
}
