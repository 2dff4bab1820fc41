//! [`Group`]: a placement group's reservation, and what runs in it.
//!
//! A group is a list of bundles (each a [`Demand`]) reserved all at once or
//! not at all. As in Ray, a reservation becomes resources of its own: each
//! kind of resource the group holds (CPUs, each custom resource) gets a
//! *wildcard* slot (the group's total of it) and a slot per bundle that
//! has some, appended to the scheduler's free amounts. A task placed in
//! bundle `i` asks for its amounts from both the wildcard and bundle `i`'s
//! slot, a task placed in any bundle from the wildcard alone, and nothing
//! from the runtime's own CPUs: so it draws only from the reservation,
//! through the scheduler's ordinary queues. Before the reservation is made
//! the slots hold nothing, and the group's tasks wait in their queues.
//!
//! The scheduler reserves waiting groups, in creation order, whenever
//! resources come free, before it starts queued tasks; a group's
//! [`ready`](Group::ready) object completes then. Removing a group gives
//! its reservation back, makes its slots unusable for good, and stops the
//! tasks and kills the actors placed in it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::error::{Error, Result};
use crate::object::cell::{ObjectCell, Producer};
use crate::object::value::Value;
use crate::sync::lock;
use crate::task::resources::{Available, Capacity, Demand};
use crate::task::scheduler::Scheduler;
use crate::task::task::Task;

/// What a group's slots hold once it is removed: far below any amount a
/// running member can give back, so nothing fits in them again.
const REMOVED: i64 = i64::MIN / 4;

const PENDING: u8 = 0;
const RESERVED: u8 = 1;
const REMOVED_STATE: u8 = 2;

/// Kills an actor placed in a group (the actor layer makes it).
pub(crate) type KillHook = Box<dyn Fn() + Send + Sync>;

/// One placement group of a runtime.
pub(crate) struct Group {
    pub(crate) id: u64,
    bundles: Vec<Demand>,
    /// The sum of the bundles: what the reservation takes.
    pub(crate) total: Demand,
    /// Each slot the reservation fills: (index in the free amounts,
    /// resource kind (0 CPUs, `1 + i` custom resource `i`), bundle (`None`:
    /// the wildcard), amount).
    slots: Vec<(usize, usize, Option<usize>, i64)>,
    /// `PENDING`, `RESERVED` or `REMOVED_STATE`; changed under the
    /// scheduler's lock.
    state: AtomicU8,
    ready: Arc<ObjectCell>,
    members: Mutex<Members>,
}

#[derive(Default)]
struct Members {
    tasks: Vec<Weak<Task>>,
    actors: Vec<KillHook>,
}

/// The ready object has no task behind it: a cancel reaches nothing.
struct NoProducer;

impl Producer for NoProducer {
    fn cancel(self: Arc<Self>) {}

    fn help(self: Arc<Self>) -> bool {
        false
    }
}

/// Amount of resource kind `kind` in `demand`.
fn amount(demand: &Demand, kind: usize) -> i64 {
    if kind == 0 {
        demand.cpu
    } else {
        demand
            .custom
            .iter()
            .find(|&&(i, _)| i + 1 == kind)
            .map_or(0, |&(_, a)| a)
    }
}

impl Group {
    /// A group of `bundles` (checked against the runtime's capacity by the
    /// caller), waiting for its reservation, with its slots allocated.
    pub(crate) fn new(scheduler: &Arc<Scheduler>, id: u64, bundles: Vec<Demand>) -> Arc<Group> {
        let kinds = 1 + scheduler.capacity().names.len();
        let total = Group::total_of(&bundles);
        let mut wanted = Vec::new();
        for kind in 0..kinds {
            let sum = amount(&total, kind);
            if sum > 0 {
                wanted.push((kind, None, sum));
                for (b, bundle) in bundles.iter().enumerate() {
                    let a = amount(bundle, kind);
                    if a > 0 {
                        wanted.push((kind, Some(b), a));
                    }
                }
            }
        }
        let first = scheduler.add_slots(wanted.len());
        let slots = wanted
            .into_iter()
            .enumerate()
            .map(|(n, (kind, bundle, a))| (first + n, kind, bundle, a))
            .collect();
        let none: Weak<dyn Producer> = Weak::<NoProducer>::new();
        Arc::new(Group {
            id,
            bundles,
            total,
            slots,
            state: AtomicU8::new(PENDING),
            ready: scheduler.store().pending(none, false),
            members: Mutex::new(Members::default()),
        })
    }

    /// The sum of `bundles`.
    pub(crate) fn total_of(bundles: &[Demand]) -> Demand {
        let mut total = Demand::default();
        for bundle in bundles {
            total.cpu += bundle.cpu;
            for &(i, a) in &bundle.custom {
                match total.custom.iter_mut().find(|(j, _)| *j == i) {
                    Some(entry) => entry.1 += a,
                    None => total.custom.push((i, a)),
                }
            }
        }
        total.custom.sort_unstable();
        total
    }

