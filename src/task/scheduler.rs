//! [`Scheduler`]: grants resources to ready tasks and hands them to a runner.
//!
//! Tasks whose dependencies are complete arrive in [`enqueue`]. Each
//! distinct resource shape (Ray's "scheduling class") has its own FIFO
//! queue, so tasks waiting for a GPU never hold up tasks that only need a
//! CPU. A task runs as soon as its whole demand fits in what is free; when a
//! task finishes (or lends its CPUs back while blocked in `get`), queued
//! tasks that now fit are dispatched in order. A task that needs nothing
//! (an actor call, a zero-CPU task) skips the queues and their lock. Sync
//! tasks go to the [`WorkerPool`]; async ones too when the runtime owns its
//! executor (a worker polls them until they first suspend), else straight
//! to the embedding application's executor. A task with a [`Place`] (an
//! actor call) goes there, which starts it in its turn.
//!
//! The scheduler is what tasks hold on to: it reaches the store their
//! outputs live in, the pool and executor they run on, and the runtime's
//! context ([`Scope`]) they run in, without holding the runtime itself.
//!
//! [`enqueue`]: Scheduler::enqueue

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crate::error::Error;
use crate::exec::executor::Executor;
use crate::exec::pool::{Job, WorkerPool};
use crate::object::store::Store;
use crate::object::RuntimeId;
use crate::sync::{lock, Few, Padded};
use crate::task::context;
use crate::task::history::History;
use crate::task::id::TaskId;
use crate::task::placement::Group;
use crate::task::resources::{Available, Capacity, Demand};
use crate::task::run;
use crate::task::task::Task;

/// Runs code in the context of the runtime a scheduler belongs to (the
/// runtime layer implements it).
pub(crate) trait Scope: Send + Sync + 'static {
    /// Runs `f` with the runtime current on this thread.
    fn run(&self, f: &mut dyn FnMut());
}

pub(crate) struct Scheduler {
    runtime: RuntimeId,
    store: Arc<Store>,
    capacity: Capacity,
    /// Locked by every task with a demand, from the submitting thread and
    /// from the one releasing resources: on cache lines of its own.
    state: Padded<Mutex<State>>,
    pool: WorkerPool,
    executor: Executor,
    scope: OnceLock<Arc<dyn Scope>>,
    next_task: Padded<AtomicU64>,
    closed: AtomicBool,
    /// The tasks that ended, for the state API and the timeline.
    history: Arc<History>,
}

/// Tasks a release starts.
#[derive(Default)]
struct Ready {
    tasks: Few<Arc<Task>>,
    /// Placement groups reserved.
    groups: Vec<Arc<Group>>,
}

struct State {
    free: Available,
    classes: Vec<(Demand, VecDeque<Arc<Task>>)>,
    /// Placement groups waiting for their reservation, in creation order.
    groups: VecDeque<Arc<Group>>,
    /// Every placement group not removed, by id: what a decoded handle
    /// finds.
    live_groups: HashMap<u64, Arc<Group>>,
    closed: bool,
}

impl Scheduler {
    /// A scheduler of the runtime `runtime` granting `capacity`, whose
    /// tasks keep their outputs in `store` and run on `pool` and
    /// `executor`.
    pub(crate) fn new(
        runtime: RuntimeId,
        store: Arc<Store>,
        capacity: Capacity,
        pool: WorkerPool,
        executor: Executor,
    ) -> Scheduler {
        let history = Arc::new(History::new(runtime));
        pool.after_publish({
            let history = Arc::clone(&history);
            Arc::new(move || history.stamp_pending())
        });
        Scheduler {
            runtime,
            store,
            state: Padded(Mutex::new(State {
                free: Available::new(&capacity),
                classes: Vec::new(),
                groups: VecDeque::new(),
                live_groups: HashMap::new(),
                closed: false,
            })),
            capacity,
            pool,
            executor,
            scope: OnceLock::new(),
            next_task: Padded(AtomicU64::new(1)),
            closed: AtomicBool::new(false),
            history,
        }
    }

    /// The record of the tasks that ended.
    pub(crate) fn history(&self) -> &History {
        &self.history
    }

    /// Installs the runtime's context for the tasks (once, at its start).
    pub(crate) fn set_scope(&self, scope: Arc<dyn Scope>) {
        let _ = self.scope.set(scope);
    }

