//! Placement groups: Ray's `ray.util.placement_group`.
//!
//! A placement group reserves a list of bundles of resources, all at once
//! or not at all; tasks and actors placed in one of its bundles (with
//! `options().placement_group(&pg, Some(i))`, or any bundle with `None`)
//! draw only from that reservation. See `task::placement` for how the
//! scheduler does it.
//!
//! On a Ray cluster the group is Ray's own (see [`placement_group`]). The
//! local runtime is one node, so the strategies differ only in what they
//! accept: [`PlacementStrategy::StrictSpread`] asks for one node per
//! bundle and can never fit more than one bundle; the others fit when the
//! sum of the bundles fits the runtime.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::api::task_options::set_resource;
use crate::backend::Reservation;
use crate::error::{Error, Result};
use crate::object::wait::wait_refs;
use crate::object::{ObjectRef, RuntimeId};
use crate::runtime::{global, Runtime};
use crate::task::placement::Group;
use crate::task::resources::Demand;

/// How the bundles of a placement group are spread over nodes (Ray's
/// `strategy`). On the local runtime (one node) they differ only in
/// validation: `StrictSpread` with more than one bundle can never fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PlacementStrategy {
    /// As few nodes as possible (Ray's default).
    #[default]
    Pack,
    /// As many nodes as possible, best effort.
    Spread,
    /// All bundles on one node, or none.
    StrictPack,
    /// Each bundle on a node of its own, or none.
    StrictSpread,
}

impl PlacementStrategy {
    /// Ray's name of the strategy.
    #[cfg_attr(not(feature = "ray"), allow(dead_code))]
    fn ray_name(self) -> &'static str {
        match self {
            PlacementStrategy::Pack => "PACK",
            PlacementStrategy::Spread => "SPREAD",
            PlacementStrategy::StrictPack => "STRICT_PACK",
            PlacementStrategy::StrictSpread => "STRICT_SPREAD",
        }
    }
}

/// One bundle of a placement group: an amount of CPUs and of custom
/// resources, reserved together.
///
/// ```
/// let b = rustyray::Bundle::new().num_cpus(1.0).resource("gpu", 1.0);
/// assert_eq!(b.cpus(), 1.0);
/// assert_eq!(b.resources(), &[("gpu".to_string(), 1.0)]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    num_cpus: f64,
    resources: Vec<(String, f64)>,
}

impl Bundle {
    /// An empty bundle (give it something: an empty bundle is refused).
    pub fn new() -> Self {
        Bundle::default()
    }

    /// CPUs in the bundle (fractions allowed).
    pub fn num_cpus(mut self, n: impl Into<f64>) -> Self {
        self.num_cpus = n.into();
        self
    }

    /// An amount of a custom resource declared with
    /// [`Config::resource`](crate::Config::resource).
    pub fn resource(mut self, name: impl Into<String>, amount: impl Into<f64>) -> Self {
        set_resource(&mut self.resources, name.into(), amount.into());
        self
    }

    /// The bundle's CPUs.
    pub fn cpus(&self) -> f64 {
        self.num_cpus
    }

    /// The bundle's custom resources.
    pub fn resources(&self) -> &[(String, f64)] {
        &self.resources
    }
}

/// A placement group of a runtime: clone it freely; it lives until
/// [`remove_placement_group`] or the runtime's shutdown (dropping the
/// handles does not remove it, as in Ray).
///
/// A handle is an [`Object`](crate::Object): pass it to a task or an
/// actor, which can then place its own work in the group (Ray's
/// `placement_group` argument). Encoded (when it crosses a boundary: a
/// spill, a value encoded by hand), it is the group's runtime and id; it
/// decodes where that runtime is in scope, while the group is not removed.
/// On a Ray cluster, a group made there (by the driver or inside a task)
/// crosses to tasks and actors, and back as a result, as Ray's own group,
/// which they place their work in; a local runtime's group does not cross
/// to Ray.
///
/// ```
/// use rustyray::{Bundle, PlacementGroup, PlacementStrategy};
///
/// #[rustyray::remote]
/// fn one() -> u32 {
///     1
/// }
///
/// /// Places its child in bundle 0 of the group it is given.
/// #[rustyray::remote]
/// fn spawn_into(pg: PlacementGroup) -> rustyray::Result<u32> {
///     one::options().placement_group(&pg, Some(0)).remote()?.get()
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default().num_cpus(2))?;
/// let pg = rustyray::placement_group(vec![Bundle::new().num_cpus(1.0)], PlacementStrategy::Pack)?;
/// assert_eq!(spawn_into::remote(pg.clone())?.get()?, 1);
/// # Ok::<(), rustyray::Error>(())
/// ```
#[derive(Clone)]
pub struct PlacementGroup {
    /// Its number in its process.
    id: u64,
    pub(crate) reservation: Reservation,
    runtime: Runtime,
    strategy: PlacementStrategy,
    bundles: Arc<[Bundle]>,
    /// Completes once the group is reserved.
    ready: ObjectRef<()>,
}

