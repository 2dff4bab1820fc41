//! Placement groups: bundles reserved all at once or not at all (also under
//! contention from 8 threads), tasks and actors placed in a bundle draw only
//! from its reservation, groups that can never fit are `Unschedulable` at
//! creation, and removal frees the reservation and kills what runs in it.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{
    get,
    probe::{probe, TestProbe},
    wait_until,
};
use rustyray::{Bundle, Config, Error, PlacementStrategy};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// How long a test lets work that must not run have to (wrongly) run.
const BRIEFLY: Duration = Duration::from_millis(200);

/// Starts, then holds what it was granted until the gate opens.
#[rustyray::remote]
fn hold(key: u64) -> u32 {
    let probe = probe(key);
    probe.started.incr();
    assert!(probe.gate.wait_for(1), "the gate never opened");
    7
}

#[rustyray::remote]
async fn forever() -> u32 {
    std::future::pending::<u32>().await
}

#[rustyray::actor]
struct Member;

#[rustyray::actor]
impl Member {
    fn new() -> Self {
        Member
    }

    fn ping(&self) -> u32 {
        1
    }
}

fn cpus() -> f64 {
    rustyray::available_resources().unwrap()["CPU"]
}

fn cpu(n: f64) -> Bundle {
    Bundle::new().num_cpus(n)
}

fn unschedulable<T: std::fmt::Debug>(outcome: rustyray::Result<T>) -> String {
    match outcome {
        Err(Error::Unschedulable { reason, .. }) => reason,
        other => panic!("expected Unschedulable, got {other:?}"),
    }
}

#[test]
fn a_reservation_is_not_available_until_the_group_is_removed() {
    let _rt = rustyray::init(Config::default().num_cpus(4).resource("gpu", 2.0)).unwrap();
    let pg = rustyray::placement_group(
        vec![cpu(1.0), cpu(1.0).resource("gpu", 1.0)],
        PlacementStrategy::Pack,
    )
    .unwrap();
    get(&pg.ready()).unwrap();
    assert!(pg.wait(PATIENCE).unwrap());
    assert_eq!(pg.bundle_count(), 2);
    assert_eq!(pg.strategy(), PlacementStrategy::Pack);
    let free =
        |cpu: f64, gpu: f64| HashMap::from([("CPU".to_string(), cpu), ("gpu".to_string(), gpu)]);
    assert_eq!(rustyray::available_resources().unwrap(), free(2.0, 1.0));
    assert_eq!(rustyray::cluster_resources().unwrap(), free(4.0, 2.0));
    rustyray::remove_placement_group(&pg).unwrap();
    assert_eq!(rustyray::available_resources().unwrap(), free(4.0, 2.0));
    // Removing twice does nothing.
    rustyray::remove_placement_group(&pg).unwrap();
}

#[test]
fn a_group_that_can_never_fit_is_unschedulable_at_creation() {
    let _rt = rustyray::init(Config::default().num_cpus(2).resource("gpu", 1.0)).unwrap();
    let too_big = rustyray::placement_group(vec![cpu(2.0), cpu(1.0)], PlacementStrategy::Pack);
    assert!(unschedulable(too_big).contains("more than the runtime has"));
    let spread =
        rustyray::placement_group(vec![cpu(1.0), cpu(1.0)], PlacementStrategy::StrictSpread);
    assert!(unschedulable(spread).contains("StrictSpread"));
    let undeclared = rustyray::placement_group(
        vec![Bundle::new().resource("tpu", 1.0)],
        PlacementStrategy::Pack,
    );
    assert!(unschedulable(undeclared).contains("tpu"));
    assert!(matches!(
        rustyray::placement_group(vec![], PlacementStrategy::Pack),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        rustyray::placement_group(vec![Bundle::new()], PlacementStrategy::Pack),
        Err(Error::InvalidArgument { .. })
    ));
    // Nothing was reserved by the refused groups.
    assert_eq!(cpus(), 2.0);
    // Every strategy fits when the bundles fit together on the one node.
    for strategy in [
        PlacementStrategy::Pack,
        PlacementStrategy::Spread,
        PlacementStrategy::StrictPack,
    ] {
        let pg = rustyray::placement_group(vec![cpu(1.0), cpu(1.0)], strategy).unwrap();
        assert!(pg.wait(PATIENCE).unwrap());
        rustyray::remove_placement_group(&pg).unwrap();
    }
    let one = rustyray::placement_group(vec![cpu(2.0)], PlacementStrategy::StrictSpread).unwrap();
    assert!(one.wait(PATIENCE).unwrap());
}