    /// Runs `f` in the runtime's context.
    pub(crate) fn in_scope(&self, f: &mut dyn FnMut()) {
        match self.scope.get() {
            Some(scope) => scope.run(f),
            None => f(),
        }
    }

    /// `Err(ShutDown)` once the runtime is shutting down.
    pub(crate) fn check_open(&self) -> crate::error::Result<()> {
        self.store.check_open()
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub(crate) fn executor(&self) -> &Executor {
        &self.executor
    }

    pub(crate) fn capacity(&self) -> &Capacity {
        &self.capacity
    }

    /// What is free now, by name (see [`Capacity::named`]).
    pub(crate) fn available(&self) -> std::collections::HashMap<String, f64> {
        let (cpu, custom) = {
            let state = lock(&self.state);
            (state.free.cpu, state.free.custom.clone())
        };
        self.capacity.named(cpu, &custom)
    }

    pub(crate) fn next_id(&self) -> TaskId {
        TaskId::new(self.runtime, self.next_task.fetch_add(1, Ordering::Relaxed))
    }

    /// A task's dependencies are complete: run it when its demand fits.
    pub(crate) fn enqueue(&self, task: Arc<Task>) {
        if task.demand == Demand::default() {
            // Needs nothing (actor calls, zero-CPU tasks): no queue.
            if self.is_closed() {
                task.fail(self.store.shut_down());
                task.finish();
            } else if task.grant() {
                self.dispatch(task);
            }
            return;
        }
        let task = {
            let mut guard = lock(&self.state);
            if guard.closed {
                drop(guard);
                task.fail(self.store.shut_down());
                task.finish();
                return;
            }
            let State { free, classes, .. } = &mut *guard;
            let class = match classes.iter().position(|(d, _)| *d == task.demand) {
                Some(i) => i,
                None => {
                    classes.push((task.demand.clone(), VecDeque::new()));
                    classes.len() - 1
                }
            };
            let queue = &mut classes[class].1;
            if !(queue.is_empty() && free.fits(&task.demand)) {
                queue.push_back(task);
                return;
            }
            if !task.grant() {
                return; // stopped or stolen meanwhile
            }
            free.take(&task.demand);
            task
        };
        self.dispatch(task);
    }

    fn dispatch(&self, task: Arc<Task>) {
        match task.place.clone() {
            Some(place) => place.deliver(task),
            None => self.start(task),
        }
    }

    /// Runs a granted task whose turn it is: on the pool, or on the
    /// executor. A task stopped or stolen meanwhile is dropped (whoever took
    /// it finishes it).
    ///
    /// With the runtime's own executor, async tasks go to a worker too, which
    /// polls them until they first suspend (see [`run::run_async_here`]);
    /// an embedded executor runs all of its async work itself.
    pub(crate) fn start(&self, task: Arc<Task>) {
        if task.is_async() && self.async_goes_to_executor() {
            if task.begin() {
                run::spawn_async(task);
            }
        } else if task.dispatch() {
            // The pool's thread begins it, unless a thread blocked on its
            // output steals it first.
            if let Some(job) = task.job() {
                self.pool.execute(job);
            }
        }
    }

    /// Whether async work started now goes to the executor (embedded, or
    /// started outside a task), rather than to a pool thread that polls it
    /// until it first suspends.
    pub(crate) fn async_goes_to_executor(&self) -> bool {
        self.executor.is_embedded() || !context::is_running()
    }

    /// Runs `job` on the pool.
    pub(crate) fn execute(&self, job: Arc<dyn Job>) {
        self.pool.execute(job);
    }

    /// Queued tasks that fit now, in order, with their demand taken (the
    /// first inline: a release usually starts one task at most). Tasks
    /// that left their queue meanwhile (stopped or stolen: no longer
    /// queued) are dropped from it without taking anything.
    fn ready_now(state: &mut State, out: &mut Ready) {
        let State {
            free,
            classes,
            groups,
            ..
        } = state;
        // Waiting placement groups first, in order: resources that come
        // free go to the oldest group that fits before queued tasks.
        if !groups.is_empty() {
            groups.retain(|group| {
                if group.try_reserve(free) {
                    out.groups.push(Arc::clone(group));
                    false
                } else {
                    !group.is_removed()
                }
            });
        }
        for (demand, queue) in classes.iter_mut() {
            while let Some(front) = queue.front() {
                if !front.is_queued() {
                    queue.pop_front();
                    continue;
                }
                if !free.fits(demand) {
                    break;
                }
                if let Some(task) = queue.pop_front().filter(|t| t.grant()) {
                    free.take(demand);
                    out.tasks.push(task);
                }
            }
        }
    }

    fn release(&self, give: impl FnOnce(&mut Available)) {
        let mut ready = Ready::default();
        {
            let mut state = lock(&self.state);
            give(&mut state.free);
            if !state.closed {
                Self::ready_now(&mut state, &mut ready);
            }
        }
        self.start_ready(ready);
    }

    fn start_ready(&self, ready: Ready) {
        for group in ready.groups {
            group.reserved();
        }
        for task in ready.tasks {
            self.dispatch(task);
        }
    }

    /// Appends `n` slots (of nothing) to the free amounts, for a placement
    /// group's reservation; the index of the first.
    pub(crate) fn add_slots(&self, n: usize) -> usize {
        let mut state = lock(&self.state);
        let first = state.free.custom.len();
        state.free.custom.resize(first + n, 0);
        first
    }

    /// Reserves `group` as soon as it fits (now, if it does).
    pub(crate) fn reserve(&self, group: &Arc<Group>) -> crate::error::Result<()> {
        let mut ready = Ready::default();
        {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(self.store.shut_down());
            }
            state.groups.push_back(Arc::clone(group));
            state.live_groups.insert(group.id, Arc::clone(group));
            Self::ready_now(&mut state, &mut ready);
        }
        self.start_ready(ready);
        Ok(())
    }