impl fmt::Debug for PlacementGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlacementGroup")
            .field("id", &self.id)
            .field("strategy", &self.strategy)
            .field("bundles", &self.bundles)
            .finish()
    }
}

impl PartialEq for PlacementGroup {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.runtime.ptr_eq(&other.runtime)
    }
}

impl Eq for PlacementGroup {}

/// A placement group handle as it is encoded.
#[derive(Serialize, Deserialize)]
#[serde(rename = "PlacementGroup")]
struct Wire {
    runtime: RuntimeId,
    id: u64,
    strategy: PlacementStrategy,
    bundles: Vec<Bundle>,
    /// The group crossed to or from a Ray worker: its handle went along
    /// (see `object::crossing`).
    crossed: bool,
}

impl Serialize for PlacementGroup {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[cfg(feature = "ray")]
        let crossed = crate::object::crossing::is_crossing();
        #[cfg(not(feature = "ray"))]
        let crossed = false;
        #[cfg(feature = "ray")]
        if crossed {
            // A Ray group crosses as Ray's own; a local runtime's cannot.
            if self.reservation.local().is_some()
                && crate::object::crossing::refuses("a local runtime's placement group handle")
            {
                return Err(serde::ser::Error::custom(
                    "a local runtime's placement group cannot cross to Ray",
                ));
            }
            crate::object::handoff::leave(|| {
                Arc::new(crate::backend::GroupHandle {
                    reservation: self.reservation.clone(),
                    ready: Arc::clone(&self.ready.cell),
                })
            });
        }
        Wire {
            runtime: self.runtime.id(),
            id: self.id,
            strategy: self.strategy,
            bundles: self.bundles.to_vec(),
            crossed,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PlacementGroup {
    /// Finds the group in the runtime in scope, or (one that crossed to a
    /// Ray worker) takes the handle that came with it.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        let runtime = global().map_err(|_| {
            D::Error::custom(format_args!(
                "cannot decode placement group {}: no RustyRay runtime in scope",
                wire.id
            ))
        })?;
        #[cfg(feature = "ray")]
        if wire.crossed {
            let handle = match crate::object::handoff::take() {
                crate::object::handoff::Handoff::Handle(handle) => {
                    handle.downcast::<crate::backend::GroupHandle>().ok()
                }
                _ => None,
            };
            let Some(handle) = handle else {
                return Err(D::Error::custom(format_args!(
                    "cannot decode placement group {}: it crossed without its handle",
                    wire.id
                )));
            };
            return Ok(PlacementGroup {
                id: wire.id,
                reservation: handle.reservation.clone(),
                runtime,
                strategy: wire.strategy,
                bundles: wire.bundles.into(),
                ready: ObjectRef::from_cell(Arc::clone(&handle.ready)),
            });
        }
        if runtime.id() != wire.runtime {
            return Err(D::Error::custom(format_args!(
                "cannot decode placement group {}: it belongs to runtime {}, but runtime {} is \
                 in scope",
                wire.id,
                wire.runtime,
                runtime.id()
            )));
        }
        #[cfg(feature = "ray")]
        if runtime.ray().is_some() {
            return Err(D::Error::custom(format_args!(
                "cannot decode placement group {}: handles inside values do not cross to Ray yet",
                wire.id
            )));
        }
        let group = runtime
            .engine()
            .local()
            .scheduler()
            .group(wire.id)
            .ok_or_else(|| {
                D::Error::custom(format_args!(
                    "cannot decode placement group {}: it was removed",
                    wire.id
                ))
            })?;
        Ok(PlacementGroup::local(
            group,
            runtime,
            wire.strategy,
            wire.bundles.into(),
        ))
    }
}

impl PlacementGroup {
    /// The handle of a local runtime's `group`.
    fn local(
        group: Arc<Group>,
        runtime: Runtime,
        strategy: PlacementStrategy,
        bundles: Arc<[Bundle]>,
    ) -> PlacementGroup {
        PlacementGroup {
            id: group.id,
            ready: ObjectRef::from_cell(Arc::clone(group.ready())),
            reservation: Reservation::Local(group),
            runtime,
            strategy,
            bundles,
        }
    }