    /// Completes once the reservation is made (or fails when the group is
    /// removed first, or the runtime shuts down).
    pub(crate) fn ready(&self) -> &Arc<ObjectCell> {
        &self.ready
    }

    pub(crate) fn is_removed(&self) -> bool {
        self.state.load(Ordering::Acquire) == REMOVED_STATE
    }

    /// Reserves the group from `free` if its total fits (under the
    /// scheduler's lock); `true` when it did.
    pub(crate) fn try_reserve(&self, free: &mut Available) -> bool {
        if self.state.load(Ordering::Acquire) != PENDING || !free.fits(&self.total) {
            return false;
        }
        free.take(&self.total);
        for &(slot, _, _, a) in &self.slots {
            free.custom[slot] += a;
        }
        self.state.store(RESERVED, Ordering::Release);
        true
    }

    /// The reservation was made: its ready object completes.
    pub(crate) fn reserved(&self) {
        self.ready.complete(Ok(Value::new(())));
    }

    /// Marks the group removed (under the scheduler's lock): gives back
    /// what it reserved to `free` and makes its slots unusable.
    pub(crate) fn unreserve(&self, free: &mut Available) {
        if self.state.swap(REMOVED_STATE, Ordering::AcqRel) == RESERVED {
            free.give(&self.total);
        }
        for &(slot, ..) in &self.slots {
            free.custom[slot] = REMOVED;
        }
    }

    /// The group was removed: stops its tasks and kills its actors with
    /// `err`'s cause, and fails its ready object if it was not reserved.
    pub(crate) fn removed(&self, err: &Error) {
        self.ready.complete(Err(err.clone()));
        let Members { tasks, actors } = std::mem::take(&mut *lock(&self.members));
        for task in tasks.iter().filter_map(Weak::upgrade) {
            task.stop(Error::Unschedulable {
                task: task.name.to_string(),
                reason: format!("its placement group {} was removed", self.id),
            });
        }
        for kill in actors {
            kill();
        }
    }

    /// What a task (or actor) asking for `cpus` and `custom` holds when it
    /// is placed in `bundle` of the group (`None`: any): amounts of the
    /// group's slots, never of the runtime's own resources.
    pub(crate) fn demand(
        &self,
        capacity: &Capacity,
        task: &str,
        cpus: f64,
        custom: &[(String, f64)],
        bundle: Option<usize>,
    ) -> Result<Demand> {
        let unschedulable = |reason: String| Error::Unschedulable {
            task: task.to_string(),
            reason,
        };
        if self.is_removed() {
            return Err(unschedulable(format!(
                "its placement group {} was removed",
                self.id
            )));
        }
        if let Some(b) = bundle {
            if b >= self.bundles.len() {
                return Err(Error::InvalidArgument {
                    call: "placement_group",
                    reason: format!(
                        "bundle index {b} is out of range: the group has {} bundles",
                        self.bundles.len()
                    ),
                });
            }
        }
        let asked = capacity.demand(task, cpus, custom)?;
        let within = match bundle {
            Some(b) => &self.bundles[b],
            None => &self.total,
        };
        let mut out = Demand::default();
        let kinds = 1 + capacity.names.len();
        for kind in 0..kinds {
            let want = amount(&asked, kind);
            if want == 0 {
                continue;
            }
            let name = if kind == 0 {
                "CPU"
            } else {
                &capacity.names[kind - 1]
            };
            if want > amount(within, kind) {
                let place = match bundle {
                    Some(b) => format!("bundle {b} of placement group {}", self.id),
                    None => format!("placement group {}", self.id),
                };
                return Err(unschedulable(format!(
                    "asks for {} {name}, more than {place} holds ({})",
                    want as f64 / 10_000.0,
                    amount(within, kind) as f64 / 10_000.0
                )));
            }
            for &(slot, k, b, _) in &self.slots {
                if k == kind && (b.is_none() || b == bundle) {
                    out.custom.push((slot, want));
                }
            }
        }
        out.custom.sort_unstable();
        Ok(out)
    }

    /// `task` runs in the group: stopped if it is removed.
    pub(crate) fn add_task(&self, task: &Arc<Task>) {
        {
            let mut members = lock(&self.members);
            // Removal marks the group before it takes the members: a task
            // added since is stopped here instead.
            if !self.is_removed() {
                if members.tasks.len() == members.tasks.capacity() {
                    members.tasks.retain(|t| t.strong_count() > 0);
                }
                members.tasks.push(Arc::downgrade(task));
                return;
            }
        }
        task.stop(Error::Unschedulable {
            task: task.name.to_string(),
            reason: format!("its placement group {} was removed", self.id),
        });
    }

    /// An actor runs in the group: `kill` kills it if it is removed.
    pub(crate) fn add_actor(&self, kill: KillHook) {
        {
            let mut members = lock(&self.members);
            if !self.is_removed() {
                members.actors.push(kill);
                return;
            }
        }
        kill();
    }
}