    /// The placement group `id`, unless it was removed (or is not this
    /// runtime's).
    pub(crate) fn group(&self, id: u64) -> Option<Arc<Group>> {
        lock(&self.state).live_groups.get(&id).cloned()
    }

    /// Removes `group`: what it reserved is free again (and may start
    /// queued tasks), its tasks are stopped and its actors killed with
    /// `err`.
    pub(crate) fn remove(&self, group: &Arc<Group>, err: &Error) {
        let mut ready = Ready::default();
        {
            let mut state = lock(&self.state);
            group.unreserve(&mut state.free);
            state.groups.retain(|g| !Arc::ptr_eq(g, group));
            state.live_groups.remove(&group.id);
            if !state.closed {
                Self::ready_now(&mut state, &mut ready);
            }
        }
        group.removed(err);
        self.start_ready(ready);
    }

    /// A task left the system; `holds` when its resources go back now.
    pub(crate) fn finished(&self, task: &Arc<Task>, holds: bool) {
        if let Some(place) = &task.place {
            place.finished(task);
        }
        if holds {
            self.release_demand(&task.demand);
        }
    }

    /// Gives `demand` back (a task finished, or an actor died).
    pub(crate) fn release_demand(&self, demand: &Demand) {
        if *demand != Demand::default() {
            self.release(|free| free.give(demand));
        }
    }

    /// A running task blocks in `get`: its CPUs serve others meanwhile.
    pub(crate) fn lend_cpu(&self, cpu: i64) {
        self.release(|free| free.cpu += cpu);
    }

    /// The blocked task resumes and takes its CPUs back, even if that
    /// oversubscribes them for a while (as Ray does).
    pub(crate) fn reclaim_cpu(&self, cpu: i64) {
        lock(&self.state).free.cpu -= cpu;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Shutdown, first step: dispatches nothing more; queued tasks fail
    /// with `err`. (Tasks waiting for dependencies, running tasks and their
    /// refs are completed by the store, which completes every pending
    /// object.)
    pub(crate) fn close(&self, err: &Error) {
        let queued: Vec<Arc<Task>> = {
            self.closed.store(true, Ordering::Release);
            let mut state = lock(&self.state);
            state.closed = true;
            state.groups.clear();
            state.live_groups.clear();
            state
                .classes
                .drain(..)
                .flat_map(|(_, q)| q.into_iter())
                .collect()
        };
        for task in queued {
            task.fail(err.clone());
            task.finish();
        }
    }

    /// Shutdown, last step: stops the worker threads by `deadline`.
    pub(crate) fn stop_workers(&self, deadline: Option<Instant>) {
        self.pool.shutdown(deadline);
    }
}