#[test]
fn tasks_in_a_bundle_draw_only_from_its_reservation() {
    let _rt = rustyray::init(Config::default().num_cpus(4)).unwrap();
    let probe = TestProbe::new();
    let pg = rustyray::placement_group(vec![cpu(1.0)], PlacementStrategy::Pack).unwrap();
    let first = hold::options()
        .placement_group(&pg, Some(0))
        .remote(probe.key)
        .unwrap();
    assert!(probe.started.wait_for(1));
    let second = hold::options()
        .placement_group(&pg, None)
        .remote(probe.key)
        .unwrap();
    // The bundle's one CPU is taken: the second waits, while the runtime's
    // other three CPUs stay free for everyone else.
    assert!(matches!(
        second.get_timeout(BRIEFLY),
        Err(Error::Timeout { .. })
    ));
    assert_eq!(probe.started.get(), 1);
    assert_eq!(cpus(), 3.0);
    probe.gate.incr();
    assert_eq!((get(&first).unwrap(), get(&second).unwrap()), (7, 7));
    assert_eq!(probe.started.get(), 2);
}

#[test]
fn a_placement_asking_more_than_its_bundle_holds_is_refused() {
    let _rt = rustyray::init(Config::default().num_cpus(4).resource("gpu", 1.0)).unwrap();
    let pg = rustyray::placement_group(vec![cpu(1.0), cpu(1.0)], PlacementStrategy::Pack).unwrap();
    let over = hold::options()
        .num_cpus(2.0)
        .placement_group(&pg, Some(0))
        .remote(0);
    assert!(unschedulable(over).contains("bundle 0"));
    let gpu = hold::options()
        .resource("gpu", 1.0)
        .placement_group(&pg, None)
        .remote(0);
    assert!(unschedulable(gpu).contains("gpu"));
    assert!(matches!(
        hold::options().placement_group(&pg, Some(2)).remote(0),
        Err(Error::InvalidArgument { .. })
    ));
    // Any bundle: the group's two CPUs together.
    #[rustyray::remote(num_cpus = 2)]
    fn two() -> u32 {
        2
    }
    assert_eq!(
        get(&two::options().placement_group(&pg, None).remote().unwrap()).unwrap(),
        2
    );
}

#[test]
fn a_group_waits_for_all_its_bundles_and_takes_none_before() {
    let _rt = rustyray::init(Config::default().num_cpus(3)).unwrap();
    let probe = TestProbe::new();
    let held = hold::remote(probe.key).unwrap();
    assert!(probe.started.wait_for(1));
    let pg = rustyray::placement_group(
        vec![cpu(1.0), cpu(1.0), cpu(1.0)],
        PlacementStrategy::Spread,
    )
    .unwrap();
    assert!(!pg.wait(BRIEFLY).unwrap());
    // Two CPUs are free, but the group needs three: it holds none of them.
    assert_eq!(cpus(), 2.0);
    #[rustyray::remote]
    fn placed() -> u32 {
        3
    }
    let inside = placed::options()
        .placement_group(&pg, Some(2))
        .remote()
        .unwrap();
    assert!(matches!(
        inside.get_timeout(BRIEFLY),
        Err(Error::Timeout { .. })
    ));
    probe.gate.incr();
    assert_eq!(get(&held).unwrap(), 7);
    assert!(pg.wait(PATIENCE).unwrap());
    assert_eq!(get(&inside).unwrap(), 3);
    assert_eq!(cpus(), 0.0);
}

