//! `cluster_resources()` and `available_resources()`: the runtime's totals,
//! and what is free while tasks and actors hold CPUs and custom resources.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{
    get,
    probe::{probe, TestProbe},
    wait_until,
};
use rustyray::{Config, Error};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// Starts, then holds what it was granted until the test opens the gate
/// (blocking on the probe, not on a ref: a task blocked in `get` would
/// lend its CPUs back).
#[rustyray::remote]
fn hold(key: u64) -> u32 {
    let probe = probe(key);
    probe.started.incr();
    assert!(probe.gate.wait_for(1), "the gate never opened");
    7
}

#[rustyray::actor]
struct Holder;

#[rustyray::actor]
impl Holder {
    fn new() -> Self {
        Holder
    }

    fn ping(&self) -> u32 {
        1
    }
}

fn map(entries: &[(&str, f64)]) -> HashMap<String, f64> {
    entries.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

#[test]
fn cluster_resources_lists_cpus_and_custom_resources() {
    let _rt = rustyray::init(
        Config::default()
            .num_cpus(3)
            .resource("gpu", 2.0)
            .resource("tpu", 0.5),
    )
    .unwrap();
    let all = map(&[("CPU", 3.0), ("gpu", 2.0), ("tpu", 0.5)]);
    assert_eq!(rustyray::cluster_resources().unwrap(), all);
    assert_eq!(rustyray::available_resources().unwrap(), all);
}

#[test]
fn available_resources_are_exact_while_tasks_hold_them() {
    let rt = rustyray::init(Config::default().num_cpus(4).resource("gpu", 2.0)).unwrap();
    let probe = TestProbe::new();
    let a = hold::options().num_cpus(1.5).remote(probe.key).unwrap();
    let b = hold::options()
        .num_cpus(0.5)
        .resource("gpu", 1.5)
        .remote(probe.key)
        .unwrap();
    assert!(probe.started.wait_for(2));
    assert_eq!(
        rustyray::available_resources().unwrap(),
        map(&[("CPU", 2.0), ("gpu", 0.5)])
    );
    // The totals do not change.
    assert_eq!(
        rt.cluster_resources().unwrap(),
        map(&[("CPU", 4.0), ("gpu", 2.0)])
    );
    probe.gate.incr();
    assert_eq!((get(&a).unwrap(), get(&b).unwrap()), (7, 7));
    let all = map(&[("CPU", 4.0), ("gpu", 2.0)]);
    wait_until("the tasks gave their resources back", || {
        rustyray::available_resources().unwrap() == all
    });
}

#[test]
fn an_actor_holds_its_resources_for_its_lifetime() {
    let _rt = rustyray::init(Config::default().num_cpus(2).resource("gpu", 1.0)).unwrap();
    let holder = Holder::options()
        .num_cpus(1.0)
        .resource("gpu", 1.0)
        .remote()
        .unwrap();
    assert_eq!(get(&holder.ping().unwrap()).unwrap(), 1);
    assert_eq!(
        rustyray::available_resources().unwrap(),
        map(&[("CPU", 1.0), ("gpu", 0.0)])
    );
    rustyray::kill(&holder).unwrap();
    let all = map(&[("CPU", 2.0), ("gpu", 1.0)]);
    wait_until("the dead actor gave its resources back", || {
        rustyray::available_resources().unwrap() == all
    });
}

#[test]
fn resources_of_a_shut_down_runtime_are_an_error() {
    let rt = rustyray::init(Config::default().num_cpus(1)).unwrap();
    let handle: rustyray::Runtime = (*rt).clone();
    drop(rt);
    assert!(matches!(
        handle.available_resources(),
        Err(Error::ShutDown { .. })
    ));
    assert!(matches!(
        rustyray::cluster_resources(),
        Err(Error::NotInitialized { .. })
    ));
}