    /// The group's number in its process (unique among the groups of every
    /// runtime).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The strategy it was created with.
    pub fn strategy(&self) -> PlacementStrategy {
        self.strategy
    }

    /// Its bundles, as given (Ray's `bundle_specs`).
    pub fn bundles(&self) -> &[Bundle] {
        &self.bundles
    }

    /// How many bundles it has (Ray's `bundle_count`).
    pub fn bundle_count(&self) -> usize {
        self.bundles.len()
    }

    /// A ref that completes (with `()`) once every bundle is reserved, or
    /// with an error if the group is removed first (or the runtime shuts
    /// down). Ray's `pg.ready()`.
    pub fn ready(&self) -> ObjectRef<()> {
        self.ready.clone()
    }

    /// Waits at most `timeout` for the reservation: `Ok(true)` once made,
    /// `Ok(false)` if not made in time, the error if the group was removed
    /// first. Ray's `pg.wait(timeout_seconds)`.
    pub fn wait(&self, timeout: Duration) -> Result<bool> {
        let ready = self.ready();
        let (done, _) = wait_refs(std::slice::from_ref(&ready), 1, Some(timeout))?;
        if done.is_empty() {
            return Ok(false);
        }
        ready.get()?;
        Ok(true)
    }

    /// The runtime the group belongs to.
    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Refuses a placement in `runtime` when the group is another's.
    pub(crate) fn check_runtime(&self, runtime: &Runtime) -> Result<()> {
        if self.runtime.ptr_eq(runtime) {
            return Ok(());
        }
        Err(Error::InvalidArgument {
            call: "placement_group",
            reason: format!(
                "placement group {} belongs to runtime `{}`, not to `{}` where the call goes",
                self.id,
                self.runtime.name(),
                runtime.name()
            ),
        })
    }
}

/// Creates a placement group in the current runtime: `bundles` are
/// reserved all at once, as soon as they fit together (at once, if they do
/// now); until then tasks and actors placed in it wait. Returns at once;
/// see [`PlacementGroup::ready`] and [`PlacementGroup::wait`].
///
/// [`Error::Unschedulable`] when the group can never fit (its bundles
/// together ask for more than the runtime has, or for an undeclared
/// resource, or `StrictSpread` asks for more than one node);
/// [`Error::InvalidArgument`] for no bundle, or an empty one.
///
/// On a Ray cluster ([`Config::ray`](crate::Config::ray)) it is Ray's
/// placement group (`ray.util.placement_group`, with Ray's strategy): Ray
/// reserves the bundles on the cluster's nodes, and tasks and actors
/// placed in it get Ray's `PlacementGroupSchedulingStrategy`. A group that
/// can never fit there stays pending, as in Ray.
///
/// ```
/// use rustyray::{Bundle, PlacementStrategy};
///
/// #[rustyray::remote]
/// fn work() -> u32 {
///     7
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default().num_cpus(4).resource("gpu", 1.0))?;
/// let pg = rustyray::placement_group(
///     vec![Bundle::new().num_cpus(1.0), Bundle::new().num_cpus(1.0).resource("gpu", 1.0)],
///     PlacementStrategy::Pack,
/// )?;
/// pg.ready().get()?;
/// assert_eq!(rustyray::available_resources()?["CPU"], 2.0);
/// // Runs on bundle 1's CPU, not on the runtime's other two.
/// let r = work::options().placement_group(&pg, Some(1)).remote()?;
/// assert_eq!(r.get()?, 7);
/// rustyray::remove_placement_group(&pg)?;
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn placement_group(
    bundles: Vec<Bundle>,
    strategy: PlacementStrategy,
) -> Result<PlacementGroup> {
    global()?.placement_group(bundles, strategy)
}

/// Removes the group: its reservation is free again, the tasks placed in
/// it are stopped ([`Error::Unschedulable`], a running sync one sees
/// [`Context::is_cancelled`](crate::Context::is_cancelled)) and its actors
/// killed ([`Error::ActorDied`]); later placements in it are
/// `Unschedulable`. Removing a removed group does nothing. On a Ray cluster,
/// Ray removes it (and kills what runs in it).
pub fn remove_placement_group(pg: &PlacementGroup) -> Result<()> {
    pg.runtime().remove_placement_group(pg)
}

/// Numbers placement groups, in every runtime of the process.
static NEXT_GROUP: AtomicU64 = AtomicU64::new(1);

fn empty_bundle(i: usize) -> Error {
    Error::InvalidArgument {
        call: "placement_group",
        reason: format!("bundle {i} is empty: give it CPUs or a resource"),
    }
}