#[test]
fn all_or_nothing_reservation_under_contention_from_8_threads() {
    let rt = rustyray::init(Config::default().num_cpus(4)).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let holding = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (rt, barrier) = ((*rt).clone(), Arc::clone(&barrier));
            let (holding, most) = (Arc::clone(&holding), Arc::clone(&most));
            std::thread::spawn(move || {
                let _entered = rt.enter();
                barrier.wait();
                let pg =
                    rustyray::placement_group(vec![cpu(1.0), cpu(1.0)], PlacementStrategy::Pack)
                        .unwrap();
                assert!(pg.wait(PATIENCE).unwrap(), "the group was never reserved");
                let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Groups come and go two CPUs at a time, never one.
                let free = cpus();
                assert!(free == 0.0 || free == 2.0, "{free} CPUs free");
                holding.fetch_sub(1, Ordering::SeqCst);
                rustyray::remove_placement_group(&pg).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(most.load(Ordering::SeqCst) <= 2);
    assert_eq!(cpus(), 4.0);
}

#[test]
fn removal_kills_the_tasks_and_actors_placed_in_the_group() {
    let _rt = rustyray::init(Config::default().num_cpus(4)).unwrap();
    let pg = rustyray::placement_group(vec![cpu(1.0), cpu(1.0)], PlacementStrategy::Pack).unwrap();
    let member = Member::options()
        .num_cpus(1.0)
        .placement_group(&pg, Some(0))
        .remote()
        .unwrap();
    assert_eq!(get(&member.ping().unwrap()).unwrap(), 1);
    let running = forever::options()
        .placement_group(&pg, Some(1))
        .remote()
        .unwrap();
    let queued = forever::options()
        .placement_group(&pg, Some(1))
        .remote()
        .unwrap();
    assert_eq!(cpus(), 2.0);
    rustyray::remove_placement_group(&pg).unwrap();
    assert!(unschedulable(get(&running)).contains("was removed"));
    assert!(unschedulable(get(&queued)).contains("was removed"));
    assert!(matches!(
        get(&member.ping().unwrap()),
        Err(Error::ActorDied { .. })
    ));
    assert!(
        unschedulable(forever::options().placement_group(&pg, None).remote()).contains("removed")
    );
    assert!(matches!(
        Member::options().placement_group(&pg, None).remote(),
        Err(Error::Unschedulable { .. })
    ));
    assert_eq!(cpus(), 4.0);
}

#[test]
fn removing_a_waiting_group_fails_its_ready_ref_and_reserves_nothing() {
    let _rt = rustyray::init(Config::default().num_cpus(1)).unwrap();
    let probe = TestProbe::new();
    let held = hold::remote(probe.key).unwrap();
    assert!(probe.started.wait_for(1));
    let pg = rustyray::placement_group(vec![cpu(1.0)], PlacementStrategy::Pack).unwrap();
    let waiting = forever::options()
        .placement_group(&pg, Some(0))
        .remote()
        .unwrap();
    rustyray::remove_placement_group(&pg).unwrap();
    assert!(unschedulable(get(&pg.ready())).contains("was removed"));
    assert!(matches!(
        pg.wait(PATIENCE),
        Err(Error::Unschedulable { .. })
    ));
    assert!(unschedulable(get(&waiting)).contains("was removed"));
    probe.gate.incr();
    assert_eq!(get(&held).unwrap(), 7);
    wait_until("the task gave its CPU back", || cpus() == 1.0);
}

/// Places its child, which needs the group's GPU, in bundle 0 of the group
/// it is given.
#[rustyray::remote(num_cpus = 0)]
fn place_child_in(pg: rustyray::PlacementGroup) -> rustyray::Result<u32> {
    #[rustyray::remote]
    fn on_the_gpu() -> u32 {
        9
    }
    on_the_gpu::options()
        .resource("gpu", 1.0)
        .placement_group(&pg, Some(0))
        .remote()?
        .get_timeout(PATIENCE)
}

#[test]
fn a_task_given_a_group_places_its_own_work_in_it() {
    // The only GPU is the group's: the child runs only through it.
    let _rt = rustyray::init(Config::default().num_cpus(2).resource("gpu", 1.0)).unwrap();
    let pg =
        rustyray::placement_group(vec![cpu(1.0).resource("gpu", 1.0)], PlacementStrategy::Pack)
            .unwrap();
    assert_eq!(
        get(&place_child_in::remote(pg.clone()).unwrap()).unwrap(),
        9
    );
    rustyray::remove_placement_group(&pg).unwrap();
    // Removed: the child is unschedulable, which fails its parent.
    match get(&place_child_in::remote(pg).unwrap()) {
        Err(Error::TaskFailed {
            cause: Some(cause), ..
        }) => assert!(unschedulable::<()>(Err((*cause).clone())).contains("was removed")),
        other => panic!("expected the child's Unschedulable, got {other:?}"),
    }
}

#[test]
fn an_encoded_group_decodes_to_the_same_group_while_it_lives_in_its_runtime() {
    let codec = rustyray::Codec::default();
    let rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let pg =
        rustyray::placement_group(vec![cpu(1.0), cpu(0.5)], PlacementStrategy::Spread).unwrap();
    let bytes = codec.encode(&pg).unwrap();
    let decoded: rustyray::PlacementGroup = codec.decode(&bytes).unwrap();
    assert_eq!(decoded, pg);
    assert_eq!(decoded.id(), pg.id());
    assert_eq!(decoded.strategy(), PlacementStrategy::Spread);
    assert_eq!(decoded.bundles(), &[cpu(1.0), cpu(0.5)]);

    // Another runtime in scope: not its group.
    {
        let other = rustyray::init(Config::default().num_cpus(1)).unwrap();
        match codec.decode::<rustyray::PlacementGroup>(&bytes) {
            Err(Error::Serialization(reason)) => {
                assert!(reason.contains("belongs to runtime"), "{reason}")
            }
            other => panic!("expected a serialization error, got {other:?}"),
        }
        drop(other);
    }

    rustyray::remove_placement_group(&pg).unwrap();
    match codec.decode::<rustyray::PlacementGroup>(&bytes) {
        Err(Error::Serialization(reason)) => {
            assert!(reason.contains("was removed"), "{reason}")
        }
        other => panic!("expected a serialization error, got {other:?}"),
    }
    drop(rt);
    assert!(matches!(
        codec.decode::<rustyray::PlacementGroup>(&bytes),
        Err(Error::Serialization(_))
    ));
}