fn unschedulable(reason: String) -> Error {
    Error::Unschedulable {
        task: "placement group".to_string(),
        reason,
    }
}

impl Runtime {
    /// See [`placement_group`](crate::placement_group).
    pub fn placement_group(
        &self,
        bundles: Vec<Bundle>,
        strategy: PlacementStrategy,
    ) -> Result<PlacementGroup> {
        self.check_running()?;
        if bundles.is_empty() {
            return Err(Error::InvalidArgument {
                call: "placement_group",
                reason: "a placement group needs at least one bundle".to_string(),
            });
        }
        #[cfg(feature = "ray")]
        if let Some(group) = self.ray_placement_group(&bundles, strategy)? {
            return Ok(group);
        }
        let scheduler = self.engine().local().scheduler();
        let capacity = scheduler.capacity();
        let mut demands = Vec::with_capacity(bundles.len());
        for (i, bundle) in bundles.iter().enumerate() {
            let demand = capacity.demand(
                &format!("bundle {i} of a placement group"),
                bundle.num_cpus,
                &bundle.resources,
            )?;
            if demand == Demand::default() {
                return Err(empty_bundle(i));
            }
            demands.push(demand);
        }
        if strategy == PlacementStrategy::StrictSpread && bundles.len() > 1 {
            return Err(unschedulable(format!(
                "StrictSpread puts each of its {} bundles on a node of its own; this runtime is \
                 one node",
                bundles.len()
            )));
        }
        if !Group::total_of(&demands).fits_in(&capacity.total()) {
            return Err(unschedulable(format!(
                "its {} bundles together ask for more than the runtime has (see \
                 `cluster_resources()`); on one node, every strategy needs them all at once",
                bundles.len()
            )));
        }
        let id = NEXT_GROUP.fetch_add(1, Ordering::Relaxed);
        let group = Group::new(scheduler, id, demands);
        scheduler.reserve(&group)?;
        Ok(PlacementGroup::local(
            group,
            self.clone(),
            strategy,
            bundles.into(),
        ))
    }

    /// A group Ray reserves on the cluster's nodes (and says when), made by
    /// the driver or, inside a call in a Ray worker, by the trampoline;
    /// `None` when this runtime is not on Ray.
    #[cfg(feature = "ray")]
    fn ray_placement_group(
        &self,
        bundles: &[Bundle],
        strategy: PlacementStrategy,
    ) -> Result<Option<PlacementGroup>> {
        let nested = crate::backend::ray::worker::nested(self.id());
        if self.ray().is_none() && nested.is_none() {
            return Ok(None);
        }
        if let Some(i) = bundles
            .iter()
            .position(|b| b.num_cpus <= 0.0 && b.resources.iter().all(|(_, a)| *a <= 0.0))
        {
            return Err(empty_bundle(i));
        }
        let amounts: Vec<(f64, &[(String, f64)])> = bundles
            .iter()
            .map(|b| (b.num_cpus, b.resources.as_slice()))
            .collect();
        let (reservation, ready) = match (self.ray(), nested) {
            (Some(ray), _) => {
                let store = self.engine().local().store();
                let (group, ready) = ray.placement_group(store, &amounts, strategy.ray_name())?;
                (Reservation::Ray(group), ready)
            }
            (None, Some(link)) => {
                let (reservation, ready) = link.placement_group(&amounts, strategy.ray_name())?;
                (reservation, ObjectRef::from_cell(ready))
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(PlacementGroup {
            id: NEXT_GROUP.fetch_add(1, Ordering::Relaxed),
            reservation,
            runtime: self.clone(),
            strategy,
            bundles: bundles.into(),
            ready,
        }))
    }

    /// See [`remove_placement_group`](crate::remove_placement_group).
    pub fn remove_placement_group(&self, pg: &PlacementGroup) -> Result<()> {
        self.check_running()?;
        pg.check_runtime(self)?;
        match &pg.reservation {
            Reservation::Local(group) => {
                if group.is_removed() {
                    return Ok(());
                }
                let err = unschedulable(format!("placement group {} was removed", pg.id));
                self.engine().local().scheduler().remove(group, &err);
                Ok(())
            }
            #[cfg(feature = "ray")]
            Reservation::Ray(group) => match self.ray() {
                Some(ray) => ray.remove_placement_group(group),
                None => Ok(()),
            },
            #[cfg(feature = "ray")]
            Reservation::Forwarded(group) => {
                group.remove();
                Ok(())
            }
        }
    }
}
